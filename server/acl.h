// Acl: users, their rules, and the check every command passes (Redis 7.0's ACL, DESIGN 4a).
//
// A user is a name, on/off, passwords (stored as SHA-256 hex, never in clear) or nopass, and one
// or more selectors: the root selector (the rules given outside parentheses) and any "(...)"
// selectors. A selector allows a set of commands (a bitmap over CommandSpec::id, changed by
// +cmd -cmd +@category -@category +cmd|sub, and +cmd|first-arg for SELECT-like commands), key
// patterns (~p read and write, %R~p read, %W~p write) and channel patterns (&p). A command runs
// when one selector allows the command, every key it names for the access it makes, and every
// channel it names. Rules are applied as Redis applies them, in order, all or nothing.
//
// Users are immutable snapshots: ACL SETUSER builds a new AclUser and swaps it in, and bumps a
// generation counter. A connection keeps its user's snapshot and compares the generation before
// each command (one load), so a change reaches live connections at their next command,
// as Redis applies it. A user that allows every command, key and channel (the default user,
// unless changed) is `unrestricted`: the command path skips the check for it.
//
// Contract: any thread may read (Find, Check, Authenticate); changes (SetUser, DeleteUser,
// Load...) and the log are under the Acl's own mutex.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/command.h"
#include "storage/key_families.h"

namespace strata::server {

struct KeySpecDoc;

// What a key pattern allows, and what a command does with a key.
inline constexpr uint8_t kAclKeyRead = 1;
inline constexpr uint8_t kAclKeyWrite = 2;

struct AclSelector {
  bool all_keys = false;
  bool all_channels = false;
  bool all_commands = false;     // every bit set and nothing taken away since (a fast path)
  bool future_commands = false;  // +@all was the base: Redis's reserved bit, "+@all" in descriptions
  std::vector<uint64_t> allowed;  // bit per CommandSpec::id
  // +cmd|arg on a command whose bit is clear: the first arguments it may run with.
  absl::flat_hash_map<uint16_t, std::vector<std::string>> first_args;
  struct KeyPattern {
    std::string pattern;
    uint8_t access;  // kAclKeyRead | kAclKeyWrite
    // The pattern is a literal prefix and one trailing '*' ("user:*"): a memcmp, not a glob.
    bool prefix_only = false;
    bool Matches(std::string_view key) const;
  };
  std::vector<KeyPattern> key_patterns;
  std::vector<std::string> channel_patterns;
  // key_patterns compiled for the check (Acl::Finish): [access a key use needs] -> the patterns
  // that grant it, as a first-match classifier (storage::KeyFamilies: a table by first byte, a
  // word compare per prefix pattern); null beyond KeyFamilies::kMaxFamilies patterns.
  std::array<std::shared_ptr<const storage::KeyFamilies>, 4> key_matchers;
  bool KeyAllowed(std::string_view key, uint8_t access) const {
    if (const storage::KeyFamilies* matcher = key_matchers[access].get()) [[likely]] return matcher->Classify(key) >= 0;
    return KeyAllowedByScan(key, access);
  }
  bool KeyAllowedByScan(std::string_view key, uint8_t access) const;

  bool Allows(uint16_t id) const { return (allowed[id / 64] >> (id % 64)) & 1; }
};

struct AclUser {
  std::string name;
  uint64_t incarnation = 0;  // new for each user created: a deleted and re-created name differs
  bool enabled = false;
  bool nopass = false;
  // RESTORE's payload checks (no RESTORE here; kept so rules and descriptions round-trip).
  enum Sanitize : uint8_t { kSanitizeUnset, kSkipSanitize, kSanitize };
  Sanitize sanitize_payload = kSanitizeUnset;
  std::vector<std::string> password_hashes;  // SHA-256, lowercase hex
  std::vector<AclSelector> selectors;        // [0]: the root selector
  bool unrestricted = false;                 // some selector allows everything: no check needed
  // A user of one selector, per command id, as Acl::QuickAllows reads it (built by Acl::Finish):
  // "ask Check", allowed whatever the arguments, or allowed if its one key, the first argument,
  // is allowed for the access kQuickIfFirstKey + access. Empty for a user of several selectors.
  enum Quick : uint8_t { kQuickAsk, kQuickAllowed, kQuickIfFirstKey };
  std::vector<uint8_t> quick;
};

// Why a command was refused, and the argument that was (a key or channel).
struct AclDenial {
  enum Reason { kNone, kCommand, kKey, kChannel, kAuth };
  Reason reason = kNone;
  size_t arg_index = 0;
};

class Acl {
 public:
  explicit Acl(const CommandTable& commands);

  // The user's current snapshot; nullptr when there is none of that name.
  std::shared_ptr<const AclUser> Find(std::string_view name) const;
  std::shared_ptr<const AclUser> default_user() const { return Find("default"); }
  // Bumped by every change of users; connections refresh their snapshot when it moves.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // ACL SETUSER: applies `rules` (selectors may span arguments, as Redis merges them) to the user
  // (created off, with no rights, if new), all or nothing. Errors in Redis's words.
  absl::Status SetUser(std::string_view name, std::span<const std::string_view> rules);
  // ACL DELUSER: how many of the names existed (and are gone). "default" may not be deleted.
  absl::StatusOr<int> DeleteUsers(std::span<const std::string_view> names);
  // The users, ordered by name.
  std::vector<std::shared_ptr<const AclUser>> Users() const;
  // requirepass: the default user's only password (empty: nopass).
  void SetDefaultPassword(std::string_view password);
  // The default user takes no password (protected mode then refuses remote clients, as Redis).
  bool default_user_nopass() const { return default_nopass_.load(std::memory_order_relaxed); }

  // AUTH / HELLO AUTH: the user when `password` opens it (on, and nopass or a matching hash).
  std::shared_ptr<const AclUser> Authenticate(std::string_view name, std::string_view password) const;

  // The check: kNone when `user` may run `spec` with `args` (args[0] the command name).
  AclDenial Check(const AclUser& user, const CommandSpec& spec, std::span<const std::string_view> args) const;
  // Whether a selector that allows the command also allows every key for `access` (allkeys, or
  // a pattern "*"): SORT's BY and GET name keys no key spec finds, and Redis allows them only then.
  bool AllowsEveryKey(const AclUser& user, const CommandSpec& spec, std::span<const std::string_view> args,
                      uint8_t access) const;
  // The command path's first try, inline: true when the user's one selector allows the command
  // by its bit and its one key at a fixed place (GET, SET, HSET...) for any access. False says
  // nothing: Check decides (and words the refusal).
  bool QuickAllows(const AclUser& user, const CommandSpec& spec, std::span<const std::string_view> args) const {
    if (user.quick.empty()) return false;
    const uint8_t quick = user.quick[spec.id];
    if (quick == AclUser::kQuickAllowed) return true;
    if (quick < AclUser::kQuickIfFirstKey || args.size() < 2) return false;
    return user.selectors[0].KeyAllowed(args[1], quick - AclUser::kQuickIfFirstKey);
  }

  // ACL LIST's line after "user NAME ", and GETUSER's parts of a selector.
  std::string Describe(const AclUser& user) const;
  std::string DescribeCommands(const AclSelector& selector) const;
  static std::string DescribeKeys(const AclSelector& selector);
  static std::string DescribeChannels(const AclSelector& selector);

  // A user as a line of an ACL file or a `user` directive gives it: its name, then its rules;
  // `where` ("file:line") prefixes its errors.
  struct UserDefinition {
    std::vector<std::string> words;
    std::string where;
    size_t line = 0;
  };
  // An ACL file's users; a line that is not "user NAME ..." is an error, in Redis's words.
  static absl::Status ParseFile(std::string_view text, std::string_view path, std::vector<UserDefinition>* out);
  // The users defined, all or nothing (errors in Redis's words, and nothing changed):
  // `replace_all` (ACL LOAD, aclfile) makes them the only users, with a default user as Redis
  // makes it unless one is defined; otherwise (`user` directives) they are added or replace
  // their namesakes.
  absl::Status LoadUsers(const std::vector<UserDefinition>& definitions, bool replace_all);
  // ACL SAVE's text: one "user NAME ..." line per user.
  std::string SaveText() const;

  static std::string HashPassword(std::string_view password);

  // A command's keys as the check reads them: argument index and the access made.
  struct KeyUse {
    uint32_t index;
    uint8_t access;
  };
  using KeyUses = absl::InlinedVector<KeyUse, 8>;
  // The keys of `args` as the check reads them (the keys the command locks), each with the access
  // the command makes, from its key specs as Redis reads them (COMMAND GETKEYSANDFLAGS's answer).
  void KeysOf(const CommandSpec& spec, std::span<const std::string_view> args, KeyUses* out) const;


 private:
  absl::Status ApplyUserRule(AclUser& user, std::string_view rule) const;
  absl::Status ApplySelectorRule(AclSelector& selector, std::string_view rule) const;
  void SetCommand(AclSelector& selector, const CommandSpec& spec, bool allow) const;
  void SetCategory(AclSelector& selector, uint32_t category, bool allow) const;
  AclSelector NewSelector() const;
  AclUser NewUser(std::string_view name) const;
  // Compiles what the check reads fast (unrestricted, key matchers, quick), after any change.
  void Finish(AclUser& user) const;
  AclDenial CheckSelector(const AclSelector& selector, const CommandSpec& spec,
                          std::span<const std::string_view> args, KeyUses* keys, bool* keys_found) const;
  void Publish(std::shared_ptr<const AclUser> user) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const CommandTable& commands_;
  size_t words_ = 0;  // bitmap words per selector
  // Per command id: how it names channels (0 none, 1 PUBLISH-like first arg, 2 every argument a
  // channel, 3 every argument a pattern, compared literally).
  std::vector<uint8_t> channel_mode_;
  // Per command id: a command whose key's access depends on its arguments (SET ... GET, BITFIELD).
  static constexpr uint8_t kVariableSet = 1, kVariableBitfield = 2;
  std::vector<uint8_t> variable_flags_;
  // Per command id: the command names keys (its key specs name some that are not "not_key",
  // or the dispatcher locks some), as Redis's doesCommandHaveKeys.
  std::vector<bool> has_keys_;
  // Per command id: the access of a key no simple key spec locates (see KeysOf).
  std::vector<uint8_t> unlocated_access_;
  // Per command id: the one key of a command with one key at a fixed place (GET, SET, HSET...)
  // and the access it makes, so the check reads it directly; index 0 when the command is not so.
  struct SingleKey {
    uint16_t index = 0;
    uint8_t access = 0;
    // SET and BITFIELD: the access depends on the arguments; QuickAllows asks for this much more
    // (a key allowed for reads and writes is allowed for either), Check reads the arguments.
    uint8_t may_add = 0;
  };
  std::vector<SingleKey> single_key_;
  // Per command id: its key specs with the access each makes, read once from the docs.
  struct KeySpecAccess {
    const KeySpecDoc* spec;
    uint8_t access;
  };
  std::vector<std::vector<KeySpecAccess>> key_specs_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const AclUser>> users_ ABSL_GUARDED_BY(mu_);
  uint64_t next_incarnation_ ABSL_GUARDED_BY(mu_) = 1;
  std::atomic<uint64_t> generation_{1};
  std::atomic<bool> default_nopass_{true};
};

// ACL LOAD and the `aclfile` directive: the users of the file at `path`, all or nothing.
absl::Status LoadAclFile(Acl& acl, const std::string& path);

// The ACL log (ACL LOG): denied commands, keys, channels and authentications, recent first,
// alike events within a minute counted in one entry, as Redis groups them.
class AclLog {
 public:
  struct Entry {
    uint64_t count = 1;
    AclDenial::Reason reason = AclDenial::kNone;
    std::string context;  // toplevel | multi | lua
    std::string object;   // command name, key, channel, or AUTH's argv[0]
    std::string username;
    int64_t time_ms = 0;
    std::string client_info;
  };
  void Add(Entry entry, size_t max_len);
  std::vector<Entry> Recent(size_t count) const;
  void Reset();

 private:
  mutable absl::Mutex mu_;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);  // [0] most recent
};

}  // namespace strata::server
