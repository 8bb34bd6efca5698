#include "server/memory.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdio>

#ifdef STRATA_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
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
#else
  return "libc";
#endif
}

}  // namespace strata::server
