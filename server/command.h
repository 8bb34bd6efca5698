// The command table: what each command is (name, arity, flags, key positions) and its handler.
//
// Contract (DESIGN.md section 10): a command family is one file under server/commands/ that
// registers a constant table. Dispatch, arity errors, authentication and key locking are done
// here from the table, never in a handler: a handler receives its arguments with the shards of
// its keys already locked (ctx.txn), parses options, calls storage, and replies.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "protocol/reply_builder.h"
#include "server/command_docs.h"
#include "storage/keyspace.h"

namespace strata::server {

class Server;
class Connection;

namespace flags {
inline constexpr uint32_t kWrite = 1 << 0;
inline constexpr uint32_t kReadOnly = 1 << 1;
inline constexpr uint32_t kLoads = 1 << 2;      // may read through to a loader
inline constexpr uint32_t kAdmin = 1 << 3;
inline constexpr uint32_t kPubSub = 1 << 4;
inline constexpr uint32_t kNoAuth = 1 << 5;     // allowed before AUTH
inline constexpr uint32_t kFast = 1 << 6;
inline constexpr uint32_t kDenyOom = 1 << 7;    // refused when over maxmemory
inline constexpr uint32_t kLoading = 1 << 8;
inline constexpr uint32_t kStale = 1 << 9;
inline constexpr uint32_t kNoScript = 1 << 10;
inline constexpr uint32_t kBlocking = 1 << 11;  // may block its client (BLPOP...)
inline constexpr uint32_t kKeyspace = 1 << 12;  // reads or writes the whole keyspace (KEYS, FLUSHALL)
inline constexpr uint32_t kNoMulti = 1 << 13;   // refused inside MULTI
inline constexpr uint32_t kAllowBusy = 1 << 14; // served while a script is busy (SCRIPT KILL)
inline constexpr uint32_t kNotQueued = 1 << 15; // runs at once inside MULTI (EXEC, DISCARD...)
// Names keys (for COMMAND, EXEC and ACLs) but locks them itself (EVAL, FCALL: a script's shards
// stay locked while it runs, and the dispatcher's Transaction is per command).
inline constexpr uint32_t kLocksOwnKeys = 1 << 16;
// Runs in RESP2 subscribed mode: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING, QUIT, RESET.
inline constexpr uint32_t kSubscribedMode = 1 << 17;
// Names its keys through an argument that may say "none" (EVAL, FCALL): COMMAND INFO's
// no_mandatory_keys, which tells cluster clients any node may serve it.
inline constexpr uint32_t kNoMandatoryKeys = 1 << 18;
// Never in the slow log itself (EXEC: the commands it ran are logged, each on its own).
inline constexpr uint32_t kSkipSlowlog = 1 << 19;
// Not a write, but would reach a replica in Redis (PUBLISH, PFCOUNT's cache update, EVAL,
// FCALL): CLIENT PAUSE WRITE holds it, as Redis holds "may replicate" commands. Not shown by
// COMMAND INFO, as in Redis.
inline constexpr uint32_t kMayReplicate = 1 << 20;
// Served only as its enable-*-command setting allows: yes, no, or "local" (a client on this host).
// DEBUG (enable-debug-command, Redis's CMD_PROTECTED) and MONITOR (strata's enable-monitor-command:
// it shows every command's values to whoever runs it).
inline constexpr uint32_t kProtected = 1 << 21;
}  // namespace flags

struct CommandContext;
using CommandHandler = void (*)(CommandContext&);
// For commands whose keys are not at fixed positions (LMPOP numkeys key...): appends the
// argument indexes of the keys; appends none for arguments the handler will reject.
using KeyFinder = void (*)(std::span<const std::string_view> args, std::vector<size_t>* out);

struct CommandSpec {
  std::string_view name;  // lowercase; a subcommand's is "container|sub"
  int arity;              // exact argument count including the name; negative: at least -arity
  uint32_t flags;
  int first_key;  // 0: no keys
  int last_key;   // negative: counted from the end (-1 is the last argument)
  int key_step;
  CommandHandler handler;
  std::span<const CommandSpec> subcommands = {};
  std::string_view summary = {};
  KeyFinder find_keys = nullptr;  // set: it, not first/last/step, names the keys
  // Dense index of the command or subcommand, set by the CommandTable (per-command statistics
  // are arrays indexed by it); the families leave it 0.
  uint16_t id = 0;
};

// How a blocking command (BLPOP, BZPOPMIN...) may behave in this run of it.
enum class BlockingMode {
  kMayBlock,  // the client's own command: nothing to pop blocks the client
  kRetry,     // run again for a waiting client: serve it, or reply nothing and it keeps waiting
  kNever,     // inside MULTI or a script: nothing to pop answers as a timeout would
};

struct CommandContext {
  std::span<const std::string_view> args;
  protocol::ReplyBuilder& reply;
  Connection& client;
  Server& server;
  storage::Transaction* txn;  // set when the command names keys
  const CommandSpec& spec;
  int64_t now_ms;
  BlockingMode blocking = BlockingMode::kMayBlock;

  storage::Transaction& keys() { return *txn; }
};

class CommandTable {
 public:
  // Builds the table from every family's registration function.
  CommandTable();

  const CommandSpec* Find(std::string_view name) const;
  // rename-command, at start-up before serving: `old_name` answers as `new_name` from now on, or
  // not at all when `new_name` is empty (then COMMAND lists it no more). Redis's errors for an
  // unknown command or a taken name.
  absl::Status Rename(std::string_view old_name, std::string_view new_name);
  // The command args[0] names, or its subcommand args[1] for a container (CONFIG GET);
  // nullptr when either is unknown (*unknown_subcommand tells which; a container given no
  // subcommand is returned itself, for the arity check to refuse).
  const CommandSpec* FindWithSubcommand(std::span<const std::string_view> args, bool* unknown_subcommand = nullptr) const;
  // A command by the name COMMAND INFO, COMMAND DOCS and LATENCY HISTOGRAM accept: "get", or
  // "config|get" for a subcommand; nullptr when unknown.
  const CommandSpec* FindByFullName(std::string_view name) const;
  static bool ArityOk(const CommandSpec& spec, size_t argc) {
    const int n = static_cast<int>(argc);
    return spec.arity > 0 ? n == spec.arity : n >= -spec.arity;
  }
  const std::vector<const CommandSpec*>& all() const { return all_; }
  // Every command and subcommand, indexed by CommandSpec::id.
  const std::vector<const CommandSpec*>& by_id() const { return by_id_; }

  // What COMMAND INFO and COMMAND DOCS say of a command beyond its spec (command_docs.h).
  struct Documentation {
    std::string_view group;    // COMMAND DOCS's group: the family's, or the doc's override
    uint32_t acl_categories = 0;  // AclCategory bits: implied by flags and group, plus the doc's
    const CommandDoc* doc = nullptr;  // nullptr: the command has no doc entry
    ParsedSyntax syntax;       // its arguments and key specs
    // COMMAND INFO's first/last/step and movablekeys, from the key specs as Redis derives them
    // (the dispatcher's own positions, in the CommandSpec, may differ: LMPOP's are 2, 2, 1).
    LegacyKeyRange legacy_range;
  };
  const Documentation& docs(const CommandSpec& spec) const { return docs_by_id_[spec.id]; }
  std::string_view group(const CommandSpec& spec) const { return docs_by_id_[spec.id].group; }
  uint32_t acl_categories(const CommandSpec& spec) const { return docs_by_id_[spec.id].acl_categories; }
  // Problems found attaching the docs (a command without one, a doc naming no command, a syntax
  // that does not parse); empty when every command is documented.
  const std::vector<std::string>& doc_problems() const { return doc_problems_; }

  // The argument indexes of the command's keys, per its key positions (or its KeyFinder).
  static void KeyIndexes(const CommandSpec& spec, std::span<const std::string_view> args, std::vector<size_t>* out);

 private:
  // Copies `specs` (and their subcommands) into storage the table owns, numbering each.
  std::span<const CommandSpec> Adopt(std::span<const CommandSpec> specs, std::string_view group);
  // Adds a family's commands (their COMMAND DOCS group); names must be unique. Only the
  // constructor registers: the docs are attached once, after every family.
  void Register(std::span<const CommandSpec> specs, std::string_view group);
  // Fills docs_by_id_ from CommandDocs(), once every family is registered.
  void AttachDocs();

  absl::flat_hash_map<std::string, const CommandSpec*> by_name_;
  std::vector<const CommandSpec*> all_;
  std::vector<const CommandSpec*> by_id_;
  std::vector<Documentation> docs_by_id_;
  std::vector<std::string> doc_problems_;
  std::vector<std::unique_ptr<CommandSpec[]>> owned_;
};

// Each family's table (server/commands/*.cc).
std::span<const CommandSpec> ConnectionCommands();
std::span<const CommandSpec> PubSubCommands();
std::span<const CommandSpec> ServerCommands();
std::span<const CommandSpec> DiagnosticsCommands();
std::span<const CommandSpec> AclCommands();
std::span<const CommandSpec> StringCommands();
std::span<const CommandSpec> BitmapCommands();
std::span<const CommandSpec> SortCommands();
std::span<const CommandSpec> HyperLogLogCommands();
std::span<const CommandSpec> KeyCommands();
std::span<const CommandSpec> HashCommands();
std::span<const CommandSpec> ListCommands();
std::span<const CommandSpec> SetCommands();
std::span<const CommandSpec> ZSetCommands();
std::span<const CommandSpec> LoaderCommands();
std::span<const CommandSpec> TransactionCommands();
std::span<const CommandSpec> ScriptingCommands();

// The KeyFinder of EVAL-like commands: "CMD script|sha|function numkeys key [key ...] arg...".
void KeysAfterScriptNumkeys(std::span<const std::string_view> args, std::vector<size_t>* out);

// The KeyFinder of "CMD numkeys key [key ...] ..." commands (LMPOP, SINTERCARD, ZUNION...): the
// numkeys arguments after numkeys; none when numkeys is not a count the arguments can hold.
void KeysAfterNumkeys(std::span<const std::string_view> args, std::vector<size_t>* out);
// The same for "CMD timeout numkeys key [key ...] ..." (BLMPOP, BZMPOP).
void KeysAfterTimeoutAndNumkeys(std::span<const std::string_view> args, std::vector<size_t>* out);

// The arguments of LMPOP / ZMPOP (and their blocking forms): "numkeys key [key ...] WHERE [COUNT
// n]", from args[numkeys_index]. `where_words` are the two accepted WHERE words (LEFT/RIGHT,
// MIN/MAX); *second_where says the second was given. Replies Redis's error and returns false.
struct MPopArgs {
  size_t first_key = 0;
  size_t keys_end = 0;  // one past the last key (the WHERE word's index)
  bool second_where = false;
  int64_t count = 1;
};
bool ParseMPopArgs(CommandContext& ctx, size_t numkeys_index, std::string_view first_where,
                   std::string_view second_where, MPopArgs* out);

// The "key [count [WITH...]]" arguments of HRANDFIELD / ZRANDMEMBER, checked in Redis's order:
// the count (in [-2^63+1, 2^63-1]), then the option word, then the halved range a count has
// with the option. Leaves *count alone without a count; replies the error and returns false.
bool ParseRandomCount(CommandContext& ctx, std::string_view with_word, int64_t* count);

// SINTERCARD / ZINTERCARD's "[LIMIT limit]" from args[from] (0: no limit); replies Redis's error
// and returns false.
bool ParseIntersectionLimit(CommandContext& ctx, size_t from, int64_t* limit);

// Replies with the integer, or with the error text the Status carries.
void ReplyIntegerOrError(CommandContext& ctx, const absl::StatusOr<int64_t>& result);

// Whether the script EVAL / EVALSHA runs, or the function FCALL calls, declares no-writes
// (CLIENT PAUSE WRITE lets it through, as Redis does); false when it does not or is unknown.
bool ScriptDeclaresNoWrites(Server& server, const CommandSpec& spec, std::span<const std::string_view> args);

// OBJECT ENCODING's answer for a value (DEBUG OBJECT's encoding too).
std::string_view ObjectEncodingName(const storage::Entry& e);

// Replies with a HELP text: one simple string per line.
void ReplyHelp(CommandContext& ctx, std::span<const std::string_view> lines);
// Closes `target` on its own thread (CLIENT KILL, ACL DELUSER); the calling client after its reply.
// False when a kill of it was already asked for (it is on its way out: not found again).
bool KillClient(CommandContext& ctx, Connection& target);

// The options of SCAN-family commands: [MATCH pattern] [COUNT n] and, for SCAN, [TYPE type].
struct ScanOptions {
  int64_t count = 10;
  std::string_view pattern = "*";
  std::string_view type;  // empty: any type
};
// Parses them from ctx.args[first...]; on bad input replies Redis's error and returns false.
bool ParseScanOptions(CommandContext& ctx, size_t first, bool allow_type, ScanOptions* options);

// A SCAN-family cursor as Redis reads it (strtoul: "-1" is 2^64-1; junk or overflow is false).
bool ParseScanCursor(std::string_view text, uint64_t* cursor);

// HSCAN / SSCAN / ZSCAN after the cursor was parsed and the key read (Redis's order: cursor,
// key, then options): an absent value (`present` false) is an empty page whatever the options;
// otherwise the options are parsed and `walk(cursor, count, add)` visits the value, calling
// add(name, second) per element; names are matched against MATCH, and the page replies
// name, second pairs (or names alone when !with_second) with the next cursor.
using ScanAdd = absl::FunctionRef<void(std::string_view name, std::string_view second)>;
void ReplyElementScan(CommandContext& ctx, bool present, uint64_t cursor, bool with_second,
                      absl::FunctionRef<uint64_t(uint64_t cursor, size_t count, ScanAdd add)> walk);

// Shared parsing helpers for handlers.
bool ParseInteger(std::string_view text, int64_t* value);
// A whole-number timeout (WAIT, CLIENT PAUSE): false after replying Redis's error ("timeout is
// not an integer or out of range", "timeout is negative").
bool ParseTimeout(CommandContext& ctx, std::string_view text, int64_t* timeout);
bool ParseDouble(std::string_view text, long double* value);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace strata::server
