// String commands (Redis's t_string.c): SET and its variants share SetGeneric, the read
// variants share GetGeneric, INCR/DECR share IncrByGeneric.
#include <optional>

#include "absl/strings/numbers.h"
#include "server/absl_compat.h"
#include "server/command.h"
#include "server/connection.h"
#include "server/errors.h"
#include "server/server.h"
#include "storage/entry.h"
#include "storage/errors.h"
#include "storage/keyspace_events.h"
#include "storage/strings.h"

namespace strata::server {

namespace {

using storage::Entry;
namespace notify = storage::notify;

enum class SetCondition { kAlways, kIfAbsent, kIfPresent };
enum class ExpireUnit { kNone, kSeconds, kMillis, kUnixSeconds, kUnixMillis };

// The options SET and GETEX share (Redis's parseExtendedStringArgumentsOrReply).
struct StringOptions {
  SetCondition condition = SetCondition::kAlways;
  bool get = false;
  bool keep_ttl = false;
  bool persist = false;
  ExpireUnit unit = ExpireUnit::kNone;
  std::string_view expire_arg;
};

enum class OptionsFor { kSet, kGetEx };

bool ParseStringOptions(CommandContext& ctx, size_t first, OptionsFor command, StringOptions* options) {
  const auto& args = ctx.args;
  for (size_t j = first; j < args.size(); ++j) {
    std::string_view opt = args[j];
    const bool has_next = j + 1 < args.size();
    const bool has_expire = options->unit != ExpireUnit::kNone;
    auto expire_option = [&](ExpireUnit unit) {
      // Redis allows repeating the same unit (the last wins) but not mixing units.
      if (options->keep_ttl || options->persist || (has_expire && options->unit != unit) || !has_next) return false;
      options->unit = unit;
      options->expire_arg = args[++j];
      return true;
    };
    if (EqualsIgnoreCase(opt, "nx") && options->condition != SetCondition::kIfPresent && command == OptionsFor::kSet) {
      options->condition = SetCondition::kIfAbsent;
    } else if (EqualsIgnoreCase(opt, "xx") && options->condition != SetCondition::kIfAbsent &&
               command == OptionsFor::kSet) {
      options->condition = SetCondition::kIfPresent;
    } else if (EqualsIgnoreCase(opt, "get") && command == OptionsFor::kSet) {
      options->get = true;
    } else if (EqualsIgnoreCase(opt, "keepttl") && !options->persist && !has_expire && command == OptionsFor::kSet) {
      options->keep_ttl = true;
    } else if (EqualsIgnoreCase(opt, "persist") && command == OptionsFor::kGetEx && !has_expire && !options->keep_ttl) {
      options->persist = true;
    } else if (EqualsIgnoreCase(opt, "ex") && expire_option(ExpireUnit::kSeconds)) {
    } else if (EqualsIgnoreCase(opt, "px") && expire_option(ExpireUnit::kMillis)) {
    } else if (EqualsIgnoreCase(opt, "exat") && expire_option(ExpireUnit::kUnixSeconds)) {
    } else if (EqualsIgnoreCase(opt, "pxat") && expire_option(ExpireUnit::kUnixMillis)) {
    } else {
      ctx.reply.Error(errors::kSyntax);
      return false;
    }
  }
  return true;
}

// Turns an expire argument into an absolute Unix time in ms (getExpireMillisecondsOrReply).
bool ExpireAtMs(CommandContext& ctx, std::string_view arg, ExpireUnit unit, int64_t* when) {
  int64_t value;
  if (!ParseInteger(arg, &value)) {
    ctx.reply.Error(errors::kNotInteger);
    return false;
  }
  const bool seconds = unit == ExpireUnit::kSeconds || unit == ExpireUnit::kUnixSeconds;
  if (value <= 0 || (seconds && value > INT64_MAX / 1000)) {
    ctx.reply.Error(errors::InvalidExpireTime(ctx.spec.name));
    return false;
  }
  if (seconds) value *= 1000;
  if (unit == ExpireUnit::kSeconds || unit == ExpireUnit::kMillis) {
    if (__builtin_add_overflow(value, ctx.now_ms, &value)) {
      ctx.reply.Error(errors::InvalidExpireTime(ctx.spec.name));
      return false;
    }
  }
  *when = value;
  return true;
}

// Replies with the string at key (nil when absent). Returns false after a WRONGTYPE reply.
bool GetGeneric(CommandContext& ctx, std::string_view key) {
  auto value = storage::GetString(ctx.keys(), key);
  if (!value.ok()) {
    ctx.reply.Error(Std(value.status().message()));
    return false;
  }
  if (value->has_value()) {
    ctx.reply.Bulk(**value);
  } else {
    ctx.reply.Null();
  }
  return true;
}

// What SET, SETNX, SETEX, PSETEX and GETSET have in common (Redis's setGenericCommand).
// `on_set` / `on_abort` are the replies when not GET: nullopt means +OK / nil.
void SetGeneric(CommandContext& ctx, const StringOptions& options, std::string_view key, std::string_view value,
                std::optional<int64_t> on_set = std::nullopt, std::optional<int64_t> on_abort = std::nullopt) {
  int64_t expire_at = Entry::kNoExpiry;
  if (options.unit != ExpireUnit::kNone && !ExpireAtMs(ctx, options.expire_arg, options.unit, &expire_at)) return;
  if (options.get && !GetGeneric(ctx, key)) return;
  storage::Transaction& txn = ctx.keys();
  Entry* existing = txn.FindForWrite(key);
  if ((options.condition == SetCondition::kIfAbsent && existing != nullptr) ||
      (options.condition == SetCondition::kIfPresent && existing == nullptr)) {
    if (!options.get) {
      if (on_abort) {
        ctx.reply.Integer(*on_abort);
      } else {
        ctx.reply.Null();
      }
    }
    return;
  }
  if (options.keep_ttl && existing != nullptr) expire_at = existing->expire_at_ms();
  txn.SetString(key, value, expire_at);
  txn.Notify(notify::kString, "set", key);
  if (options.unit != ExpireUnit::kNone) txn.Notify(notify::kGeneric, "expire", key);
  if (!options.get) {
    if (on_set) {
      ctx.reply.Integer(*on_set);
    } else {
      ctx.reply.Ok();
    }
  }
}

void Set(CommandContext& ctx) {
  StringOptions options;
  if (!ParseStringOptions(ctx, 3, OptionsFor::kSet, &options)) return;
  SetGeneric(ctx, options, ctx.args[1], ctx.args[2]);
}

void SetNx(CommandContext& ctx) {
  StringOptions options;
  options.condition = SetCondition::kIfAbsent;
  SetGeneric(ctx, options, ctx.args[1], ctx.args[2], 1, 0);
}

void SetExGeneric(CommandContext& ctx, ExpireUnit unit) {
  StringOptions options;
  options.unit = unit;
  options.expire_arg = ctx.args[2];
  SetGeneric(ctx, options, ctx.args[1], ctx.args[3]);
}
void SetEx(CommandContext& ctx) { SetExGeneric(ctx, ExpireUnit::kSeconds); }
void PSetEx(CommandContext& ctx) { SetExGeneric(ctx, ExpireUnit::kMillis); }

void GetSet(CommandContext& ctx) {
  StringOptions options;
  options.get = true;
  SetGeneric(ctx, options, ctx.args[1], ctx.args[2]);
}

void Get(CommandContext& ctx) { GetGeneric(ctx, ctx.args[1]); }

void GetEx(CommandContext& ctx) {
  StringOptions options;
  if (!ParseStringOptions(ctx, 2, OptionsFor::kGetEx, &options)) return;
  storage::Transaction& txn = ctx.keys();
  Entry* e = txn.FindForRead(ctx.args[1]);
  if (e == nullptr) {
    ctx.reply.Null();
    return;
  }
  if (e->type() != storage::ValueType::kString) {
    ctx.reply.Error(storage::WrongTypeStatusText());
    return;
  }
  int64_t expire_at = Entry::kNoExpiry;
  if (options.unit != ExpireUnit::kNone && !ExpireAtMs(ctx, options.expire_arg, options.unit, &expire_at)) return;
  ctx.reply.Bulk(e->string_value());
  if (options.unit != ExpireUnit::kNone) {
    if (expire_at <= ctx.now_ms) {
      txn.Delete(ctx.args[1]);
      txn.Notify(notify::kGeneric, "del", ctx.args[1]);
    } else {
      txn.SetExpiry(e, expire_at);
      txn.Notify(notify::kGeneric, "expire", ctx.args[1]);
    }
  } else if (options.persist && e->has_expiry()) {  // PERSIST of a key without a TTL changes nothing
    txn.SetExpiry(e, Entry::kNoExpiry);
    txn.Notify(notify::kGeneric, "persist", ctx.args[1]);
  }
}

void GetDel(CommandContext& ctx) {
  if (GetGeneric(ctx, ctx.args[1]) && ctx.keys().Delete(ctx.args[1])) {
    ctx.keys().Notify(notify::kGeneric, "del", ctx.args[1]);
  }
}

void MGet(CommandContext& ctx) {
  ctx.reply.ArrayHeader(ctx.args.size() - 1);
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    Entry* e = ctx.keys().FindForRead(ctx.args[i]);
    if (e != nullptr && e->type() == storage::ValueType::kString) {
      ctx.reply.Bulk(e->string_value());
    } else {
      ctx.reply.Null();
    }
  }
}

void MSetGeneric(CommandContext& ctx, bool only_if_none_exist) {
  if (ctx.args.size() % 2 == 0) {
    ctx.reply.Error(errors::WrongArity(ctx.spec.name));
    return;
  }
  storage::Transaction& txn = ctx.keys();
  if (only_if_none_exist) {
    for (size_t i = 1; i < ctx.args.size(); i += 2) {
      if (txn.FindForWrite(ctx.args[i]) != nullptr) {
        ctx.reply.Integer(0);
        return;
      }
    }
  }
  for (size_t i = 1; i < ctx.args.size(); i += 2) {
    txn.SetString(ctx.args[i], ctx.args[i + 1], Entry::kNoExpiry);
    txn.Notify(notify::kString, "set", ctx.args[i]);
  }
  if (only_if_none_exist) {
    ctx.reply.Integer(1);
  } else {
    ctx.reply.Ok();
  }
}
void MSet(CommandContext& ctx) { MSetGeneric(ctx, false); }
void MSetNx(CommandContext& ctx) { MSetGeneric(ctx, true); }

// Replies with the new length and raises `event` (Redis's name for the change) on args[1], or
// replies the error. A null `event`: the command changed nothing.
void ReplySizeOrError(CommandContext& ctx, const absl::StatusOr<size_t>& result, const char* event) {
  if (result.ok()) {
    if (event != nullptr) ctx.keys().Notify(notify::kString, event, ctx.args[1]);
    ctx.reply.Integer(static_cast<int64_t>(*result));
  } else {
    ctx.reply.Error(Std(result.status().message()));
  }
}

void Append(CommandContext& ctx) {
  // Appending "" is still an "append" in Redis (it creates an empty key when absent).
  ReplySizeOrError(ctx,
                   storage::Append(ctx.keys(), ctx.args[1], ctx.args[2],
                                   ctx.server.config().proto_max_bulk_len.load(std::memory_order_relaxed)),
                   "append");
}

void StrLen(CommandContext& ctx) {
  auto value = storage::GetString(ctx.keys(), ctx.args[1]);
  if (!value.ok()) {
    ctx.reply.Error(Std(value.status().message()));
    return;
  }
  ctx.reply.Integer(value->has_value() ? static_cast<int64_t>((*value)->size()) : 0);
}

void GetRange(CommandContext& ctx) {
  int64_t start, end;
  if (!ParseInteger(ctx.args[2], &start) || !ParseInteger(ctx.args[3], &end)) {
    ctx.reply.Error(errors::kNotInteger);
    return;
  }
  auto value = storage::GetString(ctx.keys(), ctx.args[1]);
  if (!value.ok()) {
    ctx.reply.Error(Std(value.status().message()));
    return;
  }
  std::string_view text = value->value_or(std::string_view());
  const int64_t length = static_cast<int64_t>(text.size());
  if (start < 0 && end < 0 && start > end) {
    ctx.reply.Bulk("");
    return;
  }
  if (start < 0) start += length;
  if (end < 0) end += length;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= length) end = length - 1;
  if (start > end || length == 0) {
    ctx.reply.Bulk("");
    return;
  }
  ctx.reply.Bulk(text.substr(static_cast<size_t>(start), static_cast<size_t>(end - start + 1)));
}

void SetRange(CommandContext& ctx) {
  int64_t offset;
  if (!ParseInteger(ctx.args[2], &offset)) {
    ctx.reply.Error(errors::kNotInteger);
    return;
  }
  if (offset < 0) {
    ctx.reply.Error(errors::kOffsetOutOfRange);
    return;
  }
  // An empty value writes nothing (not even a missing key): no event, as in Redis.
  ReplySizeOrError(ctx,
                   storage::SetRange(ctx.keys(), ctx.args[1], offset, ctx.args[3],
                                     ctx.server.config().proto_max_bulk_len.load(std::memory_order_relaxed)),
                   ctx.args[3].empty() ? nullptr : "setrange");
}

void IncrByGeneric(CommandContext& ctx, int64_t delta) {
  auto result = storage::IncrBy(ctx.keys(), ctx.args[1], delta);
  if (result.ok()) {
    ctx.keys().Notify(notify::kString, "incrby", ctx.args[1]);  // INCR, DECR and DECRBY too
    ctx.reply.Integer(*result);
  } else {
    ctx.reply.Error(Std(result.status().message()));
  }
}
void Incr(CommandContext& ctx) { IncrByGeneric(ctx, 1); }
void Decr(CommandContext& ctx) { IncrByGeneric(ctx, -1); }

void IncrBy(CommandContext& ctx) {
  int64_t delta;
  if (!ParseInteger(ctx.args[2], &delta)) {
    ctx.reply.Error(errors::kNotInteger);
    return;
  }
  IncrByGeneric(ctx, delta);
}

void DecrBy(CommandContext& ctx) {
  int64_t delta;
  if (!ParseInteger(ctx.args[2], &delta)) {
    ctx.reply.Error(errors::kNotInteger);
    return;
  }
  if (delta == INT64_MIN) {
    ctx.reply.Error(errors::kDecrementOverflow);
    return;
  }
  IncrByGeneric(ctx, -delta);
}

void IncrByFloat(CommandContext& ctx) {
  Entry* e = ctx.keys().FindForWrite(ctx.args[1]);
  if (e != nullptr && e->type() != storage::ValueType::kString) {
    ctx.reply.Error(storage::WrongTypeStatusText());
    return;
  }
  long double delta;
  if (!ParseDouble(ctx.args[2], &delta)) {
    // Redis checks the stored value first, then the increment: both report the same error.
    ctx.reply.Error(errors::kNotFloat);
    return;
  }
  auto result = storage::IncrByFloat(ctx.keys(), ctx.args[1], delta);
  if (result.ok()) {
    ctx.keys().Notify(notify::kString, "incrbyfloat", ctx.args[1]);
    ctx.reply.Bulk(*result);
  } else {
    ctx.reply.Error(Std(result.status().message()));
  }
}

constexpr uint32_t kReadFast = flags::kReadOnly | flags::kFast | flags::kLoads;
constexpr uint32_t kWriteOom = flags::kWrite | flags::kDenyOom;

constexpr CommandSpec kStringCommands[] = {
    {"get", 2, kReadFast, 1, 1, 1, Get, {}, "Get the value of a key"},
    {"set", -3, kWriteOom, 1, 1, 1, Set, {}, "Set the string value of a key"},
    {"setnx", 3, kWriteOom | flags::kFast, 1, 1, 1, SetNx, {}, "Set the value of a key, only if it does not exist"},
    {"setex", 4, kWriteOom, 1, 1, 1, SetEx, {}, "Set the value and expiration of a key"},
    {"psetex", 4, kWriteOom, 1, 1, 1, PSetEx, {}, "Set the value and expiration in milliseconds of a key"},
    {"getset", 3, kWriteOom | flags::kFast, 1, 1, 1, GetSet, {}, "Set a key and return its old value"},
    {"getex", -2, flags::kWrite | flags::kFast | flags::kLoads, 1, 1, 1, GetEx, {}, "Get a value and set its expiry"},
    {"getdel", 2, flags::kWrite | flags::kFast, 1, 1, 1, GetDel, {}, "Get the value of a key and delete it"},
    {"mget", -2, kReadFast, 1, -1, 1, MGet, {}, "Get the values of all the given keys"},
    {"mset", -3, kWriteOom, 1, -1, 2, MSet, {}, "Set multiple keys to multiple values"},
    {"msetnx", -3, kWriteOom, 1, -1, 2, MSetNx, {}, "Set multiple keys only if none of them exist"},
    {"append", 3, kWriteOom | flags::kFast, 1, 1, 1, Append, {}, "Append a value to a key"},
    {"strlen", 2, kReadFast, 1, 1, 1, StrLen, {}, "Get the length of the value stored in a key"},
    {"getrange", 4, flags::kReadOnly | flags::kLoads, 1, 1, 1, GetRange, {}, "Get a substring of a key's value"},
    {"substr", 4, flags::kReadOnly | flags::kLoads, 1, 1, 1, GetRange, {}, "Get a substring of a key's value"},
    {"setrange", 4, kWriteOom, 1, 1, 1, SetRange, {}, "Overwrite part of a string at key"},
    {"incr", 2, kWriteOom | flags::kFast, 1, 1, 1, Incr, {}, "Increment the integer value of a key by one"},
    {"decr", 2, kWriteOom | flags::kFast, 1, 1, 1, Decr, {}, "Decrement the integer value of a key by one"},
    {"incrby", 3, kWriteOom | flags::kFast, 1, 1, 1, IncrBy, {}, "Increment the integer value of a key"},
    {"decrby", 3, kWriteOom | flags::kFast, 1, 1, 1, DecrBy, {}, "Decrement the integer value of a key"},
    {"incrbyfloat", 3, kWriteOom | flags::kFast, 1, 1, 1, IncrByFloat, {}, "Increment the float value of a key"},
};

}  // namespace

std::span<const CommandSpec> StringCommands() { return kStringCommands; }

}  // namespace strata::server
