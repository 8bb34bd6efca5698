// cmsgpack.pack / unpack / unpack_one / unpack_limit: MessagePack for scripts, as Redis's
// embedded copy of lua-cmsgpack 0.4 does it.
//
// Encoding (Lua to MessagePack), one value at a time; pack(a, b, c) is the concatenation of
// the three encodings:
//
//   nil, and functions, userdata, threads      nil (c0)
//   true / false                                c3 / c2
//   a number with no fraction in int64's range  the shortest integer: positive fixint, uint8,
//                                               uint16, uint32, uint64 for n >= 0; negative
//                                               fixint, int8, int16, int32, int64 below zero
//   any other number                            float32 (ca) when the float holds it exactly
//                                               (1.5, inf), otherwise float64 (cb) (0.1, NaN)
//   a string                                    str: fixstr below 32 bytes, then str8, str16,
//                                               str32; never bin
//   a table whose keys are exactly 1..n         array of its n values (so {} is an empty array)
//   any other table                             map, in lua_next order
//
// A table nested inside kMaxNesting enclosing tables is encoded as nil, which is also what
// stops a table that contains itself. Worked examples: pack({1, 2, 3}) is 93 01 02 03;
// pack({a = 1}) is 81 a1 61 01; pack(-33, 300) is d0 df cd 01 2c.
//
// Decoding (MessagePack to Lua) accepts every type except bin, ext and the unused byte c1
// ("Bad data format in input."). Integers and floats become numbers (64-bit integers beyond
// 2^53 round, and uint64 is read as two's complement, so ff..ff is -1), str becomes a string, array a table with keys 1..n, map a table (a nil or NaN
// key raises Lua's own "table index is nil/NaN"). Input that ends inside a value raises
// "Missing bytes in input.". Each nested level holds two Lua stack slots, and the stack checks
// sit where the original's do, so input nested deeper than Lua's C stack limit (8000 slots)
// fails with the same message redis-server gives.
//
// Offsets are 0-based. unpack_one(s [, offset]) and unpack_limit(s, limit [, offset]) return the
// offset of the first undecoded byte, or -1 once the input is used up, followed by the values.
// Quirks kept because scripts can observe them: unpack_limit(s, 0) with offset 0 behaves like
// unpack (no offset is returned), and the negative-argument error prints the input length where
// it says "limit".
#include "server/scripting/lua_cmsgpack.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>

#include <lua.hpp>

namespace strata::server::scripting {

namespace {

// Tables nested deeper than this encode as nil.
constexpr int kMaxNesting = 16;
constexpr size_t kInitialEncodeCapacity = 64;
constexpr char kTooManyValues[] = "too many return values at once; use unpack_one or unpack_limit instead.";

// MessagePack's type bytes, and the prefixes of the types whose low bits carry a value.
namespace tag {
constexpr uint8_t kNil = 0xc0;
constexpr uint8_t kFalse = 0xc2;
constexpr uint8_t kTrue = 0xc3;
constexpr uint8_t kFloat32 = 0xca;
constexpr uint8_t kFloat64 = 0xcb;
constexpr uint8_t kUint8 = 0xcc;
constexpr uint8_t kUint16 = 0xcd;
constexpr uint8_t kUint32 = 0xce;
constexpr uint8_t kUint64 = 0xcf;
constexpr uint8_t kInt8 = 0xd0;
constexpr uint8_t kInt16 = 0xd1;
constexpr uint8_t kInt32 = 0xd2;
constexpr uint8_t kInt64 = 0xd3;
constexpr uint8_t kStr8 = 0xd9;
constexpr uint8_t kStr16 = 0xda;
constexpr uint8_t kStr32 = 0xdb;
constexpr uint8_t kArray16 = 0xdc;
constexpr uint8_t kArray32 = 0xdd;
constexpr uint8_t kMap16 = 0xde;
constexpr uint8_t kMap32 = 0xdf;
constexpr uint8_t kFixMap = 0x80;          // 1000xxxx, up to 15 pairs
constexpr uint8_t kFixArray = 0x90;        // 1001xxxx, up to 15 elements
constexpr uint8_t kFixStr = 0xa0;          // 101xxxxx, up to 31 bytes
constexpr uint8_t kNegativeFixInt = 0xe0;  // 111xxxxx, -32..-1
}  // namespace tag

constexpr size_t kMaxFixStr = 31;
constexpr size_t kMaxFixCollection = 15;

// Encoded bytes accumulate in a Lua full userdata held in one stack slot rather than in a
// std::string: a Lua error raised mid-encode leaves this frame by longjmp in a C build of Lua,
// which would leak a heap buffer, whereas the collector reclaims a userdata either way. Growing
// replaces the userdata in its slot, so anything pushed above the slot is left alone.
class EncodeBuffer {
 public:
  explicit EncodeBuffer(lua_State* L)
      : L_(L),
        data_(static_cast<char*>(lua_newuserdata(L, kInitialEncodeCapacity))),
        capacity_(kInitialEncodeCapacity),
        slot_(lua_gettop(L)) {}

  void Append(const void* bytes, size_t n) {
    if (n > capacity_ - size_) Grow(n);
    std::memcpy(data_ + size_, bytes, n);
    size_ += n;
  }
  void AppendByte(uint8_t byte) { Append(&byte, 1); }
  // The low `width` bytes of `value`, most significant first (MessagePack is big-endian).
  void AppendBigEndian(uint64_t value, int width) {
    uint8_t bytes[8];
    for (int i = 0; i < width; ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * (width - 1 - i)));
    Append(bytes, static_cast<size_t>(width));
  }
  void AppendTagged(uint8_t type, uint64_t value, int width) {
    AppendByte(type);
    AppendBigEndian(value, width);
  }

  // Pushes the bytes so far as a Lua string.
  void PushString() const { lua_pushlstring(L_, data_, size_); }

 private:
  void Grow(size_t needed) {
    const size_t capacity = std::max(capacity_ * 2, size_ + needed);
    luaL_checkstack(L_, 1, "in cmsgpack encoder");
    char* bigger = static_cast<char*>(lua_newuserdata(L_, capacity));
    std::memcpy(bigger, data_, size_);
    lua_replace(L_, slot_);
    data_ = bigger;
    capacity_ = capacity;
  }

  lua_State* L_;
  char* data_;
  size_t size_ = 0;
  size_t capacity_;
  int slot_;
};

void EncodeInteger(EncodeBuffer& out, int64_t n) {
  if (n >= 0) {
    const uint64_t u = static_cast<uint64_t>(n);
    if (u <= 0x7f) {
      out.AppendByte(static_cast<uint8_t>(u));
    } else if (u <= 0xff) {
      out.AppendTagged(tag::kUint8, u, 1);
    } else if (u <= 0xffff) {
      out.AppendTagged(tag::kUint16, u, 2);
    } else if (u <= 0xffffffff) {
      out.AppendTagged(tag::kUint32, u, 4);
    } else {
      out.AppendTagged(tag::kUint64, u, 8);
    }
    return;
  }
  const uint64_t bits = static_cast<uint64_t>(n);
  if (n >= -32) {
    out.AppendByte(static_cast<uint8_t>(bits));  // 111xxxxx is n's own two's complement byte
  } else if (n >= INT8_MIN) {
    out.AppendTagged(tag::kInt8, bits, 1);
  } else if (n >= INT16_MIN) {
    out.AppendTagged(tag::kInt16, bits, 2);
  } else if (n >= INT32_MIN) {
    out.AppendTagged(tag::kInt32, bits, 4);
  } else {
    out.AppendTagged(tag::kInt64, bits, 8);
  }
}

void EncodeFloat(EncodeBuffer& out, double d) {
  // float32 only when the round trip is exact; the range test keeps the narrowing defined.
  const bool fits_float =
      std::isinf(d) || (std::fabs(d) <= std::numeric_limits<float>::max() && static_cast<double>(static_cast<float>(d)) == d);
  if (fits_float) {
    out.AppendTagged(tag::kFloat32, std::bit_cast<uint32_t>(static_cast<float>(d)), 4);
  } else {
    out.AppendTagged(tag::kFloat64, std::bit_cast<uint64_t>(d), 8);
  }
}

void EncodeNumber(EncodeBuffer& out, lua_Number n) {
  // [-2^63, 2^63) with no fraction: exactly the doubles an int64 cast maps back onto themselves.
  constexpr double kTwoTo63 = 9223372036854775808.0;
  if (n >= -kTwoTo63 && n < kTwoTo63 && std::trunc(n) == n) {
    EncodeInteger(out, static_cast<int64_t>(n));
  } else {
    EncodeFloat(out, n);
  }
}

void EncodeString(EncodeBuffer& out, const char* s, size_t n) {
  if (n <= kMaxFixStr) {
    out.AppendByte(static_cast<uint8_t>(tag::kFixStr | n));
  } else if (n <= 0xff) {
    out.AppendTagged(tag::kStr8, n, 1);
  } else if (n <= 0xffff) {
    out.AppendTagged(tag::kStr16, n, 2);
  } else {
    out.AppendTagged(tag::kStr32, n, 4);
  }
  out.Append(s, n);
}

void EncodeArrayHeader(EncodeBuffer& out, size_t n) {
  if (n <= kMaxFixCollection) {
    out.AppendByte(static_cast<uint8_t>(tag::kFixArray | n));
  } else if (n <= 0xffff) {
    out.AppendTagged(tag::kArray16, n, 2);
  } else {
    out.AppendTagged(tag::kArray32, n, 4);
  }
}

void EncodeMapHeader(EncodeBuffer& out, size_t n) {
  if (n <= kMaxFixCollection) {
    out.AppendByte(static_cast<uint8_t>(tag::kFixMap | n));
  } else if (n <= 0xffff) {
    out.AppendTagged(tag::kMap16, n, 2);
  } else {
    out.AppendTagged(tag::kMap32, n, 4);
  }
}

// Whether the table on top of the stack has exactly the keys 1..n for some n >= 0. Keys count
// as indices only when they are positive whole numbers within int's range, as in the original.
bool TableIsArray(lua_State* L) {
  const int top = lua_gettop(L);
  int64_t count = 0;
  lua_Number highest = 0;
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    lua_pop(L, 1);
    const bool is_index = lua_type(L, -1) == LUA_TNUMBER && [&] {
      const lua_Number key = lua_tonumber(L, -1);
      return key > 0 && key <= INT_MAX && std::trunc(key) == key;
    }();
    if (!is_index) {
      lua_settop(L, top);
      return false;
    }
    highest = std::max(highest, lua_tonumber(L, -1));
    ++count;
  }
  return static_cast<lua_Number>(count) == highest;
}

void EncodeValue(lua_State* L, EncodeBuffer& out, int level);

// Encodes the table on top of the stack, leaving it there.
void EncodeTable(lua_State* L, EncodeBuffer& out, int level) {
  luaL_checkstack(L, 3, "in cmsgpack encoder");
  if (TableIsArray(L)) {
    const size_t n = lua_objlen(L, -1);
    EncodeArrayHeader(out, n);
    for (size_t i = 1; i <= n; ++i) {
      lua_rawgeti(L, -1, static_cast<int>(i));
      EncodeValue(L, out, level + 1);
    }
    return;
  }
  size_t pairs = 0;
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    lua_pop(L, 1);
    ++pairs;
  }
  EncodeMapHeader(out, pairs);
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    lua_pushvalue(L, -2);  // lua_next needs the key back, so encode (and pop) a copy
    EncodeValue(L, out, level + 1);
    EncodeValue(L, out, level + 1);
  }
}

// Encodes the value on top of the stack and pops it. `level` counts the enclosing tables.
void EncodeValue(lua_State* L, EncodeBuffer& out, int level) {
  int type = lua_type(L, -1);
  if (type == LUA_TTABLE && level == kMaxNesting) type = LUA_TNIL;
  switch (type) {
    case LUA_TSTRING: {
      size_t n = 0;
      const char* s = lua_tolstring(L, -1, &n);
      EncodeString(out, s, n);
      break;
    }
    case LUA_TBOOLEAN:
      out.AppendByte(lua_toboolean(L, -1) ? tag::kTrue : tag::kFalse);
      break;
    case LUA_TNUMBER:
      EncodeNumber(out, lua_tonumber(L, -1));
      break;
    case LUA_TTABLE:
      EncodeTable(L, out, level);
      break;
    default:
      out.AppendByte(tag::kNil);
      break;
  }
  lua_pop(L, 1);
}

// cmsgpack.pack(v1, ...) -> the concatenated encodings
int Pack(lua_State* L) {
  const int args = lua_gettop(L);
  if (args == 0) return luaL_argerror(L, 0, "MessagePack pack needs input.");
  if (!lua_checkstack(L, args)) return luaL_argerror(L, 0, "Too many arguments for MessagePack pack.");
  EncodeBuffer out(L);
  for (int i = 1; i <= args; ++i) {
    luaL_checkstack(L, 1, "in cmsgpack encoder");
    lua_pushvalue(L, i);
    EncodeValue(L, out, 0);
  }
  out.PushString();
  return 1;
}

enum class DecodeError { kNone, kTruncated, kBadFormat };

// The undecoded rest of the input. A failed Need records why and the decoder unwinds to the
// top level, which raises the matching Lua error.
struct Cursor {
  const unsigned char* at;
  size_t left;
  DecodeError error = DecodeError::kNone;

  bool Need(size_t n) {
    if (left >= n) return true;
    error = DecodeError::kTruncated;
    return false;
  }
  void Skip(size_t n) {
    at += n;
    left -= n;
  }
  // The `width` bytes after the type byte, as a big-endian unsigned number.
  uint64_t BigEndianAfterTag(size_t width) const {
    uint64_t value = 0;
    for (size_t i = 1; i <= width; ++i) value = (value << 8) | at[i];
    return value;
  }
};

void DecodeValue(lua_State* L, Cursor& in);

// Pushes `n` raw bytes that follow a header of `header` bytes, as a string.
void DecodeString(lua_State* L, Cursor& in, size_t header, size_t n) {
  if (!in.Need(header + n)) return;
  lua_pushlstring(L, reinterpret_cast<const char*>(in.at + header), n);
  in.Skip(header + n);
}

// Pushes a table of the next `n` values under keys 1..n; the header is already consumed.
void DecodeArray(lua_State* L, Cursor& in, uint64_t n) {
  lua_newtable(L);
  luaL_checkstack(L, 1, "in function mp_decode_to_lua_array");
  for (lua_Number index = 1; n > 0; --n, ++index) {
    lua_pushnumber(L, index);
    DecodeValue(L, in);
    if (in.error != DecodeError::kNone) return;
    lua_rawset(L, -3);
  }
}

// Pushes a table of the next `n` key/value pairs; the header is already consumed.
void DecodeMap(lua_State* L, Cursor& in, uint64_t n) {
  lua_newtable(L);
  for (; n > 0; --n) {
    DecodeValue(L, in);
    if (in.error != DecodeError::kNone) return;
    DecodeValue(L, in);
    if (in.error != DecodeError::kNone) return;
    lua_rawset(L, -3);
  }
}

// Pushes the value that starts at the cursor, or records an error (possibly after pushing
// part of it).
void DecodeValue(lua_State* L, Cursor& in) {
  if (!in.Need(1)) return;
  // Every decoded value takes a stack slot; this is the check a too-long top-level stream hits.
  luaL_checkstack(L, 1, kTooManyValues);
  const uint8_t type = in.at[0];
  // Whether the type byte and the `width` bytes after it (a number or a length) are all there.
  auto has_tag_and = [&](size_t width) { return in.Need(1 + width); };
  switch (type) {
    case tag::kUint8: case tag::kUint16: case tag::kUint32: {
      const size_t width = size_t{1} << (type - tag::kUint8);
      if (!has_tag_and(width)) return;
      lua_pushnumber(L, static_cast<lua_Number>(in.BigEndianAfterTag(width)));
      in.Skip(1 + width);
      return;
    }
    case tag::kUint64:
      // Read as two's complement, as the original does: uint64 values of 2^63 and above come
      // out negative (ff..ff is -1). Scripts and their stored data may depend on it.
      if (!has_tag_and(8)) return;
      lua_pushnumber(L, static_cast<lua_Number>(static_cast<int64_t>(in.BigEndianAfterTag(8))));
      in.Skip(9);
      return;
    case tag::kInt8: case tag::kInt16: case tag::kInt32: case tag::kInt64: {
      const size_t width = size_t{1} << (type - tag::kInt8);
      if (!has_tag_and(width)) return;
      // Sign-extend by moving the value's top bit to bit 63 and shifting back arithmetically.
      const size_t unused_bits = 64 - 8 * width;
      const int64_t value = static_cast<int64_t>(in.BigEndianAfterTag(width) << unused_bits) >> unused_bits;
      lua_pushnumber(L, static_cast<lua_Number>(value));
      in.Skip(1 + width);
      return;
    }
    case tag::kNil:
      lua_pushnil(L);
      in.Skip(1);
      return;
    case tag::kTrue:
    case tag::kFalse:
      lua_pushboolean(L, type == tag::kTrue);
      in.Skip(1);
      return;
    case tag::kFloat32:
      if (!has_tag_and(4)) return;
      lua_pushnumber(L, std::bit_cast<float>(static_cast<uint32_t>(in.BigEndianAfterTag(4))));
      in.Skip(5);
      return;
    case tag::kFloat64:
      if (!has_tag_and(8)) return;
      lua_pushnumber(L, std::bit_cast<double>(in.BigEndianAfterTag(8)));
      in.Skip(9);
      return;
    case tag::kStr8:
      if (!has_tag_and(1)) return;
      DecodeString(L, in, 2, in.BigEndianAfterTag(1));
      return;
    case tag::kStr16:
      if (!has_tag_and(2)) return;
      DecodeString(L, in, 3, in.BigEndianAfterTag(2));
      return;
    case tag::kStr32:
      if (!has_tag_and(4)) return;
      DecodeString(L, in, 5, in.BigEndianAfterTag(4));
      return;
    case tag::kArray16:
    case tag::kArray32: {
      const size_t width = type == tag::kArray16 ? 2 : 4;
      if (!has_tag_and(width)) return;
      const uint64_t n = in.BigEndianAfterTag(width);
      in.Skip(1 + width);
      DecodeArray(L, in, n);
      return;
    }
    case tag::kMap16:
    case tag::kMap32: {
      const size_t width = type == tag::kMap16 ? 2 : 4;
      if (!has_tag_and(width)) return;
      const uint64_t n = in.BigEndianAfterTag(width);
      in.Skip(1 + width);
      DecodeMap(L, in, n);
      return;
    }
    default:
      break;
  }
  if ((type & 0x80) == 0) {  // positive fixint 0xxxxxxx
    lua_pushnumber(L, type);
    in.Skip(1);
  } else if ((type & 0xe0) == tag::kNegativeFixInt) {
    lua_pushnumber(L, static_cast<int8_t>(type));
    in.Skip(1);
  } else if ((type & 0xe0) == tag::kFixStr) {
    DecodeString(L, in, 1, type & 0x1f);
  } else if ((type & 0xf0) == tag::kFixArray) {
    in.Skip(1);
    DecodeArray(L, in, type & 0x0f);
  } else if ((type & 0xf0) == tag::kFixMap) {
    in.Skip(1);
    DecodeMap(L, in, type & 0x0f);
  } else {
    in.error = DecodeError::kBadFormat;  // bin, ext, c1
  }
}

// What printing a 64-bit value through lua_pushfstring's %d shows on x86-64: its low 32 bits.
int LowBits(uint64_t value) { return static_cast<int>(static_cast<uint32_t>(value)); }

// Decodes up to `limit` values of argument 1 starting at byte `offset`; limit == 0 with
// offset == 0 means all of them and no offset in the results (see the top).
int UnpackValues(lua_State* L, lua_Integer limit, lua_Integer offset) {
  size_t length = 0;
  const char* input = luaL_checklstring(L, 1, &length);
  const bool decode_all = limit == 0 && offset == 0;
  if (offset < 0 || limit < 0) {
    // The original passes the input length where the text says limit, and prints 64-bit values
    // through %d, i.e. their low 32 bits; both kept for fidelity.
    return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.", LowBits(static_cast<uint64_t>(offset)),
                      LowBits(length));
  }
  if (static_cast<size_t>(offset) > length) {
    return luaL_error(L, "Start offset %d greater than input length %d.", LowBits(static_cast<uint64_t>(offset)), LowBits(length));
  }
  if (decode_all) limit = std::numeric_limits<lua_Integer>::max();
  Cursor in{reinterpret_cast<const unsigned char*>(input) + offset, length - static_cast<size_t>(offset)};
  lua_Integer decoded = 0;
  for (; in.left > 0 && decoded < limit; ++decoded) {
    DecodeValue(L, in);
    if (in.error == DecodeError::kTruncated) return luaL_error(L, "Missing bytes in input.");
    if (in.error == DecodeError::kBadFormat) return luaL_error(L, "Bad data format in input.");
  }
  if (decode_all) return static_cast<int>(decoded);
  luaL_checkstack(L, 1, "in function mp_unpack_full");
  lua_pushinteger(L, in.left == 0 ? -1 : static_cast<lua_Integer>(length - in.left));
  lua_insert(L, 2);  // the offset goes first, just above the input string
  return static_cast<int>(decoded) + 1;
}

// Drops every argument but the input, so the results start at stack slot 2.
void KeepOnlyInput(lua_State* L) {
  if (lua_gettop(L) > 1) lua_settop(L, 1);
}

// cmsgpack.unpack(s) -> every value in s
int Unpack(lua_State* L) { return UnpackValues(L, 0, 0); }

// cmsgpack.unpack_one(s [, offset]) -> next offset or -1, the value
int UnpackOne(lua_State* L) {
  const lua_Integer offset = luaL_optinteger(L, 2, 0);
  KeepOnlyInput(L);
  return UnpackValues(L, 1, offset);
}

// cmsgpack.unpack_limit(s, limit [, offset]) -> next offset or -1, up to limit values
int UnpackLimit(lua_State* L) {
  const lua_Integer limit = luaL_checkinteger(L, 2);
  const lua_Integer offset = luaL_optinteger(L, 3, 0);
  KeepOnlyInput(L);
  return UnpackValues(L, limit, offset);
}

constexpr luaL_Reg kCmsgpackFunctions[] = {
    {"pack", Pack},
    {"unpack", Unpack},
    {"unpack_one", UnpackOne},
    {"unpack_limit", UnpackLimit},
};

}  // namespace

int OpenLuaCmsgpack(lua_State* L) {
  lua_createtable(L, 0, std::size(kCmsgpackFunctions));
  for (const luaL_Reg& f : kCmsgpackFunctions) {
    lua_pushcfunction(L, f.func);
    lua_setfield(L, -2, f.name);
  }
  lua_pushvalue(L, -1);
  lua_setglobal(L, "cmsgpack");
  return 1;
}

}  // namespace strata::server::scripting
