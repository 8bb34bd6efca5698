// Process memory figures for INFO and maxmemory: what the allocator reports, so the numbers
// mean what Redis's do (used_memory is live heap bytes, not RSS).
#pragma once

#include <cstdint>
#include <string_view>

namespace strata::server {

// Live heap bytes (jemalloc's stats.allocated; mallinfo2 under sanitizers).
uint64_t UsedMemory();
// Resident set size of the process, from /proc/self/statm.
uint64_t ResidentMemory();
std::string_view AllocatorName();

}  // namespace strata::server
