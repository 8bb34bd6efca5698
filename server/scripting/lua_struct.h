// The `struct` library Redis gives every script: Roberto Ierusalimschy's struct 0.2 (pack,
// unpack and size over a format string), reimplemented from its documentation and from what
// redis-server 7.0 answers, quirks included. The format language is described in lua_struct.cc.
#pragma once

struct lua_State;

namespace strata::server::scripting {

// Builds the table `struct` {pack, unpack, size}, stores it in the global `struct` (the only
// global it touches) and leaves it on the stack; returns 1, so it may also be run as a
// lua_CFunction under lua_pcall. Call it on the thread that owns L, once per lua_State.
int OpenLuaStruct(lua_State* L);

}  // namespace strata::server::scripting
