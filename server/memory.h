// Process memory figures for INFO and maxmemory: what the allocator reports, so the numbers
// mean what Redis's do (used_memory is live heap bytes, not RSS).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace strata::server {

// Live heap bytes (jemalloc's stats.allocated; mallinfo2 under sanitizers).
uint64_t UsedMemory();
// Resident set size of the process, from /proc/self/statm.
uint64_t ResidentMemory();
// "jemalloc-5.3.0" (as Redis's mem_allocator), "asan" or "libc".
std::string AllocatorName();
// MEMORY MALLOC-STATS: jemalloc's own statistics report (malloc_stats_print), or a line saying
// the allocator has none.
std::string AllocatorStatsReport();
// MEMORY PURGE: returns the allocator's dirty pages to the system (jemalloc); false without one.
bool PurgeAllocator();
// Total RAM of the machine.
uint64_t TotalSystemMemory();

// jemalloc's view of the heap (zeros without jemalloc): live bytes, bytes in active pages, and
// bytes in resident pages it maps.
struct AllocatorFigures {
  uint64_t allocated = 0;
  uint64_t active = 0;
  uint64_t resident = 0;
};
AllocatorFigures ReadAllocatorFigures();

// MemoryMeter: used memory cheaply enough to ask before every write (maxmemory).
//
// jemalloc's stats.allocated is the figure Redis reports, but reading it fresh (an "epoch"
// refresh that merges every arena) costs about 25 us here: far too much per command. jemalloc
// also keeps, per thread, how many bytes that thread allocated and freed, readable through a
// pointer at the cost of a load. So the meter keeps
//   used = calibration + (what threads have published) + (this thread's unpublished change)
// where a thread publishes its net change (one atomic add) each time it has moved by
// kPublishBytes (checked after every read and every mailbox run of an I/O thread, and every
// reading). Calibrate (the
// main thread's cron, 10 times a second) re-anchors `calibration` on stats.allocated, minus what
// the registered threads have not published yet (it reads their counters, and publishes for a
// thread that moved a lot and went idle), so nothing is counted twice; threads that never
// register (library pools) are taken in by it. A reading is
// exact for the calling thread's own allocations and frees (an eviction loop sees each victim
// go at once) and off by less than kPublishBytes for each other registered thread.
//
// One per process: threads register on their first reading and leave at exit. Under
// AddressSanitizer (no jemalloc) every reading asks the sanitizer's allocator, which is exact.
class MemoryMeter {
 public:
  static constexpr int64_t kPublishBytes = 64 * 1024;

  MemoryMeter();
  ~MemoryMeter();
  MemoryMeter(const MemoryMeter&) = delete;
  MemoryMeter& operator=(const MemoryMeter&) = delete;

  // Any thread.
  int64_t Used();
  // Publishes this thread's change if it has moved by kPublishBytes (a few loads otherwise):
  // I/O threads call it after each read, so that readings on other threads stay close.
  void Publish() { UnpublishedChange(); }
  // Any thread (the cron, INFO): re-anchors the reading on jemalloc's stats.allocated.
  void Calibrate();

  // A thread's jemalloc counters and what it published of them (memory.cc).
  struct ThreadCounters;
  void Unregister(ThreadCounters* thread);

 private:
  ThreadCounters& ThisThread();
  // Publishes the thread's change (`net` is its allocated minus freed) if it has moved by more
  // than kPublishBytes; true when this call published it.
  bool PublishIfMoved(ThreadCounters& counters, int64_t net);
  // This thread's change since it last published (after publishing it if it is large).
  int64_t UnpublishedChange();

  std::atomic<int64_t> calibration_{0};
  std::atomic<int64_t> published_{0};
  absl::Mutex threads_mu_;
  std::vector<ThreadCounters*> threads_ ABSL_GUARDED_BY(threads_mu_);
};

}  // namespace strata::server
