// Server commands: INFO, CONFIG, DBSIZE, FLUSHDB/FLUSHALL, SWAPDB, TIME, COMMAND, SHUTDOWN.
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "storage/glob.h"
#include "storage/spill_codec.h"
#include "server/command.h"
#include "server/connection.h"
#include "server/errors.h"
#include "server/server.h"

namespace strata::server {

namespace {

void Info(CommandContext& ctx) {
  std::vector<std::string> sections(ctx.args.begin() + 1, ctx.args.end());
  ctx.reply.Verbatim(ctx.server.Info(sections));
}

void DbSize(CommandContext& ctx) {
  ctx.reply.Integer(static_cast<int64_t>(ctx.server.keyspace().DbSize(ctx.client.db())));
}

// FLUSHDB/FLUSHALL [ASYNC|SYNC]: memory is released outside the shard locks either way.
bool ParseFlushMode(CommandContext& ctx) {
  if (ctx.args.size() > 2 ||
      (ctx.args.size() == 2 && !EqualsIgnoreCase(ctx.args[1], "async") && !EqualsIgnoreCase(ctx.args[1], "sync"))) {
    ctx.reply.Error(errors::kSyntax);
    return false;
  }
  return true;
}

// The audit log's record of a flush: its mode as given, and the keys it removed.
std::vector<std::pair<std::string, std::string>> FlushDetails(CommandContext& ctx, int db) {
  std::vector<std::pair<std::string, std::string>> details;
  if (db >= 0) details.emplace_back("db", absl::StrCat(db));
  details.emplace_back("mode", AuditLog::Quote(ctx.args.size() == 2 ? absl::AsciiStrToLower(Absl(ctx.args[1])) : "sync"));
  return details;
}

void FlushDb(CommandContext& ctx) {
  if (!ParseFlushMode(ctx)) return;
  const uint64_t keys = ctx.server.keyspace().DbSize(ctx.client.db());
  ctx.server.TouchWatchedBeforeFlush(ctx.client.db());
  ctx.server.keyspace().FlushDb(ctx.client.db());
  ctx.server.audit().Record(ctx.client.AuditIdentity(), "flushdb", FlushDetails(ctx, ctx.client.db()), keys);
  ctx.reply.Ok();
}

void FlushAll(CommandContext& ctx) {
  if (!ParseFlushMode(ctx)) return;
  uint64_t keys = 0;
  for (const storage::DbInfo& db : ctx.server.keyspace().DbInfos()) keys += db.keys;
  ctx.server.TouchWatchedBeforeFlush(-1);
  ctx.server.keyspace().FlushAll();
  ctx.server.audit().Record(ctx.client.AuditIdentity(), "flushall", FlushDetails(ctx, -1), keys);
  ctx.reply.Ok();
}

// `args` as a JSON array of strings.
std::string JsonArray(std::span<const std::string_view> args) {
  std::string out = "[";
  for (size_t i = 0; i < args.size(); ++i) absl::StrAppend(&out, i ? "," : "", AuditLog::Quote(args[i]));
  return out + "]";
}

void SwapDb(CommandContext& ctx) {
  int64_t first, second;
  if (!ParseInteger(ctx.args[1], &first) || first < INT32_MIN || first > INT32_MAX) {
    ctx.reply.Error("ERR invalid first DB index");
    return;
  }
  if (!ParseInteger(ctx.args[2], &second) || second < INT32_MIN || second > INT32_MAX) {
    ctx.reply.Error("ERR invalid second DB index");
    return;
  }
  const int64_t databases = ctx.server.keyspace().databases();
  if (first < 0 || first >= databases || second < 0 || second >= databases) {
    ctx.reply.Error(errors::kDbIndexOutOfRange);
    return;
  }
  if (first != second) {
    ctx.server.TouchWatchedBeforeFlush(static_cast<int>(first), static_cast<int>(second));
    ctx.server.keyspace().SwapDb(static_cast<int>(first), static_cast<int>(second));
    // Clients blocked in either database may now find their keys filled, as in Redis.
    BlockingRegistry& blocking = ctx.server.blocking();
    if (blocking.any()) {
      auto ready = blocking.KeysWaitedIn(static_cast<int>(first));
      auto more = blocking.KeysWaitedIn(static_cast<int>(second));
      ready.insert(ready.end(), more.begin(), more.end());
      blocking.ServeReadyKeys(ctx.server, ctx.client, std::move(ready));
    }
  }
  ctx.reply.Ok();
}

void Time(CommandContext& ctx) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(absl::StrCat(tv.tv_sec));
  ctx.reply.Bulk(absl::StrCat(tv.tv_usec));
}

void Shutdown(CommandContext& ctx) {
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    std::string_view option = ctx.args[i];
    if (EqualsIgnoreCase(option, "abort")) {
      ctx.reply.Error("ERR No shutdown in progress.");
      return;
    }
    if (!EqualsIgnoreCase(option, "nosave") && !EqualsIgnoreCase(option, "save") && !EqualsIgnoreCase(option, "now") &&
        !EqualsIgnoreCase(option, "force")) {
      ctx.reply.Error(errors::kSyntax);
      return;
    }
  }
  // SAVE and NOSAVE decide whether the memory tier is written to the spill (spill-on-shutdown),
  // as they decide whether Redis saves; the last one given wins.
  Server::ShutdownSpill spill_memory = Server::ShutdownSpill::kAsConfigured;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    if (EqualsIgnoreCase(ctx.args[i], "save")) spill_memory = Server::ShutdownSpill::kYes;
    if (EqualsIgnoreCase(ctx.args[i], "nosave")) spill_memory = Server::ShutdownSpill::kNo;
  }
  // As in Redis, a successful SHUTDOWN has no reply: the connection just closes.
  ctx.server.audit().Record(ctx.client.AuditIdentity(), "shutdown", {{"args", JsonArray(ctx.args.subspan(1))}},
                            std::nullopt);
  ctx.server.logger().Warning("User requested shutdown...");
  ctx.client.CloseAfterReply();
  ctx.server.RequestShutdown(spill_memory);
}

void ConfigGet(CommandContext& ctx) {
  std::vector<std::string_view> patterns(ctx.args.begin() + 2, ctx.args.end());
  auto matches = ctx.server.config().Get(patterns);
  ctx.reply.MapHeader(matches.size());
  for (const auto& [name, value] : matches) {
    ctx.reply.Bulk(name);
    ctx.reply.Bulk(value);
  }
}

void ConfigSet(CommandContext& ctx) {
  if (ctx.args.size() % 2 != 0) {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  for (size_t i = 2; i < ctx.args.size(); i += 2) pairs.emplace_back(ctx.args[i], ctx.args[i + 1]);
  // A tls-* change rebuilds the TLS context. If OpenSSL refuses it, every parameter of the call
  // gets back the value it had (all or nothing, as Redis), under one lock so that two such calls
  // on different threads cannot interleave their builds and restores.
  std::string_view tls_name;
  for (const auto& [name, value] : pairs) {
    if (tls_name.empty() && name.size() > 4 && EqualsIgnoreCase(name.substr(0, 4), "tls-") &&
        !EqualsIgnoreCase(name, "tls-port")) {
      tls_name = name;
    }
  }
  const bool reload_tls = !tls_name.empty() && ctx.server.config().tls_port.load() != 0;
  static absl::Mutex tls_reload_mu;
  std::optional<absl::MutexLock> tls_reload_lock;
  std::vector<std::pair<std::string, std::string>> before;
  if (reload_tls) {
    tls_reload_lock.emplace(&tls_reload_mu);
    for (const auto& [name, value] : pairs) {
      for (auto& current : ctx.server.config().Get({name})) before.push_back(std::move(current));
    }
  }
  if (absl::Status s = ctx.server.config().SetAll(pairs); !s.ok()) {
    ctx.reply.Error(absl::StrCat("ERR ", s.message()));
    return;
  }
  if (reload_tls) {
    if (absl::Status s = ctx.server.tls().Configure(ctx.server.config().tls_settings()); !s.ok()) {
      ctx.server.logger().Warning(absl::StrCat("Failed to update TLS configuration: ", s.message()));
      std::vector<std::pair<std::string_view, std::string_view>> restore(before.begin(), before.end());
      ctx.server.config().SetAll(restore).IgnoreError();  // the values it held a moment ago
      ctx.reply.Error(absl::StrCat("ERR CONFIG SET failed (possibly related to argument '", Absl(tls_name),
                                   "') - Unable to update TLS configuration. Check server logs."));
      return;
    }
  }
  ctx.server.ApplyConfig();
  // As Redis: setting requirepass makes it the default user's only password (even the same one).
  for (const auto& [name, value] : pairs) {
    if (EqualsIgnoreCase(name, "requirepass")) ctx.server.acl().SetDefaultPassword(ctx.server.config().requirepass());
  }
  // The values as set, passwords redacted as in the slow log.
  std::vector<std::string_view> shown(ctx.args.begin(), ctx.args.end());
  Connection::RedactSecrets(ctx.spec, &shown);
  std::string params = "{";
  for (size_t i = 2; i + 1 < shown.size(); i += 2) {
    absl::StrAppend(&params, i > 2 ? "," : "", AuditLog::Quote(absl::AsciiStrToLower(Absl(shown[i]))), ":",
                    AuditLog::Quote(shown[i + 1]));
  }
  ctx.server.audit().Record(ctx.client.AuditIdentity(), "config-set", {{"params", params + "}"}}, std::nullopt);
  ctx.reply.Ok();
}

void ConfigRewrite(CommandContext& ctx) {
  // As Redis: the users go into the config file unless an aclfile holds them.
  std::vector<std::string> users;
  if (ctx.server.config().aclfile().empty()) {
    for (absl::string_view line : absl::StrSplit(ctx.server.acl().SaveText(), '\n', absl::SkipEmpty())) {
      users.emplace_back(line);
    }
  }
  if (absl::Status s = ctx.server.config().Rewrite(users); !s.ok()) {
    ctx.reply.Error(absl::StrCat("ERR ", s.message()));
    return;
  }
  ctx.server.logger().Notice("CONFIG REWRITE executed with success.");
  ctx.reply.Ok();
}

void ConfigResetStat(CommandContext& ctx) {
  ctx.server.ResetStats();
  ctx.reply.Ok();
}

void ConfigHelp(CommandContext& ctx) {
  constexpr std::string_view kLines[] = {
      "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GET <pattern>",
      "    Return parameters matching the glob-like <pattern> and their values.",
      "SET <directive> <value>",
      "    Set the configuration <directive> to <value>.",
      "RESETSTAT",
      "    Reset statistics reported by the INFO command.",
      "REWRITE",
      "    Rewrite the configuration file.",
      "HELP",
      "    Print this help.",
  };
  ReplyHelp(ctx, kLines);
}

// {"type": type, "spec": {name: value...}}: the shape of a key spec's begin_search and find_keys.
void ReplyKeySearchStep(protocol::ReplyBuilder& reply, std::string_view type,
                        std::initializer_list<std::pair<std::string_view, int64_t>> fields) {
  reply.MapHeader(2);
  reply.Bulk("type");
  reply.Bulk(type);
  reply.Bulk("spec");
  reply.MapHeader(fields.size());
  for (const auto& [name, value] : fields) {
    reply.Bulk(name);
    reply.Integer(value);
  }
}

// COMMAND INFO's key specs, as Redis 7 describes them.
void ReplyKeySpec(protocol::ReplyBuilder& reply, const KeySpecDoc& spec) {
  reply.MapHeader(3);
  reply.Bulk("flags");
  reply.SetHeader(spec.flags.size());
  for (const std::string& flag : spec.flags) reply.SimpleString(flag);
  reply.Bulk("begin_search");
  if (spec.begin == KeySpecDoc::Begin::kIndex) {
    ReplyKeySearchStep(reply, "index", {{"index", spec.index}});
  } else {
    ReplyKeySearchStep(reply, "unknown", {});
  }
  reply.Bulk("find_keys");
  switch (spec.find) {
    case KeySpecDoc::Find::kRange:
      ReplyKeySearchStep(reply, "range", {{"lastkey", spec.last_key}, {"keystep", spec.key_step}, {"limit", spec.limit}});
      break;
    case KeySpecDoc::Find::kKeyNum:
      ReplyKeySearchStep(reply, "keynum",
                         {{"keynumidx", spec.key_num_index}, {"firstkey", spec.first_key}, {"keystep", spec.key_step}});
      break;
    case KeySpecDoc::Find::kUnknown:
      ReplyKeySearchStep(reply, "unknown", {});
      break;
  }
}

// COMMAND's view of a spec: Redis 7's ten-element description.
void DescribeCommand(CommandContext& ctx, const CommandSpec& spec) {
  const CommandTable::Documentation& docs = ctx.server.commands().docs(spec);
  std::vector<std::string_view> flag_names;
  struct FlagName { uint32_t bit; std::string_view name; };
  // In Redis's order; movablekeys is derived from the key specs, not stored.
  constexpr uint32_t kMovableKeys = 0;
  static constexpr FlagName kFlagNames[] = {
      {flags::kWrite, "write"},          {flags::kReadOnly, "readonly"},
      {flags::kDenyOom, "denyoom"},      {flags::kAdmin, "admin"},
      {flags::kPubSub, "pubsub"},        {flags::kNoScript, "noscript"},
      {flags::kBlocking, "blocking"},    {flags::kLoading, "loading"},
      {flags::kStale, "stale"},          {flags::kSkipSlowlog, "skip_slowlog"},
      {flags::kFast, "fast"},            {flags::kNoAuth, "no_auth"},
      {flags::kNoMandatoryKeys, "no_mandatory_keys"}, {flags::kNoMulti, "no_multi"},
      {kMovableKeys, "movablekeys"},     {flags::kAllowBusy, "allow_busy"},
  };
  for (const FlagName& f : kFlagNames) {
    const bool set = f.bit == kMovableKeys ? docs.legacy_range.movable_keys : (spec.flags & f.bit) != 0;
    if (set) flag_names.push_back(f.name);
  }
  std::vector<std::string> categories;
  const auto category_names = AclCategoryNames();
  for (size_t i = 0; i < category_names.size(); ++i) {
    if (docs.acl_categories & (1u << i)) categories.push_back(absl::StrCat("@", Absl(category_names[i])));
  }
  ctx.reply.ArrayHeader(10);
  ctx.reply.Bulk(spec.name);
  ctx.reply.Integer(spec.arity);
  ctx.reply.SetHeader(flag_names.size());
  for (std::string_view name : flag_names) ctx.reply.SimpleString(name);
  ctx.reply.Integer(docs.legacy_range.first_key);
  ctx.reply.Integer(docs.legacy_range.last_key);
  ctx.reply.Integer(docs.legacy_range.key_step);
  ctx.reply.SetHeader(categories.size());
  for (const std::string& name : categories) ctx.reply.SimpleString(name);
  const std::vector<absl::string_view> tips =
      docs.doc == nullptr ? std::vector<absl::string_view>{} : absl::StrSplit(Absl(docs.doc->tips), ' ', absl::SkipEmpty());
  ctx.reply.SetHeader(tips.size());
  for (absl::string_view tip : tips) ctx.reply.Bulk(Std(tip));
  // RESP3 types as Redis 7.0 sends them: key specs a set; subcommands an array, or an empty set.
  ctx.reply.SetHeader(docs.syntax.key_specs.size());
  for (const KeySpecDoc& key_spec : docs.syntax.key_specs) ReplyKeySpec(ctx.reply, key_spec);
  if (spec.subcommands.empty()) {
    ctx.reply.SetHeader(0);
  } else {
    ctx.reply.ArrayHeader(spec.subcommands.size());
  }
  for (const CommandSpec& sub : spec.subcommands) DescribeCommand(ctx, sub);
}

void Command(CommandContext& ctx) {
  const auto& all = ctx.server.commands().all();
  ctx.reply.ArrayHeader(all.size());
  for (const CommandSpec* spec : all) DescribeCommand(ctx, *spec);
}

void CommandCount(CommandContext& ctx) {
  ctx.reply.Integer(static_cast<int64_t>(ctx.server.commands().all().size()));
}

// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: commands and their
// subcommands, as in Redis; strata has no modules, so MODULE matches nothing.
void CommandList(CommandContext& ctx) {
  const CommandTable& table = ctx.server.commands();
  std::function<bool(const CommandSpec&)> matches = [](const CommandSpec&) { return true; };
  if (ctx.args.size() != 2) {
    if (ctx.args.size() != 5 || !EqualsIgnoreCase(ctx.args[2], "filterby")) {
      ctx.reply.Error(errors::kSyntax);
      return;
    }
    const std::string_view kind = ctx.args[3], value = ctx.args[4];
    if (EqualsIgnoreCase(kind, "module")) {
      matches = [](const CommandSpec&) { return false; };
    } else if (EqualsIgnoreCase(kind, "aclcat")) {
      const uint32_t category = AclCategoryByName(value);
      matches = [&table, category](const CommandSpec& spec) { return (table.acl_categories(spec) & category) != 0; };
    } else if (EqualsIgnoreCase(kind, "pattern")) {
      matches = [value](const CommandSpec& spec) { return storage::GlobMatch(value, spec.name, /*nocase=*/true); };
    } else {
      ctx.reply.Error(errors::kSyntax);
      return;
    }
  }
  std::vector<std::string_view> names;
  for (const CommandSpec* spec : table.all()) {
    if (matches(*spec)) names.push_back(spec->name);
    for (const CommandSpec& sub : spec->subcommands) {
      if (matches(sub)) names.push_back(sub.name);
    }
  }
  ctx.reply.ArrayHeader(names.size());
  for (std::string_view name : names) ctx.reply.Bulk(name);
}

void CommandInfo(CommandContext& ctx) {
  if (ctx.args.size() == 2) {
    Command(ctx);
    return;
  }
  ctx.reply.ArrayHeader(ctx.args.size() - 2);
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    const CommandSpec* spec = ctx.server.commands().FindByFullName(ctx.args[i]);
    if (spec == nullptr) {
      ctx.reply.Null();
    } else {
      DescribeCommand(ctx, *spec);
    }
  }
}

// One argument of COMMAND DOCS, as Redis 7.0 describes it.
void ReplyArgumentDoc(protocol::ReplyBuilder& reply, const ArgumentDoc& arg) {
  std::vector<std::string_view> arg_flags;
  if (arg.optional) arg_flags.push_back("optional");
  if (arg.multiple) arg_flags.push_back("multiple");
  if (arg.multiple_token) arg_flags.push_back("multiple_token");
  // A shard channel has a key spec (for cluster routing) but is documented as the string it is.
  const bool not_key = arg.key_flags.find("not_key") != std::string::npos;
  const bool has_key_spec = arg.key_spec_index >= 0 && !not_key;
  reply.MapHeader(2 + has_key_spec + !arg.token.empty() + !arg_flags.empty() + !arg.arguments.empty());
  reply.Bulk("name");
  reply.Bulk(arg.name);
  reply.Bulk("type");
  reply.Bulk(ArgumentTypeName(not_key ? ArgumentDoc::Type::kString : arg.type));
  if (has_key_spec) {
    reply.Bulk("key_spec_index");
    reply.Integer(arg.key_spec_index);
  }
  if (!arg.token.empty()) {
    reply.Bulk("token");
    reply.Bulk(arg.token);
  }
  if (!arg_flags.empty()) {
    reply.Bulk("flags");
    reply.SetHeader(arg_flags.size());
    for (std::string_view flag : arg_flags) reply.SimpleString(flag);
  }
  if (!arg.arguments.empty()) {
    reply.Bulk("arguments");
    reply.ArrayHeader(arg.arguments.size());
    for (const ArgumentDoc& child : arg.arguments) ReplyArgumentDoc(reply, child);
  }
}

// A command's COMMAND DOCS map: summary, since, group, complexity, arguments, subcommands.
void DocumentCommand(CommandContext& ctx, const CommandSpec& spec) {
  const CommandTable::Documentation& docs = ctx.server.commands().docs(spec);
  const bool has_doc = docs.doc != nullptr;
  const bool has_arguments = !docs.syntax.arguments.empty();
  ctx.reply.MapHeader(2 + has_doc * 2 + has_arguments + !spec.subcommands.empty());
  ctx.reply.Bulk("summary");
  ctx.reply.Bulk(spec.summary);
  if (has_doc) {
    ctx.reply.Bulk("since");
    ctx.reply.Bulk(docs.doc->since);
  }
  ctx.reply.Bulk("group");
  ctx.reply.Bulk(docs.group);
  if (has_doc) {
    ctx.reply.Bulk("complexity");
    ctx.reply.Bulk(docs.doc->complexity);
  }
  if (has_arguments) {
    ctx.reply.Bulk("arguments");
    ctx.reply.ArrayHeader(docs.syntax.arguments.size());
    for (const ArgumentDoc& arg : docs.syntax.arguments) ReplyArgumentDoc(ctx.reply, arg);
  }
  if (!spec.subcommands.empty()) {
    ctx.reply.Bulk("subcommands");
    ctx.reply.MapHeader(spec.subcommands.size());
    for (const CommandSpec& sub : spec.subcommands) {
      ctx.reply.Bulk(sub.name);
      DocumentCommand(ctx, sub);
    }
  }
}

void CommandDocs(CommandContext& ctx) {
  std::vector<const CommandSpec*> specs;
  if (ctx.args.size() == 2) {
    specs = ctx.server.commands().all();
  } else {
    for (size_t i = 2; i < ctx.args.size(); ++i) {
      if (const CommandSpec* spec = ctx.server.commands().FindByFullName(ctx.args[i])) specs.push_back(spec);
    }
  }
  ctx.reply.MapHeader(specs.size());
  for (const CommandSpec* spec : specs) {
    ctx.reply.Bulk(spec->name);
    DocumentCommand(ctx, *spec);
  }
}

void CommandGetKeys(CommandContext& ctx) {
  std::span<const std::string_view> command = ctx.args.subspan(2);
  const CommandSpec* spec = ctx.server.commands().Find(command[0]);
  if (spec == nullptr) {
    ctx.reply.Error("ERR Invalid command specified");
    return;
  }
  const int argc = static_cast<int>(command.size());
  if ((spec->arity > 0 && argc != spec->arity) || (spec->arity < 0 && argc < -spec->arity)) {
    ctx.reply.Error("ERR Invalid number of arguments specified for command");
    return;
  }
  std::vector<size_t> indexes;
  CommandTable::KeyIndexes(*spec, command, &indexes);
  if (indexes.empty()) {
    ctx.reply.Error("ERR The command has no key arguments");
    return;
  }
  ctx.reply.ArrayHeader(indexes.size());
  for (size_t index : indexes) ctx.reply.Bulk(command[index]);
}

void CommandHelp(CommandContext& ctx) {
  constexpr std::string_view kLines[] = {
      "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "(no subcommand)", "    Return details about all commands.",
      "COUNT", "    Return the total number of commands in this server.",
      "LIST", "    Return a list of all commands in this server.",
      "INFO [<command-name> ...]", "    Return details about the given commands, or all of them.",
      "DOCS [<command-name> ...]", "    Return documentation details about the given commands, or all of them.",
      "GETKEYS <full-command>", "    Return the keys from a full command.",
      "HELP", "    Print this help.",
  };
  ReplyHelp(ctx, kLines);
}

constexpr uint32_t kAdminStale = flags::kAdmin | flags::kNoScript | flags::kLoading | flags::kStale;

// WAIT numreplicas timeout: strata has no replicas, so no write is ever acknowledged by one;
// the answer is 0 at once (Redis would wait out the timeout first to say the same).
void Wait(CommandContext& ctx) {
  int64_t replicas, timeout;
  if (!ParseInteger(ctx.args[1], &replicas)) {
    ctx.reply.Error(errors::kNotInteger);
    return;
  }
  if (!ParseTimeout(ctx, ctx.args[2], &timeout)) return;
  ctx.reply.Integer(0);
}

// LASTSAVE: strata writes no snapshot; the answer is INFO's rdb_last_save_time, the start time,
// as Redis answers before its first save.
void LastSave(CommandContext& ctx) { ctx.reply.Integer(ctx.server.start_time_ms() / 1000); }

// SAVE / BGSAVE: a cache without persistence says so rather than pretending to have saved.
void Save(CommandContext& ctx) {
  ctx.reply.Error("ERR strata keeps no snapshot: its data is rebuilt from its sources (spill-dir and "
                  "spill-on-shutdown keep values across restarts)");
}

// DEBUG OBJECT key: Redis's one-line description. serializedlength is the size of the value in
// strata's own serialization (the spill tier's record), as Redis's is the size of its RDB form.
void DebugObject(CommandContext& ctx) {
  const storage::Entry* e = ctx.keys().Peek(ctx.args[2]);
  if (e == nullptr) {
    ctx.reply.Error(errors::kNoSuchKey);
    return;
  }
  const int64_t idle_seconds = static_cast<int64_t>(ctx.server.keyspace().IdleMsOf(*e, ctx.now_ms) / 1000);
  // Redis's LRU clock: seconds, 24 bits.
  const int64_t lru = (ctx.now_ms / 1000 - idle_seconds) & ((1 << 24) - 1);
  ctx.reply.SimpleString(absl::StrFormat("Value at:%p refcount:1 encoding:%s serializedlength:%d lru:%d lru_seconds_idle:%d",
                                         static_cast<const void*>(e), Absl(ObjectEncodingName(*e)),
                                         storage::EncodeSpillRecord(*e).size(), lru, idle_seconds));
}

// DEBUG PROTOCOL type: one reply of each RESP type, as Redis sends them (client libraries test
// their parsers with it).
void DebugProtocol(CommandContext& ctx) {
  const std::string_view type = ctx.args[2];
  protocol::ReplyBuilder& reply = ctx.reply;
  auto small_collection = [&](auto header) {
    header(3);
    for (int i = 0; i < 3; ++i) reply.Integer(i);
  };
  if (EqualsIgnoreCase(type, "string")) {
    reply.Bulk("Hello World");
  } else if (EqualsIgnoreCase(type, "integer")) {
    reply.Integer(12345);
  } else if (EqualsIgnoreCase(type, "double")) {
    reply.Raw(reply.resp3() ? ",3.141\r\n" : "$5\r\n3.141\r\n");
  } else if (EqualsIgnoreCase(type, "bignum")) {
    reply.Raw(reply.resp3() ? "(1234567999999999999999999999999999999\r\n"
                            : "$37\r\n1234567999999999999999999999999999999\r\n");
  } else if (EqualsIgnoreCase(type, "null")) {
    reply.Null();
  } else if (EqualsIgnoreCase(type, "array")) {
    small_collection([&](size_t n) { reply.ArrayHeader(n); });
  } else if (EqualsIgnoreCase(type, "set")) {
    small_collection([&](size_t n) { reply.SetHeader(n); });
  } else if (EqualsIgnoreCase(type, "map")) {
    reply.MapHeader(3);
    for (int i = 0; i < 3; ++i) {
      reply.Integer(i);
      reply.Boolean(i == 1);
    }
  } else if (EqualsIgnoreCase(type, "attrib")) {
    if (reply.resp3()) reply.Raw("|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n");
    reply.Bulk("Some real reply following the attribute");
  } else if (EqualsIgnoreCase(type, "push")) {
    if (!reply.resp3()) {
      reply.Error("ERR RESP2 is not supported by this command");
      return;
    }
    reply.PushHeader(2);
    reply.Bulk("server-cpu-usage");
    reply.Integer(42);
    reply.Bulk("Some real reply following the push reply");
  } else if (EqualsIgnoreCase(type, "verbatim")) {
    reply.Verbatim("This is a verbatim\nstring");
  } else if (EqualsIgnoreCase(type, "true") || EqualsIgnoreCase(type, "false")) {
    reply.Boolean(EqualsIgnoreCase(type, "true"));
  } else {
    reply.Error("ERR Wrong protocol type name. Please use one of the following: "
                "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false");
  }
}

// DEBUG OBJECT's key, for the dispatcher to lock; DEBUG's other forms name none.
void DebugKeys(std::span<const std::string_view> args, std::vector<size_t>* out) {
  if (args.size() == 3 && EqualsIgnoreCase(args[1], "object")) out->push_back(2);
}

// DEBUG: the subset strata answers (HELP lists it). As Redis parses them: numbers leniently
// (what does not parse reads as 0), and a wrong subcommand or argument count gets the one
// error. Redis's subcommands that crash, reload or rewrite the dataset on purpose (SEGFAULT,
// PANIC, RELOAD, LOADAOF, RESTART...) are unknown here: no command may stop the server but
// SHUTDOWN.
void Debug(CommandContext& ctx) {
  const std::string_view sub = ctx.args[1];
  auto lenient = [](std::string_view text) {
    double value = 0;
    return absl::SimpleAtod(Absl(text), &value) && value > 0 ? value : 0.0;
  };
  if (EqualsIgnoreCase(sub, "sleep") && ctx.args.size() == 3) {
    // As Redis: the server (here, this client's I/O thread) does nothing else meanwhile.
    const double seconds = std::min(lenient(ctx.args[2]), 3600.0);
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6)));
    ctx.reply.Ok();
  } else if (EqualsIgnoreCase(sub, "set-active-expire") && ctx.args.size() == 3) {
    ctx.server.set_active_expire(lenient(ctx.args[2]) >= 1);
    ctx.reply.Ok();
  } else if (EqualsIgnoreCase(sub, "object") && ctx.args.size() == 3) {
    DebugObject(ctx);
  } else if (EqualsIgnoreCase(sub, "protocol") && ctx.args.size() == 3) {
    DebugProtocol(ctx);
  } else if (EqualsIgnoreCase(sub, "help") && ctx.args.size() == 2) {
    constexpr std::string_view kLines[] = {
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "OBJECT <key>",
        "    Show low level info about the <key> and associated value.",
        "PROTOCOL <type>",
        "    Reply with a test value of the specified type. <type> can be: string,",
        "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
        "    true, false.",
        "SLEEP <seconds>",
        "    Stop the server (this client's I/O thread) for <seconds>. Decimals allowed.",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    Setting it to 0 disables expiring keys in the background when they are not accessed (otherwise the Redis behavior). Setting it to 1 reenables back the default.",
        "HELP",
        "    Prints this help.",
        "(strata answers this subset of Redis's DEBUG; the rest read as unknown subcommands.)",
    };
    ReplyHelp(ctx, kLines);
  } else {
    ctx.reply.Error(errors::SubcommandSyntax(sub, "DEBUG"));
  }
}

constexpr CommandSpec kConfigSubcommands[] = {
    {"config|get", -3, kAdminStale, 0, 0, 0, ConfigGet, {}, "Get the values of configuration parameters"},
    {"config|set", -4, kAdminStale, 0, 0, 0, ConfigSet, {}, "Set configuration parameters to the given values"},
    {"config|rewrite", 2, kAdminStale, 0, 0, 0, ConfigRewrite, {}, "Overwrite the configuration file"},
    {"config|resetstat", 2, kAdminStale | flags::kKeyspace, 0, 0, 0, ConfigResetStat, {}, "Reset the stats returned by INFO"},
    {"config|help", 2, flags::kLoading | flags::kStale, 0, 0, 0, ConfigHelp, {}, "Show helpful text about subcommands"},
};

constexpr CommandSpec kCommandSubcommands[] = {
    {"command|count", 2, flags::kLoading | flags::kStale, 0, 0, 0, CommandCount, {}, "Get total number of commands"},
    {"command|list", -2, flags::kLoading | flags::kStale, 0, 0, 0, CommandList, {}, "Get an array of command names"},
    {"command|info", -2, flags::kLoading | flags::kStale, 0, 0, 0, CommandInfo, {}, "Get details about commands"},
    {"command|docs", -2, flags::kLoading | flags::kStale, 0, 0, 0, CommandDocs, {}, "Get documentary information"},
    {"command|getkeys", -4, flags::kLoading | flags::kStale, 0, 0, 0, CommandGetKeys, {}, "Extract keys from a command"},
    {"command|help", 2, flags::kLoading | flags::kStale, 0, 0, 0, CommandHelp, {}, "Show helpful text"},
};

constexpr CommandSpec kServerCommands[] = {
    {"info", -1, flags::kLoading | flags::kStale | flags::kKeyspace, 0, 0, 0, Info, {}, "Get information and statistics about the server"},
    {"dbsize", 1, flags::kReadOnly | flags::kFast | flags::kKeyspace, 0, 0, 0, DbSize, {}, "Return the number of keys in the selected database"},
    {"flushdb", -1, flags::kWrite | flags::kKeyspace, 0, 0, 0, FlushDb, {}, "Remove all keys from the current database"},
    {"flushall", -1, flags::kWrite | flags::kKeyspace, 0, 0, 0, FlushAll, {}, "Remove all keys from all databases"},
    {"swapdb", 3, flags::kWrite | flags::kFast | flags::kKeyspace, 0, 0, 0, SwapDb, {}, "Swaps two Redis databases"},
    {"time", 1, flags::kLoading | flags::kStale | flags::kFast, 0, 0, 0, Time, {}, "Return the current server time"},
    {"shutdown", -1, kAdminStale | flags::kAllowBusy | flags::kNoMulti, 0, 0, 0, Shutdown, {}, "Stop the server"},
    {"wait", 3, flags::kNoScript, 0, 0, 0, Wait, {}, "Wait for the synchronous replication of all the write commands sent in the context of the current connection"},
    {"lastsave", 1, flags::kLoading | flags::kStale | flags::kFast, 0, 0, 0, LastSave, {}, "Get the UNIX time stamp of the last successful save to disk"},
    {"save", 1, flags::kAdmin | flags::kNoScript | flags::kNoMulti, 0, 0, 0, Save, {}, "Synchronously save the dataset to disk"},
    {"bgsave", -1, flags::kAdmin | flags::kNoScript, 0, 0, 0, Save, {}, "Asynchronously save the dataset to disk"},
    {"debug", -2, kAdminStale | flags::kProtected, 2, 2, 1, Debug, {}, "A container for debugging commands", DebugKeys},
    {"config", -2, 0, 0, 0, 0, nullptr, kConfigSubcommands, "A container for server configuration commands"},
    {"command", -1, flags::kLoading | flags::kStale, 0, 0, 0, Command, kCommandSubcommands, "Get array of command details"},
};

}  // namespace

std::span<const CommandSpec> ServerCommands() { return kServerCommands; }

}  // namespace strata::server
