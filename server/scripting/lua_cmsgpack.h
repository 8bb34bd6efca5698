// The `cmsgpack` library Redis gives every script: antirez's lua-cmsgpack 0.4 (MessagePack
// encoding of Lua values and back), reimplemented from its documentation and from what
// redis-server 7.0 answers. The mapping between the two type systems is described in
// lua_cmsgpack.cc.
#pragma once

struct lua_State;

namespace strata::server::scripting {

// Builds the table `cmsgpack` {pack, unpack, unpack_one, unpack_limit}, stores it in the global
// `cmsgpack` (the only global it touches) and leaves it on the stack; returns 1, so it may also
// be run as a lua_CFunction under lua_pcall. Call it on the thread that owns L, once per
// lua_State.
int OpenLuaCmsgpack(lua_State* L);

}  // namespace strata::server::scripting
