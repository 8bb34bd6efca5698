// struct.pack / struct.unpack / struct.size: converting between Lua values and C-struct-like
// byte strings, as Redis's embedded copy of struct 0.2 does it.
//
// The format language. A format is read left to right; each character is one option, some
// followed by a decimal count:
//
//   ' '     ignored.
//   '>' '<' switch to big / little endian (the initial order is the machine's).
//   '!n'    set the maximum alignment to n, a power of two; a bare '!' means kNativeMaxAlign.
//           The initial maximum alignment is 1, i.e. no padding at all.
//   'x'     one zero byte; consumes no value, produces none.
//   'b' 'B' signed / unsigned char      'h' 'H' short (2 bytes)      'l' 'L' long (8 bytes)
//   'T'     size_t (8 bytes)            'in' 'In' an n-byte integer, n in 0..kMaxIntegerSize,
//                                        default sizeof(int)
//   'f' 'd' float / double in the current byte order.
//   'cn'    n raw bytes (default 1). Packing 'c0' takes the whole string; unpacking 'c0' takes
//           as many bytes as the value unpacked just before it says, and replaces that value.
//   's'     a zero-terminated string.
//
// Alignment. Before a field of size s (other than 'c', and other than zero-size options) the
// offset is padded with zero bytes to a multiple of min(s, maximum alignment). Packing counts
// the offset from the start of the result; unpacking counts it from the start of the data,
// not from the starting position. Worked example: struct.pack('!4 b i', 1, 2) is
// "\1\0\0\0" .. pack('i', 2): the int is 4 bytes wide, 4 <= 4, so the offset 1 is padded to 4.
//
// Integers. Values are Lua numbers (doubles). Packing converts one the way a C cast does on
// x86-64 (negatives through int64, the rest through uint64, so out-of-range values and NaN
// land on the same bit patterns redis-server produces; see WrapToUint64) and writes its low
// bytes; an integer wider than 8 bytes gets zero bytes beyond the eighth. Unpacking keeps the
// last 8 bytes read in significance order. Sign extension for widths over 8 bytes reproduces
// the x86 shift-count masking of the original (its mask shift is taken modulo 64), which is why
// unpacking '<i9' from "\128" followed by eight zero bytes yields -128 but '<i12' yields 128.
//
// Quirks kept because scripts can observe them: '=' is not an option; struct.size ignores
// unknown letters and digits (only punctuation is checked); a short 'c'/'s' argument to pack
// is reported against the argument after it; struct.unpack refuses position 0 but lets a
// negative one wrap around (so it fails as "data string too short").
#include "server/scripting/lua_struct.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>

#include <lua.hpp>

namespace strata::server::scripting {

namespace {

// The widest integer option ('i32'); only its low 8 bytes can carry a value.
constexpr int kMaxIntegerSize = 32;
// The value of a bare '!': the stricter of double's alignment and int's size (8 on x86-64).
constexpr int kNativeMaxAlign = std::max<int>(alignof(double), sizeof(int));
// What x86-64's float-to-integer conversion yields for a value it cannot represent.
constexpr uint64_t kIntegerIndefinite = uint64_t{1} << 63;
constexpr double kTwoTo63 = 9223372036854775808.0;

enum class ByteOrder { kBig, kLittle };
constexpr ByteOrder kNativeOrder = std::endian::native == std::endian::little ? ByteOrder::kLittle : ByteOrder::kBig;

// The state the control options change as a format is read.
struct FormatState {
  ByteOrder order = kNativeOrder;
  int max_align = 1;
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Reads the decimal count that may follow an option, advancing *format past it; returns
// `absent` when no digit follows.
int ReadCount(lua_State* L, const char** format, int absent) {
  if (!IsDigit(**format)) return absent;
  int count = 0;
  do {
    const int digit = **format - '0';
    if (count > INT_MAX / 10 || count * 10 > INT_MAX - digit) luaL_error(L, "integral size overflow");
    count = count * 10 + digit;
    ++*format;
  } while (IsDigit(**format));
  return count;
}

// The number of bytes option `opt` occupies, reading its count if it takes one; 0 for control
// options and 's' (whose size depends on the data).
size_t FieldSize(lua_State* L, char opt, const char** format) {
  switch (opt) {
    case 'b': case 'B': return sizeof(char);
    case 'h': case 'H': return sizeof(short);
    case 'l': case 'L': return sizeof(long);
    case 'T': return sizeof(size_t);
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    case 'x': return 1;
    case 'c': return static_cast<size_t>(ReadCount(L, format, 1));
    case 'i': case 'I': {
      const int size = ReadCount(L, format, sizeof(int));
      if (size > kMaxIntegerSize) {
        luaL_error(L, "integral size %d is larger than limit of %d", size, kMaxIntegerSize);
      }
      return static_cast<size_t>(size);
    }
    default: return 0;
  }
}

// Zero bytes to insert at `offset` before a field of `size` bytes. The bit trick assumes a
// power-of-two width; odd widths ('i3') get the original's arithmetic unchanged.
size_t PaddingBefore(size_t offset, const FormatState& state, char opt, size_t size) {
  if (size == 0 || opt == 'c') return 0;
  const size_t align = std::min(size, static_cast<size_t>(state.max_align));
  return (align - (offset & (align - 1))) & (align - 1);
}

// Applies a control option (' ', '>', '<', '!n'); anything else is not an option at all.
void ApplyControl(lua_State* L, char opt, const char** format, FormatState* state) {
  switch (opt) {
    case ' ': return;
    case '>': state->order = ByteOrder::kBig; return;
    case '<': state->order = ByteOrder::kLittle; return;
    case '!': {
      const int align = ReadCount(L, format, kNativeMaxAlign);
      if (align <= 0 || (align & (align - 1)) != 0) luaL_error(L, "alignment %d is not a power of 2", align);
      state->max_align = align;
      return;
    }
    default:
      luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", opt));
  }
}

// A double converted to 64 bits the way the original's C casts behave on x86-64 with gcc:
// in-range values truncate toward zero, negatives go through int64, and values no conversion
// can represent (NaN, -inf, below -2^63) become 2^63, while 2^64 and above (and +inf) become 0
// because the unsigned path subtracts 2^63 before converting and adds it back afterwards.
uint64_t WrapToUint64(double n) {
  if (n < 0) return n >= -kTwoTo63 ? static_cast<uint64_t>(static_cast<int64_t>(n)) : kIntegerIndefinite;
  if (std::isnan(n)) return kIntegerIndefinite;
  if (n < kTwoTo63) return static_cast<uint64_t>(n);
  const double high = n - kTwoTo63;
  const uint64_t low_bits = high < kTwoTo63 ? static_cast<uint64_t>(high) : kIntegerIndefinite;
  return low_bits ^ (uint64_t{1} << 63);
}

// Reverses a field's bytes when the requested order is not the machine's.
void ToOrder(char* bytes, size_t size, ByteOrder order) {
  if (order != kNativeOrder) std::reverse(bytes, bytes + size);
}

void AppendInteger(luaL_Buffer* out, lua_Number n, ByteOrder order, size_t size) {
  const uint64_t bits = WrapToUint64(n);
  char bytes[kMaxIntegerSize];
  for (size_t i = 0; i < size; ++i) {
    const char byte = i < 8 ? static_cast<char>((bits >> (8 * i)) & 0xff) : 0;
    bytes[order == ByteOrder::kLittle ? i : size - 1 - i] = byte;
  }
  luaL_addlstring(out, bytes, size);
}

lua_Number ReadInteger(const char* data, ByteOrder order, bool is_signed, size_t size) {
  uint64_t bits = 0;
  for (size_t i = 0; i < size; ++i) {
    const size_t at = order == ByteOrder::kBig ? i : size - 1 - i;
    bits = (bits << 8) | static_cast<unsigned char>(data[at]);
  }
  if (!is_signed) return static_cast<lua_Number>(bits);
  // The sign bit's position, modulo 64 as the original's shift is on x86 (see the top).
  const unsigned sign_shift = static_cast<unsigned>(size * 8 - 1) & 63;
  const uint64_t sign_and_above = ~uint64_t{0} << sign_shift;
  if (bits & sign_and_above) bits |= sign_and_above;
  return static_cast<lua_Number>(static_cast<int64_t>(bits));
}

// struct.pack(fmt, v1, v2, ...) -> string
int Pack(lua_State* L) {
  const char* format = luaL_checkstring(L, 1);
  FormatState state;
  int arg = 2;
  size_t offset = 0;
  // The original parks a nil above the arguments before its buffer, and a missing value is read
  // from wherever the stack is: "got nil" for the first, and luaL_Buffer's spilled chunks
  // further up. Keeping the same layout keeps those messages the same.
  lua_pushnil(L);
  luaL_Buffer out;
  luaL_buffinit(L, &out);
  while (*format != '\0') {
    const char opt = *format++;
    size_t size = FieldSize(L, opt, &format);
    const size_t padding = PaddingBefore(offset, state, opt, size);
    offset += padding;
    for (size_t i = 0; i < padding; ++i) luaL_addchar(&out, '\0');
    switch (opt) {
      case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I':
        AppendInteger(&out, luaL_checknumber(L, arg++), state.order, size);
        break;
      case 'x':
        luaL_addchar(&out, '\0');
        break;
      case 'f': {
        float f = static_cast<float>(luaL_checknumber(L, arg++));
        ToOrder(reinterpret_cast<char*>(&f), sizeof f, state.order);
        luaL_addlstring(&out, reinterpret_cast<const char*>(&f), sizeof f);
        break;
      }
      case 'd': {
        double d = luaL_checknumber(L, arg++);
        ToOrder(reinterpret_cast<char*>(&d), sizeof d, state.order);
        luaL_addlstring(&out, reinterpret_cast<const char*>(&d), sizeof d);
        break;
      }
      case 'c': case 's': {
        size_t length = 0;
        const char* s = luaL_checklstring(L, arg++, &length);
        if (size == 0) size = length;
        // The original reports the argument after the short one; scripts may match on it.
        luaL_argcheck(L, length >= size, arg, "string too short");
        luaL_addlstring(&out, s, size);
        if (opt == 's') {
          luaL_addchar(&out, '\0');
          ++size;
        }
        break;
      }
      default:
        ApplyControl(L, opt, &format, &state);
    }
    offset += size;
  }
  luaL_pushresult(&out);
  return 1;
}

// struct.unpack(fmt, data [, pos]) -> v1, v2, ..., next pos
int Unpack(lua_State* L) {
  const char* format = luaL_checkstring(L, 1);
  size_t data_length = 0;
  const char* data = luaL_checklstring(L, 2, &data_length);
  // Unsigned like the original's, so only 0 is refused here; a negative start wraps to a huge
  // position and fails as "data string too short" (or comes back from an empty format).
  const size_t start = static_cast<size_t>(luaL_optinteger(L, 3, 1));
  luaL_argcheck(L, start > 0, 3, "offset must be 1 or greater");
  size_t pos = start - 1;
  int values = 0;  // pushed so far; 'c0' consumes the last one
  FormatState state;
  lua_settop(L, 2);
  while (*format != '\0') {
    const char opt = *format++;
    size_t size = FieldSize(L, opt, &format);
    pos += PaddingBefore(pos, state, opt, size);
    luaL_argcheck(L, size <= data_length && pos <= data_length - size, 2, "data string too short");
    luaL_checkstack(L, 2, "too many results");
    switch (opt) {
      case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I': {
        const bool is_signed = opt >= 'a' && opt <= 'z';
        lua_pushnumber(L, ReadInteger(data + pos, state.order, is_signed, size));
        ++values;
        break;
      }
      case 'x':
        break;
      case 'f': {
        float f;
        std::memcpy(&f, data + pos, sizeof f);
        ToOrder(reinterpret_cast<char*>(&f), sizeof f, state.order);
        lua_pushnumber(L, f);
        ++values;
        break;
      }
      case 'd': {
        double d;
        std::memcpy(&d, data + pos, sizeof d);
        ToOrder(reinterpret_cast<char*>(&d), sizeof d, state.order);
        lua_pushnumber(L, d);
        ++values;
        break;
      }
      case 'c': {
        if (size == 0) {
          // The length is the previous value (a number or a numeric string), which it replaces.
          if (values == 0 || !lua_isnumber(L, -1)) luaL_error(L, "format 'c0' needs a previous size");
          size = static_cast<size_t>(WrapToUint64(lua_tonumber(L, -1)));
          lua_pop(L, 1);
          --values;
          luaL_argcheck(L, size <= data_length && pos <= data_length - size, 2, "data string too short");
        }
        lua_pushlstring(L, data + pos, size);
        ++values;
        break;
      }
      case 's': {
        const void* terminator = std::memchr(data + pos, '\0', data_length - pos);
        if (terminator == nullptr) luaL_error(L, "unfinished string in data");
        size = static_cast<size_t>(static_cast<const char*>(terminator) - (data + pos)) + 1;
        lua_pushlstring(L, data + pos, size - 1);
        ++values;
        break;
      }
      default:
        ApplyControl(L, opt, &format, &state);
    }
    pos += size;
  }
  lua_pushinteger(L, static_cast<lua_Integer>(pos + 1));
  return lua_gettop(L) - 2;
}

// struct.size(fmt) -> bytes a pack of fmt produces (fixed-size formats only)
int Size(lua_State* L) {
  const char* format = luaL_checkstring(L, 1);
  FormatState state;
  size_t offset = 0;
  while (*format != '\0') {
    const char opt = *format++;
    const size_t size = FieldSize(L, opt, &format);
    offset += PaddingBefore(offset, state, opt, size);
    if (opt == 's') {
      luaL_argerror(L, 1, "option 's' has no fixed size");
    } else if (opt == 'c' && size == 0) {
      luaL_argerror(L, 1, "option 'c0' has no fixed size");
    }
    if (!IsAlnum(opt)) ApplyControl(L, opt, &format, &state);
    offset += size;
  }
  lua_pushinteger(L, static_cast<lua_Integer>(offset));
  return 1;
}

constexpr luaL_Reg kStructFunctions[] = {
    {"pack", Pack},
    {"unpack", Unpack},
    {"size", Size},
};

}  // namespace

int OpenLuaStruct(lua_State* L) {
  lua_createtable(L, 0, std::size(kStructFunctions));
  for (const luaL_Reg& f : kStructFunctions) {
    lua_pushcfunction(L, f.func);
    lua_setfield(L, -2, f.name);
  }
  lua_pushvalue(L, -1);
  lua_setglobal(L, "struct");
  return 1;
}

}  // namespace strata::server::scripting
