// libFuzzer target for the decoders scripts get from strata (server/scripting): cmsgpack.unpack
// of arbitrary bytes, and struct.unpack with an arbitrary format over arbitrary data — both read
// values a client sends. Properties: no crash, no sanitizer report; Lua errors are fine (they are
// what a script sees for bad input); a value cmsgpack decodes packs and decodes again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <lua.hpp>

#include "server/scripting/lua_cmsgpack.h"
#include "server/scripting/lua_struct.h"

namespace {

lua_State* NewState() {
  lua_State* L = luaL_newstate();
  luaL_openlibs(L);
  lua_pushcfunction(L, strata::server::scripting::OpenLuaStruct);
  lua_call(L, 0, 0);
  lua_pushcfunction(L, strata::server::scripting::OpenLuaCmsgpack);
  lua_call(L, 0, 0);
  // Round trip: what unpack accepts, pack must encode and unpack must read back.
  const char* check =
      "local data, format, rest = ...\n"
      "local function count(...) return select('#', ...), {...} end\n"
      "local ok, n, values = pcall(function() return count(cmsgpack.unpack(data)) end)\n"
      "if ok and n > 0 then\n"
      "  local packed = cmsgpack.pack(unpack(values, 1, n))\n"
      "  if count(cmsgpack.unpack(packed)) ~= n then error('round trip lost values', 0) end\n"
      "end\n"
      "pcall(cmsgpack.unpack_one, data)\n"
      "pcall(cmsgpack.unpack_limit, data, 3)\n"
      "pcall(struct.unpack, format, rest)\n"
      "pcall(struct.size, format)\n";
  if (luaL_loadstring(L, check) != 0) abort();
  lua_setglobal(L, "check");
  return L;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static lua_State* L = NewState();
  // The format for struct.unpack is the input up to its first zero byte, the data the rest.
  const char* bytes = reinterpret_cast<const char*>(data);
  const void* zero = std::memchr(bytes, 0, size);
  const size_t format_size = zero != nullptr ? static_cast<size_t>(static_cast<const char*>(zero) - bytes) : size;
  lua_getglobal(L, "check");
  lua_pushlstring(L, bytes, size);
  lua_pushlstring(L, bytes, format_size);
  lua_pushlstring(L, bytes + format_size, size - format_size);
  if (lua_pcall(L, 3, 0, 0) != 0) {
    const char* message = lua_tostring(L, -1);
    if (message != nullptr && std::strcmp(message, "round trip lost values") == 0) abort();
    lua_pop(L, 1);  // other errors (deep nesting, memory) are what a script would see
  }
  lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}
