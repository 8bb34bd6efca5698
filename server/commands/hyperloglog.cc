// HyperLogLog commands (Redis's hyperloglog.c): PFADD, PFCOUNT, PFMERGE. An HLL is a string
// value in Redis's exact format (storage/hyperloglog.h), so counts equal Redis's for the same
// elements and a value copied between Redis and strata with GET/SET works in both.
#include <string>

#include "server/absl_compat.h"
#include "server/command.h"
#include "server/config.h"
#include "server/errors.h"
#include "server/server.h"
#include "storage/entry.h"
#include "storage/errors.h"
#include "storage/hyperloglog.h"
#include "storage/keyspace_events.h"

namespace strata::server {

namespace {

using storage::Entry;
using storage::ValueType;
namespace notify = storage::notify;

size_t SparseMaxBytes(CommandContext& ctx) {
  return static_cast<size_t>(ctx.server.config().hll_sparse_max_bytes.load(std::memory_order_relaxed));
}

// The HLL at key: nullptr when absent; false after replying WRONGTYPE (another type, or a
// string that is not an HLL). `for_write`: a write's lookup (PFADD's), which counts no miss
// and raises no "keymiss".
bool FindHll(CommandContext& ctx, std::string_view key, const Entry** entry, bool for_write = false) {
  const Entry* e = for_write ? ctx.keys().FindForWrite(key) : ctx.keys().FindForRead(key);
  if (e != nullptr && e->type() != ValueType::kString) {
    ctx.reply.Error(Std(storage::WrongTypeError().message()));
    return false;
  }
  if (e != nullptr && !storage::IsValidHll(e->string_value())) {
    ctx.reply.Error(Std(storage::HllWrongTypeError().message()));
    return false;
  }
  *entry = e;
  return true;
}

// Stores an HLL's new bytes under key, keeping its TTL; Redis keeps HLLs "raw" strings.
void StoreHll(CommandContext& ctx, std::string_view key, const Entry* old, const std::string& hll) {
  ctx.keys().SetString(key, hll, old != nullptr ? old->expire_at_ms() : Entry::kNoExpiry, Entry::kRawEncoding);
}

// PFADD key [element ...]: 1 if the key was created or any register changed.
void PfAdd(CommandContext& ctx) {
  const Entry* e = nullptr;
  if (!FindHll(ctx, ctx.args[1], &e, /*for_write=*/true)) return;
  std::string hll = e != nullptr ? std::string(e->string_value()) : storage::NewHll();
  bool updated = e == nullptr;
  absl::Status failure;
  for (size_t i = 2; i < ctx.args.size() && failure.ok(); ++i) {
    auto changed = storage::HllAdd(&hll, ctx.args[i], SparseMaxBytes(ctx));
    if (changed.ok()) {
      updated |= *changed;
    } else {
      failure = changed.status();
    }
  }
  if (updated && failure.ok()) storage::HllInvalidateCache(&hll);
  // What was added before a corrupt value stopped the command stays, as in Redis.
  if (updated || !failure.ok()) StoreHll(ctx, ctx.args[1], e, hll);
  if (!failure.ok()) {
    ctx.reply.Error(Std(failure.message()));
    return;
  }
  if (updated) ctx.keys().Notify(notify::kString, "pfadd", ctx.args[1]);
  ctx.reply.Integer(updated ? 1 : 0);
}

// PFCOUNT key [key ...]: one key answers from (and refreshes) its cached count; several count
// their union.
void PfCount(CommandContext& ctx) {
  if (ctx.args.size() > 2) {
    storage::HllUnion all;
    for (size_t i = 1; i < ctx.args.size(); ++i) {
      const Entry* e = nullptr;
      if (!FindHll(ctx, ctx.args[i], &e)) return;
      if (e == nullptr) continue;  // a missing key is an empty HLL
      if (absl::Status s = all.Add(e->string_value()); !s.ok()) {
        ctx.reply.Error(Std(s.message()));
        return;
      }
    }
    ctx.reply.Integer(static_cast<int64_t>(all.Count()));
    return;
  }
  const Entry* e = nullptr;
  if (!FindHll(ctx, ctx.args[1], &e)) return;
  if (e == nullptr) {
    ctx.reply.Integer(0);
    return;
  }
  std::string hll(e->string_value());
  bool cache_written = false;
  auto count = storage::HllCount(&hll, &cache_written);
  if (!count.ok()) {
    ctx.reply.Error(Std(count.status().message()));
    return;
  }
  if (cache_written) StoreHll(ctx, ctx.args[1], e, hll);
  ctx.reply.Integer(static_cast<int64_t>(*count));  // as Redis casts it
}

// PFMERGE destkey [sourcekey ...]: the union into destkey (itself one of the sources).
void PfMerge(CommandContext& ctx) {
  storage::HllUnion all;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    const Entry* e = nullptr;
    if (!FindHll(ctx, ctx.args[i], &e)) return;
    if (e == nullptr) continue;
    if (absl::Status s = all.Add(e->string_value()); !s.ok()) {
      ctx.reply.Error(Std(s.message()));
      return;
    }
  }
  const Entry* destination = ctx.keys().FindForWrite(ctx.args[1]);
  std::string hll = destination != nullptr ? std::string(destination->string_value()) : storage::NewHll();
  if (absl::Status s = all.StoreInto(&hll, SparseMaxBytes(ctx)); !s.ok()) {
    ctx.reply.Error(Std(s.message()));
    return;
  }
  StoreHll(ctx, ctx.args[1], destination, hll);
  // Redis's name for a merge: in effect a mass PFADD.
  ctx.keys().Notify(notify::kString, "pfadd", ctx.args[1]);
  ctx.reply.Ok();
}

constexpr CommandSpec kHyperLogLogCommands[] = {
    {"pfadd", -2, flags::kWrite | flags::kDenyOom | flags::kFast, 1, 1, 1, PfAdd, {}, "Adds the specified elements to the specified HyperLogLog."},
    {"pfcount", -2, flags::kReadOnly | flags::kMayReplicate, 1, -1, 1, PfCount, {}, "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s)."},
    {"pfmerge", -2, flags::kWrite | flags::kDenyOom, 1, -1, 1, PfMerge, {}, "Merge N different HyperLogLogs into a single one."},
};

}  // namespace

std::span<const CommandSpec> HyperLogLogCommands() { return kHyperLogLogCommands; }

}  // namespace strata::server
