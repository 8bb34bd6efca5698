// ListValue: the elements of a list key, packed into contiguous chunks (Redis's quicklist of
// listpacks, in fewer bytes).
//
// Why packed: a cache holds many short lists (recent items, queues), and a node per element
// costs more than the elements. Each chunk is one heap block holding its elements back to back:
//
//   element = varint(len) | len bytes | varint(len) written backwards
//
// The trailing, reversed length lets a walk start at either end of a chunk (RPOP, LRANGE with
// negative indexes, LPOS with a negative RANK) without an index. Worked example: "abc" is
// 03 'a' 'b' 'c' 03, five bytes; a 200-byte element is c8 01 ... 01 c8 (two length bytes each side).
//
// A chunk holds at most `fill` worth of elements, Redis's list-max-listpack-size: a positive
// fill is a count of elements (and, as in Redis, never more than 8 KB unless it is one element),
// a negative one a byte size (-1: 4 KB, -2: 8 KB, ... -5: 64 KB). An element larger than the
// budget lives alone in its chunk.
// Pushes at the ends start a new chunk when the end chunk is full; an insert in the middle of a
// full chunk splits it; a chunk emptied by removals is dropped, and a chunk that shrinks to under
// half its budget merges into a neighbour when the two fit in one. Index lookups walk the chunk table (one counter
// per chunk), then the chunk: O(chunks + chunk size).
//
// Compression (Redis's list-compress-depth): with depth d > 0, the chunks other than the d at
// each end are kept LZ4-compressed, since long lists are mostly pushed and popped at their ends
// while the middle sits still. A change decompresses the chunk it touches and recompresses what
// lies inside the interior afterwards; a read decompresses an interior chunk into a per-thread
// buffer. Chunks over 64 KB (one large element) are left as they are, so a read never
// decompresses more than that. A chunk is compressed only when that saves at least 1/8 of it (chunks that do not
// compress are marked and not tried again until they change). Any chunk may be either way at any
// time (the depth can change at runtime): correctness never depends on which.
//
// A list of one chunk of at most 1 KB lives inside its Entry (entry.h, "Small values inline"), as
// Redis 7.2 keeps small lists as one listpack; other lists are objects. Not thread-safe: the entry's shard lock
// guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/inlined_vector.h"

namespace strata::storage {

// The knobs of a change, read by the server from its configuration.
struct ListLimits {
  int64_t fill = -2;           // list-max-listpack-size (the default: 8 KB chunks)
  int64_t compress_depth = 0;  // list-compress-depth: uncompressed chunks at each end; 0: none compressed
};

class ListValue {
 public:

  ListValue() = default;
  ListValue(const ListValue& other);
  ListValue(ListValue&& other) noexcept;
  ListValue& operator=(const ListValue&) = delete;
  ~ListValue();

  // Inline storage (entry.h). ImageSize: the bytes of this list's image, 0 when it has more
  // than one chunk (it is kept as an object). WriteImage writes them. FromImage: an owning copy
  // of an image, to change. ViewOfImage: a read-only list over an image's bytes, which must
  // outlive it unchanged. A one-chunk list's image is varint(count) and the chunk's bytes.
  size_t ImageSize() const;
  void WriteImage(unsigned char* out) const;
  static ListValue FromImage(std::string_view image);
  static ListValue ViewOfImage(std::string_view image);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  void PushFront(std::string_view element, const ListLimits& limits);
  void PushBack(std::string_view element, const ListLimits& limits);
  // Removes and returns the first (last) element; the list must not be empty.
  std::string PopFront();
  std::string PopBack();

  // The element at `index` (0 <= index < size()); the view lives until the next change or the
  // next read of this thread (a compressed chunk is read through a per-thread buffer).
  std::string_view At(size_t index) const;
  // Replaces the element at `index` (0 <= index < size()).
  void Set(size_t index, std::string_view element, const ListLimits& limits);
  // Inserts `element` so that it ends up at `index` (0 <= index <= size()).
  void Insert(size_t index, std::string_view element, const ListLimits& limits);
  // Removes `count` elements starting at `index` (index + count <= size()).
  void Erase(size_t index, size_t count, const ListLimits& limits);
  // Compresses every interior chunk not compressed yet (after changes made with depth 0, so
  // that many of them, as LREM's, do not recompress the same chunk each time).
  void CompressInterior(const ListLimits& limits);

  // Calls fn(index, element) for each element from `first` to `last` inclusive (0 <= first,
  // last < size()), forwards when first <= last and backwards otherwise, until fn returns false.
  // An element's view lives until fn returns.
  template <typename Fn>
  void Walk(size_t first, size_t last, Fn&& fn) const;

  // Heap bytes held (chunk blocks as the allocator sized them, and the chunk table), in O(1).
  size_t ApproximateBytes() const {
    // A one-chunk table is inside the object (InlinedVector); a longer one is a heap array.
    return sizeof(ListValue) + (chunks_.capacity() > 1 ? chunks_.capacity() * sizeof(Chunk) : 0) + chunk_bytes_;
  }
  size_t chunk_count() const { return chunks_.size(); }
  size_t compressed_chunk_count() const;

 private:
  struct Chunk {
    unsigned char* data = nullptr;  // `bytes` bytes of packed elements, or of their LZ4 form
    size_t bytes = 0;
    size_t capacity = 0;  // what the allocator gave data (its usable size)
    uint32_t count = 0;
    uint32_t raw_bytes = 0;      // when data is compressed: the packed elements' size; else 0
    bool incompressible = false;  // compression was tried and did not pay since the last change

    bool compressed() const { return raw_bytes != 0; }
    size_t raw_size() const { return compressed() ? raw_bytes : bytes; }
  };
  // A position: the chunk, the byte offset of an element in its packed elements, and those
  // elements (the chunk's data, or a per-thread copy when the chunk is compressed).
  struct Cursor {
    size_t chunk;
    size_t offset;
    const unsigned char* elements;
  };

  class EncodedElement;
  static size_t EncodedSize(std::string_view element);
  static unsigned char* Encode(unsigned char* out, std::string_view element);
  // The element starting at data+offset, and the offset of the next one.
  static std::string_view Decode(const unsigned char* data, size_t offset, size_t* next);
  // The element ending at data+end (exclusive), and the offset where it starts.
  static std::string_view DecodeBackwards(const unsigned char* data, size_t end, size_t* start);
  static bool Fits(const Chunk& chunk, size_t extra_bytes, size_t extra_count, int64_t fill);

  // The chunk holding element `index` and its index within the chunk.
  void Locate(size_t index, size_t* chunk, size_t* index_in_chunk) const;
  // The byte offset of the `index`th element of a chunk's packed elements.
  static size_t OffsetOf(const unsigned char* elements, const Chunk& chunk, size_t index);
  // For reading: the element at `index`, its chunk's elements decompressed if need be.
  Cursor Find(size_t index) const;
  // The packed elements of a chunk: its data, or a per-thread decompressed copy valid until the
  // next call on this thread.
  const unsigned char* Elements(size_t chunk) const;
  // For changing: decompresses the chunk in place.
  void MakeRaw(size_t chunk);
  // After a change around chunks [first, last]: compresses what lies in the interior.
  void CompressAround(size_t first, size_t last, const ListLimits& limits);
  void TryCompress(size_t chunk);
  // Replaces bytes [offset, offset+old_len) of a chunk with `replacement` (count changes by delta).
  void Splice(size_t chunk, size_t offset, size_t old_len, const unsigned char* replacement, size_t new_len,
              int64_t count_delta);
  void InsertChunk(size_t position, const unsigned char* data, size_t bytes, uint32_t count);
  void RemoveChunk(size_t position);
  void SplitChunk(size_t chunk, size_t offset, uint32_t count_before);
  void MaybeMerge(size_t chunk, int64_t fill);
  void SetChunkData(Chunk& chunk, const unsigned char* data, size_t bytes);
  // Gives the chunk room for `bytes` (growing within the allocator's size class costs nothing;
  // a chunk that shrank below half its block is given a smaller one).
  void Reserve(Chunk& chunk, size_t bytes);

  absl::InlinedVector<Chunk, 1> chunks_;
  size_t size_ = 0;
  size_t chunk_bytes_ = 0;  // the capacities of every chunk's block
  bool borrowed_ = false;   // the one chunk's data is an entry's image (ViewOfImage), not ours
};

template <typename Fn>
void ListValue::Walk(size_t first, size_t last, Fn&& fn) const {
  Cursor at = Find(first);
  size_t index = first;
  if (first <= last) {
    while (true) {
      size_t next;
      std::string_view element = Decode(at.elements, at.offset, &next);
      if (!fn(index, element) || index == last) return;
      ++index;
      at.offset = next;
      if (at.offset == chunks_[at.chunk].raw_size()) {
        ++at.chunk;
        at.offset = 0;
        at.elements = Elements(at.chunk);
      }
    }
  }
  // Backwards: start from the end of the element at `first`.
  size_t end;
  Decode(at.elements, at.offset, &end);
  while (true) {
    size_t start;
    std::string_view element = DecodeBackwards(at.elements, end, &start);
    if (!fn(index, element) || index == last) return;
    --index;
    if (start == 0) {
      --at.chunk;
      at.elements = Elements(at.chunk);
      end = chunks_[at.chunk].raw_size();
    } else {
      end = start;
    }
  }
}

}  // namespace strata::storage
