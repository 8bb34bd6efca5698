#include "storage/set.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "absl/strings/numbers.h"
#include "storage/numbers.h"
#include "storage/blocks.h"
#include "storage/varint.h"

namespace strata::storage {

namespace {

// Intsets and packed sets never grow past Redis's listpack safety limit (1 GB): their byte count
// is 32-bit, and a set that large is better as a table.
constexpr size_t kMaxPackedBytes = size_t{1} << 30;

uint8_t WidthFor(int64_t value) {
  if (value >= INT16_MIN && value <= INT16_MAX) return 2;
  if (value >= INT32_MIN && value <= INT32_MAX) return 4;
  return 8;
}

// The packed member at data+offset; *next is where the following one starts.
std::string_view PackedAt(const unsigned char* data, size_t offset, size_t* next) {
  uint64_t length;
  const unsigned char* member = GetVarint(data + offset, &length);
  *next = static_cast<size_t>(member - data) + length;
  return std::string_view(reinterpret_cast<const char*>(member), length);
}

std::string_view FormatInt(int64_t value, char (&buffer)[24]) {
  char* end = absl::numbers_internal::FastIntToBuffer(value, buffer);
  return std::string_view(buffer, static_cast<size_t>(end - buffer));
}

}  // namespace

struct SetValue::Table {
  Dict dict;
  size_t entry_bytes = 0;  // allocator bytes of the member entries
};

// Every small set pays for the handle: keep it within one 32-byte allocator size class.
static_assert(sizeof(SetValue) <= 32);

SetValue::SetValue() = default;

size_t SetValue::size() const { return table_ ? table_->dict.size() : count_; }

SetValue::SetValue(const SetValue& other)
    : count_(other.count_), bytes_(other.bytes_), encoding_(other.encoding_), width_(other.width_) {
  if (other.data_ != nullptr) {
    data_ = CopyToNewBlock(other.data_, bytes_);
  }
  if (other.table_) {
    table_ = std::make_unique<Table>();
    other.ForEach([&](std::string_view member) {
      Entry* e = Entry::NewString(member, "", EntryMeta{});
      table_->entry_bytes += UsableSize(e);
      table_->dict.Insert(e, HashKey(member));
    });
  }
}

SetValue::SetValue(SetValue&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      table_(std::move(other.table_)),
      count_(other.count_),
      bytes_(other.bytes_),
      encoding_(other.encoding_),
      width_(other.width_),
      borrowed_(other.borrowed_) {}

SetValue::~SetValue() {
  if (!borrowed_) std::free(data_);
  if (table_) table_->dict.Clear([](Entry* e) { Entry::Free(e); });
}

size_t SetValue::ImageSize() const {
  if (encoding_ == Encoding::kTable || count_ == 0) return 0;
  return 1 + VarintSize(count_) + bytes_;
}

void SetValue::WriteImage(unsigned char* out) const {
  *out++ = static_cast<unsigned char>(static_cast<uint8_t>(encoding_) | (width_ << 4));
  out = PutVarint(out, count_);
  std::memcpy(out, data_, bytes_);
}

namespace {
// The parts of a set image (see SetValue::ImageSize).
struct SetImage {
  uint8_t encoding;
  uint8_t width;
  uint32_t count;
  const unsigned char* members;
  uint32_t bytes;
};
SetImage ParseSetImage(std::string_view image) {
  const auto* at = reinterpret_cast<const unsigned char*>(image.data());
  SetImage parsed;
  parsed.encoding = at[0] & 0x0f;
  parsed.width = at[0] >> 4;
  uint64_t count;
  parsed.members = GetVarint(at + 1, &count);
  parsed.count = static_cast<uint32_t>(count);
  parsed.bytes = static_cast<uint32_t>(image.size() - static_cast<size_t>(parsed.members - at));
  return parsed;
}
}  // namespace

SetValue SetValue::FromImage(std::string_view image) {
  SetValue set = ViewOfImage(image);
  set.data_ = CopyToNewBlock(set.data_, set.bytes_);
  set.borrowed_ = false;
  return set;
}

SetValue SetValue::ViewOfImage(std::string_view image) {
  const SetImage parsed = ParseSetImage(image);
  SetValue set;
  set.encoding_ = static_cast<Encoding>(parsed.encoding);
  set.width_ = parsed.width;
  set.count_ = parsed.count;
  set.data_ = const_cast<unsigned char*>(parsed.members);
  set.bytes_ = parsed.bytes;
  set.borrowed_ = true;
  return set;
}

void SetValue::Resize(size_t bytes) {
  auto* resized = static_cast<unsigned char*>(std::realloc(data_, bytes == 0 ? 1 : bytes));
  if (resized == nullptr) throw std::bad_alloc();
  data_ = resized;
}

int64_t SetValue::IntAt(size_t index) const {
  const unsigned char* at = data_ + index * width_;
  switch (width_) {
    case 2: {
      int16_t v;
      std::memcpy(&v, at, 2);
      return v;
    }
    case 4: {
      int32_t v;
      std::memcpy(&v, at, 4);
      return v;
    }
    default: {
      int64_t v;
      std::memcpy(&v, at, 8);
      return v;
    }
  }
}

bool SetValue::FindInt(int64_t value, size_t* position) const {
  size_t low = 0, high = count_;
  while (low < high) {
    const size_t mid = low + (high - low) / 2;
    const int64_t at = IntAt(mid);
    if (at == value) {
      *position = mid;
      return true;
    }
    if (at < value) {
      low = mid + 1;
    } else {
      high = mid;
    }
  }
  *position = low;
  return false;
}

void SetValue::InsertInt(int64_t value, size_t position) {
  const uint8_t needed = WidthFor(value);
  if (needed > width_) {
    // Widen every member (from the end, so nothing is overwritten before it is read).
    Resize(static_cast<size_t>(count_ + 1) * needed);
    for (size_t i = count_; i-- > 0;) {
      const int64_t v = IntAt(i);
      unsigned char* out = data_ + i * needed;
      if (needed == 4) {
        const int32_t narrow = static_cast<int32_t>(v);
        std::memcpy(out, &narrow, 4);
      } else {
        std::memcpy(out, &v, 8);
      }
    }
    width_ = needed;
  } else {
    Resize(static_cast<size_t>(count_ + 1) * width_);
  }
  std::memmove(data_ + (position + 1) * width_, data_ + position * width_, (count_ - position) * width_);
  unsigned char* out = data_ + position * width_;
  if (width_ == 2) {
    const int16_t v = static_cast<int16_t>(value);
    std::memcpy(out, &v, 2);
  } else if (width_ == 4) {
    const int32_t v = static_cast<int32_t>(value);
    std::memcpy(out, &v, 4);
  } else {
    std::memcpy(out, &value, 8);
  }
  ++count_;
  bytes_ = static_cast<uint32_t>(static_cast<size_t>(count_) * width_);
}

void SetValue::RemoveAt(size_t position) {
  std::memmove(data_ + position * width_, data_ + (position + 1) * width_, (count_ - position - 1) * width_);
  --count_;
  bytes_ = static_cast<uint32_t>(static_cast<size_t>(count_) * width_);
  Resize(bytes_);
}

bool SetValue::FindPacked(std::string_view member, size_t* offset, size_t* length) const {
  size_t at = 0;
  while (at < bytes_) {
    size_t next;
    if (PackedAt(data_, at, &next) == member) {
      *offset = at;
      *length = next - at;
      return true;
    }
    at = next;
  }
  return false;
}

bool SetValue::Contains(std::string_view member) const {
  switch (encoding_) {
    case Encoding::kIntset: {
      int64_t value;
      size_t position;
      return ParseInt64(member, &value) && FindInt(value, &position);
    }
    case Encoding::kPacked: {
      size_t offset, length;
      return FindPacked(member, &offset, &length);
    }
    case Encoding::kTable:
      return table_->dict.Find(member, HashKey(member)) != nullptr;
  }
  return false;
}

bool SetValue::Add(std::string_view member, const SetLimits& limits) {
  if (encoding_ == Encoding::kIntset) {
    int64_t value;
    if (ParseInt64(member, &value)) {
      size_t position;
      if (FindInt(value, &position)) return false;
      if ((static_cast<size_t>(count_) + 1) * sizeof(int64_t) > kMaxPackedBytes) {
        ConvertToTable();
        return Add(member, limits);
      }
      InsertInt(value, position);
      // Redis converts once the intset has more than set-max-intset-entries members.
      if (static_cast<int64_t>(count_) > limits.max_intset_entries) ConvertToTable();
      return true;
    }
    // A member that is not an integer: packed if everything fits there, else a table.
    if (static_cast<int64_t>(count_) + 1 <= limits.max_packed_entries &&
        static_cast<int64_t>(member.size()) <= limits.max_packed_value) {
      ConvertToPacked();
    } else {
      ConvertToTable();
    }
  }
  if (encoding_ == Encoding::kPacked) {
    if (Contains(member)) return false;
    if (static_cast<int64_t>(count_) + 1 > limits.max_packed_entries ||
        static_cast<int64_t>(member.size()) > limits.max_packed_value ||
        bytes_ + VarintSize(member.size()) + member.size() > kMaxPackedBytes) {
      ConvertToTable();
    } else {
      const size_t size = VarintSize(member.size()) + member.size();
      Resize(bytes_ + size);
      unsigned char* out = PutVarint(data_ + bytes_, member.size());
      if (!member.empty()) std::memcpy(out, member.data(), member.size());
      bytes_ += static_cast<uint32_t>(size);
      ++count_;
      return true;
    }
  }
  const uint64_t hash = HashKey(member);
  if (table_->dict.Find(member, hash) != nullptr) return false;
  Entry* e = Entry::NewString(member, "", EntryMeta{});
  table_->entry_bytes += UsableSize(e);
  table_->dict.Insert(e, hash);
  return true;
}

bool SetValue::Remove(std::string_view member) {
  switch (encoding_) {
    case Encoding::kIntset: {
      int64_t value;
      size_t position;
      if (!ParseInt64(member, &value) || !FindInt(value, &position)) return false;
      RemoveAt(position);
      return true;
    }
    case Encoding::kPacked: {
      size_t offset, length;
      if (!FindPacked(member, &offset, &length)) return false;
      std::memmove(data_ + offset, data_ + offset + length, bytes_ - offset - length);
      bytes_ -= static_cast<uint32_t>(length);
      --count_;
      Resize(bytes_);
      return true;
    }
    case Encoding::kTable: {
      Entry* e = table_->dict.Remove(member, HashKey(member));
      if (e == nullptr) return false;
      table_->entry_bytes -= UsableSize(e);
      Entry::Free(e);
      table_->dict.MaybeShrink();
      return true;
    }
  }
  return false;
}

std::string SetValue::RandomMember(uint64_t random) const {
  switch (encoding_) {
    case Encoding::kIntset: {
      char buffer[24];
      return std::string(FormatInt(IntAt(random % count_), buffer));
    }
    case Encoding::kPacked: {
      size_t skip = random % count_;
      size_t at = 0, next;
      std::string_view member = PackedAt(data_, at, &next);
      while (skip-- > 0) member = PackedAt(data_, next, &next);
      return std::string(member);
    }
    case Encoding::kTable:
      return std::string(table_->dict.RandomEntry(random)->key());
  }
  return std::string();
}

void SetValue::ForEach(absl::FunctionRef<void(std::string_view)> fn) const {
  switch (encoding_) {
    case Encoding::kIntset: {
      char buffer[24];
      for (size_t i = 0; i < count_; ++i) fn(FormatInt(IntAt(i), buffer));
      return;
    }
    case Encoding::kPacked: {
      size_t at = 0;
      while (at < bytes_) fn(PackedAt(data_, at, &at));
      return;
    }
    case Encoding::kTable: {
      uint64_t cursor = 0;
      do {
        cursor = table_->dict.Scan(cursor, SIZE_MAX, [&](const Entry* e) { fn(e->key()); });
      } while (cursor != 0);
      return;
    }
  }
}

uint64_t SetValue::Scan(uint64_t cursor, size_t count, absl::FunctionRef<void(std::string_view)> fn) const {
  if (encoding_ != Encoding::kTable) {
    ForEach(fn);
    return 0;
  }
  // Redis visits about COUNT buckets per call (with a cap on empty ones): the same here.
  return table_->dict.Scan(cursor, count, [&](const Entry* e) { fn(e->key()); });
}

void SetValue::ConvertToPacked() {
  // From an intset: the members as text, in the intset's (ascending) order.
  std::string packed;
  char buffer[24];
  for (size_t i = 0; i < count_; ++i) {
    std::string_view text = FormatInt(IntAt(i), buffer);
    unsigned char length[10];
    const size_t n = static_cast<size_t>(PutVarint(length, text.size()) - length);
    packed.append(reinterpret_cast<const char*>(length), n);
    packed.append(text);
  }
  Resize(packed.size());
  if (!packed.empty()) std::memcpy(data_, packed.data(), packed.size());
  bytes_ = static_cast<uint32_t>(packed.size());
  encoding_ = Encoding::kPacked;
}

void SetValue::ConvertToTable() {
  auto table = std::make_unique<Table>();
  ForEach([&](std::string_view member) {
    Entry* e = Entry::NewString(member, "", EntryMeta{});
    table->entry_bytes += UsableSize(e);
    table->dict.Insert(e, HashKey(member));
  });
  table_ = std::move(table);
  std::free(data_);
  data_ = nullptr;
  bytes_ = 0;
  count_ = 0;
  encoding_ = Encoding::kTable;
}

size_t SetValue::ApproximateBytes() const {
  size_t bytes = sizeof(SetValue) + UsableSize(data_);
  if (table_) bytes += sizeof(Table) + table_->dict.overhead_bytes() + table_->entry_bytes;
  return bytes;
}

}  // namespace strata::storage
