// Bitmap commands on strings (Redis's bitops.c) and LCS (t_string.c). Bits are numbered from the
// most significant bit of the first byte; the bit arithmetic is in storage/bitmap.h. Writes edit
// the string in place (storage::StringForUpdate), growing it with zero bytes as Redis does.
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/absl_compat.h"
#include "server/command.h"
#include "server/config.h"
#include "server/errors.h"
#include "server/server.h"
#include "storage/bitmap.h"
#include "storage/entry.h"
#include "storage/keyspace_events.h"
#include "storage/strings.h"

namespace strata::server {

namespace {

using storage::Overflow;
namespace notify = storage::notify;

int64_t MaxBulkBytes(CommandContext& ctx) {
  return ctx.server.config().proto_max_bulk_len.load(std::memory_order_relaxed);
}

// A bit offset argument: a non-negative integer whose byte is below proto-max-bulk-len; with
// `field_bits`, "#N" means N fields of that width (BITFIELD). False after replying the error.
bool ParseBitOffset(CommandContext& ctx, std::string_view text, int field_bits, uint64_t* offset) {
  const bool in_fields = field_bits > 0 && !text.empty() && text[0] == '#';
  int64_t value;
  if (!ParseInteger(in_fields ? text.substr(1) : text, &value) ||
      (in_fields && __builtin_mul_overflow(value, int64_t{field_bits}, &value)) || value < 0 ||
      (value >> 3) >= MaxBulkBytes(ctx)) {
    ctx.reply.Error(errors::kBitOffset);
    return false;
  }
  *offset = static_cast<uint64_t>(value);
  return true;
}

// The string at args[1] for a read: false after a WRONGTYPE reply; *value nullopt when absent.
bool ReadString(CommandContext& ctx, std::optional<std::string_view>* value) {
  auto found = storage::GetString(ctx.keys(), ctx.args[1]);
  if (!found.ok()) {
    ctx.reply.Error(Std(found.status().message()));
    return false;
  }
  *value = *found;
  return true;
}

// SETBIT key offset 0|1: the bit's old value.
void SetBit(CommandContext& ctx) {
  uint64_t offset;
  if (!ParseBitOffset(ctx, ctx.args[2], 0, &offset)) return;
  int64_t bit;
  if (!ParseInteger(ctx.args[3], &bit) || (bit != 0 && bit != 1)) {
    ctx.reply.Error(errors::kBitValue);
    return;
  }
  bool grown;
  auto bytes = storage::StringForUpdate(ctx.keys(), ctx.args[1], (offset >> 3) + 1, &grown);
  if (!bytes.ok()) {
    ctx.reply.Error(Std(bytes.status().message()));
    return;
  }
  const bool old = storage::GetBit(std::string_view(bytes->data(), bytes->size()), offset);
  storage::SetBit(*bytes, offset, bit == 1);
  // Setting a bit to the value it has in a string that did not grow is no change to Redis.
  if (grown || old != (bit == 1)) ctx.keys().Notify(notify::kString, "setbit", ctx.args[1]);
  ctx.reply.Integer(old ? 1 : 0);
}

// GETBIT key offset
void GetBit(CommandContext& ctx) {
  uint64_t offset;
  if (!ParseBitOffset(ctx, ctx.args[2], 0, &offset)) return;
  std::optional<std::string_view> value;
  if (!ReadString(ctx, &value)) return;
  ctx.reply.Integer(value.has_value() && storage::GetBit(*value, offset) ? 1 : 0);
}

// A BITCOUNT / BITPOS range in bits, after Redis's clamping: [first, last], empty when first > last.
struct BitRange {
  int64_t first = 0;
  int64_t last = -1;
};

// start and end (bytes, or bits with BIT) with negative values from the end, clamped to the
// string. `end` absent: to the end of the string.
BitRange ClampRange(int64_t start, std::optional<int64_t> end_arg, bool in_bits, size_t string_bytes) {
  const int64_t total = static_cast<int64_t>(string_bytes) * (in_bits ? 8 : 1);
  int64_t end = end_arg.value_or(total - 1);
  if (start < 0) start += total;
  if (end < 0) end += total;
  start = std::max<int64_t>(start, 0);
  end = std::max<int64_t>(end, 0);
  end = std::min(end, total - 1);
  if (start > end) return {};  // empty; also keeps start * 8 below from overflowing
  if (in_bits) return {start, end};
  return {start * 8, end * 8 + 7};
}

// The optional BYTE|BIT unit word; false after a syntax error.
bool ParseUnit(CommandContext& ctx, std::string_view word, bool* in_bits) {
  if (EqualsIgnoreCase(word, "bit")) {
    *in_bits = true;
  } else if (EqualsIgnoreCase(word, "byte")) {
    *in_bits = false;
  } else {
    ctx.reply.Error(errors::kSyntax);
    return false;
  }
  return true;
}

// BITCOUNT key [start end [BYTE|BIT]]
void BitCount(CommandContext& ctx) {
  // Redis 7.0 looks the key up before it reads the range.
  std::optional<std::string_view> value;
  if (!ReadString(ctx, &value)) return;
  if (!value.has_value()) {
    ctx.reply.Integer(0);
    return;
  }
  const size_t argc = ctx.args.size();
  if (argc != 2 && argc != 4 && argc != 5) {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  BitRange range{0, static_cast<int64_t>(value->size()) * 8 - 1};
  if (argc >= 4) {
    int64_t start, end;
    if (!ParseInteger(ctx.args[2], &start) || !ParseInteger(ctx.args[3], &end)) {
      ctx.reply.Error(errors::kNotInteger);
      return;
    }
    if (start < 0 && end < 0 && start > end) {
      ctx.reply.Integer(0);
      return;
    }
    bool in_bits = false;
    if (argc == 5 && !ParseUnit(ctx, ctx.args[4], &in_bits)) return;
    range = ClampRange(start, end, in_bits, value->size());
  }
  if (range.first > range.last) {
    ctx.reply.Integer(0);
    return;
  }
  ctx.reply.Integer(static_cast<int64_t>(storage::CountBits(*value, range.first, range.last)));
}

// BITPOS key 0|1 [start [end [BYTE|BIT]]]
void BitPos(CommandContext& ctx) {
  int64_t bit;
  if (!ParseInteger(ctx.args[2], &bit)) {
    ctx.reply.Error(errors::kNotInteger);
    return;
  }
  if (bit != 0 && bit != 1) {
    ctx.reply.Error(errors::kBitArgument);
    return;
  }
  std::optional<std::string_view> value;
  if (!ReadString(ctx, &value)) return;
  // A missing key is an endless run of zeros.
  if (!value.has_value()) {
    ctx.reply.Integer(bit ? -1 : 0);
    return;
  }
  const size_t argc = ctx.args.size();
  if (argc > 6) {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  BitRange range{0, static_cast<int64_t>(value->size()) * 8 - 1};
  bool end_given = false;
  if (argc >= 4) {
    int64_t start;
    if (!ParseInteger(ctx.args[3], &start)) {
      ctx.reply.Error(errors::kNotInteger);
      return;
    }
    bool in_bits = false;
    if (argc == 6 && !ParseUnit(ctx, ctx.args[5], &in_bits)) return;
    std::optional<int64_t> end;
    if (argc >= 5) {
      int64_t parsed;
      if (!ParseInteger(ctx.args[4], &parsed)) {
        ctx.reply.Error(errors::kNotInteger);
        return;
      }
      end = parsed;
      end_given = true;
    }
    range = ClampRange(start, end, in_bits, value->size());
  }
  if (range.first > range.last) {  // an empty range holds neither a 0 nor a 1
    ctx.reply.Integer(-1);
    return;
  }
  const int64_t found = storage::FindBit(*value, bit == 1, range.first, range.last);
  // No clear bit: without an explicit end the string continues with zeros right after it.
  if (found < 0 && bit == 0 && !end_given) {
    ctx.reply.Integer(range.last + 1);
    return;
  }
  ctx.reply.Integer(found);
}

// BITOP AND|OR|XOR|NOT destkey key [key ...]: the length of the stored result.
void BitOp(CommandContext& ctx) {
  enum class Op { kAnd, kOr, kXor, kNot };
  Op op;
  const std::string_view name = ctx.args[1];
  if (EqualsIgnoreCase(name, "and")) {
    op = Op::kAnd;
  } else if (EqualsIgnoreCase(name, "or")) {
    op = Op::kOr;
  } else if (EqualsIgnoreCase(name, "xor")) {
    op = Op::kXor;
  } else if (EqualsIgnoreCase(name, "not")) {
    op = Op::kNot;
  } else {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  if (op == Op::kNot && ctx.args.size() != 4) {
    ctx.reply.Error(errors::kBitOpNotOneKey);
    return;
  }
  storage::Transaction& txn = ctx.keys();
  std::vector<std::string_view> sources;
  size_t longest = 0;
  for (size_t i = 3; i < ctx.args.size(); ++i) {
    auto found = storage::GetString(txn, ctx.args[i]);
    if (!found.ok()) {
      ctx.reply.Error(Std(found.status().message()));
      return;
    }
    sources.push_back(found->value_or(std::string_view()));  // a missing key is an empty string
    longest = std::max(longest, sources.back().size());
  }
  if (longest == 0) {
    if (txn.Delete(ctx.args[2])) txn.Notify(notify::kGeneric, "del", ctx.args[2]);
    ctx.reply.Integer(0);
    return;
  }
  std::string result(longest, '\0');
  auto byte = [](std::string_view s, size_t i) -> uint8_t { return i < s.size() ? static_cast<uint8_t>(s[i]) : 0; };
  for (size_t i = 0; i < longest; ++i) {
    uint8_t out = byte(sources[0], i);
    if (op == Op::kNot) out = static_cast<uint8_t>(~out);
    for (size_t k = 1; k < sources.size(); ++k) {
      const uint8_t in = byte(sources[k], i);
      if (op == Op::kAnd) out &= in;
      if (op == Op::kOr) out |= in;
      if (op == Op::kXor) out ^= in;
    }
    result[i] = static_cast<char>(out);
  }
  // The sources' views end here: storing may replace one of them (BITOP AND k k x).
  txn.SetString(ctx.args[2], result, storage::Entry::kNoExpiry, storage::Entry::kRawEncoding);
  txn.Notify(notify::kString, "set", ctx.args[2]);
  ctx.reply.Integer(static_cast<int64_t>(longest));
}

// ---------------------------------------------------------------------------------------------
// BITFIELD

struct FieldOp {
  enum class Kind { kGet, kSet, kIncrBy } kind;
  bool is_signed;
  int bits;
  uint64_t offset;
  int64_t value;  // SET value or INCRBY increment
  Overflow overflow;
};

// "i1".."i64" or "u1".."u63" (lowercase only, as in Redis).
bool ParseFieldType(CommandContext& ctx, std::string_view text, bool* is_signed, int* bits) {
  int64_t width;
  const bool ok = !text.empty() && (text[0] == 'i' || text[0] == 'u') && ParseInteger(text.substr(1), &width) &&
                  width >= 1;
  *is_signed = ok && text[0] == 'i';
  if (!ok || width > (*is_signed ? 64 : 63)) {
    ctx.reply.Error(errors::kBitfieldType);
    return false;
  }
  *bits = static_cast<int>(width);
  return true;
}

// Parses every operation before running any, as Redis does; false after replying an error.
bool ParseFieldOps(CommandContext& ctx, std::vector<FieldOp>* ops, uint64_t* write_end_bits) {
  Overflow overflow = Overflow::kWrap;
  const auto& args = ctx.args;
  for (size_t j = 2; j < args.size(); ++j) {
    const size_t more = args.size() - j - 1;
    FieldOp op{};
    if (EqualsIgnoreCase(args[j], "get") && more >= 2) {
      op.kind = FieldOp::Kind::kGet;
    } else if (EqualsIgnoreCase(args[j], "set") && more >= 3) {
      op.kind = FieldOp::Kind::kSet;
    } else if (EqualsIgnoreCase(args[j], "incrby") && more >= 3) {
      op.kind = FieldOp::Kind::kIncrBy;
    } else if (EqualsIgnoreCase(args[j], "overflow") && more >= 1) {
      const std::string_view mode = args[++j];
      if (EqualsIgnoreCase(mode, "wrap")) {
        overflow = Overflow::kWrap;
      } else if (EqualsIgnoreCase(mode, "sat")) {
        overflow = Overflow::kSat;
      } else if (EqualsIgnoreCase(mode, "fail")) {
        overflow = Overflow::kFail;
      } else {
        ctx.reply.Error(errors::kBitfieldOverflow);
        return false;
      }
      continue;
    } else {
      ctx.reply.Error(errors::kSyntax);
      return false;
    }
    if (!ParseFieldType(ctx, args[j + 1], &op.is_signed, &op.bits)) return false;
    if (!ParseBitOffset(ctx, args[j + 2], op.bits, &op.offset)) return false;
    if (op.kind != FieldOp::Kind::kGet) {
      if (!ParseInteger(args[j + 3], &op.value)) {
        ctx.reply.Error(errors::kNotInteger);
        return false;
      }
      *write_end_bits = std::max(*write_end_bits, op.offset + op.bits);
    }
    op.overflow = overflow;
    ops->push_back(op);
    j += op.kind == FieldOp::Kind::kGet ? 2 : 3;
  }
  return true;
}

// What one BITFIELD write did: refused by OVERFLOW FAIL, wrote the value the field had, or
// changed it.
enum class FieldWrite { kRefused, kSameValue, kChanged };

// Runs one SET or INCRBY on the field; replies the old value (SET), the new one (INCRBY), or
// null when OVERFLOW FAIL refused it.
FieldWrite RunFieldWrite(CommandContext& ctx, const FieldOp& op, std::span<char> bytes) {
  const std::string_view view(bytes.data(), bytes.size());
  const bool incr = op.kind == FieldOp::Kind::kIncrBy;
  bool overflowed;
  uint64_t stored;
  uint64_t old_bits;  // the field as it was, in the same two's-complement bits as `stored`
  int64_t reply;
  if (op.is_signed) {
    const int64_t old = storage::GetSignedBitfield(view, op.offset, op.bits);
    int64_t next = 0;
    // SET checks the new value alone: as an increment of 0 from it.
    overflowed = incr ? storage::AddToSignedField(old, op.value, op.bits, op.overflow, &next)
                      : storage::AddToSignedField(op.value, 0, op.bits, op.overflow, &next);
    if (!overflowed && !incr) next = op.value;
    stored = static_cast<uint64_t>(next);
    old_bits = static_cast<uint64_t>(old);
    reply = incr ? next : old;
  } else {
    const uint64_t old = storage::GetBitfield(view, op.offset, op.bits);
    uint64_t next = 0;
    overflowed = incr ? storage::AddToUnsignedField(old, op.value, op.bits, op.overflow, &next)
                      : storage::AddToUnsignedField(static_cast<uint64_t>(op.value), 0, op.bits, op.overflow, &next);
    if (!overflowed && !incr) next = static_cast<uint64_t>(op.value);
    stored = next;
    old_bits = old;
    reply = static_cast<int64_t>(incr ? next : old);
  }
  if (overflowed && op.overflow == Overflow::kFail) {
    ctx.reply.Null();
    return FieldWrite::kRefused;
  }
  storage::SetBitfield(bytes, op.offset, op.bits, stored);
  ctx.reply.Integer(reply);
  return stored != old_bits ? FieldWrite::kChanged : FieldWrite::kSameValue;
}

void BitFieldGeneric(CommandContext& ctx, bool read_only_command) {
  std::vector<FieldOp> ops;
  uint64_t write_end_bits = 0;
  if (!ParseFieldOps(ctx, &ops, &write_end_bits)) return;
  const bool writes = std::any_of(ops.begin(), ops.end(), [](const FieldOp& op) { return op.kind != FieldOp::Kind::kGet; });
  std::span<char> bytes;   // written fields (only when some op writes)
  std::string_view value;  // what GET reads: the same bytes, or the value of a read-only run
  bool grown = false;      // the key was created or lengthened for the writes
  bool changed = false;    // a write was made to a grown string, or changed a field
  if (writes) {
    if (read_only_command) {
      ctx.reply.Error(errors::kBitfieldReadOnly);
      return;
    }
    // Grown to the farthest field written, even if OVERFLOW FAIL then writes nothing.
    auto found = storage::StringForUpdate(ctx.keys(), ctx.args[1], (write_end_bits + 7) / 8, &grown);
    if (!found.ok()) {
      ctx.reply.Error(Std(found.status().message()));
      return;
    }
    bytes = *found;
    value = std::string_view(bytes.data(), bytes.size());
  } else {
    std::optional<std::string_view> found;
    if (!ReadString(ctx, &found)) return;
    value = found.value_or(std::string_view());
  }
  ctx.reply.ArrayHeader(ops.size());
  for (const FieldOp& op : ops) {
    if (op.kind != FieldOp::Kind::kGet) {
      // As Redis counts changes: a write OVERFLOW FAIL refused is none, even to a grown string.
      const FieldWrite write = RunFieldWrite(ctx, op, bytes);
      changed |= write == FieldWrite::kChanged || (grown && write == FieldWrite::kSameValue);
      continue;
    }
    ctx.reply.Integer(op.is_signed ? storage::GetSignedBitfield(value, op.offset, op.bits)
                                   : static_cast<int64_t>(storage::GetBitfield(value, op.offset, op.bits)));
  }
  // One "setbit" for the command, and none when no write changed anything, as with SETBIT.
  if (changed) ctx.keys().Notify(notify::kString, "setbit", ctx.args[1]);
}
void BitField(CommandContext& ctx) { BitFieldGeneric(ctx, false); }
void BitFieldRo(CommandContext& ctx) { BitFieldGeneric(ctx, true); }

// ---------------------------------------------------------------------------------------------
// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]

void Lcs(CommandContext& ctx) {
  storage::Transaction& txn = ctx.keys();
  std::string_view a, b;
  bool wrong_type = false;
  for (int i = 1; i <= 2; ++i) {
    auto found = storage::GetString(txn, ctx.args[i]);
    if (!found.ok()) {
      wrong_type = true;
    } else {
      (i == 1 ? a : b) = found->value_or(std::string_view());
    }
  }
  if (wrong_type) {
    ctx.reply.Error(errors::kLcsNotStrings);
    return;
  }
  bool want_len = false, want_idx = false, with_match_len = false;
  int64_t min_match_len = 0;
  for (size_t j = 3; j < ctx.args.size(); ++j) {
    const std::string_view option = ctx.args[j];
    if (EqualsIgnoreCase(option, "idx")) {
      want_idx = true;
    } else if (EqualsIgnoreCase(option, "len")) {
      want_len = true;
    } else if (EqualsIgnoreCase(option, "withmatchlen")) {
      with_match_len = true;
    } else if (EqualsIgnoreCase(option, "minmatchlen") && j + 1 < ctx.args.size()) {
      if (!ParseInteger(ctx.args[++j], &min_match_len)) {
        ctx.reply.Error(errors::kNotInteger);
        return;
      }
      min_match_len = std::max<int64_t>(min_match_len, 0);
    } else {
      ctx.reply.Error(errors::kSyntax);
      return;
    }
  }
  if (want_len && want_idx) {
    ctx.reply.Error(errors::kLcsLenAndIdx);
    return;
  }
  if (a.size() >= UINT32_MAX - 1 || b.size() >= UINT32_MAX - 1) {
    ctx.reply.Error(errors::kLcsTooLong);
    return;
  }
  const uint64_t rows = a.size() + 1, columns = b.size() + 1;
  // The dynamic-programming table: (len1+1)*(len2+1) 32-bit cells, at most proto-max-bulk-len
  // bytes, as Redis 7.0.15 limits it.
  if (rows * columns > static_cast<uint64_t>(MaxBulkBytes(ctx)) / sizeof(uint32_t)) {
    ctx.reply.Error(errors::kLcsTableTooBig);
    return;
  }
  // table[i * columns + j]: the LCS length of a[0..i) and b[0..j).
  std::unique_ptr<uint32_t[]> table(new (std::nothrow) uint32_t[rows * columns]);
  if (table == nullptr) {
    ctx.reply.Error(errors::kLcsNoMemory);
    return;
  }
  auto at = [&](uint64_t i, uint64_t j) -> uint32_t& { return table[i * columns + j]; };
  for (uint64_t i = 0; i < rows; ++i) {
    for (uint64_t j = 0; j < columns; ++j) {
      if (i == 0 || j == 0) {
        at(i, j) = 0;
      } else if (a[i - 1] == b[j - 1]) {
        at(i, j) = at(i - 1, j - 1) + 1;
      } else {
        at(i, j) = std::max(at(i - 1, j), at(i, j - 1));
      }
    }
  }
  const uint32_t length = at(a.size(), b.size());
  if (want_len) {
    ctx.reply.Integer(length);
    return;
  }
  // Walk back from the end, collecting the common string and (for IDX) its runs of adjacent
  // matches, last run first, as Redis reports them.
  struct Run {
    uint32_t a_start, a_end, b_start, b_end;
  };
  std::string common(length, '\0');
  std::vector<Run> runs;
  std::optional<Run> run;
  uint64_t i = a.size(), j = b.size(), k = length;
  auto close_run = [&] {
    if (run && (min_match_len == 0 || run->a_end - run->a_start + 1 >= static_cast<uint64_t>(min_match_len))) {
      runs.push_back(*run);
    }
    run.reset();
  };
  while (i > 0 && j > 0) {
    if (a[i - 1] == b[j - 1]) {
      common[--k] = a[i - 1];
      const auto ai = static_cast<uint32_t>(i - 1), bj = static_cast<uint32_t>(j - 1);
      if (!run) {
        run = Run{ai, ai, bj, bj};
      } else {
        run->a_start = ai;  // a match after a match extends the run backwards
        run->b_start = bj;
      }
      --i;
      --j;
      if (run->a_start == 0 || run->b_start == 0) close_run();
    } else {
      if (at(i - 1, j) > at(i, j - 1)) {
        --i;
      } else {
        --j;
      }
      close_run();
    }
  }
  if (!want_idx) {
    ctx.reply.Bulk(common);
    return;
  }
  ctx.reply.MapHeader(2);
  ctx.reply.Bulk("matches");
  ctx.reply.ArrayHeader(runs.size());
  for (const Run& r : runs) {
    ctx.reply.ArrayHeader(with_match_len ? 3 : 2);
    ctx.reply.ArrayHeader(2);
    ctx.reply.Integer(r.a_start);
    ctx.reply.Integer(r.a_end);
    ctx.reply.ArrayHeader(2);
    ctx.reply.Integer(r.b_start);
    ctx.reply.Integer(r.b_end);
    if (with_match_len) ctx.reply.Integer(r.a_end - r.a_start + 1);
  }
  ctx.reply.Bulk("len");
  ctx.reply.Integer(length);
}

constexpr uint32_t kRead = flags::kReadOnly;
constexpr uint32_t kWriteOom = flags::kWrite | flags::kDenyOom;

constexpr CommandSpec kBitmapCommands[] = {
    {"setbit", 4, kWriteOom, 1, 1, 1, SetBit, {}, "Sets or clears the bit at offset in the string value stored at key"},
    {"getbit", 3, kRead | flags::kFast, 1, 1, 1, GetBit, {}, "Returns the bit value at offset in the string value stored at key"},
    {"bitcount", -2, kRead, 1, 1, 1, BitCount, {}, "Count set bits in a string"},
    {"bitpos", -3, kRead, 1, 1, 1, BitPos, {}, "Find first bit set or clear in a string"},
    {"bitop", -4, kWriteOom, 2, -1, 1, BitOp, {}, "Perform bitwise operations between strings"},
    {"bitfield", -2, kWriteOom, 1, 1, 1, BitField, {}, "Perform arbitrary bitfield integer operations on strings"},
    {"bitfield_ro", -2, kRead | flags::kFast, 1, 1, 1, BitFieldRo, {}, "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD"},
    {"lcs", -3, kRead, 1, 2, 1, Lcs, {}, "Find longest common substring"},
};

}  // namespace

std::span<const CommandSpec> BitmapCommands() { return kBitmapCommands; }

}  // namespace strata::server
