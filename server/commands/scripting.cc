// Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT. A script runs on this I/O
// thread's Lua engine (server/scripting/lua_engine.h) with the shards of its declared keys held,
// after their read-through loads; the bodies are shared by every thread (scripting::Scripts).
#include <bit>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/absl_compat.h"
#include "server/command.h"
#include "server/connection.h"
#include "server/errors.h"
#include "server/io_thread.h"
#include "server/scripting/lua_engine.h"
#include "server/scripting/sha1.h"
#include "server/server.h"
#include "storage/glob.h"

namespace strata::server {

namespace {

// "numkeys key... arg..." from args[2]; replies Redis's error and returns false.
bool SplitKeysAndArgs(CommandContext& ctx, std::span<const std::string_view>* keys,
                      std::span<const std::string_view>* argv,
                      std::string_view not_integer_error = errors::kNotInteger) {
  int64_t numkeys;
  if (!ParseInteger(ctx.args[2], &numkeys)) {
    ctx.reply.Error(not_integer_error);
    return false;
  }
  if (numkeys < 0) {
    ctx.reply.Error("ERR Number of keys can't be negative");
    return false;
  }
  if (static_cast<uint64_t>(numkeys) > ctx.args.size() - 3) {
    ctx.reply.Error("ERR Number of keys can't be greater than number of args");
    return false;
  }
  *keys = ctx.args.subspan(3, static_cast<size_t>(numkeys));
  *argv = ctx.args.subspan(3 + static_cast<size_t>(numkeys));
  return true;
}

// Runs the compiled script `name` (a sha) or function `name`, under the shards of its keys.
void RunScript(CommandContext& ctx, std::string_view name, bool is_function, bool read_only,
               std::span<const std::string_view> keys, std::span<const std::string_view> argv) {
  // Declared keys that a loader serves are loaded first; the script then runs again from here.
  if (ctx.client.ParkForKeysToLoad(keys, ctx.args, ctx.now_ms)) return;
  const bool all = ctx.server.config().lua_allow_undeclared_keys.load();
  ctx.client.WithHeldShards(keys, all, [&](storage::HeldShards& held) {
    scripting::ScriptCall call{ctx.client, ctx.reply, name, is_function, keys, argv, read_only, &held, ctx.now_ms,
                               ctx.args};
    ctx.client.thread().lua().Run(call);
  });
}

// The checks EVAL_RO/EVALSHA_RO and shebang flags add; replies the error and returns false.
bool WritesAllowed(CommandContext& ctx, const scripting::ScriptFlags& flags, bool read_only_command, bool* read_only) {
  if (read_only_command && flags.shebang && !flags.no_writes) {
    ctx.reply.Error("ERR Can not execute a script with write flag using *_ro command.");
    return false;
  }
  *read_only = read_only_command || flags.no_writes;
  return true;
}

// Compiles `body` as script `sha` on this thread; replies the error and returns false.
bool CompileScript(CommandContext& ctx, const std::string& sha, std::string_view body, scripting::ScriptFlags* flags) {
  absl::Status status = ctx.client.thread().lua().Compile(sha, body, flags);
  if (!status.ok()) {
    ctx.reply.Error(Std(status.message()));
    return false;
  }
  return true;
}

void EvalBody(CommandContext& ctx, bool read_only_command) {
  std::span<const std::string_view> keys, argv;
  if (!SplitKeysAndArgs(ctx, &keys, &argv)) return;
  const std::string_view body = ctx.args[1];
  const std::string sha = scripting::Sha1Hex(body);
  scripting::ScriptFlags flags;
  bool read_only = false;
  if (!CompileScript(ctx, sha, body, &flags) || !WritesAllowed(ctx, flags, read_only_command, &read_only)) return;
  ctx.server.scripts().Store(body);
  RunScript(ctx, sha, false, read_only, keys, argv);
}

void EvalSha(CommandContext& ctx, bool read_only_command) {
  std::span<const std::string_view> keys, argv;
  if (!SplitKeysAndArgs(ctx, &keys, &argv)) return;
  scripting::ScriptFlags flags;
  bool read_only = false;
  if (ctx.client.thread().lua().Compiled(ctx.args[1], &flags)) {  // the usual case: no shared lookup
    if (WritesAllowed(ctx, flags, read_only_command, &read_only)) RunScript(ctx, ctx.args[1], false, read_only, keys, argv);
    return;
  }
  std::optional<std::string> body = ctx.server.scripts().Find(ctx.args[1]);
  if (!body.has_value()) {
    ctx.reply.Error("NOSCRIPT No matching script. Please use EVAL.");
    return;
  }
  const std::string sha = absl::AsciiStrToLower(Absl(ctx.args[1]));
  if (!CompileScript(ctx, sha, *body, &flags) || !WritesAllowed(ctx, flags, read_only_command, &read_only)) return;
  RunScript(ctx, sha, false, read_only, keys, argv);
}

void Eval(CommandContext& ctx) { EvalBody(ctx, false); }
void EvalRo(CommandContext& ctx) { EvalBody(ctx, true); }
void EvalShaCommand(CommandContext& ctx) { EvalSha(ctx, false); }
void EvalShaRo(CommandContext& ctx) { EvalSha(ctx, true); }

void ScriptLoad(CommandContext& ctx) {
  const std::string_view body = ctx.args[2];
  const std::string sha = scripting::Sha1Hex(body);
  scripting::ScriptFlags flags;
  if (!CompileScript(ctx, sha, body, &flags)) return;
  ctx.reply.Bulk(ctx.server.scripts().Store(body));
}

void ScriptExists(CommandContext& ctx) {
  ctx.reply.ArrayHeader(ctx.args.size() - 2);
  for (size_t i = 2; i < ctx.args.size(); ++i) ctx.reply.Integer(ctx.server.scripts().Exists(ctx.args[i]) ? 1 : 0);
}

void ScriptFlush(CommandContext& ctx) {
  if (ctx.args.size() > 3 ||
      (ctx.args.size() == 3 && !EqualsIgnoreCase(ctx.args[2], "async") && !EqualsIgnoreCase(ctx.args[2], "sync"))) {
    ctx.reply.Error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    return;
  }
  ctx.server.scripts().Flush();
  ctx.reply.Ok();
}

// SCRIPT KILL / FUNCTION KILL.
void ReplyKill(CommandContext& ctx, bool functions) {
  absl::Status killed = ctx.server.scripts().Kill(functions);
  if (killed.ok()) {
    ctx.reply.Ok();
  } else {
    ctx.reply.Error(Std(killed.message()));
  }
}

void ScriptKill(CommandContext& ctx) { ReplyKill(ctx, false); }

void ScriptHelp(CommandContext& ctx) {
  constexpr std::string_view kLines[] = {
      "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "EXISTS <sha1> [<sha1> ...]",
      "    Return information about the existence of the scripts in the script cache.",
      "FLUSH [ASYNC|SYNC]",
      "    Flush the Lua scripts cache. Very dangerous on replicas.",
      "    When called without the optional mode argument, the behavior is determined by the",
      "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
      "    * ASYNC: Asynchronously flush the scripts cache.",
      "    * SYNC: Synchronously flush the scripts cache.",
      "KILL",
      "    Kill the currently executing Lua script.",
      "LOAD <script>",
      "    Load a script into the scripts cache without executing it.",
      "HELP",
      "    Prints this help.",
  };
  ReplyHelp(ctx, kLines);
}

void FCall(CommandContext& ctx, bool read_only_command) {
  scripting::FunctionInfo info;
  if (!ctx.server.scripts().FindFunction(ctx.args[1], &info)) {
    ctx.reply.Error("ERR Function not found");
    return;
  }
  std::span<const std::string_view> keys, argv;
  if (!SplitKeysAndArgs(ctx, &keys, &argv, "ERR Bad number of keys provided")) return;
  if (read_only_command && !info.no_writes()) {
    ctx.reply.Error("ERR Can not execute a script with write flag using *_ro command.");
    return;
  }
  RunScript(ctx, info.name, true, info.no_writes(), keys, argv);
}

void FCallCommand(CommandContext& ctx) { FCall(ctx, false); }
void FCallRo(CommandContext& ctx) { FCall(ctx, true); }

// Validates and registers a library's code (shared by FUNCTION LOAD and RESTORE); the error
// text is Redis's.
absl::Status AddLibrary(CommandContext& ctx, std::string_view code, bool replace, bool restoring, std::string* name) {
  absl::StatusOr<scripting::LibraryMetadata> metadata = scripting::ParseLibraryMetadata(code);
  if (!metadata.ok()) return metadata.status();
  *name = metadata->name;
  scripting::Scripts& scripts = ctx.server.scripts();
  if (!replace) {
    for (const scripting::FunctionLibrary& library : scripts.Libraries()) {
      if (library.name == metadata->name) {
        return absl::AlreadyExistsError(restoring ? absl::StrCat("ERR Library ", metadata->name, " already exists")
                                                  : absl::StrCat("ERR Library '", metadata->name, "' already exists"));
      }
    }
  }
  scripting::FunctionLibrary library{metadata->name, std::string(code), {}};
  absl::Status loaded = ctx.client.thread().lua().LoadLibrary(*metadata, &library.functions);
  if (!loaded.ok()) return loaded;
  return scripts.AddLibrary(std::move(library), replace, !restoring);
}

void FunctionLoad(CommandContext& ctx) {
  // FUNCTION LOAD [REPLACE ...] code: the code is the last argument.
  bool replace = false;
  for (size_t i = 2; i + 1 < ctx.args.size(); ++i) {
    if (!EqualsIgnoreCase(ctx.args[i], "replace")) {
      ctx.reply.Error(absl::StrCat("ERR Unknown option given: ", Absl(ctx.args[i])));
      return;
    }
    replace = true;
  }
  std::string name;
  absl::Status added = AddLibrary(ctx, ctx.args.back(), replace, false, &name);
  if (!added.ok()) {
    ctx.reply.Error(Std(added.message()));
    return;
  }
  ctx.reply.Bulk(name);
}

void FunctionDelete(CommandContext& ctx) {
  if (!ctx.server.scripts().DeleteLibrary(ctx.args[2])) {
    ctx.reply.Error("ERR Library not found");
    return;
  }
  ctx.reply.Ok();
}

// Redis's reply to a FUNCTION subcommand given too many arguments.
void ReplySubcommandArity(CommandContext& ctx, std::string_view subcommand) {
  ctx.reply.Error(absl::StrCat("ERR unknown subcommand or wrong number of arguments for '", Absl(subcommand),
                               "'. Try FUNCTION HELP."));
}

void FunctionFlush(CommandContext& ctx) {
  if (ctx.args.size() > 3) {
    ReplySubcommandArity(ctx, "FLUSH");
    return;
  }
  if (ctx.args.size() == 3 && !EqualsIgnoreCase(ctx.args[2], "async") && !EqualsIgnoreCase(ctx.args[2], "sync")) {
    ctx.reply.Error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
    return;
  }
  ctx.server.scripts().FlushLibraries();
  ctx.reply.Ok();
}

void FunctionList(CommandContext& ctx) {
  bool with_code = false;
  std::optional<std::string_view> pattern;
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    if (EqualsIgnoreCase(ctx.args[i], "withcode") && !with_code) {
      with_code = true;
    } else if (EqualsIgnoreCase(ctx.args[i], "libraryname") && !pattern.has_value()) {
      if (i + 1 >= ctx.args.size()) {
        ctx.reply.Error("ERR library name argument was not given");
        return;
      }
      pattern = ctx.args[++i];
    } else {
      ctx.reply.Error(absl::StrCat("ERR Unknown argument ", Absl(ctx.args[i])));
      return;
    }
  }
  std::vector<scripting::FunctionLibrary> libraries = ctx.server.scripts().Libraries();
  if (pattern.has_value()) {
    std::erase_if(libraries,
                  [&](const scripting::FunctionLibrary& l) { return !storage::GlobMatch(*pattern, l.name, true); });
  }
  ctx.reply.ArrayHeader(libraries.size());
  for (const scripting::FunctionLibrary& library : libraries) {
    ctx.reply.MapHeader(with_code ? 4 : 3);
    ctx.reply.Bulk("library_name");
    ctx.reply.Bulk(library.name);
    ctx.reply.Bulk("engine");
    ctx.reply.Bulk("LUA");
    ctx.reply.Bulk("functions");
    ctx.reply.ArrayHeader(library.functions.size());
    for (const scripting::FunctionInfo& function : library.functions) {
      ctx.reply.MapHeader(3);
      ctx.reply.Bulk("name");
      ctx.reply.Bulk(function.name);
      ctx.reply.Bulk("description");
      if (function.description.has_value()) {
        ctx.reply.Bulk(*function.description);
      } else {
        ctx.reply.Null();
      }
      ctx.reply.Bulk("flags");
      ctx.reply.SetHeader(static_cast<size_t>(std::popcount(function.flags)));
      for (size_t bit = 0; bit < std::size(scripting::kScriptFlagNames); ++bit) {
        if (function.flags & (uint32_t{1} << bit)) ctx.reply.SimpleString(scripting::kScriptFlagNames[bit]);
      }
    }
    if (with_code) {
      ctx.reply.Bulk("library_code");
      ctx.reply.Bulk(library.code);
    }
  }
}

// FUNCTION DUMP's payload: a magic word, each library's code as a 4-byte little-endian length and
// the bytes, and an 8-byte FNV-1a checksum of all that (so a damaged payload is refused, as
// Redis refuses one whose CRC does not match). Only strata reads it: Redis's payload is RDB.
constexpr std::string_view kDumpMagic = "STRATA-FUNCTIONS-1";

uint64_t Fnv1a(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : bytes) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return hash;
}

void FunctionDump(CommandContext& ctx) {
  std::string payload(kDumpMagic);
  for (const scripting::FunctionLibrary& library : ctx.server.scripts().Libraries()) {
    const auto size = static_cast<uint32_t>(library.code.size());
    for (int i = 0; i < 4; ++i) payload.push_back(static_cast<char>(size >> (8 * i)));
    payload += library.code;
  }
  const uint64_t checksum = Fnv1a(payload);
  for (int i = 0; i < 8; ++i) payload.push_back(static_cast<char>(checksum >> (8 * i)));
  ctx.reply.Bulk(payload);
}

void FunctionRestore(CommandContext& ctx) {
  enum class Policy { kAppend, kReplace, kFlush } policy = Policy::kAppend;
  if (ctx.args.size() == 4) {
    if (EqualsIgnoreCase(ctx.args[3], "append")) {
      policy = Policy::kAppend;
    } else if (EqualsIgnoreCase(ctx.args[3], "replace")) {
      policy = Policy::kReplace;
    } else if (EqualsIgnoreCase(ctx.args[3], "flush")) {
      policy = Policy::kFlush;
    } else {
      ctx.reply.Error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
      return;
    }
  } else if (ctx.args.size() > 4) {
    ReplySubcommandArity(ctx, "RESTORE");
    return;
  }
  std::string_view payload = ctx.args[2];
  std::vector<std::string_view> codes;
  bool valid = payload.size() >= kDumpMagic.size() + 8 && payload.substr(0, kDumpMagic.size()) == kDumpMagic;
  if (valid) {
    uint64_t checksum = 0;
    for (int i = 0; i < 8; ++i) {
      checksum |= uint64_t{static_cast<unsigned char>(payload[payload.size() - 8 + static_cast<size_t>(i)])} << (8 * i);
    }
    payload.remove_suffix(8);
    valid = checksum == Fnv1a(payload);
  }
  payload.remove_prefix(valid ? kDumpMagic.size() : 0);
  while (valid && !payload.empty()) {
    if (payload.size() < 4) {
      valid = false;
      break;
    }
    uint32_t size = 0;
    for (int i = 0; i < 4; ++i) size |= static_cast<uint32_t>(static_cast<unsigned char>(payload[static_cast<size_t>(i)])) << (8 * i);
    payload.remove_prefix(4);
    if (payload.size() < size) {
      valid = false;
      break;
    }
    codes.push_back(payload.substr(0, size));
    payload.remove_prefix(size);
  }
  if (!valid) {
    ctx.reply.Error("ERR DUMP payload version or checksum are wrong");
    return;
  }
  scripting::Scripts& scripts = ctx.server.scripts();
  // All or nothing: on an error the libraries are put back as they were.
  std::vector<scripting::FunctionLibrary> before = scripts.Libraries();
  if (policy == Policy::kFlush) scripts.FlushLibraries();
  for (std::string_view code : codes) {
    std::string name;
    absl::Status added = AddLibrary(ctx, code, policy == Policy::kReplace, true, &name);
    if (!added.ok()) {
      scripts.FlushLibraries();
      for (scripting::FunctionLibrary& library : before) (void)scripts.AddLibrary(std::move(library), true);
      ctx.reply.Error(Std(added.message()));
      return;
    }
  }
  ctx.reply.Ok();
}

void FunctionStats(CommandContext& ctx) {
  std::vector<scripting::FunctionLibrary> libraries = ctx.server.scripts().Libraries();
  size_t functions = 0;
  for (const scripting::FunctionLibrary& library : libraries) functions += library.functions.size();
  ctx.reply.MapHeader(2);
  ctx.reply.Bulk("running_script");
  std::string name;
  std::vector<std::string> command;
  int64_t duration_ms = 0;
  if (ctx.server.scripts().DescribeRunning(&name, &command, &duration_ms)) {
    ctx.reply.MapHeader(3);
    ctx.reply.Bulk("name");
    ctx.reply.Bulk(name);
    ctx.reply.Bulk("command");
    ctx.reply.ArrayHeader(command.size());
    for (const std::string& part : command) ctx.reply.Bulk(part);
    ctx.reply.Bulk("duration_ms");
    ctx.reply.Integer(duration_ms);
  } else {
    ctx.reply.Null();
  }
  ctx.reply.Bulk("engines");
  ctx.reply.MapHeader(1);
  ctx.reply.Bulk("LUA");
  ctx.reply.MapHeader(2);
  ctx.reply.Bulk("libraries_count");
  ctx.reply.Integer(static_cast<int64_t>(libraries.size()));
  ctx.reply.Bulk("functions_count");
  ctx.reply.Integer(static_cast<int64_t>(functions));
}

void FunctionKill(CommandContext& ctx) { ReplyKill(ctx, true); }

void FunctionHelp(CommandContext& ctx) {
  constexpr std::string_view kLines[] = {
      "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "LOAD [REPLACE] <FUNCTION CODE>",
      "    Create a new library with the given library name and code.",
      "DELETE <LIBRARY NAME>",
      "    Delete the given library.",
      "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
      "    Return general information on all the libraries:",
      "    * Library name",
      "    * The engine used to run the Library",
      "    * Library description",
      "    * Functions list",
      "    * Library code (if WITHCODE is given)",
      "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
      "STATS",
      "    Return information about the current function running:",
      "    * Function name",
      "    * Command used to run the function",
      "    * Duration in MS that the function is running",
      "    If no function is running, return nil",
      "    In addition, returns a list of available engines.",
      "KILL",
      "    Kill the current running function.",
      "FLUSH [ASYNC|SYNC]",
      "    Delete all the libraries.",
      "    When called without the optional mode argument, the behavior is determined by the",
      "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
      "    * ASYNC: Asynchronously flush the libraries.",
      "    * SYNC: Synchronously flush the libraries.",
      "DUMP",
      "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
      "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
      "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
      "    control how to handle existing libraries (default APPEND):",
      "    * FLUSH: delete all existing libraries.",
      "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
      "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
      "      libraries with the new libraries (notice that even on this option there is a chance of failure",
      "      in case of functions name collision with another library).",
      "HELP",
      "    Prints this help.",
  };
  ReplyHelp(ctx, kLines);
}

constexpr uint32_t kScriptFlags = flags::kNoScript | flags::kLocksOwnKeys | flags::kLoads | flags::kStale | flags::kNoMandatoryKeys;

constexpr CommandSpec kScriptSubcommands[] = {
    {"script|load", 3, flags::kNoScript | flags::kStale, 0, 0, 0, ScriptLoad, {}, "Load a script into the scripts cache"},
    {"script|exists", -3, flags::kNoScript, 0, 0, 0, ScriptExists, {},
     "Check existence of scripts in the script cache"},
    {"script|flush", -2, flags::kNoScript, 0, 0, 0, ScriptFlush, {}, "Remove all the scripts from the script cache"},
    {"script|kill", 2, flags::kNoScript | flags::kAllowBusy, 0, 0, 0, ScriptKill, {},
     "Kill the script currently in execution"},
    {"script|help", 2, flags::kLoading | flags::kStale, 0, 0, 0, ScriptHelp, {}, "Show helpful text about the different subcommands"},
};

constexpr uint32_t kFunctionAdmin = flags::kNoScript | flags::kWrite | flags::kDenyOom;

constexpr CommandSpec kFunctionSubcommands[] = {
    {"function|load", -3, kFunctionAdmin, 0, 0, 0, FunctionLoad, {}, "Create a function library"},
    {"function|delete", 3, flags::kNoScript | flags::kWrite, 0, 0, 0, FunctionDelete, {}, "Delete a library and all its functions"},
    {"function|flush", -2, flags::kNoScript | flags::kWrite, 0, 0, 0, FunctionFlush, {}, "Delete all libraries and functions"},
    {"function|list", -2, flags::kNoScript, 0, 0, 0, FunctionList, {}, "List information about all the functions"},
    {"function|dump", 2, flags::kNoScript, 0, 0, 0, FunctionDump, {}, "Dump all functions into a serialized binary payload"},
    {"function|restore", -3, kFunctionAdmin, 0, 0, 0, FunctionRestore, {}, "Restore all the functions on the given payload"},
    {"function|stats", 2, flags::kNoScript | flags::kAllowBusy, 0, 0, 0, FunctionStats, {},
     "Return information about the function currently running"},
    {"function|kill", 2, flags::kNoScript | flags::kAllowBusy, 0, 0, 0, FunctionKill, {},
     "Kill the function currently in execution"},
    {"function|help", 2, flags::kLoading | flags::kStale, 0, 0, 0, FunctionHelp, {}, "Show helpful text about the different subcommands"},
};

constexpr CommandSpec kScriptingCommands[] = {
    {"fcall", -3, kScriptFlags | flags::kMayReplicate, 3, -1, 1, FCallCommand, {}, "Invoke a function", KeysAfterScriptNumkeys},
    {"fcall_ro", -3, kScriptFlags | flags::kReadOnly, 3, -1, 1, FCallRo, {}, "Invoke a read-only function",
     KeysAfterScriptNumkeys},
    {"function", -2, 0, 0, 0, 0, nullptr, kFunctionSubcommands, "A container for function commands"},
    {"eval", -3, kScriptFlags | flags::kMayReplicate, 3, -1, 1, Eval, {}, "Execute a Lua script server side", KeysAfterScriptNumkeys},
    {"evalsha", -3, kScriptFlags | flags::kMayReplicate, 3, -1, 1, EvalShaCommand, {}, "Execute a Lua script server side",
     KeysAfterScriptNumkeys},
    {"eval_ro", -3, kScriptFlags | flags::kReadOnly, 3, -1, 1, EvalRo, {}, "Execute a read-only Lua script server side",
     KeysAfterScriptNumkeys},
    {"evalsha_ro", -3, kScriptFlags | flags::kReadOnly, 3, -1, 1, EvalShaRo, {},
     "Execute a read-only Lua script server side", KeysAfterScriptNumkeys},
    {"script", -2, 0, 0, 0, 0, nullptr, kScriptSubcommands, "A container for Lua scripts management commands"},
};

}  // namespace

bool ScriptDeclaresNoWrites(Server& server, const CommandSpec& spec, std::span<const std::string_view> args) {
  if (args.size() < 2) return false;
  if (spec.name == "fcall" || spec.name == "fcall_ro") {
    scripting::FunctionInfo info;
    return server.scripts().FindFunction(args[1], &info) && info.no_writes();
  }
  std::optional<std::string> stored;
  std::string_view body = args[1];
  if (spec.name == "evalsha" || spec.name == "evalsha_ro") {
    stored = server.scripts().Find(args[1]);
    if (!stored) return false;
    body = *stored;
  }
  std::string code;
  scripting::ScriptFlags script_flags;
  return scripting::ParseScriptShebang(body, &code, &script_flags).ok() && script_flags.no_writes;
}

std::span<const CommandSpec> ScriptingCommands() { return kScriptingCommands; }

}  // namespace strata::server
