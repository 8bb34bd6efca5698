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
// Not thread-safe: the entry's shard lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strata::storage {

class ListValue {
 public:
  static constexpr int64_t kDefaultFill = -2;  // Redis's list-max-listpack-size default: 8 KB

  ListValue() = default;
  ListValue(const ListValue& other);
  ListValue& operator=(const ListValue&) = delete;
  ~ListValue();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  void PushFront(std::string_view element, int64_t fill);
  void PushBack(std::string_view element, int64_t fill);
  // Removes and returns the first (last) element; the list must not be empty.
  std::string PopFront();
  std::string PopBack();

  // The element at `index` (0 <= index < size()); the view lives until the next change.
  std::string_view At(size_t index) const;
  // Replaces the element at `index` (0 <= index < size()).
  void Set(size_t index, std::string_view element, int64_t fill);
  // Inserts `element` so that it ends up at `index` (0 <= index <= size()).
  void Insert(size_t index, std::string_view element, int64_t fill);
  // Removes `count` elements starting at `index` (index + count <= size()).
  void Erase(size_t index, size_t count, int64_t fill);

  // Calls fn(index, element) for each element from `first` to `last` inclusive (0 <= first,
  // last < size()), forwards when first <= last and backwards otherwise, until fn returns false.
  template <typename Fn>
  void Walk(size_t first, size_t last, Fn&& fn) const;

  // Heap bytes held (chunk blocks as the allocator sized them, and the chunk table), in O(1).
  size_t ApproximateBytes() const { return sizeof(ListValue) + chunks_.capacity() * sizeof(Chunk) + chunk_bytes_; }
  size_t chunk_count() const { return chunks_.size(); }

 private:
  struct Chunk {
    unsigned char* data = nullptr;  // `bytes` bytes of packed elements
    size_t bytes = 0;
    size_t capacity = 0;  // what the allocator gave data (its usable size)
    uint32_t count = 0;
  };
  // A position: the chunk and the byte offset of an element in it.
  struct Cursor {
    size_t chunk;
    size_t offset;
  };

  static size_t EncodedSize(std::string_view element);
  static unsigned char* Encode(unsigned char* out, std::string_view element);
  // The element starting at data+offset, and the offset of the next one.
  static std::string_view Decode(const unsigned char* data, size_t offset, size_t* next);
  // The element ending at data+end (exclusive), and the offset where it starts.
  static std::string_view DecodeBackwards(const unsigned char* data, size_t end, size_t* start);
  static bool Fits(const Chunk& chunk, size_t extra_bytes, size_t extra_count, int64_t fill);

  Cursor Find(size_t index) const;
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

  std::vector<Chunk> chunks_;
  size_t size_ = 0;
  size_t chunk_bytes_ = 0;  // the capacities of every chunk's block
};

template <typename Fn>
void ListValue::Walk(size_t first, size_t last, Fn&& fn) const {
  Cursor at = Find(first);
  size_t index = first;
  if (first <= last) {
    while (true) {
      size_t next;
      std::string_view element = Decode(chunks_[at.chunk].data, at.offset, &next);
      if (!fn(index, element) || index == last) return;
      ++index;
      at.offset = next;
      if (at.offset == chunks_[at.chunk].bytes) {
        ++at.chunk;
        at.offset = 0;
      }
    }
  }
  // Backwards: start from the end of the element at `first`.
  size_t end;
  Decode(chunks_[at.chunk].data, at.offset, &end);
  while (true) {
    size_t start;
    std::string_view element = DecodeBackwards(chunks_[at.chunk].data, end, &start);
    if (!fn(index, element) || index == last) return;
    --index;
    if (start == 0) {
      --at.chunk;
      end = chunks_[at.chunk].bytes;
    } else {
      end = start;
    }
  }
}

}  // namespace strata::storage
