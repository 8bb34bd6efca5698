// Hash commands (Redis's t_hash.c). Reads go through storage::FindHashForRead; every write goes
// through storage::UpdateHash, which keeps memory accounting and deletes emptied hashes. Each
// write raises Redis 7.0's keyspace events after its change ("new" comes from storage when the
// key is created, so before them), and only when Redis raises them.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/absl_compat.h"
#include "server/command.h"
#include "server/connection.h"
#include "server/config.h"
#include "server/errors.h"
#include "server/server.h"
#include "storage/hash.h"
#include "storage/glob.h"
#include "storage/hashes.h"
#include "storage/keyspace_events.h"

namespace strata::server {

namespace {

using storage::HashValue;
namespace notify = storage::notify;

// Replies with the hash at key (nullptr when absent); false after a WRONGTYPE reply.
bool ReadHash(CommandContext& ctx, storage::ValueView<HashValue>* hash) {
  auto found = storage::FindHashForRead(ctx.keys(), ctx.args[1]);
  if (!found.ok()) {
    ctx.reply.Error(Std(found.status().message()));
    return false;
  }
  *hash = *std::move(found);
  return true;
}

storage::HashLimits Limits(CommandContext& ctx) {
  const Config& config = ctx.server.config();
  return storage::HashLimits{config.hash_max_listpack_entries.load(std::memory_order_relaxed),
                             config.hash_max_listpack_value.load(std::memory_order_relaxed)};
}

// HSET and HMSET: field/value pairs after the key. Raises "hset" even when every value was
// already there, as Redis does.
absl::StatusOr<int64_t> SetFields(CommandContext& ctx) {
  const storage::HashLimits limits = Limits(ctx);
  auto added = storage::UpdateHash(ctx.keys(), ctx.args[1], true, [&](HashValue& hash) -> absl::StatusOr<int64_t> {
    int64_t added = 0;
    for (size_t i = 2; i + 1 < ctx.args.size(); i += 2) added += hash.Set(ctx.args[i], ctx.args[i + 1], limits) ? 1 : 0;
    return added;
  });
  if (added.ok()) ctx.keys().Notify(notify::kHash, "hset", ctx.args[1]);
  return added;
}

void HSet(CommandContext& ctx) {
  if (ctx.args.size() % 2 != 0) {
    ctx.reply.Error(errors::WrongArity(ctx.spec.name));
    return;
  }
  ReplyIntegerOrError(ctx, SetFields(ctx));
}

void HMSet(CommandContext& ctx) {
  if (ctx.args.size() % 2 != 0) {
    ctx.reply.Error(errors::WrongArity(ctx.spec.name));
    return;
  }
  auto result = SetFields(ctx);
  if (result.ok()) {
    ctx.reply.Ok();
  } else {
    ctx.reply.Error(Std(result.status().message()));
  }
}

void HSetNx(CommandContext& ctx) {
  const storage::HashLimits limits = Limits(ctx);
  auto set = storage::UpdateHash(ctx.keys(), ctx.args[1], true, [&](HashValue& hash) -> absl::StatusOr<int64_t> {
    if (hash.Find(ctx.args[2])) return 0;
    hash.Set(ctx.args[2], ctx.args[3], limits);
    return 1;
  }, storage::ChangeReport::kWhenPositive);
  if (set.ok() && *set > 0) ctx.keys().Notify(notify::kHash, "hset", ctx.args[1]);
  ReplyIntegerOrError(ctx, set);
}

void HGet(CommandContext& ctx) {
  storage::ValueView<HashValue> hash;
  if (!ReadHash(ctx, &hash)) return;
  std::optional<std::string_view> value = hash ? hash->Find(ctx.args[2]) : std::nullopt;
  if (value) {
    ctx.reply.Bulk(*value);
  } else {
    ctx.reply.Null();
  }
}

void HMGet(CommandContext& ctx) {
  storage::ValueView<HashValue> hash;
  if (!ReadHash(ctx, &hash)) return;
  ctx.reply.ArrayHeader(ctx.args.size() - 2);
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    std::optional<std::string_view> value = hash ? hash->Find(ctx.args[i]) : std::nullopt;
    if (value) {
      ctx.reply.Bulk(*value);
    } else {
      ctx.reply.Null();
    }
  }
}

enum class Part { kFields, kValues, kBoth };

void ReplyFields(CommandContext& ctx, Part part) {
  storage::ValueView<HashValue> hash;
  if (!ReadHash(ctx, &hash)) return;
  const size_t size = hash ? hash->size() : 0;
  if (part == Part::kBoth) {
    ctx.reply.MapHeader(size);
  } else {
    ctx.reply.ArrayHeader(size);
  }
  if (hash == nullptr) return;
  hash->ForEach([&](std::string_view field, std::string_view value) {
    if (part != Part::kValues) ctx.reply.Bulk(field);
    if (part != Part::kFields) ctx.reply.Bulk(value);
  });
}
void HGetAll(CommandContext& ctx) { ReplyFields(ctx, Part::kBoth); }
void HKeys(CommandContext& ctx) { ReplyFields(ctx, Part::kFields); }
void HVals(CommandContext& ctx) { ReplyFields(ctx, Part::kValues); }

// Raises "hdel" when a field went, then "del" when the last one did (UpdateHash deleted the key).
void HDel(CommandContext& ctx) {
  bool emptied = false;
  auto removed = storage::UpdateHash(ctx.keys(), ctx.args[1], false, [&](HashValue& hash) -> absl::StatusOr<int64_t> {
    int64_t removed = 0;
    for (size_t i = 2; i < ctx.args.size(); ++i) removed += hash.Erase(ctx.args[i]) ? 1 : 0;
    emptied = hash.empty();
    return removed;
  }, storage::ChangeReport::kWhenPositive);
  if (removed.ok() && *removed > 0) {
    ctx.keys().Notify(notify::kHash, "hdel", ctx.args[1]);
    if (emptied) ctx.keys().Notify(notify::kGeneric, "del", ctx.args[1]);
  }
  ReplyIntegerOrError(ctx, removed);
}

void HExists(CommandContext& ctx) {
  storage::ValueView<HashValue> hash;
  if (!ReadHash(ctx, &hash)) return;
  ctx.reply.Integer(hash && hash->Find(ctx.args[2]) ? 1 : 0);
}

void HLen(CommandContext& ctx) {
  storage::ValueView<HashValue> hash;
  if (!ReadHash(ctx, &hash)) return;
  ctx.reply.Integer(hash ? static_cast<int64_t>(hash->size()) : 0);
}

void HStrLen(CommandContext& ctx) {
  storage::ValueView<HashValue> hash;
  if (!ReadHash(ctx, &hash)) return;
  std::optional<std::string_view> value = hash ? hash->Find(ctx.args[2]) : std::nullopt;
  ctx.reply.Integer(value ? static_cast<int64_t>(value->size()) : 0);
}

void HIncrBy(CommandContext& ctx) {
  int64_t delta;
  if (!ParseInteger(ctx.args[3], &delta)) {
    ctx.reply.Error(errors::kNotInteger);
    return;
  }
  auto result = storage::HashIncrBy(ctx.keys(), ctx.args[1], ctx.args[2], delta, Limits(ctx));
  if (result.ok()) ctx.keys().Notify(notify::kHash, "hincrby", ctx.args[1]);
  ReplyIntegerOrError(ctx, result);
}

void HIncrByFloat(CommandContext& ctx) {
  long double delta;
  if (!ParseDouble(ctx.args[3], &delta)) {
    ctx.reply.Error(errors::kNotFloat);
    return;
  }
  auto result = storage::HashIncrByFloat(ctx.keys(), ctx.args[1], ctx.args[2], delta, Limits(ctx));
  if (result.ok()) {
    ctx.keys().Notify(notify::kHash, "hincrbyfloat", ctx.args[1]);
    ctx.reply.Bulk(*result);
  } else {
    ctx.reply.Error(Std(result.status().message()));
  }
}

// HSCAN key cursor [MATCH p] [COUNT n]: as Redis, the cursor, then the key (a missing key is an
// empty scan whatever the options), then the options. A packed hash comes whole with cursor 0;
// a table is walked with Dict's cursor, about COUNT buckets a call.
void HScan(CommandContext& ctx) {
  uint64_t cursor;
  if (!ParseScanCursor(ctx.args[2], &cursor)) {
    ctx.reply.Error(errors::kInvalidCursor);
    return;
  }
  storage::ValueView<HashValue> hash;
  if (!ReadHash(ctx, &hash)) return;
  ReplyElementScan(ctx, hash != nullptr, cursor, /*with_second=*/true, [&](uint64_t from, size_t count, ScanAdd add) {
    return hash->Scan(from, count, add);
  });
}

// HRANDFIELD key [count [WITHVALUES]]: as ZRANDMEMBER (a negative count repeats picks; a
// positive one gives distinct fields, the whole hash at most).
void HRandField(CommandContext& ctx) {
  int64_t count = 1;
  if (!ParseRandomCount(ctx, "withvalues", &count)) return;
  const bool with_count = ctx.args.size() >= 3;
  const bool with_values = ctx.args.size() == 4;
  storage::ValueView<HashValue> hash;
  if (!ReadHash(ctx, &hash)) return;
  // The fields in the hash's order, so a rank picks one (hashes that draw random fields are
  // small in practice; a large one costs a walk, as Redis's listpack hashes do).
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  if (hash) hash->ForEach([&](std::string_view f, std::string_view v) { fields.emplace_back(f, v); });
  storage::Transaction& txn = ctx.keys();
  if (!with_count) {
    if (fields.empty()) {
      ctx.reply.Null();
    } else {
      ctx.reply.Bulk(fields[txn.NextRandom() % fields.size()].first);
    }
    return;
  }
  if (fields.empty() || count == 0) {
    ctx.reply.ArrayHeader(0);
    return;
  }
  auto reply_field = [&](size_t index) {
    if (with_values && ctx.reply.resp3()) ctx.reply.ArrayHeader(2);
    ctx.reply.Bulk(fields[index].first);
    if (with_values) ctx.reply.Bulk(fields[index].second);
  };
  const size_t n = fields.size();
  const size_t picks = count < 0 ? static_cast<size_t>(-count) : std::min(static_cast<size_t>(count), n);
  ctx.reply.ArrayHeader(with_values && !ctx.reply.resp3() ? picks * 2 : picks);
  if (count < 0) {
    for (size_t i = 0; i < picks; ++i) reply_field(txn.NextRandom() % n);
    return;
  }
  size_t needed = picks;
  for (size_t i = 0; i < n && needed > 0; ++i) {
    if (txn.NextRandom() % (n - i) < needed) {
      reply_field(i);
      --needed;
    }
  }
}

constexpr uint32_t kReadLoads = flags::kReadOnly | flags::kLoads;
constexpr uint32_t kWriteOom = flags::kWrite | flags::kDenyOom;

constexpr CommandSpec kHashCommands[] = {
    {"hset", -4, kWriteOom | flags::kFast, 1, 1, 1, HSet, {}, "Set the string value of a hash field"},
    {"hmset", -4, kWriteOom | flags::kFast, 1, 1, 1, HMSet, {}, "Set multiple hash fields to multiple values"},
    {"hsetnx", 4, kWriteOom | flags::kFast, 1, 1, 1, HSetNx, {}, "Set a hash field, only if it does not exist"},
    {"hget", 3, kReadLoads | flags::kFast, 1, 1, 1, HGet, {}, "Get the value of a hash field"},
    {"hmget", -3, kReadLoads | flags::kFast, 1, 1, 1, HMGet, {}, "Get the values of all the given hash fields"},
    {"hgetall", 2, kReadLoads, 1, 1, 1, HGetAll, {}, "Get all the fields and values in a hash"},
    {"hkeys", 2, kReadLoads, 1, 1, 1, HKeys, {}, "Get all the fields in a hash"},
    {"hvals", 2, kReadLoads, 1, 1, 1, HVals, {}, "Get all the values in a hash"},
    {"hdel", -3, flags::kWrite | flags::kFast, 1, 1, 1, HDel, {}, "Delete one or more hash fields"},
    {"hexists", 3, kReadLoads | flags::kFast, 1, 1, 1, HExists, {}, "Determine if a hash field exists"},
    {"hlen", 2, kReadLoads | flags::kFast, 1, 1, 1, HLen, {}, "Get the number of fields in a hash"},
    {"hstrlen", 3, kReadLoads | flags::kFast, 1, 1, 1, HStrLen, {}, "Get the length of the value of a hash field"},
    {"hincrby", 4, kWriteOom | flags::kFast, 1, 1, 1, HIncrBy, {}, "Increment the integer value of a hash field"},
    {"hincrbyfloat", 4, kWriteOom | flags::kFast, 1, 1, 1, HIncrByFloat, {}, "Increment the float value of a hash field"},
    {"hscan", -3, flags::kReadOnly, 1, 1, 1, HScan, {}, "Incrementally iterate hash fields and associated values"},
    {"hrandfield", -2, kReadLoads, 1, 1, 1, HRandField, {}, "Get one or multiple random fields from a hash"},
};

}  // namespace

std::span<const CommandSpec> HashCommands() { return kHashCommands; }

}  // namespace strata::server
