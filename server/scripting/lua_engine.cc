#include "server/scripting/lua_engine.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <lua.hpp>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/absl_compat.h"
#include "server/command.h"
#include "server/connection.h"
#include "server/errors.h"
#include "server/io_thread.h"
#include "server/scripting/lua_cmsgpack.h"
#include "server/scripting/lua_struct.h"
#include "server/scripting/sha1.h"
#include "server/server.h"

extern "C" int luaopen_cjson(lua_State* L);
extern "C" int luaopen_bit(lua_State* L);

namespace strata::server::scripting {

// The environment a script sees
// -----------------------------
// Redis 7.0 makes the globals read-only: assigning any global fails with "Attempt to modify a
// readonly table", reading an undefined one with "Script attempted to access nonexistent global
// variable 'x'". Debian's Lua has no read-only tables, so scripts run with an empty proxy as their
// environment whose metatable reads through to the real globals and refuses writes; the library
// tables (string, math, redis...) are proxied the same way, so no script can change what the next
// one sees. KEYS and ARGV are set in the real globals before each run.
//
// Errors take Redis's shape: an error is a table {err = "CODE message", source, line}; the
// handler below turns plain Lua errors into one ("ERR " prefixed) and records where the script
// was, and the reply is "<err> script: <sha>, on @user_script:<line>.".
namespace {

constexpr char kScriptsRegistryKey[] = "strata_scripts";
constexpr char kErrorHandlerKey[] = "strata_error_handler";
constexpr char kScriptEnvKey[] = "strata_script_env";
constexpr char kFunctionEnvKey[] = "strata_function_env";
constexpr char kSetLoadingKey[] = "strata_set_loading";
constexpr char kFunctionsRegistryKey[] = "strata_functions";
constexpr char kLoadingRegistryKey[] = "strata_loading";
constexpr char kSetupCode[] = R"lua(
local dbg = debug
local G = _G
local rawget, error, tostring = rawget, error, tostring
local real_rawset, real_rawget, real_setmetatable = rawset, rawget, setmetatable
local proxies = setmetatable({}, {__mode = 'k'})  -- proxy -> the table it guards
-- Raised at the script's line, as Redis's own read-only tables do: with the position in the
-- message for a table access, without it for a library call (rawset, setmetatable).
local function script_error(message, without_position)
  local info = dbg.getinfo(3, 'Sl')
  local position = without_position and '' or (info.short_src .. ':' .. info.currentline .. ': ')
  error({err = 'ERR ' .. position .. message, source = info.source, line = info.currentline})
end
-- A read-only view of `real` whose reads go to lookup(key); with is_globals, reading what is not
-- there is an error, as for Redis's globals.
local function readonly_view(real, lookup, is_globals)
  local proxy = {}
  proxies[proxy] = real
  real_setmetatable(proxy, {
    __index = function(_, key)
      local value = lookup(key)
      if value == nil and is_globals then
        script_error("Script attempted to access nonexistent global variable '" .. tostring(key) .. "'")
      end
      return value
    end,
    __newindex = function() script_error("Attempt to modify a readonly table") end,
    __metatable = false,
  })
  return proxy
end
local function readonly(real, is_globals)
  return readonly_view(real, function(key) return rawget(real, key) end, is_globals)
end
for _, name in ipairs({'string', 'table', 'math', 'bit', 'cjson', 'struct', 'cmsgpack', 'redis', 'coroutine'}) do
  if rawget(G, name) ~= nil then G[name] = readonly(G[name], false) end
end
-- What Redis 7.0 does not give scripts.
for _, name in ipairs({'print', 'newproxy', 'debug', 'getfenv', 'setfenv', 'dofile', 'loadfile', 'module', 'require'}) do
  G[name] = nil
end
-- The raw functions must not open a way around the read-only tables.
G.rawset = function(t, k, v)
  if proxies[t] then script_error("Attempt to modify a readonly table", true) end
  return real_rawset(t, k, v)
end
G.rawget = function(t, k)
  local real = proxies[t]
  if real then return real_rawget(real, k) end
  return real_rawget(t, k)
end
G.setmetatable = function(t, mt)
  if proxies[t] then script_error("Attempt to modify a readonly table", true) end
  return real_setmetatable(t, mt)
end
local env = readonly(G, true)
G._G = env
local setup = {}
setup.script_env = env
-- A function library's code runs with `redis` reduced to what Redis 7.0 allows at load time;
-- its functions, run later, see the whole `redis` again (the same environment, looked up live).
setup.function_env = function(register_function)
  local real_redis = rawget(G, 'redis')
  local load_redis = readonly({register_function = register_function, log = real_redis.log,
                               LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
                               REDIS_VERSION = real_redis.REDIS_VERSION,
                               REDIS_VERSION_NUM = real_redis.REDIS_VERSION_NUM}, true)
  local loading = false
  local function_env = readonly_view(G, function(key)
    -- While the library loads, `redis` (reduced) is all there is, as in Redis 7.0.
    if loading then return key == 'redis' and load_redis or nil end
    return rawget(G, key)
  end, true)
  return function_env, function(on) loading = on end
end
setup.error_handler = function(err)
  -- Where the script was: past C functions (redis.call) and this file's metamethods.
  local level = 2
  local info = dbg.getinfo(level, 'nSl')
  while info and (info.what == 'C' or info.source == '=strata_setup') do
    level = level + 1
    info = dbg.getinfo(level, 'nSl')
  end
  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
  if info and err['source'] == nil then
    err['source'] = info.source
    err['line'] = info.currentline
  end
  return err
end
return setup
)lua";

// Redis's rand48 (rand.c) behind math.random. As in redis-server 7.0 the sequence goes on from
// one script to the next (per thread here), seeded at 0 when the engine starts.
constexpr uint64_t kRand48Multiplier = 0x5DEECE66DULL;
constexpr uint64_t kRand48Mask = (uint64_t{1} << 48) - 1;
uint64_t Rand48Seed(int32_t seed) { return ((static_cast<uint64_t>(static_cast<uint32_t>(seed)) << 16) | 0x330E) & kRand48Mask; }
int32_t Rand48Next(uint64_t* state) {
  *state = (*state * kRand48Multiplier + 0xB) & kRand48Mask;
  return static_cast<int32_t>(*state >> 17);
}

// Pushes Redis's error table for "-CODE message" or a bare "message" (which gets code ERR).
void PushErrorTable(lua_State* L, std::string_view text) {
  std::string code = "ERR", message(text);
  if (!text.empty() && text[0] == '-') {
    const size_t space = text.find(' ');
    if (space == std::string_view::npos) {
      message = std::string(text.substr(1));
    } else {
      code = std::string(text.substr(1, space - 1));
      message = std::string(text.substr(space + 1));
    }
  }
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
  lua_newtable(L);
  const std::string full = absl::StrCat(code, " ", message);
  lua_pushlstring(L, full.data(), full.size());
  lua_setfield(L, -2, "err");
}

[[noreturn]] void RaiseError(lua_State* L, std::string_view text) {
  PushErrorTable(L, text);
  lua_error(L);
  __builtin_unreachable();
}

// Pushes {field = text}: how Lua sees a status or big number reply.
void PushTableWithField(lua_State* L, const char* field, std::string_view text) {
  lua_newtable(L);
  lua_pushlstring(L, text.data(), text.size());
  lua_setfield(L, -2, field);
}

// Reads one RESP value at *p (the reply of a command run for the script) and pushes it as
// Redis converts replies for Lua. The reply was produced by our own ReplyBuilder, so it is
// well formed.
void PushReply(lua_State* L, const char*& p, const char* end) {
  const char type = *p++;
  const char* line_end = static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(end - p)));
  std::string_view line(p, static_cast<size_t>(line_end - p));
  p = line_end + 2;
  auto number = [&] {
    long long value = 0;
    std::from_chars(line.data(), line.data() + line.size(), value);
    return value;
  };
  lua_checkstack(L, 8);
  switch (type) {
    case ':':
      lua_pushnumber(L, static_cast<lua_Number>(number()));
      return;
    case '$': {
      const long long length = number();
      if (length < 0) {
        lua_pushboolean(L, 0);
        return;
      }
      lua_pushlstring(L, p, static_cast<size_t>(length));
      p += length + 2;
      return;
    }
    case '=': {  // verbatim: {verbatim_string = {format = "txt", string = "..."}}
      const long long length = number();
      lua_newtable(L);
      lua_newtable(L);
      lua_pushlstring(L, p, 3);
      lua_setfield(L, -2, "format");
      lua_pushlstring(L, p + 4, static_cast<size_t>(length - 4));
      lua_setfield(L, -2, "string");
      lua_setfield(L, -2, "verbatim_string");
      p += length + 2;
      return;
    }
    case '+':
      PushTableWithField(L, "ok", line);
      return;
    case '-':
      PushErrorTable(L, absl::StrCat("-", Absl(line)));
      return;
    case '*':
    case '>': {
      const long long count = number();
      if (count < 0) {
        lua_pushboolean(L, 0);
        return;
      }
      lua_newtable(L);  // not presized, as Redis: `#` of a reply with nils inside then agrees
      for (long long i = 1; i <= count; ++i) {
        PushReply(L, p, end);
        lua_rawseti(L, -2, static_cast<int>(i));
      }
      return;
    }
    case '%':
    case '~': {
      const long long count = number();
      lua_newtable(L);
      lua_newtable(L);
      for (long long i = 0; i < count; ++i) {
        PushReply(L, p, end);
        if (type == '%') {
          PushReply(L, p, end);
        } else {
          lua_pushboolean(L, 1);
        }
        lua_settable(L, -3);
      }
      lua_setfield(L, -2, type == '%' ? "map" : "set");
      return;
    }
    case ',':
      lua_newtable(L);
      lua_pushnumber(L, std::strtod(std::string(line).c_str(), nullptr));
      lua_setfield(L, -2, "double");
      return;
    case '(':
      PushTableWithField(L, "big_number", line);
      return;
    case '#':
      lua_pushboolean(L, line == "t");
      return;
    case '_':
    default:
      lua_pushnil(L);
      return;
  }
}

std::string ToText(lua_State* L, int index) {
  size_t length = 0;
  const char* text = lua_tolstring(L, index, &length);
  std::string out(text != nullptr ? text : "", text != nullptr ? length : 0);
  for (char& c : out) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return out;
}

// 0x00MMmmpp, as Redis's REDIS_VERSION_NUM.
int RedisVersionNumber() {
  int major = 0, minor = 0, patch = 0;
  std::sscanf(kRedisCompatVersion, "%d.%d.%d", &major, &minor, &patch);
  return (major << 16) | (minor << 8) | patch;
}

// Redis 7.0's pcall: an error that is a table with an `err` string comes back as that string.
int ScriptPCall(lua_State* L) {
  const int argc = lua_gettop(L);
  luaL_checkany(L, 1);
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  if (lua_pcall(L, argc - 1, LUA_MULTRET, 0) != 0) {
    lua_remove(L, 1);
    if (lua_istable(L, -1)) {
      lua_getfield(L, -1, "err");
      if (lua_isstring(L, -1)) {
        lua_replace(L, -2);
      } else {
        lua_pop(L, 1);
      }
    }
    lua_pushboolean(L, 0);
    lua_insert(L, 1);
  }
  return lua_gettop(L);
}

LuaEngine* EngineOf(lua_State* L) { return static_cast<LuaEngine*>(lua_touserdata(L, lua_upvalueindex(1))); }

}  // namespace

struct LuaEngine::RunState {
  const ScriptCall* call;
  RunningScript running;
  int resp = 2;
  int64_t start_ns = 0;
  bool busy = false;
};

LuaEngine::LuaEngine(Server& server, IoThread& thread) : server_(server), thread_(thread) { CreateState(); }

LuaEngine::~LuaEngine() {
  if (lua_ != nullptr) lua_close(lua_);
}

void LuaEngine::CreateState() {
  if (lua_ != nullptr) lua_close(lua_);
  lua_ = luaL_newstate();
  lua_State* L = lua_;
  const std::pair<const char*, lua_CFunction> libraries[] = {
      {"", luaopen_base},          {LUA_TABLIBNAME, luaopen_table}, {LUA_STRLIBNAME, luaopen_string},
      {LUA_MATHLIBNAME, luaopen_math}, {LUA_DBLIBNAME, luaopen_debug}, {"bit", luaopen_bit},
  };
  for (const auto& [name, open] : libraries) {
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
  }
  lua_pushcfunction(L, luaopen_cjson);
  lua_call(L, 0, 1);
  lua_setglobal(L, "cjson");
  lua_pushcfunction(L, OpenLuaStruct);
  lua_call(L, 0, 0);
  lua_pushcfunction(L, OpenLuaCmsgpack);
  lua_call(L, 0, 0);
  // As Redis: no file access from scripts.
  for (const char* removed : {"loadfile", "dofile"}) {
    lua_pushnil(L);
    lua_setglobal(L, removed);
  }
  lua_pushcfunction(L, ScriptPCall);
  lua_setglobal(L, "pcall");
  lua_getglobal(L, "math");
  lua_pushlightuserdata(L, this);
  lua_pushcclosure(L, Random, 1);
  lua_setfield(L, -2, "random");
  lua_pushlightuserdata(L, this);
  lua_pushcclosure(L, RandomSeed, 1);
  lua_setfield(L, -2, "randomseed");
  lua_pop(L, 1);

  lua_newtable(L);  // redis
  auto add = [&](const char* name, lua_CFunction fn) {
    lua_pushlightuserdata(L, this);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, -2, name);
  };
  add("call", RedisCall);
  add("pcall", RedisPCall);
  add("error_reply", [](lua_State* S) -> int {
    if (lua_gettop(S) != 1 || lua_type(S, -1) != LUA_TSTRING) {
      PushErrorTable(S, "wrong number or type of arguments");
      return 1;
    }
    std::string text = lua_tostring(S, -1);
    PushErrorTable(S, text[0] == '-' ? text : "-" + text);
    return 1;
  });
  add("status_reply", [](lua_State* S) -> int {
    if (lua_gettop(S) != 1 || lua_type(S, -1) != LUA_TSTRING) {
      PushErrorTable(S, "wrong number or type of arguments");
      return 1;
    }
    lua_newtable(S);
    lua_pushvalue(S, 1);
    lua_setfield(S, -2, "ok");
    return 1;
  });
  add("sha1hex", [](lua_State* S) -> int {
    if (lua_gettop(S) != 1) {
      lua_pushstring(S, "wrong number of arguments");
      return lua_error(S);
    }
    size_t length = 0;
    const char* text = lua_tolstring(S, 1, &length);
    const std::string hex = Sha1Hex(std::string_view(text != nullptr ? text : "", text != nullptr ? length : 0));
    lua_pushlstring(S, hex.data(), hex.size());
    return 1;
  });
  add("log", [](lua_State* S) -> int {
    const int argc = lua_gettop(S);
    if (argc < 2) RaiseError(S, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(S, 1)) RaiseError(S, "First argument must be a number (log level).");
    const int level = static_cast<int>(lua_tonumber(S, 1));
    if (level < 0 || level > 3) RaiseError(S, "Invalid debug level.");
    std::string message;
    for (int i = 2; i <= argc; ++i) {
      size_t length = 0;
      const char* part = lua_tolstring(S, i, &length);
      if (part == nullptr) continue;
      if (!message.empty()) message.push_back(' ');
      message.append(part, length);
    }
    Logger& logger = EngineOf(S)->server_.logger();
    if (level == 3) {
      logger.Warning(message);
    } else if (level == 2) {
      logger.Notice(message);
    } else {
      logger.Verbose(message);
    }
    return 0;
  });
  add("setresp", [](lua_State* S) -> int {
    LuaEngine* engine = EngineOf(S);
    if (lua_gettop(S) != 1) RaiseError(S, "redis.setresp() requires one argument.");
    const int resp = static_cast<int>(lua_tonumber(S, -1));
    if (resp != 2 && resp != 3) RaiseError(S, "RESP version must be 2 or 3.");
    if (engine->run_ != nullptr) engine->run_->resp = resp;
    return 0;
  });
  add("set_repl", [](lua_State* S) -> int {
    // (Redis's own text says "two arguments".)
    if (lua_gettop(S) != 1) RaiseError(S, "redis.set_repl() requires two arguments.");
    const int flags = static_cast<int>(lua_tonumber(S, -1));
    if (flags < 0 || flags > 3) RaiseError(S, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    return 0;  // nothing is replicated: accepted, as a server without replicas would
  });
  add("replicate_commands", [](lua_State* S) -> int {
    lua_pushboolean(S, 1);
    return 1;
  });
  add("breakpoint", [](lua_State* S) -> int {
    lua_pushboolean(S, 0);
    return 1;
  });
  add("debug", [](lua_State*) -> int { return 0; });
  add("acl_check_cmd", [](lua_State* S) -> int {
    // Whether the script's caller may run that command line (Redis logs nothing for it).
    const int argc = lua_gettop(S);
    if (argc == 0) RaiseError(S, "Please specify at least one argument for this redis lib call");
    std::vector<std::string_view> args;
    for (int i = 1; i <= argc; ++i) {
      size_t length = 0;
      const char* text = lua_tolstring(S, i, &length);
      if (text == nullptr) RaiseError(S, "Lua redis lib command arguments must be strings or integers");
      args.emplace_back(text, length);
    }
    LuaEngine* engine = EngineOf(S);
    const CommandSpec* spec = engine->server_.commands().FindWithSubcommand(args);
    if (spec == nullptr) RaiseError(S, "Invalid command passed to redis.acl_check_cmd()");
    bool allowed = true;
    if (engine->run_ != nullptr) {
      const Connection& caller = engine->run_->call->client;
      allowed = engine->server_.acl().Check(caller.user(), *spec, args).reason == AclDenial::kNone;
    }
    lua_pushboolean(S, allowed ? 1 : 0);
    return 1;
  });
  lua_pushstring(L, kRedisCompatVersion);
  lua_setfield(L, -2, "REDIS_VERSION");
  lua_pushnumber(L, RedisVersionNumber());
  lua_setfield(L, -2, "REDIS_VERSION_NUM");
  const std::pair<const char*, int> constants[] = {
      {"LOG_DEBUG", 0}, {"LOG_VERBOSE", 1}, {"LOG_NOTICE", 2}, {"LOG_WARNING", 3}, {"REPL_NONE", 0},
      {"REPL_AOF", 1},  {"REPL_SLAVE", 2},  {"REPL_REPLICA", 2}, {"REPL_ALL", 3},
  };
  for (const auto& [name, value] : constants) {
    lua_pushnumber(L, value);
    lua_setfield(L, -2, name);
  }
  lua_setglobal(L, "redis");

  // The setup chunk returns its pieces, kept in the registry where scripts cannot reach them.
  if (luaL_loadbuffer(L, kSetupCode, sizeof(kSetupCode) - 1, "=strata_setup") != 0 || lua_pcall(L, 0, 1, 0) != 0) {
    server_.logger().Warning(absl::StrCat("Lua setup failed: ", lua_tostring(L, -1)));
    lua_pop(L, 1);
    lua_newtable(L);
  }
  lua_getfield(L, -1, "error_handler");
  lua_setfield(L, LUA_REGISTRYINDEX, kErrorHandlerKey);
  lua_getfield(L, -1, "script_env");
  lua_setfield(L, LUA_REGISTRYINDEX, kScriptEnvKey);
  lua_getfield(L, -1, "function_env");
  lua_pushlightuserdata(L, this);
  lua_pushcclosure(L, RegisterFunction, 1);
  lua_call(L, 1, 2);
  lua_setfield(L, LUA_REGISTRYINDEX, kSetLoadingKey);
  lua_setfield(L, LUA_REGISTRYINDEX, kFunctionEnvKey);
  lua_pop(L, 1);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, kScriptsRegistryKey);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, kFunctionsRegistryKey);
  functions_generation_ = UINT64_MAX;
  lua_pushlightuserdata(L, this);
  lua_setfield(L, LUA_REGISTRYINDEX, "strata_engine");
  compiled_.clear();
  random_state_ = Rand48Seed(0);
}

bool LuaEngine::Compiled(std::string_view sha, ScriptFlags* flags) {
  if (server_.scripts().generation() != generation_) return false;
  auto it = compiled_.find(Absl(sha));
  if (it == compiled_.end()) return false;
  *flags = it->second;
  return true;
}

absl::Status LuaEngine::Compile(std::string_view sha, std::string_view body, ScriptFlags* flags) {
  const uint64_t generation = server_.scripts().generation();
  if (generation != generation_) {
    // SCRIPT FLUSH: a fresh state, as Redis gives after a flush (and the memory back).
    generation_ = generation;
    CreateState();
  }
  if (Compiled(sha, flags)) return absl::OkStatus();
  std::string code;
  absl::Status shebang = ParseScriptShebang(body, &code, flags);
  if (!shebang.ok()) return shebang;
  lua_State* L = lua_;
  if (luaL_loadbuffer(L, code.data(), code.size(), "@user_script") != 0) {
    std::string message = absl::StrCat("ERR Error compiling script (new function): ", lua_tostring(L, -1));
    lua_pop(L, 1);
    return absl::InvalidArgumentError(message);
  }
  lua_getfield(L, LUA_REGISTRYINDEX, kScriptEnvKey);
  lua_setfenv(L, -2);
  lua_getfield(L, LUA_REGISTRYINDEX, kScriptsRegistryKey);
  lua_pushlstring(L, sha.data(), sha.size());
  lua_pushvalue(L, -3);
  lua_settable(L, -3);
  lua_pop(L, 2);
  compiled_.emplace(std::string(sha), *flags);
  return absl::OkStatus();
}

void LuaEngine::Run(const ScriptCall& call) {
  lua_State* L = lua_;
  if (call.is_function) EnsureFunctionsLoaded();
  lua_getfield(L, LUA_REGISTRYINDEX, kErrorHandlerKey);
  const int handler = lua_gettop(L);
  lua_getfield(L, LUA_REGISTRYINDEX, call.is_function ? kFunctionsRegistryKey : kScriptsRegistryKey);
  if (call.is_function) {
    const std::string key = absl::AsciiStrToLower(Absl(call.name));
    lua_pushlstring(L, key.data(), key.size());
  } else {
    lua_pushlstring(L, call.name.data(), call.name.size());
  }
  lua_gettable(L, -2);
  lua_remove(L, -2);
  auto push_array = [&](std::span<const std::string_view> values) {
    lua_createtable(L, static_cast<int>(values.size()), 0);
    for (size_t i = 0; i < values.size(); ++i) {
      lua_pushlstring(L, values[i].data(), values[i].size());
      lua_rawseti(L, -2, static_cast<int>(i + 1));
    }
  };
  int arguments = 0;
  if (call.is_function) {  // function(keys, args)
    push_array(call.keys);
    push_array(call.argv);
    arguments = 2;
  } else {  // globals KEYS and ARGV, set past the read-only proxy
    push_array(call.keys);
    lua_setglobal(L, "KEYS");
    push_array(call.argv);
    lua_setglobal(L, "ARGV");
  }

  RunState run;
  run.call = &call;
  run.running.is_function = call.is_function;
  run.running.name = call.name;
  run.running.command = call.command;
  run.running.start_ms = call.now_ms;
  run.start_ns = MonotonicNs();
  server_.scripts().Started(&run.running);
  run_ = &run;
  const int saved_db = call.client.db();
  lua_sethook(L, Hook, LUA_MASKCOUNT, 100000);
  const int status = lua_pcall(L, arguments, 1, handler);
  lua_sethook(L, nullptr, 0, 0);
  run_ = nullptr;
  call.client.set_db(saved_db);  // SELECT inside a script does not change the caller's db
  if (run.busy) {
    call.held->SetBusy(false);
    thread_.set_serving_while_busy(false);
  }
  server_.scripts().Ended(&run.running);

  if (status != 0) {
    std::string message;
    if (lua_istable(L, -1)) {
      lua_getfield(L, -1, "err");
      message = ToText(L, -1);
      lua_pop(L, 1);
      lua_getfield(L, -1, "source");
      lua_getfield(L, -2, "line");
      if (lua_isstring(L, -2) && lua_isnumber(L, -1)) {
        absl::StrAppend(&message, " script: ", Absl(call.name), ", on ", lua_tostring(L, -2), ":",
                        static_cast<int64_t>(lua_tonumber(L, -1)), ".");
      }
      lua_pop(L, 2);
    } else {
      message = absl::StrCat("ERR ", ToText(L, -1));
    }
    call.reply.Error(message);
  } else {
    ReplyValue(L, -1, call.reply, run.resp, 0);
  }
  lua_settop(L, 0);
  // Scripts allocate: besides Lua's own incremental collection, a larger step every 50 runs (as
  // Redis does) keeps the state small without a collection step in every call.
  if (++runs_since_gc_ == 50) {
    lua_gc(L, LUA_GCSTEP, 50);
    runs_since_gc_ = 0;
  }
  thread_.stats().lua_vm_bytes.store(
      static_cast<uint64_t>(lua_gc(L, LUA_GCCOUNT, 0)) * 1024 + static_cast<uint64_t>(lua_gc(L, LUA_GCCOUNTB, 0)),
      std::memory_order_relaxed);
}

absl::Status LuaEngine::LoadLibrary(const LibraryMetadata& metadata, std::vector<FunctionInfo>* functions, bool commit) {
  lua_State* L = lua_;
  if (luaL_loadbuffer(L, metadata.code_to_compile.data(), metadata.code_to_compile.size(), "@user_function") != 0) {
    std::string message = absl::StrCat("ERR Error compiling function: ", lua_tostring(L, -1));
    lua_pop(L, 1);
    return absl::InvalidArgumentError(message);
  }
  lua_getfield(L, LUA_REGISTRYINDEX, kFunctionEnvKey);
  lua_setfenv(L, -2);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, kLoadingRegistryKey);
  auto set_loading = [&](bool on) {
    lua_getfield(L, LUA_REGISTRYINDEX, kSetLoadingKey);
    lua_pushboolean(L, on);
    lua_call(L, 1, 0);
  };
  set_loading(true);
  functions->clear();
  loading_functions_ = functions;
  // Library code runs under the same hook as scripts, so a library that loops can be stopped
  // by the time limit rather than hanging its thread.
  lua_getfield(L, LUA_REGISTRYINDEX, kErrorHandlerKey);
  lua_insert(L, -2);
  lua_sethook(L, [](lua_State* S, lua_Debug*) {
    lua_sethook(S, nullptr, 0, 0);
    RaiseError(S, "FUNCTION LOAD timeout: the library code ran too long");
  }, LUA_MASKCOUNT, 500000000);
  const int status = lua_pcall(L, 0, 0, -2);
  lua_sethook(L, nullptr, 0, 0);
  loading_functions_ = nullptr;
  set_loading(false);
  if (status != 0) {
    std::string message;
    if (lua_istable(L, -1)) {
      lua_getfield(L, -1, "err");
      message = ToText(L, -1);
      lua_pop(L, 1);
    } else {
      message = ToText(L, -1);
    }
    lua_pop(L, 2);
    functions->clear();
    return absl::InvalidArgumentError(absl::StrCat("ERR Error registering functions: ", message));
  }
  lua_pop(L, 1);
  if (functions->empty()) return absl::InvalidArgumentError("ERR No functions registered");
  // A validation (FUNCTION LOAD) stops here: what runs changes only once Scripts has the
  // library, for every thread alike (EnsureFunctionsLoaded).
  if (!commit) return absl::OkStatus();
  // Registered: the callbacks move from the loading table to the callable ones.
  lua_getfield(L, LUA_REGISTRYINDEX, kFunctionsRegistryKey);
  lua_getfield(L, LUA_REGISTRYINDEX, kLoadingRegistryKey);
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_settable(L, -5);
  }
  lua_pop(L, 2);
  return absl::OkStatus();
}

void LuaEngine::EnsureFunctionsLoaded() {
  Scripts& scripts = server_.scripts();
  const uint64_t generation = scripts.functions_generation();
  if (generation == functions_generation_) return;
  functions_generation_ = generation;
  lua_newtable(lua_);
  lua_setfield(lua_, LUA_REGISTRYINDEX, kFunctionsRegistryKey);
  for (const FunctionLibrary& library : scripts.Libraries()) {
    absl::StatusOr<LibraryMetadata> metadata = ParseLibraryMetadata(library.code);
    std::vector<FunctionInfo> functions;
    // It loaded once on the thread that added it; a failure now (a deterministic library
    // cannot fail) leaves its functions undefined here, and FCALL says so.
    if (metadata.ok()) (void)LoadLibrary(*metadata, &functions, true);
  }
}

int LuaEngine::RegisterFunction(lua_State* L) {
  LuaEngine* engine = EngineOf(L);
  if (engine->loading_functions_ == nullptr) RaiseError(L, "redis.register_function can only be called on FUNCTION LOAD command");
  FunctionInfo info;
  int callback = 0;
  const int argc = lua_gettop(L);
  if (argc == 2) {
    if (!lua_isstring(L, 1)) RaiseError(L, "first argument to redis.register_function must be a string");
    if (!lua_isfunction(L, 2)) RaiseError(L, "second argument to redis.register_function must be a function");
    info.name = lua_tostring(L, 1);
    callback = 2;
  } else if (argc == 1 && !lua_istable(L, 1)) {
    RaiseError(L, "calling redis.register_function with a single argument is only applicable to Lua table "
                  "(representing named arguments).");
  } else if (argc == 1) {
    lua_settop(L, 2);  // slot 2 will hold the callback
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
      const std::string key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
      if (key == "function_name") {
        if (!lua_isstring(L, -1)) RaiseError(L, "function_name argument given to redis.register_function must be a string");
        info.name = lua_tostring(L, -1);
      } else if (key == "callback") {
        if (!lua_isfunction(L, -1)) RaiseError(L, "callback argument given to redis.register_function must be a function");
        lua_pushvalue(L, -1);
        lua_replace(L, 2);  // slot 2 holds the callback (lua_next keeps the key above)
      } else if (key == "description") {
        if (!lua_isstring(L, -1)) RaiseError(L, "description argument given to redis.register_function must be a string");
        info.description = lua_tostring(L, -1);
      } else if (key == "flags") {
        if (!lua_istable(L, -1)) RaiseError(L, "flags argument to redis.register_function must be a table representing function flags");
        for (int i = 1;; ++i) {
          lua_rawgeti(L, -1, i);
          if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
          }
          const uint32_t bit = lua_isstring(L, -1) ? ScriptFlagBit(lua_tostring(L, -1)) : 0;
          lua_pop(L, 1);
          if (bit == 0) RaiseError(L, "unknown flag given");
          info.flags |= bit;
        }
      } else {
        RaiseError(L, "unknown argument given to redis.register_function");
      }
      lua_pop(L, 1);
    }
    if (info.name.empty()) RaiseError(L, "redis.register_function must get a function name argument");
    if (lua_gettop(L) < 2 || !lua_isfunction(L, 2)) RaiseError(L, "redis.register_function must get a callback argument");
    callback = 2;
  } else {
    RaiseError(L, "wrong number of arguments to redis.register_function");
  }
  if (!ValidFunctionName(info.name)) {
    RaiseError(L, "Library names can only contain letters, numbers, or underscores(_) and must be at least one "
                  "character long");
  }
  for (const FunctionInfo& registered : *engine->loading_functions_) {
    if (absl::EqualsIgnoreCase(registered.name, info.name)) RaiseError(L, "Function already exists in the library");
  }
  // Callbacks are kept under the lowercase name: FCALL finds functions whatever the case.
  const std::string key = absl::AsciiStrToLower(info.name);
  lua_getfield(L, LUA_REGISTRYINDEX, kLoadingRegistryKey);
  lua_pushlstring(L, key.data(), key.size());
  lua_pushvalue(L, callback);
  lua_settable(L, -3);
  lua_pop(L, 1);
  engine->loading_functions_->push_back(std::move(info));
  return 0;
}

void LuaEngine::ReplyValue(lua_State* L, int index, protocol::ReplyBuilder& reply, int script_resp, int depth) {
  index = index < 0 ? lua_gettop(L) + index + 1 : index;
  if (depth > 1000 || !lua_checkstack(L, 4)) {
    reply.Error("ERR reached lua stack limit");
    return;
  }
  switch (lua_type(L, index)) {
    case LUA_TSTRING: {
      size_t length = 0;
      const char* text = lua_tolstring(L, index, &length);
      reply.Bulk(std::string_view(text, length));
      return;
    }
    case LUA_TBOOLEAN:
      // By the script's protocol (redis.setresp), in the caller's encoding: with RESP2 scripts
      // true is 1 and false nil; with RESP3 scripts a boolean (1 or 0 to a RESP2 caller).
      if (script_resp == 3) {
        reply.Boolean(lua_toboolean(L, index));
      } else if (lua_toboolean(L, index)) {
        reply.Integer(1);
      } else {
        reply.Null();
      }
      return;
    case LUA_TNUMBER:
      reply.Integer(static_cast<int64_t>(lua_tonumber(L, index)));
      return;
    case LUA_TTABLE:
      break;
    default:
      reply.Null();
      return;
  }
  // A table: {err=}, {ok=}, {double=}, {big_number=}, {map=}, {set=}, or an array. A field of
  // the wrong type does not count (Redis reads them so too).
  auto field = [&](const char* name, int type) {
    lua_getfield(L, index, name);
    if (lua_type(L, -1) == type) return true;
    lua_pop(L, 1);
    return false;
  };
  if (field("err", LUA_TSTRING)) {
    const std::string text = ToText(L, -1);
    lua_pop(L, 1);
    reply.Error(text);
    return;
  }
  if (field("ok", LUA_TSTRING)) {
    reply.SimpleString(ToText(L, -1));
    lua_pop(L, 1);
    return;
  }
  if (field("double", LUA_TNUMBER)) {
    reply.Double(lua_tonumber(L, -1));
    lua_pop(L, 1);
    return;
  }
  if (field("big_number", LUA_TSTRING)) {
    const std::string text = ToText(L, -1);
    lua_pop(L, 1);
    if (reply.resp3()) {
      reply.Raw(absl::StrCat("(", text, "\r\n"));
    } else {
      reply.Bulk(text);
    }
    return;
  }
  if (field("verbatim_string", LUA_TTABLE)) {
    lua_getfield(L, -1, "format");
    lua_getfield(L, -2, "string");
    if (lua_isstring(L, -2) && lua_isstring(L, -1)) {
      size_t length = 0;
      const char* text = lua_tolstring(L, -1, &length);
      const std::string_view body(text, length);
      if (reply.resp3()) {
        const std::string format = ToText(L, -2);
        reply.Raw(absl::StrCat("=", body.size() + format.size() + 1, "\r\n", format, ":", Absl(body), "\r\n"));
      } else {
        reply.Bulk(body);
      }
      lua_pop(L, 3);
      return;
    }
    lua_pop(L, 3);
  }
  for (const char* kind : {"map", "set"}) {
    lua_getfield(L, index, kind);
    if (lua_type(L, -1) == LUA_TTABLE) {
      const int table = lua_gettop(L);
      const bool is_map = kind[0] == 'm';
      size_t count = 0;
      lua_pushnil(L);
      while (lua_next(L, table) != 0) {
        ++count;
        lua_pop(L, 1);
      }
      is_map ? reply.MapHeader(count) : reply.SetHeader(count);
      lua_pushnil(L);
      while (lua_next(L, table) != 0) {
        ReplyValue(L, -2, reply, script_resp, depth + 1);
        if (is_map) ReplyValue(L, -1, reply, script_resp, depth + 1);
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
      return;
    }
    lua_pop(L, 1);
  }
  size_t count = 0;
  for (;; ++count) {
    lua_rawgeti(L, index, static_cast<int>(count + 1));
    const bool present = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (!present) break;
  }
  reply.ArrayHeader(count);
  for (size_t i = 1; i <= count; ++i) {
    lua_rawgeti(L, index, static_cast<int>(i));
    ReplyValue(L, -1, reply, script_resp, depth + 1);
    lua_pop(L, 1);
  }
}

int LuaEngine::RedisCall(lua_State* L) { return EngineOf(L)->Dispatch(L, true); }
int LuaEngine::RedisPCall(lua_State* L) { return EngineOf(L)->Dispatch(L, false); }

int LuaEngine::Dispatch(lua_State* L, bool raise_errors) {
  auto fail = [&](std::string_view text) -> int {
    if (raise_errors) RaiseError(L, text);
    PushErrorTable(L, text);
    return 1;
  };
  if (run_ == nullptr) return fail("redis.call and redis.pcall can only be used while a script runs");
  const ScriptCall& call = *run_->call;
  const int argc = lua_gettop(L);
  if (argc == 0) return fail("Please specify at least one argument for this redis lib call");
  // The arguments are views of Lua's own strings, which stay on the stack for the call; only
  // numbers need text of their own (Redis formats them with 17 digits, "%.17g", not Lua's 14).
  absl::InlinedVector<std::string_view, 8> views(static_cast<size_t>(argc));
  for (int i = 1; i <= argc; ++i) {
    const int type = lua_type(L, i);
    if (type != LUA_TSTRING && type != LUA_TNUMBER) {
      return fail("Lua redis lib command arguments must be strings or integers");
    }
    if (type == LUA_TNUMBER) {
      char number[64];
      const int length = std::snprintf(number, sizeof(number), "%.17g", lua_tonumber(L, i));
      lua_pushlstring(L, number, static_cast<size_t>(length));
      lua_replace(L, i);  // the text lives in Lua, on the stack, like the strings
    }
    size_t length = 0;
    const char* text = lua_tolstring(L, i, &length);
    views[static_cast<size_t>(i - 1)] = std::string_view(text, length);
  }
  const CommandTable& table = server_.commands();
  const CommandSpec* spec = table.FindWithSubcommand(views);
  if (spec == nullptr) return fail("Unknown Redis command called from script");
  if (!table.ArityOk(*spec, views.size())) return fail("Wrong number of args calling Redis command from script");
  if (spec->flags & flags::kNoScript) return fail("This Redis command is not allowed from script");
  if (call.client.acl_restricted()) {
    if (const AclDenial denial = call.client.CheckAcl(*spec, views, "lua"); denial.reason != AclDenial::kNone) {
      return fail(errors::NoPermissionInScript(denial));
    }
  }
  if (spec->flags & flags::kWrite) {
    if (call.read_only) return fail("Write commands are not allowed from read-only scripts.");
    // As Redis: a script's first write that may grow memory makes room first, and fails with
    // -OOM when nothing can be evicted; once it has written, it runs to the end (atomicity).
    if ((spec->flags & flags::kDenyOom) && !run_->running.wrote.load(std::memory_order_relaxed) &&
        !server_.evictor().MakeRoom()) {
      return fail(absl::StrCat("-", Absl(errors::kOom)));
    }
    run_->running.wrote.store(true, std::memory_order_relaxed);
  }
  if ((spec->flags & flags::kKeyspace) && !call.held->holds_all()) {
    return fail(absl::StrCat("Script attempted to run '", Absl(spec->name),
                             "', which reaches the whole keyspace, but only its declared keys are locked (set "
                             "lua-allow-undeclared-keys yes to lock every shard for scripts)"));
  }
  if (spec->first_key > 0) {
    std::vector<size_t>& indexes = call_key_indexes_;
    indexes.clear();
    CommandTable::KeyIndexes(*spec, views, &indexes);
    for (size_t index : indexes) {
      if (!call.held->HoldsKey(views[index])) {
        return fail(absl::StrCat("Script attempted to access key '", Absl(views[index]),
                                 "' that it did not declare in KEYS (or set lua-allow-undeclared-keys yes)"));
      }
    }
  }
  // One buffer for every call's reply (a script's calls never overlap).
  std::string& out = call_reply_;
  out.clear();
  protocol::ReplyBuilder reply(&out);
  reply.set_resp3(run_->resp == 3);
  const int64_t micros = call.client.RunHeld(*spec, views, call.now_ms, reply) / 1000;
  if (const int64_t slower_than_us = server_.config().slowlog_log_slower_than.load(std::memory_order_relaxed);
      slower_than_us >= 0 && micros >= slower_than_us) {
    call.client.LogSlowFromScript(*spec, views, micros);
  }
  const char* p = out.data();
  if (out.empty()) return fail("the command gave no reply");
  if (out[0] == '-') {
    const std::string_view line(out.data(), out.size() - 2);
    return fail(line);
  }
  PushReply(L, p, out.data() + out.size());
  if (out.capacity() > (1 << 20)) std::string().swap(out);  // one huge reply does not stay held
  return 1;
}

int LuaEngine::Random(lua_State* L) {
  LuaEngine* engine = EngineOf(L);
  const lua_Number r = static_cast<lua_Number>(Rand48Next(&engine->random_state_) % INT32_MAX) /
                       static_cast<lua_Number>(INT32_MAX);
  switch (lua_gettop(L)) {
    case 0:
      lua_pushnumber(L, r);
      break;
    case 1: {
      const int upper = luaL_checkint(L, 1);
      luaL_argcheck(L, 1 <= upper, 1, "interval is empty");
      lua_pushnumber(L, std::floor(r * upper) + 1);
      break;
    }
    case 2: {
      const int lower = luaL_checkint(L, 1);
      const int upper = luaL_checkint(L, 2);
      luaL_argcheck(L, lower <= upper, 2, "interval is empty");
      lua_pushnumber(L, std::floor(r * (upper - lower + 1)) + lower);
      break;
    }
    default:
      return luaL_error(L, "wrong number of arguments");
  }
  return 1;
}

int LuaEngine::RandomSeed(lua_State* L) {
  EngineOf(L)->random_state_ = Rand48Seed(luaL_checkint(L, 1));
  return 0;
}

void LuaEngine::Hook(lua_State* L, lua_Debug*) {
  lua_getfield(L, LUA_REGISTRYINDEX, "strata_engine");
  auto* engine = static_cast<LuaEngine*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  if (engine != nullptr) engine->OnHook(L);
}

void LuaEngine::OnHook(lua_State* L) {
  if (run_ == nullptr) return;
  if (run_->running.kill_requested.load(std::memory_order_relaxed)) {
    // Raised at every hook from now on, so a pcall in the script cannot swallow it for long.
    lua_sethook(L, Hook, LUA_MASKCOUNT, 1000);
    RaiseError(L, "-ERR Script killed by user with SCRIPT KILL...");
  }
  const int64_t threshold_ms = server_.config().busy_reply_threshold_ms.load(std::memory_order_relaxed);
  if (!run_->busy && threshold_ms > 0 && MonotonicNs() - run_->start_ns >= threshold_ms * 1000000) {
    // Past busy-reply-threshold: others touching its shards get -BUSY, and this thread answers
    // its own clients between hooks (they get -BUSY too, except SCRIPT KILL and the like).
    run_->busy = true;
    run_->running.busy.store(true);
    run_->call->held->SetBusy(true);
    thread_.set_serving_while_busy(true);
    server_.logger().Warning(absl::StrCat(
        "Slow script detected: still in execution after ", threshold_ms,
        " milliseconds. You can try killing the script using the SCRIPT KILL command. Script name is: ",
        Absl(run_->call->name)));
  }
  if (run_->busy) thread_.ServeWhileBusy(&run_->call->client);
}

}  // namespace strata::server::scripting
