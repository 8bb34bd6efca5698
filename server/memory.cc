#include "server/memory.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdio>

#ifdef STRATA_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif
#if defined(__SANITIZE_ADDRESS__)
// From the sanitizer runtime (GCC ships no header for it).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#define STRATA_ASAN_ALLOCATOR 1
#endif

namespace strata::server {

uint64_t UsedMemory() {
#ifdef STRATA_HAVE_JEMALLOC
  // jemalloc caches its statistics; bumping the epoch refreshes them.
  uint64_t epoch = 1;
  size_t size = sizeof(epoch);
  mallctl("epoch", &epoch, &size, &epoch, size);
  size_t allocated = 0;
  size = sizeof(allocated);
  if (mallctl("stats.allocated", &allocated, &size, nullptr, 0) == 0) return allocated;
  return 0;
#elif defined(STRATA_ASAN_ALLOCATOR)
  // AddressSanitizer replaces malloc, and glibc's mallinfo2 then knows nothing.
  return __sanitizer_get_current_allocated_bytes();
#else
  struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
#endif
}

uint64_t ResidentMemory() {
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  int matched = fscanf(f, "%lu %lu", &size, &resident);
  fclose(f);
  if (matched != 2) return 0;
  return static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

struct MemoryMeter::ThreadCounters {
  MemoryMeter* meter = nullptr;  // registered with, or nullptr
  const uint64_t* allocated = nullptr;
  const uint64_t* deallocated = nullptr;
  // Written by the owning thread, read by Calibrate on the main thread.
  std::atomic<int64_t> published_net{0};

  // jemalloc's counters of the owning thread; Calibrate reads another thread's (an aligned
  // 64-bit load, which x86-64 and arm64 never tear).
  int64_t Net() const {
    if (allocated == nullptr || deallocated == nullptr) return published_net.load(std::memory_order_relaxed);
    return static_cast<int64_t>(__atomic_load_n(allocated, __ATOMIC_RELAXED) -
                                __atomic_load_n(deallocated, __ATOMIC_RELAXED));
  }
  ~ThreadCounters() {
    if (meter != nullptr) meter->Unregister(this);
  }
};

namespace {
// Thread-local because jemalloc's counters are: each thread finds its own through this.
thread_local MemoryMeter::ThreadCounters this_thread_counters;
}  // namespace

MemoryMeter::MemoryMeter() { Calibrate(); }

MemoryMeter::~MemoryMeter() {
  absl::MutexLock lock(&threads_mu_);
  for (ThreadCounters* thread : threads_) thread->meter = nullptr;
  threads_.clear();
}

MemoryMeter::ThreadCounters& MemoryMeter::ThisThread() {
  ThreadCounters& counters = this_thread_counters;
#ifdef STRATA_HAVE_JEMALLOC
  if (counters.meter == nullptr) {
    uint64_t* pointer = nullptr;
    size_t size = sizeof(pointer);
    if (mallctl("thread.allocatedp", &pointer, &size, nullptr, 0) == 0) counters.allocated = pointer;
    size = sizeof(pointer);
    if (mallctl("thread.deallocatedp", &pointer, &size, nullptr, 0) == 0) counters.deallocated = pointer;
    // From here on this thread publishes; what it did before is in stats.allocated already.
    counters.published_net.store(counters.Net(), std::memory_order_relaxed);
    counters.meter = this;
    absl::MutexLock lock(&threads_mu_);
    threads_.push_back(&counters);
  }
#endif
  return counters;
}

void MemoryMeter::Unregister(ThreadCounters* thread) {
  // The thread's last change is published; its counters die with it.
  published_.fetch_add(thread->Net() - thread->published_net.load(std::memory_order_relaxed),
                       std::memory_order_relaxed);
  absl::MutexLock lock(&threads_mu_);
  std::erase(threads_, thread);
  thread->meter = nullptr;
}

bool MemoryMeter::PublishIfMoved(ThreadCounters& counters, int64_t net) {
  int64_t published = counters.published_net.load(std::memory_order_relaxed);
  const int64_t change = net - published;
  if (change <= kPublishBytes && change >= -kPublishBytes) return false;
  // The thread and Calibrate may both publish it: whoever swaps published_net adds the change.
  if (!counters.published_net.compare_exchange_strong(published, net, std::memory_order_relaxed)) return false;
  published_.fetch_add(change, std::memory_order_relaxed);
  return true;
}

int64_t MemoryMeter::UnpublishedChange() {
  ThreadCounters& counters = ThisThread();
  const int64_t net = counters.Net();
  PublishIfMoved(counters, net);
  return net - counters.published_net.load(std::memory_order_relaxed);
}

int64_t MemoryMeter::Used() {
#if defined(STRATA_HAVE_JEMALLOC)
  const int64_t unpublished = UnpublishedChange();  // first: it may publish
  return calibration_.load(std::memory_order_relaxed) + published_.load(std::memory_order_relaxed) + unpublished;
#else
  return static_cast<int64_t>(UsedMemory());
#endif
}

void MemoryMeter::Calibrate() {
#if defined(STRATA_HAVE_JEMALLOC)
  ThisThread();
  absl::MutexLock lock(&threads_mu_);
  // What registered threads have not published is in stats.allocated already: it must not be
  // counted again when they publish it.
  // A thread that moved a lot and then went idle (it freed what another thread allocated, and
  // has read nothing since) would leave every reading off by its change: publish it for it.
  int64_t unpublished = 0;
  for (ThreadCounters* thread : threads_) {
    const int64_t net = thread->Net();
    PublishIfMoved(*thread, net);
    unpublished += net - thread->published_net.load(std::memory_order_relaxed);
  }
  const auto allocated = static_cast<int64_t>(UsedMemory());
  calibration_.store(allocated - published_.load(std::memory_order_relaxed) - unpublished, std::memory_order_relaxed);
#endif
}

std::string AllocatorName() {
#ifdef STRATA_HAVE_JEMALLOC
  const char* version = nullptr;
  size_t size = sizeof(version);
  if (mallctl("version", &version, &size, nullptr, 0) == 0 && version != nullptr) {
    // "5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c": Redis shows the release only.
    std::string release(version);
    return "jemalloc-" + release.substr(0, release.find('-'));
  }
  return "jemalloc";
#elif defined(STRATA_ASAN_ALLOCATOR)
  return "asan";
#else
  return "libc";
#endif
}

std::string AllocatorStatsReport() {
#ifdef STRATA_HAVE_JEMALLOC
  std::string report;
  malloc_stats_print([](void* out, const char* text) { static_cast<std::string*>(out)->append(text); }, &report,
                     nullptr);
  return report;
#else
  return "Stats not supported for the current allocator";
#endif
}

bool PurgeAllocator() {
#ifdef STRATA_HAVE_JEMALLOC
  // "arena.<MALLCTL_ARENAS_ALL>.purge", as Redis's jemalloc_purge does.
  char name[64];
  snprintf(name, sizeof(name), "arena.%u.purge", static_cast<unsigned>(MALLCTL_ARENAS_ALL));
  return mallctl(name, nullptr, nullptr, nullptr, 0) == 0;
#else
  return false;
#endif
}

uint64_t TotalSystemMemory() {
  return static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

AllocatorFigures ReadAllocatorFigures() {
  AllocatorFigures figures;
#ifdef STRATA_HAVE_JEMALLOC
  uint64_t epoch = 1;
  size_t size = sizeof(epoch);
  mallctl("epoch", &epoch, &size, &epoch, size);
  auto read = [](const char* name, uint64_t* out) {
    size_t value = 0;
    size_t length = sizeof(value);
    if (mallctl(name, &value, &length, nullptr, 0) == 0) *out = value;
  };
  read("stats.allocated", &figures.allocated);
  read("stats.active", &figures.active);
  read("stats.resident", &figures.resident);
#endif
  return figures;
}

}  // namespace strata::server
