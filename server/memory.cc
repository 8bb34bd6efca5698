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

std::string_view AllocatorName() {
#ifdef STRATA_HAVE_JEMALLOC
  return "jemalloc";
#elif defined(STRATA_ASAN_ALLOCATOR)
  return "asan";
#else
  return "libc";
#endif
}

}  // namespace strata::server
