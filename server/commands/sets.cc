// Set commands (Redis's t_set.c). Reads go through storage::FindValueForRead<SetValue>; every
// write through storage::UpdateValue<SetValue>, which keeps memory accounting and deletes emptied
// sets. Encodings and their thresholds: storage/set.h and the set-max-* directives. Each write
// raises Redis 7.0's keyspace events after its change ("new" comes from storage when the key is
// created, so before them), and only when Redis raises them: a removal that empties a set raises
// its own event, then "del".
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/absl_compat.h"
#include "server/command.h"
#include "server/config.h"
#include "server/errors.h"
#include "server/server.h"
#include "storage/glob.h"
#include "storage/keyspace_events.h"
#include "storage/set.h"
#include "storage/typed_values.h"

namespace strata::server {

namespace {

using storage::SetValue;
namespace notify = storage::notify;

storage::SetLimits Limits(CommandContext& ctx) {
  const Config& config = ctx.server.config();
  return storage::SetLimits{config.set_max_intset_entries.load(std::memory_order_relaxed),
                            config.set_max_listpack_entries.load(std::memory_order_relaxed),
                            config.set_max_listpack_value.load(std::memory_order_relaxed)};
}

// The set at `key` for reading: false after a WRONGTYPE reply; *set is nullptr when absent.
bool ReadSet(CommandContext& ctx, std::string_view key, storage::ValueView<SetValue>* set) {
  auto found = storage::FindValueForRead<SetValue>(ctx.keys(), key);
  if (!found.ok()) {
    ctx.reply.Error(Std(found.status().message()));
    return false;
  }
  *set = *std::move(found);
  return true;
}

void ReplyMembers(CommandContext& ctx, const SetValue* set) {
  ctx.reply.SetHeader(set ? set->size() : 0);
  if (set) set->ForEach([&](std::string_view member) { ctx.reply.Bulk(member); });
}

// SRANDMEMBER's whole-set answer is an array (not a RESP3 set), as in Redis 7.0.
void ReplyMembersAsArray(CommandContext& ctx, const SetValue& set) {
  ctx.reply.ArrayHeader(set.size());
  set.ForEach([&](std::string_view member) { ctx.reply.Bulk(member); });
}

void SAdd(CommandContext& ctx) {
  const storage::SetLimits limits = Limits(ctx);
  auto added = storage::UpdateValue<SetValue>(ctx.keys(), ctx.args[1], true,
                                              [&](SetValue& set) -> absl::StatusOr<int64_t> {
    int64_t added = 0;
    for (size_t i = 2; i < ctx.args.size(); ++i) added += set.Add(ctx.args[i], limits) ? 1 : 0;
    return added;
  }, storage::ChangeReport::kWhenPositive);
  if (added.ok() && *added > 0) ctx.keys().Notify(notify::kSet, "sadd", ctx.args[1]);
  ReplyIntegerOrError(ctx, added);
}

void SRem(CommandContext& ctx) {
  bool emptied = false;
  auto removed = storage::UpdateValue<SetValue>(ctx.keys(), ctx.args[1], false,
                                                [&](SetValue& set) -> absl::StatusOr<int64_t> {
    int64_t removed = 0;
    for (size_t i = 2; i < ctx.args.size() && !set.empty(); ++i) removed += set.Remove(ctx.args[i]) ? 1 : 0;
    emptied = set.empty();
    return removed;
  }, storage::ChangeReport::kWhenPositive);
  if (removed.ok() && *removed > 0) {
    ctx.keys().Notify(notify::kSet, "srem", ctx.args[1]);
    if (emptied) ctx.keys().Notify(notify::kGeneric, "del", ctx.args[1]);
  }
  ReplyIntegerOrError(ctx, removed);
}

void SMembers(CommandContext& ctx) {
  storage::ValueView<SetValue> set;
  if (!ReadSet(ctx, ctx.args[1], &set)) return;
  ReplyMembers(ctx, set);
}

void SIsMember(CommandContext& ctx) {
  storage::ValueView<SetValue> set;
  if (!ReadSet(ctx, ctx.args[1], &set)) return;
  ctx.reply.Integer(set && set->Contains(ctx.args[2]) ? 1 : 0);
}

void SMIsMember(CommandContext& ctx) {
  storage::ValueView<SetValue> set;
  if (!ReadSet(ctx, ctx.args[1], &set)) return;
  ctx.reply.ArrayHeader(ctx.args.size() - 2);
  for (size_t i = 2; i < ctx.args.size(); ++i) ctx.reply.Integer(set && set->Contains(ctx.args[i]) ? 1 : 0);
}

void SCard(CommandContext& ctx) {
  storage::ValueView<SetValue> set;
  if (!ReadSet(ctx, ctx.args[1], &set)) return;
  ctx.reply.Integer(set ? static_cast<int64_t>(set->size()) : 0);
}

// Removes up to `count` random members into `out` (all of them when count >= size), raising
// "spop", then "del" when the set is gone.
absl::Status PopMembers(CommandContext& ctx, size_t count, std::vector<std::string>* out) {
  storage::Transaction& txn = ctx.keys();
  bool emptied = false;
  absl::Status status = storage::UpdateValue<SetValue>(txn, ctx.args[1], false,
                                                       [&](SetValue& set) -> absl::StatusOr<int64_t> {
    if (count >= set.size()) {
      set.ForEach([&](std::string_view member) { out->emplace_back(member); });
      for (const std::string& member : *out) set.Remove(member);
    } else {
      while (out->size() < count) {
        out->push_back(set.RandomMember(txn.NextRandom()));
        set.Remove(out->back());
      }
    }
    emptied = set.empty();
    return 0;
  }).status();
  if (status.ok()) {
    txn.Notify(notify::kSet, "spop", ctx.args[1]);
    if (emptied) txn.Notify(notify::kGeneric, "del", ctx.args[1]);
  }
  return status;
}

void SPop(CommandContext& ctx) {
  if (ctx.args.size() > 3) {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  const bool with_count = ctx.args.size() == 3;
  int64_t count = 1;
  if (with_count && (!ParseInteger(ctx.args[2], &count) || count < 0)) {
    ctx.reply.Error(errors::kMustBePositive);
    return;
  }
  auto found = storage::FindValueForWrite<SetValue>(ctx.keys(), ctx.args[1]);
  if (!found.ok()) {
    ctx.reply.Error(Std(found.status().message()));
    return;
  }
  if (*found == nullptr || (with_count && count == 0)) {
    if (with_count) {
      ctx.reply.SetHeader(0);
    } else {
      ctx.reply.Null();
    }
    return;
  }
  std::vector<std::string> popped;
  if (absl::Status s = PopMembers(ctx, static_cast<size_t>(count), &popped); !s.ok()) {
    ctx.reply.Error(Std(s.message()));
    return;
  }
  if (!with_count) {
    ctx.reply.Bulk(popped.front());
    return;
  }
  ctx.reply.SetHeader(popped.size());
  for (const std::string& member : popped) ctx.reply.Bulk(member);
}

void SRandMember(CommandContext& ctx) {
  if (ctx.args.size() > 3) {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  const bool with_count = ctx.args.size() == 3;
  int64_t count = 1;
  if (with_count) {
    if (!ParseInteger(ctx.args[2], &count)) {
      ctx.reply.Error(errors::kNotInteger);
      return;
    }
    if (count == INT64_MIN) {  // Redis takes the count in [-LONG_MAX, LONG_MAX]
      ctx.reply.Error(errors::kSrandmemberCountRange);
      return;
    }
  }
  storage::ValueView<SetValue> set;
  if (!ReadSet(ctx, ctx.args[1], &set)) return;
  if (!with_count) {
    if (set == nullptr) {
      ctx.reply.Null();
    } else {
      ctx.reply.Bulk(set->RandomMember(ctx.keys().NextRandom()));
    }
    return;
  }
  if (set == nullptr || count == 0) {
    ctx.reply.ArrayHeader(0);
    return;
  }
  if (count < 0) {  // -N: N picks, repeats allowed
    ctx.reply.ArrayHeader(static_cast<size_t>(-count));
    for (int64_t i = 0; i < -count; ++i) ctx.reply.Bulk(set->RandomMember(ctx.keys().NextRandom()));
    return;
  }
  if (static_cast<uint64_t>(count) >= set->size()) {
    ReplyMembersAsArray(ctx, *set);
    return;
  }
  // N distinct members: a selection sample in one pass (Knuth's algorithm S), whatever N.
  ctx.reply.ArrayHeader(static_cast<size_t>(count));
  size_t needed = static_cast<size_t>(count);
  size_t left = set->size();
  set->ForEach([&](std::string_view member) {
    if (needed > 0 && ctx.keys().NextRandom() % left < needed) {
      ctx.reply.Bulk(member);
      --needed;
    }
    --left;
  });
}

void SMove(CommandContext& ctx) {
  storage::Transaction& txn = ctx.keys();
  auto source = storage::FindValueForWrite<SetValue>(txn, ctx.args[1]);
  auto destination = storage::FindValueForWrite<SetValue>(txn, ctx.args[2]);
  // As Redis: a missing source is 0 before any type is checked.
  if (source.ok() && *source == nullptr) {
    ctx.reply.Integer(0);
    return;
  }
  if (!source.ok() || !destination.ok()) {
    ctx.reply.Error(Std((source.ok() ? destination.status() : source.status()).message()));
    return;
  }
  const std::string_view member = ctx.args[3];
  if (ctx.args[1] == ctx.args[2]) {
    ctx.reply.Integer((*source)->Contains(member) ? 1 : 0);
    return;
  }
  bool emptied = false;
  auto removed = storage::UpdateValue<SetValue>(txn, ctx.args[1], false, [&](SetValue& set) -> absl::StatusOr<int64_t> {
    const bool found = set.Remove(member);
    emptied = set.empty();
    return found ? 1 : 0;
  }, storage::ChangeReport::kWhenPositive);
  if (!removed.ok() || *removed == 0) {
    ctx.reply.Integer(0);
    return;
  }
  txn.Notify(notify::kSet, "srem", ctx.args[1]);
  if (emptied) txn.Notify(notify::kGeneric, "del", ctx.args[1]);
  // A destination that holds the member already is no change of it: no "sadd", as in Redis.
  const storage::SetLimits limits = Limits(ctx);
  auto added = storage::UpdateValue<SetValue>(txn, ctx.args[2], true, [&](SetValue& set) -> absl::StatusOr<int64_t> {
    return set.Add(member, limits) ? 1 : 0;
  }, storage::ChangeReport::kWhenPositive);
  if (added.ok() && *added > 0) txn.Notify(notify::kSet, "sadd", ctx.args[2]);
  ctx.reply.Integer(1);
}

enum class SetOp { kInter, kUnion, kDiff };

// The operand sets of SINTER/SUNION/SDIFF (and their STORE and CARD forms): `views` keeps them
// readable, `sets` points into them (nullptr for a missing key).
struct Operands {
  std::vector<storage::ValueView<SetValue>> views;
  std::vector<const SetValue*> sets;
};

// Every key is type-checked, as Redis does, even after a missing one.
bool CollectOperands(CommandContext& ctx, size_t first, size_t end, Operands* operands) {
  operands->views.resize(end - first);
  for (size_t i = first; i < end; ++i) {
    if (!ReadSet(ctx, ctx.args[i], &operands->views[i - first])) return false;
  }
  for (const auto& view : operands->views) operands->sets.push_back(view.get());
  return true;
}

// Computes the operation into `result` (a new set built with Redis's add rules).
void Compute(SetOp op, const std::vector<const SetValue*>& sets, const storage::SetLimits& limits, SetValue* result) {
  switch (op) {
    case SetOp::kInter: {
      if (std::any_of(sets.begin(), sets.end(), [](const SetValue* s) { return s == nullptr || s->empty(); })) return;
      // Walk the smallest set, probe the others.
      std::vector<const SetValue*> ordered(sets);
      std::sort(ordered.begin(), ordered.end(), [](const SetValue* a, const SetValue* b) { return a->size() < b->size(); });
      ordered.front()->ForEach([&](std::string_view member) {
        for (size_t i = 1; i < ordered.size(); ++i) {
          if (!ordered[i]->Contains(member)) return;
        }
        result->Add(member, limits);
      });
      return;
    }
    case SetOp::kUnion:
      for (const SetValue* set : sets) {
        if (set) set->ForEach([&](std::string_view member) { result->Add(member, limits); });
      }
      return;
    case SetOp::kDiff:
      if (sets.front() == nullptr) return;
      sets.front()->ForEach([&](std::string_view member) {
        for (size_t i = 1; i < sets.size(); ++i) {
          if (sets[i] != nullptr && sets[i]->Contains(member)) return;
        }
        result->Add(member, limits);
      });
      return;
  }
}

void ReadOperation(CommandContext& ctx, SetOp op) {
  Operands operands;
  if (!CollectOperands(ctx, 1, ctx.args.size(), &operands)) return;
  std::vector<const SetValue*>& sets = operands.sets;
  SetValue result;
  Compute(op, sets, Limits(ctx), &result);
  ReplyMembers(ctx, &result);
}
void SInter(CommandContext& ctx) { ReadOperation(ctx, SetOp::kInter); }
void SUnion(CommandContext& ctx) { ReadOperation(ctx, SetOp::kUnion); }
void SDiff(CommandContext& ctx) { ReadOperation(ctx, SetOp::kDiff); }

// `event` is the command's keyspace event ("sinterstore"...), raised when a result is stored;
// an empty result deletes the destination, which raises "del" if there was one.
void StoreOperation(CommandContext& ctx, SetOp op, std::string_view event) {
  Operands operands;
  // Read as SINTER's are (Redis 7.0 raises "keymiss" for a missing operand of a STORE too).
  if (!CollectOperands(ctx, 2, ctx.args.size(), &operands)) return;
  std::vector<const SetValue*>& sets = operands.sets;
  auto result = std::make_unique<SetValue>();
  Compute(op, sets, Limits(ctx), result.get());
  const int64_t size = static_cast<int64_t>(result->size());
  storage::Transaction& txn = ctx.keys();
  const std::string_view destination = ctx.args[1];
  // The destination is replaced whatever it held (it may be one of the operands: computed above).
  if (size == 0) {
    if (txn.Delete(destination)) txn.Notify(notify::kGeneric, "del", destination);
  } else {
    // A destination whose TTL ran out is dropped first ("expired"), so that storing the result
    // creates the key ("new"), as Redis's setKey does.
    txn.FindForWrite(destination);
    txn.Store(storage::Entry::NewSet(destination, result.release(), storage::EntryMeta{}));
    txn.Notify(notify::kSet, event, destination);
  }
  ctx.reply.Integer(size);
}
void SInterStore(CommandContext& ctx) { StoreOperation(ctx, SetOp::kInter, "sinterstore"); }
void SUnionStore(CommandContext& ctx) { StoreOperation(ctx, SetOp::kUnion, "sunionstore"); }
void SDiffStore(CommandContext& ctx) { StoreOperation(ctx, SetOp::kDiff, "sdiffstore"); }

// SINTERCARD numkeys key [key ...] [LIMIT limit]
void SInterCard(CommandContext& ctx) {
  int64_t numkeys;
  if (!ParseInteger(ctx.args[1], &numkeys) || numkeys <= 0) {
    ctx.reply.Error(errors::kNumkeysNotPositive);
    return;
  }
  if (static_cast<uint64_t>(numkeys) > ctx.args.size() - 2) {
    ctx.reply.Error(errors::kMoreKeysThanArgs);
    return;
  }
  const size_t keys_end = 2 + static_cast<size_t>(numkeys);
  int64_t limit = 0;
  if (!ParseIntersectionLimit(ctx, keys_end, &limit)) return;
  Operands operands;
  if (!CollectOperands(ctx, 2, keys_end, &operands)) return;
  std::vector<const SetValue*>& sets = operands.sets;
  if (std::any_of(sets.begin(), sets.end(), [](const SetValue* s) { return s == nullptr || s->empty(); })) {
    ctx.reply.Integer(0);
    return;
  }
  std::sort(sets.begin(), sets.end(), [](const SetValue* a, const SetValue* b) { return a->size() < b->size(); });
  int64_t cardinality = 0;
  sets.front()->ForEach([&](std::string_view member) {
    if (limit != 0 && cardinality >= limit) return;
    for (size_t i = 1; i < sets.size(); ++i) {
      if (!sets[i]->Contains(member)) return;
    }
    ++cardinality;
  });
  ctx.reply.Integer(cardinality);
}

void SScan(CommandContext& ctx) {
  uint64_t cursor;
  if (!ParseScanCursor(ctx.args[2], &cursor)) {
    ctx.reply.Error(errors::kInvalidCursor);
    return;
  }
  storage::ValueView<SetValue> set;
  if (!ReadSet(ctx, ctx.args[1], &set)) return;
  ReplyElementScan(ctx, set != nullptr, cursor, /*with_second=*/false, [&](uint64_t from, size_t count, ScanAdd add) {
    return set->Scan(from, count, [&](std::string_view member) { add(member, {}); });
  });
}

constexpr uint32_t kRead = flags::kReadOnly;
constexpr uint32_t kWriteOom = flags::kWrite | flags::kDenyOom;

constexpr CommandSpec kSetCommands[] = {
    {"sadd", -3, kWriteOom | flags::kFast, 1, 1, 1, SAdd, {}, "Add one or more members to a set"},
    {"srem", -3, flags::kWrite | flags::kFast, 1, 1, 1, SRem, {}, "Remove one or more members from a set"},
    {"smembers", 2, kRead, 1, 1, 1, SMembers, {}, "Get all the members in a set"},
    {"sismember", 3, kRead | flags::kFast, 1, 1, 1, SIsMember, {}, "Determine if a given value is a member of a set"},
    {"smismember", -3, kRead | flags::kFast, 1, 1, 1, SMIsMember, {}, "Returns the membership associated with the given elements for a set"},
    {"scard", 2, kRead | flags::kFast, 1, 1, 1, SCard, {}, "Get the number of members in a set"},
    {"spop", -2, flags::kWrite | flags::kFast, 1, 1, 1, SPop, {}, "Remove and return one or multiple random members from a set"},
    {"srandmember", -2, kRead, 1, 1, 1, SRandMember, {}, "Get one or multiple random members from a set"},
    {"smove", 4, flags::kWrite | flags::kFast, 1, 2, 1, SMove, {}, "Move a member from one set to another"},
    {"sinter", -2, kRead, 1, -1, 1, SInter, {}, "Intersect multiple sets"},
    {"sunion", -2, kRead, 1, -1, 1, SUnion, {}, "Add multiple sets"},
    {"sdiff", -2, kRead, 1, -1, 1, SDiff, {}, "Subtract multiple sets"},
    {"sinterstore", -3, kWriteOom, 1, -1, 1, SInterStore, {}, "Intersect multiple sets and store the resulting set in a key"},
    {"sunionstore", -3, kWriteOom, 1, -1, 1, SUnionStore, {}, "Add multiple sets and store the resulting set in a key"},
    {"sdiffstore", -3, kWriteOom, 1, -1, 1, SDiffStore, {}, "Subtract multiple sets and store the resulting set in a key"},
    {"sintercard", -3, kRead, 2, 2, 1, SInterCard, {}, "Intersect multiple sets and return the cardinality of the result", KeysAfterNumkeys},
    {"sscan", -3, kRead, 1, 1, 1, SScan, {}, "Incrementally iterate Set elements"},
};

}  // namespace

std::span<const CommandSpec> SetCommands() { return kSetCommands; }

}  // namespace strata::server
