#include "storage/list.h"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

#include <lz4.h>

#include "storage/blocks.h"
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

// Chunks smaller than this are not worth compressing (Redis's MIN_COMPRESS_BYTES is 48).
constexpr size_t kMinCompressBytes = 64;
// Nor larger than the largest chunk budget (64 KB): a bigger chunk is one large element, which
// would cost a decompression of its whole size on every read and per-thread buffers as large.
constexpr size_t kMaxCompressBytes = 64 * 1024;

// Decompresses a chunk's LZ4 data into `out` (raw_bytes long). A failure is memory corruption.
void Decompress(const unsigned char* data, size_t bytes, unsigned char* out, size_t raw_bytes) {
  const int n = LZ4_decompress_safe(reinterpret_cast<const char*>(data), reinterpret_cast<char*>(out),
                                    static_cast<int>(bytes), static_cast<int>(raw_bytes));
  if (n < 0 || static_cast<size_t>(n) != raw_bytes) std::abort();
}

}  // namespace

ListValue::ListValue(const ListValue& other) : size_(other.size_) {
  chunks_.reserve(other.chunks_.size());
  for (const Chunk& chunk : other.chunks_) {
    Chunk copy = chunk;
    SetChunkData(copy, chunk.data, chunk.bytes);  // as it is, compressed or not
    chunks_.push_back(copy);
  }
}

ListValue::ListValue(ListValue&& other) noexcept
    : chunks_(std::move(other.chunks_)),
      size_(std::exchange(other.size_, 0)),
      chunk_bytes_(std::exchange(other.chunk_bytes_, 0)),
      borrowed_(other.borrowed_) {
  other.chunks_.clear();
}

ListValue::~ListValue() {
  if (borrowed_) return;
  for (Chunk& chunk : chunks_) std::free(chunk.data);
}

size_t ListValue::ImageSize() const {
  if (chunks_.size() != 1 || chunks_.front().compressed()) return 0;
  return VarintSize(chunks_.front().count) + chunks_.front().bytes;
}

void ListValue::WriteImage(unsigned char* out) const {
  const Chunk& chunk = chunks_.front();
  out = PutVarint(out, chunk.count);
  std::memcpy(out, chunk.data, chunk.bytes);
}

ListValue ListValue::FromImage(std::string_view image) {
  ListValue list = ViewOfImage(image);
  Chunk& chunk = list.chunks_.front();
  list.SetChunkData(chunk, chunk.data, chunk.bytes);  // copied before it is ours to free
  list.borrowed_ = false;
  return list;
}

ListValue ListValue::ViewOfImage(std::string_view image) {
  const auto* at = reinterpret_cast<const unsigned char*>(image.data());
  uint64_t count;
  const unsigned char* elements = GetVarint(at, &count);
  ListValue list;
  Chunk chunk;
  chunk.data = const_cast<unsigned char*>(elements);
  chunk.bytes = image.size() - static_cast<size_t>(elements - at);
  chunk.count = static_cast<uint32_t>(count);
  list.chunks_.push_back(chunk);
  list.size_ = chunk.count;
  list.borrowed_ = true;
  return list;
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
    return chunk.count + extra_count <= static_cast<uint64_t>(fill) &&
           chunk.raw_size() + extra_bytes <= kCountFillByteLimit;
  }
  return chunk.raw_size() + extra_bytes <= ByteLimit(fill);
}

size_t ListValue::compressed_chunk_count() const {
  size_t n = 0;
  for (const Chunk& chunk : chunks_) n += chunk.compressed() ? 1 : 0;
  return n;
}

const unsigned char* ListValue::Elements(size_t index) const {
  const Chunk& chunk = chunks_[index];
  if (!chunk.compressed()) return chunk.data;
  thread_local std::unique_ptr<unsigned char[]> buffer;
  thread_local size_t buffer_size = 0;
  if (buffer_size < chunk.raw_bytes) {
    buffer.reset(new unsigned char[chunk.raw_bytes]);
    buffer_size = chunk.raw_bytes;
  }
  Decompress(chunk.data, chunk.bytes, buffer.get(), chunk.raw_bytes);
  return buffer.get();
}

void ListValue::MakeRaw(size_t index) {
  Chunk& chunk = chunks_[index];
  chunk.incompressible = false;  // about to change: worth another try later
  if (!chunk.compressed()) return;
  unsigned char* block = AllocateBlock(chunk.raw_bytes);
  Decompress(chunk.data, chunk.bytes, block, chunk.raw_bytes);
  std::free(chunk.data);
  chunk_bytes_ -= chunk.capacity;
  chunk.data = block;
  chunk.capacity = UsableSize(block);
  chunk_bytes_ += chunk.capacity;
  chunk.bytes = chunk.raw_bytes;
  chunk.raw_bytes = 0;
}

void ListValue::TryCompress(size_t index) {
  Chunk& chunk = chunks_[index];
  if (chunk.compressed() || chunk.incompressible) return;
  if (chunk.bytes < kMinCompressBytes || chunk.bytes > kMaxCompressBytes) {
    chunk.incompressible = true;
    return;
  }
  thread_local std::unique_ptr<char[]> buffer;
  thread_local size_t buffer_size = 0;
  const auto bound = static_cast<size_t>(LZ4_compressBound(static_cast<int>(chunk.bytes)));
  if (buffer_size < bound) {
    buffer.reset(new char[bound]);
    buffer_size = bound;
  }
  const int n = LZ4_compress_default(reinterpret_cast<const char*>(chunk.data), buffer.get(),
                                     static_cast<int>(chunk.bytes), static_cast<int>(bound));
  if (n <= 0 || static_cast<size_t>(n) > chunk.bytes - chunk.bytes / 8) {
    chunk.incompressible = true;
    return;
  }
  unsigned char* block = AllocateBlock(static_cast<size_t>(n));
  std::memcpy(block, buffer.get(), static_cast<size_t>(n));
  std::free(chunk.data);
  chunk_bytes_ -= chunk.capacity;
  chunk.data = block;
  chunk.capacity = UsableSize(block);
  chunk_bytes_ += chunk.capacity;
  chunk.raw_bytes = static_cast<uint32_t>(chunk.bytes);
  chunk.bytes = static_cast<size_t>(n);
}

void ListValue::CompressInterior(const ListLimits& limits) {
  if (limits.compress_depth <= 0) return;
  const auto depth = static_cast<size_t>(limits.compress_depth);
  for (size_t chunk = depth; chunk + depth < chunks_.size(); ++chunk) TryCompress(chunk);
}

void ListValue::CompressAround(size_t first, size_t last, const ListLimits& limits) {
  if (limits.compress_depth <= 0) return;
  const auto depth = static_cast<size_t>(limits.compress_depth);
  const size_t n = chunks_.size();
  if (n <= 2 * depth) return;
  auto consider = [&](size_t chunk) {
    if (chunk >= depth && chunk < n - depth) TryCompress(chunk);
  };
  // The chunks next to each end zone are the ones a push or pop moves into the interior.
  consider(depth);
  consider(n - 1 - depth);
  for (size_t chunk = first; chunk <= last && chunk < n; ++chunk) consider(chunk);
}

void ListValue::SetChunkData(Chunk& chunk, const unsigned char* data, size_t bytes) {
  unsigned char* block = CopyToNewBlock(data, bytes);
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
  chunk.incompressible = false;
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
  const bool under_half =
      fill > 0 ? chunk.count * 2 <= static_cast<uint64_t>(fill) : chunk.raw_size() * 2 <= ByteLimit(fill);
  if (!under_half) return;
  auto merge_into_left = [&](size_t left) {
    MakeRaw(left);
    MakeRaw(left + 1);
    const Chunk& right = chunks_[left + 1];
    const uint32_t count = right.count;
    const size_t bytes = right.bytes;
    std::unique_ptr<unsigned char[]> copy(new unsigned char[bytes]);
    std::memcpy(copy.get(), right.data, bytes);
    RemoveChunk(left + 1);
    Splice(left, chunks_[left].bytes, 0, copy.get(), bytes, count);
    size_ -= count;  // moved, not added
  };
  if (index + 1 < chunks_.size() &&
      Fits(chunks_[index], chunks_[index + 1].raw_size(), chunks_[index + 1].count, fill)) {
    merge_into_left(index);
  } else if (index > 0 && Fits(chunks_[index - 1], chunks_[index].raw_size(), chunks_[index].count, fill)) {
    merge_into_left(index - 1);
  }
}

void ListValue::Locate(size_t index, size_t* chunk_index, size_t* index_in_chunk) const {
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
  *chunk_index = chunk;
  *index_in_chunk = index;
}

size_t ListValue::OffsetOf(const unsigned char* elements, const Chunk& chunk, size_t index) {
  size_t offset = 0;
  if (index <= chunk.count / 2) {
    for (size_t i = 0; i < index; ++i) Decode(elements, offset, &offset);
  } else {
    offset = chunk.raw_size();
    for (size_t i = chunk.count; i > index; --i) DecodeBackwards(elements, offset, &offset);
  }
  return offset;
}

ListValue::Cursor ListValue::Find(size_t index) const {
  size_t chunk, in_chunk;
  Locate(index, &chunk, &in_chunk);
  const unsigned char* elements = Elements(chunk);
  return Cursor{chunk, OffsetOf(elements, chunks_[chunk], in_chunk), elements};
}

// An element in its packed form, on the stack when it is small.
class ListValue::EncodedElement {
 public:
  explicit EncodedElement(std::string_view element) : size_(EncodedSize(element)) {
    if (size_ > sizeof(small_)) large_.reset(new unsigned char[size_]);
    Encode(data(), element);
  }
  const unsigned char* data() const { return large_ ? large_.get() : small_; }
  unsigned char* data() { return large_ ? large_.get() : small_; }
  size_t size() const { return size_; }

 private:
  size_t size_;
  unsigned char small_[256];
  std::unique_ptr<unsigned char[]> large_;
};

void ListValue::PushFront(std::string_view element, const ListLimits& limits) {
  const EncodedElement encoded(element);
  if (chunks_.empty() || !Fits(chunks_.front(), encoded.size(), 1, limits.fill)) {
    InsertChunk(0, encoded.data(), encoded.size(), 1);
    ++size_;
    CompressAround(1, 1, limits);
  } else {
    MakeRaw(0);
    Splice(0, 0, 0, encoded.data(), encoded.size(), 1);
  }
}

void ListValue::PushBack(std::string_view element, const ListLimits& limits) {
  const EncodedElement encoded(element);
  if (chunks_.empty() || !Fits(chunks_.back(), encoded.size(), 1, limits.fill)) {
    InsertChunk(chunks_.size(), encoded.data(), encoded.size(), 1);
    ++size_;
    CompressAround(chunks_.size() - 2, chunks_.size() - 2, limits);
  } else {
    const size_t last = chunks_.size() - 1;
    MakeRaw(last);
    Splice(last, chunks_[last].bytes, 0, encoded.data(), encoded.size(), 1);
  }
}

std::string ListValue::PopFront() {
  MakeRaw(0);
  size_t next;
  std::string element(Decode(chunks_.front().data, 0, &next));
  Splice(0, 0, next, nullptr, 0, -1);
  if (chunks_.front().count == 0) RemoveChunk(0);
  return element;
}

std::string ListValue::PopBack() {
  const size_t last = chunks_.size() - 1;
  MakeRaw(last);
  size_t start;
  std::string element(DecodeBackwards(chunks_[last].data, chunks_[last].bytes, &start));
  Splice(last, start, chunks_[last].bytes - start, nullptr, 0, -1);
  if (chunks_[last].count == 0) RemoveChunk(last);
  return element;
}

std::string_view ListValue::At(size_t index) const {
  const Cursor at = Find(index);
  size_t next;
  return Decode(at.elements, at.offset, &next);
}

void ListValue::Set(size_t index, std::string_view element, const ListLimits& limits) {
  Erase(index, 1, ListLimits{.fill = limits.fill, .compress_depth = 0});  // Insert compresses
  Insert(index, element, limits);
}

void ListValue::Insert(size_t index, std::string_view element, const ListLimits& limits) {
  if (index == 0) return PushFront(element, limits);
  if (index == size_) return PushBack(element, limits);
  const EncodedElement encoded(element);
  size_t at, in_chunk;
  Locate(index, &at, &in_chunk);
  MakeRaw(at);
  const size_t offset = OffsetOf(chunks_[at].data, chunks_[at], in_chunk);
  Splice(at, offset, 0, encoded.data(), encoded.size(), 1);
  // Over its budget: split the chunk in two halves (a chunk of one element stays as it is).
  Chunk& chunk = chunks_[at];
  if (chunk.count > 1 && !Fits(Chunk{nullptr, chunk.bytes - encoded.size(), 0, chunk.count - 1}, encoded.size(), 1,
                               limits.fill)) {
    const uint32_t half = chunk.count / 2;
    SplitChunk(at, OffsetOf(chunk.data, chunk, half), half);
  }
  CompressAround(at, at + 1, limits);
}

void ListValue::Erase(size_t index, size_t count, const ListLimits& limits) {
  size_t first_touched = 0;
  bool touched = false;
  while (count > 0) {
    size_t at, in_chunk;
    Locate(index, &at, &in_chunk);
    if (!touched) {
      first_touched = at;
      touched = true;
    }
    if (in_chunk == 0 && count >= chunks_[at].count) {  // the whole chunk: no need to read it
      count -= chunks_[at].count;
      size_ -= chunks_[at].count;
      RemoveChunk(at);
      continue;
    }
    MakeRaw(at);
    Chunk& chunk = chunks_[at];
    const size_t offset = OffsetOf(chunk.data, chunk, in_chunk);
    size_t end = offset;
    size_t removed = 0;
    while (removed < count && end < chunk.bytes) {
      Decode(chunk.data, end, &end);
      ++removed;
    }
    Splice(at, offset, end - offset, nullptr, 0, -static_cast<int64_t>(removed));
    count -= removed;
    if (chunks_[at].count == 0) {
      RemoveChunk(at);
    } else {
      MaybeMerge(at, limits.fill);
    }
  }
  if (touched) CompressAround(first_touched > 0 ? first_touched - 1 : 0, first_touched + 1, limits);
}

}  // namespace strata::storage
