// Scripts: what every I/O thread's Lua engine shares. The bodies of loaded scripts by SHA-1
// (EVAL caches, SCRIPT LOAD adds, SCRIPT FLUSH empties), the scripts running now (for SCRIPT KILL
// and -BUSY), and the generation that tells engines to drop what they compiled.
//
// Contract: any thread. Bodies are immutable once stored; an engine compiles a body the first
// time its thread runs it (one Lua state per I/O thread, see lua_engine.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace strata::server::scripting {

// A Redis 7 function library (FUNCTION LOAD): its code and the functions it registered.
// A script or function flag, in Redis's order (FUNCTION LIST lists them so).
inline constexpr std::string_view kScriptFlagNames[] = {"no-writes", "allow-oom", "allow-stale", "no-cluster",
                                                       "allow-cross-slot-keys"};
// The bit of a flag name (any case), or 0 for an unknown one.
uint32_t ScriptFlagBit(std::string_view name);

struct FunctionInfo {
  std::string name;  // as registered; looked up without regard to case, as Redis does
  uint32_t flags = 0;  // bits of kScriptFlagNames
  std::optional<std::string> description;
  bool no_writes() const { return flags & 1; }
};
struct FunctionLibrary {
  std::string name;
  std::string code;  // as loaded, shebang included
  std::vector<FunctionInfo> functions;
};

// A library's shebang: "#!lua name=<name>" on the first line. The code a Lua state compiles is
// the text with the shebang line blanked, so line numbers stay the user's.
struct LibraryMetadata {
  std::string name;
  std::string code_to_compile;
};
absl::StatusOr<LibraryMetadata> ParseLibraryMetadata(std::string_view code);

// Letters, digits and underscores, at least one: Redis's rule for library and function names.
bool ValidFunctionName(std::string_view name);

// What EVAL's optional shebang ("#!lua [flags=no-writes,...]") says of a script.
struct ScriptFlags {
  bool shebang = false;    // given: then EVAL_RO needs no-writes, as in Redis
  bool no_writes = false;
};
// *code_to_compile is the body with the shebang line blanked (line numbers stay the user's).
absl::Status ParseScriptShebang(std::string_view body, std::string* code_to_compile, ScriptFlags* flags);

// One script run, visible to SCRIPT KILL from any thread.
struct RunningScript {
  bool is_function = false;
  std::string_view name;  // the sha or the function's name (the command's argument, alive while it runs)
  std::span<const std::string_view> command;  // the whole command (FUNCTION STATS), alive as well
  int64_t start_ms = 0;
  std::atomic<bool> wrote{false};        // ran a write command: it cannot be killed any more
  std::atomic<bool> kill_requested{false};
  std::atomic<bool> busy{false};         // past busy-reply-threshold
};

class Scripts {
 public:
  // Stores `body` under its SHA-1 (lowercase hex), returned.
  std::string Store(std::string_view body);
  // The body stored under `sha` (any case), if any.
  std::optional<std::string> Find(std::string_view sha) const;
  bool Exists(std::string_view sha) const;
  // SCRIPT FLUSH: forgets every body; engines drop their compiled functions at their next run.
  void Flush();
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  size_t count() const;
  size_t body_bytes() const;

  void Started(RunningScript* run);
  void Ended(RunningScript* run);
  // SCRIPT KILL (functions false) / FUNCTION KILL (true): asks the running scripts of that kind
  // to stop. NOTBUSY when none runs, UNKILLABLE when one has written.
  absl::Status Kill(bool functions);
  // Shutdown: every running script stops at its next hook, whatever it did.
  void KillAll();
  // The -BUSY reply while a script is past busy-reply-threshold.
  std::string_view BusyError() const;
  // For FUNCTION STATS: the name, command and age of a running script, if any.
  bool DescribeRunning(std::string* name, std::vector<std::string>* command, int64_t* duration_ms) const;

  // Function libraries. AddLibrary fails (nothing changed) on a function name taken by another
  // library, or on the library's own name without replace (Redis's texts: FUNCTION LOAD quotes
  // the name, RESTORE does not).
  absl::Status AddLibrary(FunctionLibrary library, bool replace, bool quote_name = true);
  bool DeleteLibrary(std::string_view name);
  void FlushLibraries();
  std::vector<FunctionLibrary> Libraries() const;
  // The function and its library's name; false when no library registered it.
  bool FindFunction(std::string_view name, FunctionInfo* info) const;
  // Changes whenever the set of libraries does: engines reload theirs when it moves.
  uint64_t functions_generation() const { return functions_generation_.load(std::memory_order_acquire); }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const std::string>> bodies_ ABSL_GUARDED_BY(mu_);
  size_t body_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<RunningScript*> running_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> generation_{0};
  std::vector<FunctionLibrary> libraries_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> functions_generation_{0};
};

}  // namespace strata::server::scripting
