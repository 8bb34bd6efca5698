// Heap blocks for the packed forms of values (hash, list, set and sorted set blocks, chunks):
// allocation that throws std::bad_alloc as `new` does, copies, and the size the allocator really
// gave a block, which is what memory accounting counts.
#pragma once

#include <malloc.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

namespace strata::storage {

// Bytes the allocator reserved for `block` (0 for nullptr).
inline size_t UsableSize(const void* block) {
  return block == nullptr ? 0 : malloc_usable_size(const_cast<void*>(block));
}

// A block of at least `bytes` bytes (one byte when 0), to free with std::free.
inline unsigned char* AllocateBlock(size_t bytes) {
  auto* block = static_cast<unsigned char*>(std::malloc(bytes == 0 ? 1 : bytes));
  if (block == nullptr) throw std::bad_alloc();
  return block;
}

// A new block holding a copy of `bytes` bytes at `data`.
inline unsigned char* CopyToNewBlock(const void* data, size_t bytes) {
  unsigned char* block = AllocateBlock(bytes);
  if (bytes > 0) std::memcpy(block, data, bytes);
  return block;
}

}  // namespace strata::storage
