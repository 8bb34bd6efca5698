// LuaEngine: one Lua 5.1 state per I/O thread, set up as Redis 7.0 sets up scripting (the base,
// table, string, math, debug, cjson, bit, struct and cmsgpack libraries, the `redis` table,
// read-only globals), and the runs of scripts on it.
//
// Contract: loop thread only. A run happens with the shards of the script's keys held by the
// caller (storage::HeldShards); redis.call dispatches through the connection's one command path
// (Connection::RunHeld), refusing keys outside the held shards.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "protocol/reply_builder.h"
#include "server/scripting/scripts.h"
#include "storage/keyspace.h"

struct lua_State;
struct lua_Debug;

namespace strata::server {
class Connection;
class Server;
class IoThread;
}  // namespace strata::server

namespace strata::server::scripting {

// One script call.
struct ScriptCall {
  Connection& client;
  protocol::ReplyBuilder& reply;  // the client's reply (its protocol)
  std::string_view name;          // the body's sha (compiled already: Compile) or the function's name
  bool is_function;               // FCALL: the function receives (keys, args); EVAL: KEYS, ARGV
  std::span<const std::string_view> keys;
  std::span<const std::string_view> argv;
  bool read_only;                 // EVAL_RO, EVALSHA_RO: write commands are refused
  storage::HeldShards* held;      // the shards the script may touch
  int64_t now_ms;
  std::span<const std::string_view> command;  // the client's whole command (FUNCTION STATS)
};

class LuaEngine {
 public:
  LuaEngine(Server& server, IoThread& thread);
  ~LuaEngine();
  LuaEngine(const LuaEngine&) = delete;
  LuaEngine& operator=(const LuaEngine&) = delete;

  // Makes the body callable as `sha` on this thread (compiles it once per generation of
  // Scripts); *no_writes tells whether its shebang says no-writes. The error is Redis's: "Error
  // compiling script (new function): user_script:1: ...", or a shebang's. *flags: the shebang's.
  absl::Status Compile(std::string_view sha, std::string_view body, ScriptFlags* flags);
  // True when `sha` (exactly as given) is compiled here and current: EVALSHA's fast path, with
  // no lookup in the shared Scripts.
  bool Compiled(std::string_view sha, ScriptFlags* flags);
  // Runs a compiled script or a function and replies its result (or its error) on call.reply.
  void Run(const ScriptCall& call);

  // FUNCTION LOAD: runs the library's code (metadata parsed) so that it registers its
  // functions, described in *functions. The error is Redis's ("ERR Error registering
  // functions: ..."). The functions are callable here only once the library is added to
  // Scripts (they are reloaded from there, see EnsureFunctionsLoaded).
  absl::Status LoadLibrary(const LibraryMetadata& metadata, std::vector<FunctionInfo>* functions,
                           bool commit = false);

 private:
  struct RunState;
  static int RedisCall(lua_State* L);
  static int RedisPCall(lua_State* L);
  static int Random(lua_State* L);
  static int RandomSeed(lua_State* L);
  static void Hook(lua_State* L, lua_Debug* debug);
  int Dispatch(lua_State* L, bool raise_errors);
  void OnHook(lua_State* L);
  void CreateState();
  // Reloads every library of Scripts when they changed since this state loaded them.
  void EnsureFunctionsLoaded();
  static int RegisterFunction(lua_State* L);
  void ReplyValue(lua_State* L, int index, protocol::ReplyBuilder& reply, int script_resp, int depth);

  Server& server_;
  IoThread& thread_;
  lua_State* lua_ = nullptr;
  uint64_t generation_ = 0;
  absl::flat_hash_map<std::string, ScriptFlags> compiled_;  // shas defined in lua_, and their shebang flags
  int runs_since_gc_ = 0;
  RunState* run_ = nullptr;                         // the script running now
  uint64_t random_state_ = 0;                   // math.random's rand48 state
  uint64_t functions_generation_ = UINT64_MAX;  // of the libraries loaded in lua_
  // While a library loads: the functions it registered so far (their callbacks wait in the
  // registry's strata_loading table).
  std::vector<FunctionInfo>* loading_functions_ = nullptr;
  // Scratch of redis.call, kept between calls so a call allocates nothing of its own.
  std::string call_reply_;
  std::vector<size_t> call_key_indexes_;
};

}  // namespace strata::server::scripting
