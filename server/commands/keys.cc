// Generic key commands (Redis's db.c and expire.c): existence, type, renaming and copying,
// expiry, and iteration.
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/command.h"
#include "server/connection.h"
#include "server/errors.h"
#include "server/server.h"
#include "storage/entry.h"
#include "storage/glob.h"
#include "storage/hash.h"
#include "storage/keyspace_events.h"
#include "storage/set.h"
#include "storage/zset.h"
#include "storage/strings.h"
#include "storage/typed_values.h"

namespace strata::server {

namespace {

using storage::Entry;
namespace notify = storage::notify;

// Lookup that counts a hit or miss but does not refresh the access clock (Redis's
// LOOKUP_NOTOUCH), as EXISTS, TYPE and TTL do.
Entry* FindNoTouch(CommandContext& ctx, std::string_view key) {
  return ctx.keys().Find(ctx.keys().db(), key, true, false);
}

// OBJECT's lookup: FindNoTouch without a "keymiss" event (Redis's LOOKUP_NONOTIFY).
Entry* FindForObject(CommandContext& ctx, std::string_view key) {
  return ctx.keys().Find(ctx.keys().db(), key, true, false, /*notify_miss=*/false);
}

void DelGeneric(CommandContext& ctx) {
  int64_t deleted = 0;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    if (!ctx.keys().Delete(ctx.args[i])) continue;  // a key named twice is deleted (and told) once
    ctx.keys().Notify(notify::kGeneric, "del", ctx.args[i]);
    ++deleted;
  }
  ctx.reply.Integer(deleted);
}

void Exists(CommandContext& ctx) {
  int64_t count = 0;
  for (size_t i = 1; i < ctx.args.size(); ++i) count += FindNoTouch(ctx, ctx.args[i]) != nullptr ? 1 : 0;
  ctx.reply.Integer(count);
}

void Touch(CommandContext& ctx) {
  int64_t count = 0;
  for (size_t i = 1; i < ctx.args.size(); ++i) count += ctx.keys().FindForRead(ctx.args[i]) != nullptr ? 1 : 0;
  ctx.reply.Integer(count);
}

void Type(CommandContext& ctx) {
  Entry* e = FindNoTouch(ctx, ctx.args[1]);
  ctx.reply.SimpleString(e == nullptr ? "none" : storage::TypeName(e->type()));
}

void RenameGeneric(CommandContext& ctx, bool only_if_absent) {
  storage::Transaction& txn = ctx.keys();
  std::string_view from = ctx.args[1], to = ctx.args[2];
  Entry* source = txn.FindForWrite(from);
  if (source == nullptr) {
    ctx.reply.Error(errors::kNoSuchKey);
    return;
  }
  if (from == to) {
    if (only_if_absent) {
      ctx.reply.Integer(0);
    } else {
      ctx.reply.Ok();
    }
    return;
  }
  if (only_if_absent && txn.FindForWrite(to) != nullptr) {
    ctx.reply.Integer(0);
    return;
  }
  txn.Rename(from, to);
  txn.Notify(notify::kGeneric, "rename_from", from);
  txn.Notify(notify::kGeneric, "rename_to", to);
  if (only_if_absent) {
    ctx.reply.Integer(1);
  } else {
    ctx.reply.Ok();
  }
}
void Rename(CommandContext& ctx) { RenameGeneric(ctx, false); }
void RenameNx(CommandContext& ctx) { RenameGeneric(ctx, true); }

// Parses a database index argument: not an integer and out of range are different errors.
bool ParseDbIndex(CommandContext& ctx, std::string_view arg, int* db) {
  int64_t value;
  if (!ParseInteger(arg, &value)) {
    ctx.reply.Error(errors::kNotInteger);
    return false;
  }
  if (value < INT_MIN || value > INT_MAX) {
    ctx.reply.Error(errors::kNotInt32);
    return false;
  }
  if (value < 0 || value >= ctx.server.keyspace().databases()) {
    ctx.reply.Error(errors::kDbIndexOutOfRange);
    return false;
  }
  *db = static_cast<int>(value);
  return true;
}

void Copy(CommandContext& ctx) {
  storage::Transaction& txn = ctx.keys();
  int target_db = txn.db();
  bool replace = false;
  for (size_t j = 3; j < ctx.args.size(); ++j) {
    if (EqualsIgnoreCase(ctx.args[j], "replace")) {
      replace = true;
    } else if (EqualsIgnoreCase(ctx.args[j], "db") && j + 1 < ctx.args.size()) {
      if (!ParseDbIndex(ctx, ctx.args[j + 1], &target_db)) return;
      ++j;
    } else {
      ctx.reply.Error(errors::kSyntax);
      return;
    }
  }
  std::string_view from = ctx.args[1], to = ctx.args[2];
  if (target_db == txn.db() && from == to) {
    ctx.reply.Error(errors::kSameObject);
    return;
  }
  Entry* source = txn.FindForRead(from);  // a read in Redis: a missing source is a "keymiss"
  if (source == nullptr) {
    ctx.reply.Integer(0);
    return;
  }
  if (txn.Find(target_db, to, false, false) != nullptr) {
    if (!replace) {
      ctx.reply.Integer(0);
      return;
    }
    // Redis deletes the old destination and adds the copy, so the copy is a "new" key.
    txn.Delete(target_db, to);
  }
  txn.Store(target_db, Entry::Clone(*source, to));
  txn.Notify(notify::kGeneric, "copy_to", target_db, to);
  ctx.reply.Integer(1);
}

void Move(CommandContext& ctx) {
  storage::Transaction& txn = ctx.keys();
  int target_db;
  if (!ParseDbIndex(ctx, ctx.args[2], &target_db)) return;
  if (target_db == txn.db()) {
    ctx.reply.Error(errors::kSameObject);
    return;
  }
  std::string_view key = ctx.args[1];
  if (txn.FindForWrite(key) == nullptr || txn.Find(target_db, key, false, false) != nullptr) {
    ctx.reply.Integer(0);
    return;
  }
  txn.Store(target_db, txn.Detach(txn.db(), key));
  txn.Notify(notify::kGeneric, "move_from", key);
  txn.Notify(notify::kGeneric, "move_to", target_db, key);
  ctx.reply.Integer(1);
}

// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (Redis's expireGenericCommand). `relative`: the
// argument counts from now; `seconds`: its unit.
void ExpireGeneric(CommandContext& ctx, bool relative, bool seconds) {
  enum : int { kNx = 1, kXx = 2, kGt = 4, kLt = 8 };
  int conditions = 0;
  for (size_t j = 3; j < ctx.args.size(); ++j) {
    std::string_view opt = ctx.args[j];
    if (EqualsIgnoreCase(opt, "nx")) {
      conditions |= kNx;
    } else if (EqualsIgnoreCase(opt, "xx")) {
      conditions |= kXx;
    } else if (EqualsIgnoreCase(opt, "gt")) {
      conditions |= kGt;
    } else if (EqualsIgnoreCase(opt, "lt")) {
      conditions |= kLt;
    } else {
      ctx.reply.Error(errors::UnsupportedOption(opt));
      return;
    }
  }
  if ((conditions & kNx) && (conditions & (kXx | kGt | kLt))) {
    ctx.reply.Error(errors::kExpireNxIncompatible);
    return;
  }
  if ((conditions & kGt) && (conditions & kLt)) {
    ctx.reply.Error(errors::kExpireGtLtIncompatible);
    return;
  }
  int64_t when;
  if (!ParseInteger(ctx.args[2], &when)) {
    ctx.reply.Error(errors::kNotInteger);
    return;
  }
  if (seconds) {
    if (when > INT64_MAX / 1000 || when < INT64_MIN / 1000) {
      ctx.reply.Error(errors::InvalidExpireTime(ctx.spec.name));
      return;
    }
    when *= 1000;
  }
  if (relative) {
    if (when > INT64_MAX - ctx.now_ms) {
      ctx.reply.Error(errors::InvalidExpireTime(ctx.spec.name));
      return;
    }
    when += ctx.now_ms;
  }
  storage::Transaction& txn = ctx.keys();
  Entry* e = txn.FindForWrite(ctx.args[1]);
  if (e == nullptr) {
    ctx.reply.Integer(0);
    return;
  }
  const int64_t current = e->expire_at_ms();  // kNoExpiry (-1): never expires
  const bool refused = ((conditions & kNx) && current != Entry::kNoExpiry) ||
                       ((conditions & kXx) && current == Entry::kNoExpiry) ||
                       ((conditions & kGt) && (current == Entry::kNoExpiry || when <= current)) ||
                       ((conditions & kLt) && current != Entry::kNoExpiry && when >= current);
  if (refused) {
    ctx.reply.Integer(0);
    return;
  }
  if (when <= ctx.now_ms) {
    txn.Delete(ctx.args[1]);  // a time already past deletes the key: a "del", not an "expire"
    txn.Notify(notify::kGeneric, "del", ctx.args[1]);
  } else {
    txn.SetExpiry(e, when);
    txn.Notify(notify::kGeneric, "expire", ctx.args[1]);
  }
  ctx.reply.Integer(1);
}
void Expire(CommandContext& ctx) { ExpireGeneric(ctx, true, true); }
void PExpire(CommandContext& ctx) { ExpireGeneric(ctx, true, false); }
void ExpireAt(CommandContext& ctx) { ExpireGeneric(ctx, false, true); }
void PExpireAt(CommandContext& ctx) { ExpireGeneric(ctx, false, false); }

// TTL, PTTL, EXPIRETIME, PEXPIRETIME (Redis's ttlGenericCommand).
void TtlGeneric(CommandContext& ctx, bool millis, bool absolute) {
  Entry* e = FindNoTouch(ctx, ctx.args[1]);
  if (e == nullptr) {
    ctx.reply.Integer(-2);
    return;
  }
  if (!e->has_expiry()) {
    ctx.reply.Integer(-1);
    return;
  }
  int64_t ttl = absolute ? e->expire_at_ms() : e->expire_at_ms() - ctx.now_ms;
  if (ttl < 0) ttl = 0;
  ctx.reply.Integer(millis ? ttl : (ttl + 500) / 1000);
}
void Ttl(CommandContext& ctx) { TtlGeneric(ctx, false, false); }
void PTtl(CommandContext& ctx) { TtlGeneric(ctx, true, false); }
void ExpireTime(CommandContext& ctx) { TtlGeneric(ctx, false, true); }
void PExpireTime(CommandContext& ctx) { TtlGeneric(ctx, true, true); }

void Persist(CommandContext& ctx) {
  Entry* e = ctx.keys().FindForWrite(ctx.args[1]);
  if (e == nullptr || !e->has_expiry()) {
    ctx.reply.Integer(0);
    return;
  }
  ctx.keys().SetExpiry(e, Entry::kNoExpiry);
  ctx.keys().Notify(notify::kGeneric, "persist", ctx.args[1]);
  ctx.reply.Integer(1);
}

void Keys(CommandContext& ctx) {
  std::string_view pattern = ctx.args[1];
  const bool all = pattern == "*";
  std::vector<std::string> matched;
  ctx.server.keyspace().ForEachKey(ctx.client.db(), ctx.now_ms, [&](std::string_view key) {
    if (all || storage::GlobMatch(pattern, key)) matched.emplace_back(key);
  });
  ctx.reply.ArrayHeader(matched.size());
  for (const std::string& key : matched) ctx.reply.Bulk(key);
}

void Scan(CommandContext& ctx) {
  uint64_t cursor;
  if (!ParseScanCursor(ctx.args[1], &cursor)) {
    ctx.reply.Error(errors::kInvalidCursor);
    return;
  }
  ScanOptions options;
  if (!ParseScanOptions(ctx, 2, /*allow_type=*/true, &options)) return;
  const bool has_pattern = options.pattern != "*";
  storage::ScanResult result = ctx.server.keyspace().Scan(
      ctx.client.db(), cursor, static_cast<size_t>(options.count), ctx.now_ms,
      [&](std::string_view key, storage::ValueType type) {
        if (!options.type.empty() && !EqualsIgnoreCase(storage::TypeName(type), options.type)) return false;
        return !has_pattern || storage::GlobMatch(options.pattern, key);
      });
  ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(absl::StrCat(result.next_cursor));
  ctx.reply.ArrayHeader(result.keys.size());
  for (const std::string& key : result.keys) ctx.reply.Bulk(key);
}

void RandomKey(CommandContext& ctx) {
  std::string key;
  if (ctx.server.keyspace().RandomKey(ctx.client.db(), ctx.now_ms, &key)) {
    ctx.reply.Bulk(key);
  } else {
    ctx.reply.Null();
  }
}

// What the keys' access fields hold now (Redis answers by the configured policy too).
storage::AccessTracking Tracking(CommandContext& ctx) { return ctx.server.keyspace().access_tracking(); }

void ObjectEncoding(CommandContext& ctx) {
  Entry* e = FindForObject(ctx, ctx.args[2]);
  if (e == nullptr) {
    ctx.reply.Null();
    return;
  }
  ctx.reply.Bulk(ObjectEncodingName(*e));
}

void ObjectRefcount(CommandContext& ctx) {
  Entry* e = FindForObject(ctx, ctx.args[2]);
  if (e == nullptr) {
    ctx.reply.Null();
    return;
  }
  // Values are never shared between keys here; Redis shares small integers (refcount INT_MAX),
  // which clients only ever see as "more than one".
  ctx.reply.Integer(1);
}

void ObjectIdletime(CommandContext& ctx) {
  Entry* e = FindForObject(ctx, ctx.args[2]);
  if (e == nullptr) {
    ctx.reply.Null();
    return;
  }
  if (Tracking(ctx) == storage::AccessTracking::kLfu) {
    ctx.reply.Error(errors::kLfuSelected);
    return;
  }
  ctx.reply.Integer(static_cast<int64_t>(ctx.server.keyspace().IdleMsOf(*e, ctx.now_ms) / 1000));
}

void ObjectFreq(CommandContext& ctx) {
  Entry* e = FindForObject(ctx, ctx.args[2]);
  if (e == nullptr) {
    ctx.reply.Null();
    return;
  }
  // Tracked under the LFU policies (Redis's counter) and allkeys-tinylfu (the sketch's estimate).
  if (Tracking(ctx) == storage::AccessTracking::kRecency) {
    ctx.reply.Error(errors::kLfuNotSelected);
    return;
  }
  ctx.reply.Integer(ctx.keys().AccessFrequency(*e));
}

void ObjectHelp(CommandContext& ctx) {
  constexpr std::string_view kLines[] = {
      "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "ENCODING <key>",
      "    Return the kind of internal representation used in order to store the value",
      "    associated with a <key>.",
      "FREQ <key>",
      "    Return the access frequency index of the <key>. The returned integer is",
      "    proportional to the logarithm of the recent access frequency of the key.",
      "IDLETIME <key>",
      "    Return the idle time of the <key>, that is the approximated number of",
      "    seconds elapsed since the last access to the key.",
      "REFCOUNT <key>",
      "    Return the number of references of the value associated with the specified",
      "    <key>.",
      "HELP",
      "    Print this help.",
  };
  ReplyHelp(ctx, kLines);
}

constexpr uint32_t kKeyRead = flags::kReadOnly | flags::kFast;

// MEMORY USAGE key [SAMPLES n]: the bytes the allocator holds for the key (its entry, its value's
// blocks) and its share of the table's bucket array. Strata's figure, not Redis's estimate: the
// two servers lay keys out differently. SAMPLES is accepted (the figure is exact, not sampled).
void MemoryUsage(CommandContext& ctx) {
  for (size_t i = 3; i < ctx.args.size(); i += 2) {
    int64_t samples;
    if (!EqualsIgnoreCase(ctx.args[i], "samples") || i + 1 >= ctx.args.size()) {
      ctx.reply.Error(errors::kSyntax);
      return;
    }
    if (!ParseInteger(ctx.args[i + 1], &samples)) {
      ctx.reply.Error(errors::kNotInteger);
      return;
    }
  }
  // Redis reads the table directly: no hit or miss counted, no "keymiss".
  Entry* e = ctx.keys().Peek(ctx.args[2]);
  if (e == nullptr) {
    ctx.reply.Null();
    return;
  }
  ctx.reply.Integer(static_cast<int64_t>(e->AllocatedSize() + sizeof(Entry*)));
}

void MemoryStats(CommandContext& ctx) { ctx.server.MemoryStats(ctx.reply); }

void MemoryDoctor(CommandContext& ctx) { ctx.reply.Verbatim(ctx.server.MemoryDoctor()); }

void MemoryMallocStats(CommandContext& ctx) { ctx.reply.Verbatim(AllocatorStatsReport()); }

// As Redis: OK whether or not the allocator had anything to give back.
void MemoryPurge(CommandContext& ctx) {
  PurgeAllocator();
  ctx.reply.Ok();
}

void MemoryHelp(CommandContext& ctx) {
  constexpr std::string_view kLines[] = {
      "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "DOCTOR",
      "    Return memory problems reports.",
      "MALLOC-STATS",
      "    Return internal statistics report from the memory allocator.",
      "PURGE",
      "    Attempt to purge dirty pages for reclamation by the allocator.",
      "STATS",
      "    Return information about the memory usage of the server.",
      "USAGE <key> [SAMPLES <count>]",
      "    Return memory in bytes used by <key> and its value.",
      "HELP",
      "    Print this help.",
  };
  ReplyHelp(ctx, kLines);
}

constexpr CommandSpec kMemorySubcommands[] = {
    {"memory|doctor", 2, 0, 0, 0, 0, MemoryDoctor, {}, "Outputs memory problems report"},
    {"memory|malloc-stats", 2, 0, 0, 0, 0, MemoryMallocStats, {}, "Show allocator internal stats"},
    {"memory|purge", 2, 0, 0, 0, 0, MemoryPurge, {}, "Ask the allocator to release memory"},
    {"memory|stats", 2, 0, 0, 0, 0, MemoryStats, {}, "Show memory usage details"},
    {"memory|usage", -3, flags::kReadOnly, 2, 2, 1, MemoryUsage, {}, "Estimate the memory usage of a key"},
    {"memory|help", 2, flags::kLoading | flags::kStale, 0, 0, 0, MemoryHelp, {}, "Show helpful text about the different subcommands"},
};

constexpr CommandSpec kObjectSubcommands[] = {
    {"object|encoding", 3, flags::kReadOnly, 2, 2, 1, ObjectEncoding, {}, "Inspect the internal encoding"},
    {"object|freq", 3, flags::kReadOnly, 2, 2, 1, ObjectFreq, {}, "Get the logarithmic access frequency counter"},
    {"object|idletime", 3, flags::kReadOnly, 2, 2, 1, ObjectIdletime, {}, "Get the time since the last access"},
    {"object|refcount", 3, flags::kReadOnly, 2, 2, 1, ObjectRefcount, {}, "Get the reference count"},
    {"object|help", 2, flags::kLoading | flags::kStale, 0, 0, 0, ObjectHelp, {}, "Show helpful text about the different subcommands"},
};

constexpr CommandSpec kKeyCommands[] = {
    {"del", -2, flags::kWrite, 1, -1, 1, DelGeneric, {}, "Delete a key"},
    {"unlink", -2, flags::kWrite | flags::kFast, 1, -1, 1, DelGeneric, {}, "Delete a key (memory freed at once here)"},
    {"exists", -2, kKeyRead | flags::kLoads, 1, -1, 1, Exists, {}, "Determine if a key exists"},
    {"touch", -2, kKeyRead, 1, -1, 1, Touch, {}, "Alters the last access time of a key(s)"},
    {"type", 2, kKeyRead, 1, 1, 1, Type, {}, "Determine the type stored at key"},
    {"rename", 3, flags::kWrite, 1, 2, 1, Rename, {}, "Rename a key"},
    {"renamenx", 3, flags::kWrite | flags::kFast, 1, 2, 1, RenameNx, {}, "Rename a key, only if the new key does not exist"},
    {"copy", -3, flags::kWrite | flags::kDenyOom, 1, 2, 1, Copy, {}, "Copy a key"},
    {"move", 3, flags::kWrite | flags::kFast, 1, 1, 1, Move, {}, "Move a key to another database"},
    {"expire", -3, flags::kWrite | flags::kFast, 1, 1, 1, Expire, {}, "Set a key's time to live in seconds"},
    {"pexpire", -3, flags::kWrite | flags::kFast, 1, 1, 1, PExpire, {}, "Set a key's time to live in milliseconds"},
    {"expireat", -3, flags::kWrite | flags::kFast, 1, 1, 1, ExpireAt, {}, "Set the expiration as a UNIX timestamp"},
    {"pexpireat", -3, flags::kWrite | flags::kFast, 1, 1, 1, PExpireAt, {}, "Set the expiration as a UNIX timestamp in ms"},
    {"expiretime", 2, kKeyRead, 1, 1, 1, ExpireTime, {}, "Get the expiration Unix timestamp for a key"},
    {"pexpiretime", 2, kKeyRead, 1, 1, 1, PExpireTime, {}, "Get the expiration Unix timestamp for a key in ms"},
    {"ttl", 2, kKeyRead, 1, 1, 1, Ttl, {}, "Get the time to live for a key in seconds"},
    {"pttl", 2, kKeyRead, 1, 1, 1, PTtl, {}, "Get the time to live for a key in milliseconds"},
    {"persist", 2, flags::kWrite | flags::kFast, 1, 1, 1, Persist, {}, "Remove the expiration from a key"},
    {"keys", 2, flags::kReadOnly | flags::kKeyspace, 0, 0, 0, Keys, {}, "Find all keys matching the given pattern"},
    {"scan", -2, flags::kReadOnly | flags::kKeyspace, 0, 0, 0, Scan, {}, "Incrementally iterate the keys space"},
    {"randomkey", 1, flags::kReadOnly | flags::kKeyspace, 0, 0, 0, RandomKey, {}, "Return a random key from the keyspace"},
    {"object", -2, 0, 0, 0, 0, nullptr, kObjectSubcommands, "A container for object introspection commands"},
    {"memory", -2, 0, 0, 0, 0, nullptr, kMemorySubcommands, "A container for memory diagnostics commands"},
};

}  // namespace

std::string_view ObjectEncodingName(const storage::Entry& e) {
  switch (e.type()) {
    case storage::ValueType::kHash: return storage::ValueView<storage::HashValue>(e)->encoding();
    case storage::ValueType::kList: return "quicklist";  // Redis 7.0: every list
    case storage::ValueType::kSet: return storage::ValueView<storage::SetValue>(e)->encoding_name();
    case storage::ValueType::kZSet: return storage::ValueView<storage::ZSetValue>(e)->encoding();
    default: return storage::StringEncoding(e);
  }
}

std::span<const CommandSpec> KeyCommands() { return kKeyCommands; }

}  // namespace strata::server
