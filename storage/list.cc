#include "storage/list.h"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "storage/varint.h"

namespace strata::storage {

namespace {

// Redis's list-max-listpack-size: -1 is 4 KB per chunk, each step down doubles it, -5 is 64 KB.
// With a positive fill (a count), Redis still keeps a chunk under 8 KB: SIZE_SAFETY_LIMIT.
constexpr size_t kCountFillByteLimit = 8192;

size_t ByteLimit(int64_t fill) {
  const int64_t step = std::clamp<int64_t>(-fill, 1, 5) - 1;
  return size_t{4096} << step;
}

size_t UsableSize(void* block) { return block == nullptr ? 0 : malloc_usable_size(block); }

}  // namespace

ListValue::ListValue(const ListValue& other) : size_(other.size_) {
  chunks_.reserve(other.chunks_.size());
  for (const Chunk& chunk : other.chunks_) {
    Chunk copy;
    copy.count = chunk.count;
    SetChunkData(copy, chunk.data, chunk.bytes);
    chunks_.push_back(copy);
  }
}

ListValue::~ListValue() {
  for (Chunk& chunk : chunks_) std::free(chunk.data);
}

size_t ListValue::EncodedSize(std::string_view element) { return 2 * VarintSize(element.size()) + element.size(); }

unsigned char* ListValue::Encode(unsigned char* out, std::string_view element) {
  unsigned char length[10];
  const size_t n = static_cast<size_t>(PutVarint(length, element.size()) - length);
  std::memcpy(out, length, n);
  out += n;
  if (!element.empty()) std::memcpy(out, element.data(), element.size());
  out += element.size();
  for (size_t i = 0; i < n; ++i) *out++ = length[n - 1 - i];  // the same bytes, read from the end
  return out;
}

std::string_view ListValue::Decode(const unsigned char* data, size_t offset, size_t* next) {
  uint64_t length;
  const unsigned char* element = GetVarint(data + offset, &length);
  const size_t header = static_cast<size_t>(element - (data + offset));
  *next = offset + header + length + header;
  return std::string_view(reinterpret_cast<const char*>(element), length);
}

std::string_view ListValue::DecodeBackwards(const unsigned char* data, size_t end, size_t* start) {
  size_t length = 0;
  int shift = 0;
  size_t at = end;
  while (true) {
    const unsigned char byte = data[--at];
    length |= static_cast<size_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) break;
    shift += 7;
  }
  const size_t header = end - at;
  const size_t element_start = at - length;
  *start = element_start - header;
  return std::string_view(reinterpret_cast<const char*>(data + element_start), length);
}

bool ListValue::Fits(const Chunk& chunk, size_t extra_bytes, size_t extra_count, int64_t fill) {
  if (chunk.count == 0) return true;
  if (fill > 0) {
    return chunk.count + extra_count <= static_cast<uint64_t>(fill) && chunk.bytes + extra_bytes <= kCountFillByteLimit;
  }
  return chunk.bytes + extra_bytes <= ByteLimit(fill);
}

void ListValue::SetChunkData(Chunk& chunk, const unsigned char* data, size_t bytes) {
  auto* block = static_cast<unsigned char*>(std::malloc(bytes == 0 ? 1 : bytes));
  if (block == nullptr) throw std::bad_alloc();
  if (bytes > 0) std::memcpy(block, data, bytes);
  chunk.data = block;
  chunk.capacity = UsableSize(block);
  chunk_bytes_ += chunk.capacity;
  chunk.bytes = bytes;
}

void ListValue::Reserve(Chunk& chunk, size_t bytes) {
  if (bytes <= chunk.capacity && bytes * 2 >= chunk.capacity) return;
  auto* block = static_cast<unsigned char*>(std::realloc(chunk.data, bytes == 0 ? 1 : bytes));
  if (block == nullptr) {
    if (bytes <= chunk.capacity) return;  // could not shrink: keep the bigger block
    throw std::bad_alloc();
  }
  chunk_bytes_ -= chunk.capacity;
  chunk.data = block;
  chunk.capacity = UsableSize(block);
  chunk_bytes_ += chunk.capacity;
}

void ListValue::InsertChunk(size_t position, const unsigned char* data, size_t bytes, uint32_t count) {
  Chunk chunk;
  chunk.count = count;
  SetChunkData(chunk, data, bytes);
  chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(position), chunk);
}

void ListValue::RemoveChunk(size_t position) {
  chunk_bytes_ -= chunks_[position].capacity;
  std::free(chunks_[position].data);
  chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(position));
  if (chunks_.capacity() > 2 * chunks_.size() + 8) chunks_.shrink_to_fit();
}

void ListValue::Splice(size_t index, size_t offset, size_t old_len, const unsigned char* replacement, size_t new_len,
                       int64_t count_delta) {
  Chunk& chunk = chunks_[index];
  const size_t old_bytes = chunk.bytes;
  const size_t new_bytes = old_bytes - old_len + new_len;
  const size_t tail = old_bytes - offset - old_len;
  if (new_bytes > old_bytes) {
    Reserve(chunk, new_bytes);
    std::memmove(chunk.data + offset + new_len, chunk.data + offset + old_len, tail);
  } else {
    std::memmove(chunk.data + offset + new_len, chunk.data + offset + old_len, tail);
    Reserve(chunk, new_bytes);
  }
  if (new_len > 0) std::memcpy(chunk.data + offset, replacement, new_len);
  chunk.bytes = new_bytes;
  chunk.count = static_cast<uint32_t>(static_cast<int64_t>(chunk.count) + count_delta);
  size_ = static_cast<size_t>(static_cast<int64_t>(size_) + count_delta);
}

void ListValue::SplitChunk(size_t index, size_t offset, uint32_t count_before) {
  Chunk& chunk = chunks_[index];
  const uint32_t count_after = chunk.count - count_before;
  InsertChunk(index + 1, chunk.data + offset, chunks_[index].bytes - offset, count_after);
  // The table may have moved: index again.
  const size_t tail_bytes = chunks_[index].bytes - offset;
  Splice(index, offset, tail_bytes, nullptr, 0, -static_cast<int64_t>(count_after));
  size_ += count_after;  // the elements moved, they were not removed
}

void ListValue::MaybeMerge(size_t index, int64_t fill) {
  const Chunk& chunk = chunks_[index];
  const bool under_half = fill > 0 ? chunk.count * 2 <= static_cast<uint64_t>(fill) : chunk.bytes * 2 <= ByteLimit(fill);
  if (!under_half) return;
  auto merge_into_left = [&](size_t left) {
    const Chunk& right = chunks_[left + 1];
    const uint32_t count = right.count;
    const size_t bytes = right.bytes;
    std::unique_ptr<unsigned char[]> copy(new unsigned char[bytes]);
    std::memcpy(copy.get(), right.data, bytes);
    RemoveChunk(left + 1);
    Splice(left, chunks_[left].bytes, 0, copy.get(), bytes, count);
    size_ -= count;  // moved, not added
  };
  if (index + 1 < chunks_.size() && Fits(chunks_[index], chunks_[index + 1].bytes, chunks_[index + 1].count, fill)) {
    merge_into_left(index);
  } else if (index > 0 && Fits(chunks_[index - 1], chunks_[index].bytes, chunks_[index].count, fill)) {
    merge_into_left(index - 1);
  }
}

ListValue::Cursor ListValue::Find(size_t index) const {
  size_t chunk = 0;
  if (index >= size_ / 2) {
    // Closer to the tail: count chunks from the end.
    size_t remaining = size_ - index;  // elements from index to the end, inclusive
    chunk = chunks_.size();
    while (remaining > chunks_[chunk - 1].count) {
      remaining -= chunks_[chunk - 1].count;
      --chunk;
    }
    --chunk;
    index = chunks_[chunk].count - remaining;
  } else {
    while (index >= chunks_[chunk].count) {
      index -= chunks_[chunk].count;
      ++chunk;
    }
  }
  const Chunk& c = chunks_[chunk];
  size_t offset = 0;
  if (index <= c.count / 2) {
    for (size_t i = 0; i < index; ++i) Decode(c.data, offset, &offset);
  } else {
    offset = c.bytes;
    for (size_t i = c.count; i > index; --i) DecodeBackwards(c.data, offset, &offset);
  }
  return Cursor{chunk, offset};
}

void ListValue::PushFront(std::string_view element, int64_t fill) {
  const size_t size = EncodedSize(element);
  unsigned char small[256];
  std::unique_ptr<unsigned char[]> large;
  unsigned char* encoded = size <= sizeof(small) ? small : (large.reset(new unsigned char[size]), large.get());
  Encode(encoded, element);
  if (chunks_.empty() || !Fits(chunks_.front(), size, 1, fill)) {
    InsertChunk(0, encoded, size, 1);
    ++size_;
  } else {
    Splice(0, 0, 0, encoded, size, 1);
  }
}

void ListValue::PushBack(std::string_view element, int64_t fill) {
  const size_t size = EncodedSize(element);
  unsigned char small[256];
  std::unique_ptr<unsigned char[]> large;
  unsigned char* encoded = size <= sizeof(small) ? small : (large.reset(new unsigned char[size]), large.get());
  Encode(encoded, element);
  if (chunks_.empty() || !Fits(chunks_.back(), size, 1, fill)) {
    InsertChunk(chunks_.size(), encoded, size, 1);
    ++size_;
  } else {
    Splice(chunks_.size() - 1, chunks_.back().bytes, 0, encoded, size, 1);
  }
}

std::string ListValue::PopFront() {
  size_t next;
  std::string element(Decode(chunks_.front().data, 0, &next));
  Splice(0, 0, next, nullptr, 0, -1);
  if (chunks_.front().count == 0) RemoveChunk(0);
  return element;
}

std::string ListValue::PopBack() {
  const size_t last = chunks_.size() - 1;
  size_t start;
  std::string element(DecodeBackwards(chunks_[last].data, chunks_[last].bytes, &start));
  Splice(last, start, chunks_[last].bytes - start, nullptr, 0, -1);
  if (chunks_[last].count == 0) RemoveChunk(last);
  return element;
}

std::string_view ListValue::At(size_t index) const {
  const Cursor at = Find(index);
  size_t next;
  return Decode(chunks_[at.chunk].data, at.offset, &next);
}

void ListValue::Set(size_t index, std::string_view element, int64_t fill) {
  Erase(index, 1, fill);
  Insert(index, element, fill);
}

void ListValue::Insert(size_t index, std::string_view element, int64_t fill) {
  if (index == 0) return PushFront(element, fill);
  if (index == size_) return PushBack(element, fill);
  const size_t size = EncodedSize(element);
  std::unique_ptr<unsigned char[]> encoded(new unsigned char[size]);
  Encode(encoded.get(), element);
  const Cursor at = Find(index);
  Splice(at.chunk, at.offset, 0, encoded.get(), size, 1);
  // Over its budget: split the chunk in two halves (a chunk of one element stays as it is).
  Chunk& chunk = chunks_[at.chunk];
  if (chunk.count > 1 && !Fits(Chunk{nullptr, chunk.bytes - size, 0, chunk.count - 1}, size, 1, fill)) {
    const uint32_t half = chunk.count / 2;
    size_t offset = 0;
    for (uint32_t i = 0; i < half; ++i) Decode(chunk.data, offset, &offset);
    SplitChunk(at.chunk, offset, half);
  }
}

void ListValue::Erase(size_t index, size_t count, int64_t fill) {
  while (count > 0) {
    const Cursor at = Find(index);
    Chunk& chunk = chunks_[at.chunk];
    size_t end = at.offset;
    size_t removed = 0;
    while (removed < count && end < chunk.bytes) {
      Decode(chunk.data, end, &end);
      ++removed;
    }
    Splice(at.chunk, at.offset, end - at.offset, nullptr, 0, -static_cast<int64_t>(removed));
    count -= removed;
    if (chunks_[at.chunk].count == 0) {
      RemoveChunk(at.chunk);
    } else {
      MaybeMerge(at.chunk, fill);
    }
  }
}

}  // namespace strata::storage
