// Sorted set commands (Redis's t_zset.c), except the blocking BZPOPMIN/BZPOPMAX/BZMPOP. Reads go
// through storage::FindValueForRead<ZSetValue>; writes through storage::UpdateValue<ZSetValue>,
// which keeps memory accounting and deletes emptied sets. ZRANGE and its older spellings share
// one generic function (Redis's zrangeGenericCommand is the model), as do the ZUNION family.
// Keyspace events are Redis 7.0's: each write raises its own after the change (after the "new"
// that storage raises when the write created the key), and "del" after it when it emptied the set.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "server/absl_compat.h"
#include "server/blocking.h"
#include "server/command.h"
#include "server/config.h"
#include "server/errors.h"
#include "server/server.h"
#include "storage/errors.h"
#include "storage/glob.h"
#include "storage/set.h"
#include "storage/typed_values.h"
#include "storage/zset.h"

namespace strata::server {

namespace {

using storage::LexBound;
using storage::ScoreBound;
using storage::ZSetValue;
namespace notify = storage::notify;

storage::ZSetLimits Limits(CommandContext& ctx) {
  const Config& config = ctx.server.config();
  return storage::ZSetLimits{config.zset_max_listpack_entries.load(std::memory_order_relaxed),
                             config.zset_max_listpack_value.load(std::memory_order_relaxed)};
}

// A score as Redis reads one (strtod: "inf", "-inf", "1e3", hex; no NaN, no spaces, all of it).
bool ParseScore(std::string_view text, double* score) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return false;
  std::string copy(text);
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(copy.c_str(), &end);
  // All of it: an embedded NUL ends strtod early, and Redis refuses that ("1\0x" is no float).
  if (static_cast<size_t>(end - copy.c_str()) != copy.size() || std::isnan(value)) return false;
  if (errno == ERANGE && (value == HUGE_VAL || value == -HUGE_VAL || std::fpclassify(value) == FP_ZERO)) return false;
  *score = value;
  return true;
}

// A range bound as Redis reads one (zslParseRange): "(" for exclusive, then plain strtod of the
// rest, which must be all consumed and not NaN (so "" and " 1" are accepted, as 0 and 1).
bool ParseScoreBound(std::string_view text, ScoreBound* bound) {
  bound->exclusive = !text.empty() && text[0] == '(';
  std::string copy(bound->exclusive ? text.substr(1) : text);
  char* end = nullptr;
  bound->value = std::strtod(copy.c_str(), &end);
  return *end == '\0' && !std::isnan(bound->value);
}

bool ParseLexBound(std::string_view text, LexBound* bound) {
  if (text == "-") {
    bound->kind = LexBound::Kind::kMinusInfinity;
  } else if (text == "+") {
    bound->kind = LexBound::Kind::kPlusInfinity;
  } else if (!text.empty() && (text[0] == '[' || text[0] == '(')) {
    bound->kind = text[0] == '[' ? LexBound::Kind::kInclusive : LexBound::Kind::kExclusive;
    bound->value.assign(text.substr(1));
  } else {
    return false;
  }
  return true;
}

// How a command looks a key up, as Redis does: a read (lookupKeyRead) counts a hit or miss and
// raises "keymiss"; a write's lookup (lookupKeyWrite: the pops) does neither.
enum class Lookup { kRead, kWrite };

// The set at `key`: false after a WRONGTYPE reply; *zset is nullptr when absent.
bool FindZSet(CommandContext& ctx, std::string_view key, Lookup lookup, storage::ValueView<ZSetValue>* zset) {
  auto found = lookup == Lookup::kRead ? storage::FindValueForRead<ZSetValue>(ctx.keys(), key)
                                       : storage::FindValueForWrite<ZSetValue>(ctx.keys(), key);
  if (!found.ok()) {
    ctx.reply.Error(Std(found.status().message()));
    return false;
  }
  *zset = *std::move(found);
  return true;
}
bool ReadZSet(CommandContext& ctx, std::string_view key, storage::ValueView<ZSetValue>* zset) {
  return FindZSet(ctx, key, Lookup::kRead, zset);
}

// A member and its score as WITHSCORES answers them: flat in RESP2, a [member, score] pair in RESP3.
void ReplyScored(CommandContext& ctx, std::string_view member, double score) {
  if (ctx.reply.resp3()) ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(member);
  ctx.reply.Double(score);
}
// The array header for `count` elements, with or without scores.
void ScoredHeader(CommandContext& ctx, size_t count, bool with_scores) {
  ctx.reply.ArrayHeader(with_scores && !ctx.reply.resp3() ? count * 2 : count);
}

// ---------------------------------------------------------------------------------------------
// ZADD / ZINCRBY

struct ZAddFlags {
  bool nx = false, xx = false, gt = false, lt = false, ch = false, incr = false;
};

// Applies one score to one member under the ZADD flags. Returns the resulting score, or nullopt
// when the flags left the member alone; sets *added / *changed. Error: NaN from INCR.
absl::StatusOr<std::optional<double>> AddOne(ZSetValue& zset, std::string_view member, double score, const ZAddFlags& f,
                                             const storage::ZSetLimits& limits, bool* added, bool* changed) {
  *added = *changed = false;
  absl::StatusOr<std::optional<double>> result = std::optional<double>();
  // One lookup: decide from the current score, and store in the same step.
  zset.Update(member, limits, [&](std::optional<double> current) -> std::optional<double> {
    if (current) {
      if (f.nx) return std::nullopt;
      double updated = score;
      if (f.incr) {
        updated = *current + score;
        if (std::isnan(updated)) {
          result = absl::InvalidArgumentError(Absl(errors::kScoreNan));
          return std::nullopt;
        }
      }
      if ((f.gt && updated <= *current) || (f.lt && updated >= *current)) return std::nullopt;
      result = std::optional<double>(updated);
      if (updated == *current) return std::nullopt;
      *changed = true;
      return updated;
    }
    if (f.xx) return std::nullopt;
    *added = true;
    result = std::optional<double>(score);
    return score;
  });
  return result;
}

void ZAddGeneric(CommandContext& ctx, ZAddFlags flags, size_t first_score) {
  const size_t elements = ctx.args.size() - first_score;
  if (elements == 0 || elements % 2 != 0) {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  if (flags.nx && flags.xx) {
    ctx.reply.Error(errors::kZaddNxXx);
    return;
  }
  if ((flags.gt && flags.nx) || (flags.lt && flags.nx) || (flags.gt && flags.lt)) {
    ctx.reply.Error(errors::kZaddGtLtNx);
    return;
  }
  if (flags.incr && elements > 2) {
    ctx.reply.Error(errors::kZaddIncrPairs);
    return;
  }
  absl::InlinedVector<double, 4> scores;  // no allocation for the common one-pair ZADD
  for (size_t i = first_score; i < ctx.args.size(); i += 2) {
    double score;
    if (!ParseScore(ctx.args[i], &score)) {
      ctx.reply.Error(errors::kNotFloat);
      return;
    }
    scores.push_back(score);
  }
  const storage::ZSetLimits limits = Limits(ctx);
  std::optional<double> incr_result;
  int64_t added = 0, changed = 0;
  auto result = storage::UpdateValue<ZSetValue>(ctx.keys(), ctx.args[1], !flags.xx, [&](ZSetValue& zset) -> absl::StatusOr<int64_t> {
    for (size_t i = 0; i < scores.size(); ++i) {
      bool was_added, was_changed;
      auto score = AddOne(zset, ctx.args[first_score + 2 * i + 1], scores[i], flags, limits, &was_added, &was_changed);
      if (!score.ok()) return score.status();
      incr_result = *score;
      added += was_added;
      changed += was_changed;
    }
    return added + changed;  // what changed: a ZADD of the same scores writes nothing
  }, storage::ChangeReport::kWhenPositive);
  // Only a ZADD that added or rescored a member raises its event (ZINCRBY's is "zincr").
  if (result.ok() && *result > 0) ctx.keys().Notify(notify::kZSet, flags.incr ? "zincr" : "zadd", ctx.args[1]);
  if (!result.ok()) {
    ctx.reply.Error(Std(result.status().message()));
  } else if (flags.incr) {
    if (incr_result) {
      ctx.reply.Double(*incr_result);
    } else {
      ctx.reply.Null();
    }
  } else {
    ctx.reply.Integer(flags.ch ? added + changed : added);
  }
}

void ZAdd(CommandContext& ctx) {
  ZAddFlags flags;
  size_t i = 2;
  for (; i < ctx.args.size(); ++i) {
    std::string_view option = ctx.args[i];
    if (EqualsIgnoreCase(option, "nx")) flags.nx = true;
    else if (EqualsIgnoreCase(option, "xx")) flags.xx = true;
    else if (EqualsIgnoreCase(option, "gt")) flags.gt = true;
    else if (EqualsIgnoreCase(option, "lt")) flags.lt = true;
    else if (EqualsIgnoreCase(option, "ch")) flags.ch = true;
    else if (EqualsIgnoreCase(option, "incr")) flags.incr = true;
    else break;
  }
  ZAddGeneric(ctx, flags, i);
}

void ZIncrBy(CommandContext& ctx) {
  ZAddFlags flags;
  flags.incr = true;
  // ZINCRBY key increment member: the same as ZADD key INCR increment member.
  ZAddGeneric(ctx, flags, 2);
}

// ---------------------------------------------------------------------------------------------
// Reads of single members

void ZScore(CommandContext& ctx) {
  storage::ValueView<ZSetValue> zset;
  if (!ReadZSet(ctx, ctx.args[1], &zset)) return;
  std::optional<double> score = zset ? zset->Score(ctx.args[2]) : std::nullopt;
  if (score) {
    ctx.reply.Double(*score);
  } else {
    ctx.reply.Null();
  }
}

void ZMScore(CommandContext& ctx) {
  storage::ValueView<ZSetValue> zset;
  if (!ReadZSet(ctx, ctx.args[1], &zset)) return;
  ctx.reply.ArrayHeader(ctx.args.size() - 2);
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    std::optional<double> score = zset ? zset->Score(ctx.args[i]) : std::nullopt;
    if (score) {
      ctx.reply.Double(*score);
    } else {
      ctx.reply.Null();
    }
  }
}

void ZCard(CommandContext& ctx) {
  storage::ValueView<ZSetValue> zset;
  if (!ReadZSet(ctx, ctx.args[1], &zset)) return;
  ctx.reply.Integer(zset ? static_cast<int64_t>(zset->size()) : 0);
}

void RankGeneric(CommandContext& ctx, bool reverse) {
  storage::ValueView<ZSetValue> zset;
  if (!ReadZSet(ctx, ctx.args[1], &zset)) return;
  std::optional<size_t> rank = zset ? zset->Rank(ctx.args[2]) : std::nullopt;
  if (!rank) {
    ctx.reply.Null();
    return;
  }
  ctx.reply.Integer(static_cast<int64_t>(reverse ? zset->size() - 1 - *rank : *rank));
}
void ZRank(CommandContext& ctx) { RankGeneric(ctx, false); }
void ZRevRank(CommandContext& ctx) { RankGeneric(ctx, true); }

// Redis's event for a write that removed members, then "del" when it removed the last one.
void NotifyRemoved(CommandContext& ctx, std::string_view key, std::string_view event, bool emptied) {
  ctx.keys().Notify(notify::kZSet, event, key);
  if (emptied) ctx.keys().Notify(notify::kGeneric, "del", key);
}

void ZRem(CommandContext& ctx) {
  bool emptied = false;
  auto removed = storage::UpdateValue<ZSetValue>(ctx.keys(), ctx.args[1], false, [&](ZSetValue& zset) -> absl::StatusOr<int64_t> {
    int64_t removed = 0;
    for (size_t i = 2; i < ctx.args.size() && !zset.empty(); ++i) removed += zset.Remove(ctx.args[i]) ? 1 : 0;
    emptied = zset.empty();
    return removed;
  }, storage::ChangeReport::kWhenPositive);
  if (removed.ok() && *removed > 0) NotifyRemoved(ctx, ctx.args[1], "zrem", emptied);
  ReplyIntegerOrError(ctx, removed);
}

// ---------------------------------------------------------------------------------------------
// Ranges: by rank, by score, by member (lex)

enum class RangeKind { kRank, kScore, kLex };

struct Range {
  RangeKind kind = RangeKind::kRank;
  int64_t start = 0, stop = 0;  // kRank
  ScoreBound min{0}, max{0};    // kScore
  LexBound lex_min{LexBound::Kind::kMinusInfinity, {}}, lex_max{LexBound::Kind::kPlusInfinity, {}};  // kLex
};

// Parses the two range arguments (already in min, max order) as `kind`; replies the error.
bool ParseRange(CommandContext& ctx, RangeKind kind, std::string_view min, std::string_view max, Range* range) {
  range->kind = kind;
  switch (kind) {
    case RangeKind::kRank:
      if (!ParseInteger(min, &range->start) || !ParseInteger(max, &range->stop)) {
        ctx.reply.Error(errors::kNotInteger);
        return false;
      }
      return true;
    case RangeKind::kScore:
      if (!ParseScoreBound(min, &range->min) || !ParseScoreBound(max, &range->max)) {
        ctx.reply.Error(errors::kMinMaxNotFloat);
        return false;
      }
      return true;
    case RangeKind::kLex:
      if (!ParseLexBound(min, &range->lex_min) || !ParseLexBound(max, &range->lex_max)) {
        ctx.reply.Error(errors::kMinMaxNotLex);
        return false;
      }
      return true;
  }
  return false;
}

// The ranks [first, end) (in ascending order) that a range selects in `zset`.
void RanksOf(const ZSetValue& zset, const Range& range, size_t* first, size_t* end) {
  const size_t n = zset.size();
  *first = *end = 0;
  switch (range.kind) {
    case RangeKind::kRank: {
      int64_t start = range.start, stop = range.stop;
      if (start < 0) start += static_cast<int64_t>(n);
      if (stop < 0) stop += static_cast<int64_t>(n);
      if (start < 0) start = 0;
      if (start > stop || start >= static_cast<int64_t>(n)) return;
      if (stop >= static_cast<int64_t>(n)) stop = static_cast<int64_t>(n) - 1;
      *first = static_cast<size_t>(start);
      *end = static_cast<size_t>(stop) + 1;
      return;
    }
    case RangeKind::kScore:
      *first = zset.FirstRankAtOrAbove(range.min);
      *end = std::max(*first, zset.FirstRankAbove(range.max));
      return;
    case RangeKind::kLex:
      *first = zset.FirstRankAtOrAbove(range.lex_min);
      *end = std::max(*first, zset.FirstRankAbove(range.lex_max));
      return;
  }
}

// Calls fn(member, score) for what a range with REV and LIMIT selects, in reply order.
// For a reversed rank range, start/stop count from the highest score (as ZREVRANGE does).
template <typename Fn>
size_t WalkRange(const ZSetValue& zset, const Range& range, bool reverse, int64_t offset, int64_t limit, Fn&& fn) {
  size_t first, end;
  if (range.kind == RangeKind::kRank) {  // a rank range has no LIMIT (Redis ignores a "LIMIT o -1")
    offset = 0;
    limit = -1;
  }
  if (range.kind == RangeKind::kRank && reverse) {
    // Ranks counted from the top: select in reversed order, then map back.
    RanksOf(zset, range, &first, &end);
    if (first >= end) return 0;
    size_t walked = 0;
    zset.WalkRanks(first, end - 1, true, [&](std::string_view m, double s) {
      fn(m, s);
      ++walked;
      return true;
    });
    return walked;
  }
  RanksOf(zset, range, &first, &end);
  if (offset < 0 || first >= end) return 0;
  const size_t available = end - first;
  if (static_cast<uint64_t>(offset) >= available) return 0;
  size_t count = available - static_cast<size_t>(offset);
  if (limit >= 0) count = std::min(count, static_cast<size_t>(limit));
  if (count == 0) return 0;
  if (!reverse) {
    const size_t from = first + static_cast<size_t>(offset);
    zset.WalkRanks(from, from + count - 1, false, [&](std::string_view m, double s) {
      fn(m, s);
      return true;
    });
  } else {
    // Reverse ranks r' = n-1-r: the range's top is r' = n - end.
    const size_t n = zset.size();
    const size_t from = n - end + static_cast<size_t>(offset);
    zset.WalkRanks(from, from + count - 1, true, [&](std::string_view m, double s) {
      fn(m, s);
      return true;
    });
  }
  return count;
}

// The STORE forms' last step (Redis's setKey, or dbDelete for an empty result): `elements`, in
// order, replace whatever `destination` held, then `event` is raised (after the "new" of a key
// this creates); an empty result deletes the destination instead, raising "del" if there was one.
void StoreResult(CommandContext& ctx, std::string_view destination,
                 const std::vector<std::pair<std::string, double>>& elements, std::string_view event) {
  storage::Transaction& txn = ctx.keys();
  if (elements.empty()) {
    if (txn.Delete(destination)) txn.Notify(notify::kGeneric, "del", destination);
    return;
  }
  // As setKey does, look the destination up first: an expired one is dropped, so that the store
  // creates the key (and raises "new") rather than replace it.
  (void)txn.FindForWrite(destination);
  auto zset = std::make_unique<ZSetValue>();
  const storage::ZSetLimits limits = Limits(ctx);
  for (const auto& [member, score] : elements) zset->Set(member, score, limits);
  txn.Store(storage::Entry::NewZSet(destination, zset.release(), storage::EntryMeta{}));
  txn.Notify(notify::kZSet, event, destination);
}

// ZRANGE and its older spellings; `store` is ZRANGESTORE (args shifted by the destination).
// `zrange_options`: BYSCORE, BYLEX and REV are ZRANGE's (and ZRANGESTORE's) own.
void RangeGeneric(CommandContext& ctx, RangeKind kind, bool reverse, bool store, bool zrange_options) {
  const bool options_allowed = zrange_options;
  const bool with_scores_allowed = !store;
  const size_t key_index = store ? 2 : 1;
  const size_t options_from = key_index + 3;
  bool with_scores = false;
  int64_t offset = 0, limit = -1;
  bool by_chosen = false;  // each of REV, BYSCORE/BYLEX at most once, as Redis parses them
  for (size_t i = options_from; i < ctx.args.size(); ++i) {
    std::string_view option = ctx.args[i];
    if (with_scores_allowed && EqualsIgnoreCase(option, "withscores")) {
      with_scores = true;
    } else if (EqualsIgnoreCase(option, "limit") && i + 2 < ctx.args.size()) {
      if (!ParseInteger(ctx.args[i + 1], &offset) || !ParseInteger(ctx.args[i + 2], &limit)) {
        ctx.reply.Error(errors::kNotInteger);
        return;
      }
      i += 2;
    } else if (options_allowed && !by_chosen && EqualsIgnoreCase(option, "byscore")) {
      kind = RangeKind::kScore;
      by_chosen = true;
    } else if (options_allowed && !by_chosen && EqualsIgnoreCase(option, "bylex")) {
      kind = RangeKind::kLex;
      by_chosen = true;
    } else if (options_allowed && !reverse && EqualsIgnoreCase(option, "rev")) {
      reverse = true;
    } else {
      ctx.reply.Error(errors::kSyntax);
      return;
    }
  }
  if (limit != -1 && kind == RangeKind::kRank) {  // Redis's test: a LIMIT of count -1 passes
    ctx.reply.Error(errors::kLimitNeedsByScoreOrLex);
    return;
  }
  if (with_scores && kind == RangeKind::kLex) {
    ctx.reply.Error(errors::kWithScoresNotWithByLex);
    return;
  }
  // REV with BYSCORE/BYLEX (and ZREVRANGEBY*) takes "max min".
  std::string_view a = ctx.args[key_index + 1], b = ctx.args[key_index + 2];
  if (reverse && kind != RangeKind::kRank) std::swap(a, b);
  Range range;
  if (!ParseRange(ctx, kind, a, b, &range)) return;
  const std::string_view key = ctx.args[key_index];
  if (store) {
    std::vector<std::pair<std::string, double>> selected;
    {
      storage::ValueView<ZSetValue> zset;
      if (!ReadZSet(ctx, key, &zset)) return;
      if (zset) WalkRange(*zset, range, reverse, offset, limit, [&](std::string_view m, double s) { selected.emplace_back(m, s); });
    }
    StoreResult(ctx, ctx.args[1], selected, "zrangestore");
    ctx.reply.Integer(static_cast<int64_t>(selected.size()));
    return;
  }
  storage::ValueView<ZSetValue> zset;
  if (!ReadZSet(ctx, key, &zset)) return;
  if (zset == nullptr) {
    ctx.reply.ArrayHeader(0);
    return;
  }
  // Count first (the reply header comes before the elements), then reply.
  size_t count = WalkRange(*zset, range, reverse, offset, limit, [](std::string_view, double) {});
  ScoredHeader(ctx, count, with_scores);
  WalkRange(*zset, range, reverse, offset, limit, [&](std::string_view m, double s) {
    if (with_scores) {
      ReplyScored(ctx, m, s);
    } else {
      ctx.reply.Bulk(m);
    }
  });
}

void ZRange(CommandContext& ctx) { RangeGeneric(ctx, RangeKind::kRank, false, false, true); }
void ZRangeStore(CommandContext& ctx) { RangeGeneric(ctx, RangeKind::kRank, false, true, true); }
void ZRevRange(CommandContext& ctx) { RangeGeneric(ctx, RangeKind::kRank, true, false, false); }
void ZRangeByScore(CommandContext& ctx) { RangeGeneric(ctx, RangeKind::kScore, false, false, false); }
void ZRevRangeByScore(CommandContext& ctx) { RangeGeneric(ctx, RangeKind::kScore, true, false, false); }
void ZRangeByLex(CommandContext& ctx) { RangeGeneric(ctx, RangeKind::kLex, false, false, false); }
void ZRevRangeByLex(CommandContext& ctx) { RangeGeneric(ctx, RangeKind::kLex, true, false, false); }

void CountGeneric(CommandContext& ctx, RangeKind kind) {
  Range range;
  if (!ParseRange(ctx, kind, ctx.args[2], ctx.args[3], &range)) return;
  storage::ValueView<ZSetValue> zset;
  if (!ReadZSet(ctx, ctx.args[1], &zset)) return;
  size_t first = 0, end = 0;
  if (zset) RanksOf(*zset, range, &first, &end);
  ctx.reply.Integer(static_cast<int64_t>(end - first));
}
void ZCount(CommandContext& ctx) { CountGeneric(ctx, RangeKind::kScore); }
void ZLexCount(CommandContext& ctx) { CountGeneric(ctx, RangeKind::kLex); }

void RemoveRangeGeneric(CommandContext& ctx, RangeKind kind) {
  Range range;
  if (!ParseRange(ctx, kind, ctx.args[2], ctx.args[3], &range)) return;
  bool emptied = false;
  auto removed = storage::UpdateValue<ZSetValue>(ctx.keys(), ctx.args[1], false, [&](ZSetValue& zset) -> absl::StatusOr<int64_t> {
    size_t first, end;
    RanksOf(zset, range, &first, &end);
    const size_t erased = first < end ? zset.EraseRanks(first, end - 1) : 0;
    emptied = zset.empty();
    return static_cast<int64_t>(erased);
  }, storage::ChangeReport::kWhenPositive);
  if (removed.ok() && *removed > 0) {
    const std::string_view event = kind == RangeKind::kRank    ? "zremrangebyrank"
                                   : kind == RangeKind::kScore ? "zremrangebyscore"
                                                               : "zremrangebylex";
    NotifyRemoved(ctx, ctx.args[1], event, emptied);
  }
  ReplyIntegerOrError(ctx, removed);
}
void ZRemRangeByRank(CommandContext& ctx) { RemoveRangeGeneric(ctx, RangeKind::kRank); }
void ZRemRangeByScore(CommandContext& ctx) { RemoveRangeGeneric(ctx, RangeKind::kScore); }
void ZRemRangeByLex(CommandContext& ctx) { RemoveRangeGeneric(ctx, RangeKind::kLex); }

// ---------------------------------------------------------------------------------------------
// Pops

// Pops up to `count` of the lowest (or highest) elements of the set at `key`, raising "zpopmin"
// (or "zpopmax") when it popped any, then "del" when it popped the last.
std::vector<std::pair<std::string, double>> PopElements(CommandContext& ctx, std::string_view key, bool max, size_t count) {
  std::vector<std::pair<std::string, double>> popped;
  bool emptied = false;
  (void)storage::UpdateValue<ZSetValue>(ctx.keys(), key, false, [&](ZSetValue& zset) -> absl::StatusOr<int64_t> {
    const size_t n = std::min(count, zset.size());
    if (n == 0) return 0;
    zset.WalkRanks(0, n - 1, max, [&](std::string_view m, double s) {
      popped.emplace_back(m, s);
      return true;
    });
    for (const auto& element : popped) zset.Remove(element.first);
    emptied = zset.empty();
    return 0;
  });
  if (!popped.empty()) NotifyRemoved(ctx, key, max ? "zpopmax" : "zpopmin", emptied);
  return popped;
}

void PopGeneric(CommandContext& ctx, bool max) {
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
  storage::ValueView<ZSetValue> zset;
  if (!FindZSet(ctx, ctx.args[1], Lookup::kWrite, &zset)) return;
  if (zset == nullptr || count == 0) {
    ctx.reply.ArrayHeader(0);
    return;
  }
  auto popped = PopElements(ctx, ctx.args[1], max, static_cast<size_t>(count));
  if (!with_count) {  // one element, flat [member, score] in both protocols
    ctx.reply.ArrayHeader(2);
    ctx.reply.Bulk(popped.front().first);
    ctx.reply.Double(popped.front().second);
    return;
  }
  ScoredHeader(ctx, popped.size(), true);
  for (const auto& [member, score] : popped) ReplyScored(ctx, member, score);
}
void ZPopMin(CommandContext& ctx) { PopGeneric(ctx, false); }
void ZPopMax(CommandContext& ctx) { PopGeneric(ctx, true); }

// ZMPOP's reply: [key, [[member, score], ...]] for what it popped from the set at key.
void PopAndReplyAsMPop(CommandContext& ctx, std::string_view key, bool max, int64_t count) {
  auto popped = PopElements(ctx, key, max, static_cast<size_t>(count));
  ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(key);
  ctx.reply.ArrayHeader(popped.size());
  for (const auto& [member, score] : popped) {
    ctx.reply.ArrayHeader(2);
    ctx.reply.Bulk(member);
    ctx.reply.Double(score);
  }
}

// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
void ZMPop(CommandContext& ctx) {
  MPopArgs mpop;
  if (!ParseMPopArgs(ctx, 1, "min", "max", &mpop)) return;
  const bool max = mpop.second_where;
  const int64_t count = mpop.count;
  const size_t where = mpop.keys_end;
  for (size_t k = 2; k < where; ++k) {
    storage::ValueView<ZSetValue> zset;
    if (!FindZSet(ctx, ctx.args[k], Lookup::kWrite, &zset)) return;
    if (zset == nullptr) continue;
    PopAndReplyAsMPop(ctx, ctx.args[k], max, count);
    return;
  }
  ctx.reply.NullArray();
}

// BZPOPMIN / BZPOPMAX key [key ...] timeout: [key, member, score] from the first non-empty set.
void BlockingPop(CommandContext& ctx, bool max) {
  int64_t deadline_ms;
  if (!ParseBlockTimeout(ctx, ctx.args.back(), &deadline_ms)) return;
  const auto keys = ctx.args.subspan(1, ctx.args.size() - 2);
  for (std::string_view key : keys) {
    bool ready;
    if (!FindForBlockingPop<ZSetValue>(ctx, key, &ready)) return;
    if (!ready) continue;
    auto popped = PopElements(ctx, key, max, 1);
    ctx.reply.ArrayHeader(3);
    ctx.reply.Bulk(key);
    ctx.reply.Bulk(popped.front().first);
    ctx.reply.Double(popped.front().second);
    return;
  }
  BlockOrTimeOut(ctx, keys, deadline_ms, NoWaitReply::kNullArray);
}
void BZPopMin(CommandContext& ctx) { BlockingPop(ctx, false); }
void BZPopMax(CommandContext& ctx) { BlockingPop(ctx, true); }

// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
void BZMPop(CommandContext& ctx) {
  MPopArgs mpop;
  if (!ParseMPopArgs(ctx, 2, "min", "max", &mpop)) return;
  int64_t deadline_ms;
  if (!ParseBlockTimeout(ctx, ctx.args[1], &deadline_ms)) return;
  const auto keys = ctx.args.subspan(mpop.first_key, mpop.keys_end - mpop.first_key);
  for (std::string_view key : keys) {
    bool ready;
    if (!FindForBlockingPop<ZSetValue>(ctx, key, &ready)) return;
    if (!ready) continue;
    PopAndReplyAsMPop(ctx, key, mpop.second_where, mpop.count);
    return;
  }
  BlockOrTimeOut(ctx, keys, deadline_ms, NoWaitReply::kNullArray);
}

// ZRANDMEMBER key [count [WITHSCORES]]
void ZRandMember(CommandContext& ctx) {
  int64_t count = 1;
  if (!ParseRandomCount(ctx, "withscores", &count)) return;
  const bool with_count = ctx.args.size() >= 3;
  const bool with_scores = ctx.args.size() == 4;
  storage::ValueView<ZSetValue> zset;
  if (!ReadZSet(ctx, ctx.args[1], &zset)) return;
  storage::Transaction& txn = ctx.keys();
  if (!with_count) {
    if (zset == nullptr) {
      ctx.reply.Null();
      return;
    }
    const size_t rank = txn.NextRandom() % zset->size();
    zset->WalkRanks(rank, rank, false, [&](std::string_view m, double) {
      ctx.reply.Bulk(m);
      return false;
    });
    return;
  }
  if (zset == nullptr || count == 0) {
    ctx.reply.ArrayHeader(0);
    return;
  }
  auto reply_rank = [&](size_t rank) {
    zset->WalkRanks(rank, rank, false, [&](std::string_view m, double s) {
      if (with_scores) {
        ReplyScored(ctx, m, s);
      } else {
        ctx.reply.Bulk(m);
      }
      return false;
    });
  };
  const size_t n = zset->size();
  if (count < 0) {  // -N: N picks, repeats allowed
    ScoredHeader(ctx, static_cast<size_t>(-count), with_scores);
    for (int64_t i = 0; i < -count; ++i) reply_rank(txn.NextRandom() % n);
    return;
  }
  const size_t wanted = std::min(static_cast<size_t>(count), n);
  ScoredHeader(ctx, wanted, with_scores);
  // `wanted` distinct ranks by selection sampling, in rank order.
  size_t needed = wanted;
  for (size_t rank = 0; rank < n && needed > 0; ++rank) {
    if (txn.NextRandom() % (n - rank) < needed) {
      reply_rank(rank);
      --needed;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ZUNION / ZINTER / ZDIFF and their STORE and CARD forms

enum class ZSetOp { kUnion, kInter, kDiff };
enum class Aggregate { kSum, kMin, kMax };

double AggregateScores(Aggregate how, double a, double b) {
  switch (how) {
    case Aggregate::kSum: {
      const double sum = a + b;
      return std::isnan(sum) ? 0.0 : sum;  // inf + -inf is 0 in Redis
    }
    case Aggregate::kMin: return std::min(a, b);
    case Aggregate::kMax: return std::max(a, b);
  }
  return a;
}

// The operands (ZSETs or SETs, whose members score 1), their weights and the aggregate, parsed
// from args[numkeys_index...]. Replies the error and returns false.
struct SetOperands {
  std::vector<std::vector<std::pair<std::string, double>>> sets;  // each operand's elements
  std::vector<bool> present;
  std::vector<double> weights;
  Aggregate aggregate = Aggregate::kSum;
  bool with_scores = false;
};

// The numkeys of ZUNION/ZINTER/ZDIFF/ZINTERCARD (and STORE forms) at args[numkeys_index]: sets
// *numkeys, or replies Redis's error and returns false.
bool ParseNumkeys(CommandContext& ctx, size_t numkeys_index, int64_t* numkeys) {
  if (!ParseInteger(ctx.args[numkeys_index], numkeys)) {
    ctx.reply.Error(errors::kNotInteger);
    return false;
  }
  if (*numkeys < 1) {
    ctx.reply.Error(absl::StrCat("ERR at least 1 input key is needed for '", Absl(ctx.spec.name), "' command"));
    return false;
  }
  if (static_cast<uint64_t>(*numkeys) > ctx.args.size() - numkeys_index - 1) {
    ctx.reply.Error(errors::kSyntax);
    return false;
  }
  return true;
}

// Looks up and type-checks every operand key (a set counts, with scores of 1), as Redis does
// before it reads the options. Replies WRONGTYPE and returns false.
bool CollectOperands(CommandContext& ctx, size_t first_key, size_t keys_end, SetOperands* out) {
  for (size_t k = first_key; k < keys_end; ++k) {
    storage::Entry* e = ctx.keys().FindForRead(ctx.args[k]);
    std::vector<std::pair<std::string, double>> elements;
    if (e == nullptr) {
      out->present.push_back(false);
    } else if (e->type() == storage::ValueType::kZSet) {
      const storage::ValueView<ZSetValue> view(*e);
      const ZSetValue& zset = *view;
      if (!zset.empty()) zset.WalkRanks(0, zset.size() - 1, false, [&](std::string_view m, double s) {
        elements.emplace_back(m, s);
        return true;
      });
      out->present.push_back(true);
    } else if (e->type() == storage::ValueType::kSet) {
      storage::ValueView<storage::SetValue>(*e)->ForEach([&](std::string_view m) { elements.emplace_back(m, 1.0); });
      out->present.push_back(true);
    } else {
      ctx.reply.Error(Std(storage::WrongTypeError().message()));
      return false;
    }
    out->sets.push_back(std::move(elements));
  }
  return true;
}

bool ParseSetOperation(CommandContext& ctx, size_t numkeys_index, bool allow_with_scores, ZSetOp op, SetOperands* out) {
  int64_t numkeys;
  if (!ParseNumkeys(ctx, numkeys_index, &numkeys)) return false;
  const size_t first_key = numkeys_index + 1;
  const size_t keys_end = first_key + static_cast<size_t>(numkeys);
  if (!CollectOperands(ctx, first_key, keys_end, out)) return false;
  out->weights.assign(static_cast<size_t>(numkeys), 1.0);
  for (size_t i = keys_end; i < ctx.args.size(); ++i) {
    const size_t remaining = ctx.args.size() - i - 1;
    if (op != ZSetOp::kDiff && EqualsIgnoreCase(ctx.args[i], "weights") && remaining >= static_cast<size_t>(numkeys)) {
      for (size_t w = 0; w < static_cast<size_t>(numkeys); ++w) {
        if (!ParseScore(ctx.args[i + 1 + w], &out->weights[w])) {
          ctx.reply.Error(errors::kWeightNotFloat);
          return false;
        }
      }
      i += static_cast<size_t>(numkeys);
    } else if (op != ZSetOp::kDiff && EqualsIgnoreCase(ctx.args[i], "aggregate") && remaining >= 1) {
      std::string_view how = ctx.args[i + 1];
      if (EqualsIgnoreCase(how, "sum")) out->aggregate = Aggregate::kSum;
      else if (EqualsIgnoreCase(how, "min")) out->aggregate = Aggregate::kMin;
      else if (EqualsIgnoreCase(how, "max")) out->aggregate = Aggregate::kMax;
      else {
        ctx.reply.Error(errors::kSyntax);
        return false;
      }
      ++i;
    } else if (allow_with_scores && EqualsIgnoreCase(ctx.args[i], "withscores")) {
      out->with_scores = true;
    } else {
      ctx.reply.Error(errors::kSyntax);
      return false;
    }
  }
  return true;
}

// The result in Redis's order (by score, then member), computed the way Redis computes it, so
// that even rounding and NaN cases agree: operands sorted by size (stably) for UNION and INTER;
// INTER walks the smallest; a weighted score that is NaN counts 0, except the other operands'
// terms of an INTER, where only the running sum is reset to 0 when it turns NaN.
std::vector<std::pair<std::string, double>> ComputeSetOperation(ZSetOp op, const SetOperands& in) {
  std::vector<size_t> order(in.sets.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (op != ZSetOp::kDiff) {
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return in.sets[a].size() < in.sets[b].size(); });
  }
  absl::flat_hash_map<std::string, double> result;
  auto weighted = [&](size_t set, double score) {
    const double w = score * in.weights[set];
    return std::isnan(w) ? 0.0 : w;
  };
  switch (op) {
    case ZSetOp::kUnion:
      for (size_t i : order) {
        for (const auto& [member, score] : in.sets[i]) {
          auto [it, inserted] = result.try_emplace(member, weighted(i, score));
          if (!inserted) it->second = AggregateScores(in.aggregate, it->second, weighted(i, score));
        }
      }
      break;
    case ZSetOp::kInter: {
      if (std::find(in.present.begin(), in.present.end(), false) != in.present.end()) break;
      std::vector<absl::flat_hash_map<std::string, double>> maps(in.sets.size());
      for (size_t i : order) maps[i].insert(in.sets[i].begin(), in.sets[i].end());
      for (const auto& [member, score] : in.sets[order[0]]) {
        double total = weighted(order[0], score);
        bool everywhere = true;
        for (size_t j = 1; j < order.size() && everywhere; ++j) {
          auto it = maps[order[j]].find(member);
          if (it == maps[order[j]].end()) {
            everywhere = false;
          } else {
            total = AggregateScores(in.aggregate, total, it->second * in.weights[order[j]]);
          }
        }
        if (everywhere) result.emplace(member, total);
      }
      break;
    }
    case ZSetOp::kDiff: {
      absl::flat_hash_map<std::string, double> others;
      for (size_t i = 1; i < in.sets.size(); ++i) others.insert(in.sets[i].begin(), in.sets[i].end());
      for (const auto& [member, score] : in.sets[0]) {
        if (!others.contains(member)) result.emplace(member, score);
      }
      break;
    }
  }
  std::vector<std::pair<std::string, double>> ordered(result.begin(), result.end());
  std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
    return a.second < b.second || (a.second == b.second && a.first < b.first);
  });
  return ordered;
}

void SetOperationGeneric(CommandContext& ctx, ZSetOp op, bool store) {
  SetOperands operands;
  if (!ParseSetOperation(ctx, store ? 2 : 1, !store, op, &operands)) return;
  auto result = ComputeSetOperation(op, operands);
  if (store) {
    StoreResult(ctx, ctx.args[1], result,
                op == ZSetOp::kUnion ? "zunionstore" : op == ZSetOp::kInter ? "zinterstore" : "zdiffstore");
    ctx.reply.Integer(static_cast<int64_t>(result.size()));
    return;
  }
  ScoredHeader(ctx, result.size(), operands.with_scores);
  for (const auto& [member, score] : result) {
    if (operands.with_scores) {
      ReplyScored(ctx, member, score);
    } else {
      ctx.reply.Bulk(member);
    }
  }
}
void ZUnion(CommandContext& ctx) { SetOperationGeneric(ctx, ZSetOp::kUnion, false); }
void ZInter(CommandContext& ctx) { SetOperationGeneric(ctx, ZSetOp::kInter, false); }
void ZDiff(CommandContext& ctx) { SetOperationGeneric(ctx, ZSetOp::kDiff, false); }
void ZUnionStore(CommandContext& ctx) { SetOperationGeneric(ctx, ZSetOp::kUnion, true); }
void ZInterStore(CommandContext& ctx) { SetOperationGeneric(ctx, ZSetOp::kInter, true); }
void ZDiffStore(CommandContext& ctx) { SetOperationGeneric(ctx, ZSetOp::kDiff, true); }

// ZINTERCARD numkeys key [key ...] [LIMIT limit]
void ZInterCard(CommandContext& ctx) {
  int64_t numkeys;
  if (!ParseNumkeys(ctx, 1, &numkeys)) return;
  const size_t keys_end = 2 + static_cast<size_t>(numkeys);
  SetOperands operands;
  if (!CollectOperands(ctx, 2, keys_end, &operands)) return;
  int64_t limit = 0;
  if (!ParseIntersectionLimit(ctx, keys_end, &limit)) return;
  operands.weights.assign(static_cast<size_t>(numkeys), 1.0);
  const size_t size = ComputeSetOperation(ZSetOp::kInter, operands).size();
  ctx.reply.Integer(limit == 0 ? static_cast<int64_t>(size) : std::min<int64_t>(limit, static_cast<int64_t>(size)));
}

void ZScan(CommandContext& ctx) {
  uint64_t cursor;
  if (!ParseScanCursor(ctx.args[2], &cursor)) {
    ctx.reply.Error(errors::kInvalidCursor);
    return;
  }
  storage::ValueView<ZSetValue> zset;
  if (!ReadZSet(ctx, ctx.args[1], &zset)) return;
  ReplyElementScan(ctx, zset != nullptr, cursor, /*with_second=*/true, [&](uint64_t from, size_t count, ScanAdd add) {
    // Scan replies are bulk strings in both protocols: the score as text.
    return zset->Scan(from, count, [&](std::string_view m, double s) { add(m, protocol::ReplyBuilder::FormatDouble(s)); });
  });
}

// ZUNION/ZINTER/ZDIFF numkeys key...: keys after numkeys; the STORE forms: the destination too.
void StoreKeysAfterNumkeys(std::span<const std::string_view> args, std::vector<size_t>* out) {
  if (args.size() < 3) return;
  out->push_back(1);
  std::vector<size_t> rest;
  KeysAfterNumkeys(args.subspan(1), &rest);
  for (size_t index : rest) out->push_back(index + 1);
}

constexpr uint32_t kRead = flags::kReadOnly;
constexpr uint32_t kWriteOom = flags::kWrite | flags::kDenyOom;

constexpr CommandSpec kZSetCommands[] = {
    {"zadd", -4, kWriteOom | flags::kFast, 1, 1, 1, ZAdd, {}, "Add one or more members to a sorted set, or update its score if it already exists"},
    {"zincrby", 4, kWriteOom | flags::kFast, 1, 1, 1, ZIncrBy, {}, "Increment the score of a member in a sorted set"},
    {"zscore", 3, kRead | flags::kFast, 1, 1, 1, ZScore, {}, "Get the score associated with the given member in a sorted set"},
    {"zmscore", -3, kRead | flags::kFast, 1, 1, 1, ZMScore, {}, "Get the score associated with the given members in a sorted set"},
    {"zcard", 2, kRead | flags::kFast, 1, 1, 1, ZCard, {}, "Get the number of members in a sorted set"},
    {"zcount", 4, kRead | flags::kFast, 1, 1, 1, ZCount, {}, "Count the members in a sorted set with scores within the given values"},
    {"zlexcount", 4, kRead | flags::kFast, 1, 1, 1, ZLexCount, {}, "Count the number of members in a sorted set between a given lexicographical range"},
    {"zrank", 3, kRead | flags::kFast, 1, 1, 1, ZRank, {}, "Determine the index of a member in a sorted set"},
    {"zrevrank", 3, kRead | flags::kFast, 1, 1, 1, ZRevRank, {}, "Determine the index of a member in a sorted set, with scores ordered from high to low"},
    {"zrem", -3, flags::kWrite | flags::kFast, 1, 1, 1, ZRem, {}, "Remove one or more members from a sorted set"},
    {"zrange", -4, kRead, 1, 1, 1, ZRange, {}, "Return a range of members in a sorted set"},
    {"zrangestore", -5, kWriteOom, 1, 2, 1, ZRangeStore, {}, "Store a range of members from sorted set into another key"},
    {"zrevrange", -4, kRead, 1, 1, 1, ZRevRange, {}, "Return a range of members in a sorted set, by index, with scores ordered from high to low"},
    {"zrangebyscore", -4, kRead, 1, 1, 1, ZRangeByScore, {}, "Return a range of members in a sorted set, by score"},
    {"zrevrangebyscore", -4, kRead, 1, 1, 1, ZRevRangeByScore, {}, "Return a range of members in a sorted set, by score, with scores ordered from high to low"},
    {"zrangebylex", -4, kRead, 1, 1, 1, ZRangeByLex, {}, "Return a range of members in a sorted set, by lexicographical range"},
    {"zrevrangebylex", -4, kRead, 1, 1, 1, ZRevRangeByLex, {}, "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings"},
    {"zremrangebyrank", 4, flags::kWrite, 1, 1, 1, ZRemRangeByRank, {}, "Remove all members in a sorted set within the given indexes"},
    {"zremrangebyscore", 4, flags::kWrite, 1, 1, 1, ZRemRangeByScore, {}, "Remove all members in a sorted set within the given scores"},
    {"zremrangebylex", 4, flags::kWrite, 1, 1, 1, ZRemRangeByLex, {}, "Remove all members in a sorted set between the given lexicographical range"},
    {"zpopmin", -2, flags::kWrite | flags::kFast, 1, 1, 1, ZPopMin, {}, "Remove and return members with the lowest scores in a sorted set"},
    {"zpopmax", -2, flags::kWrite | flags::kFast, 1, 1, 1, ZPopMax, {}, "Remove and return members with the highest scores in a sorted set"},
    {"zmpop", -4, flags::kWrite, 2, 2, 1, ZMPop, {}, "Remove and return members with scores in a sorted set", KeysAfterNumkeys},
    {"bzpopmin", -3, flags::kWrite | flags::kFast | flags::kNoScript | flags::kBlocking, 1, -2, 1, BZPopMin, {}, "Remove and return the member with the lowest score from one of the sorted sets, or block until one is available"},
    {"bzpopmax", -3, flags::kWrite | flags::kFast | flags::kNoScript | flags::kBlocking, 1, -2, 1, BZPopMax, {}, "Remove and return the member with the highest score from one of the sorted sets, or block until one is available"},
    {"bzmpop", -5, flags::kWrite | flags::kBlocking, 3, 3, 1, BZMPop, {}, "Remove and return members with scores in a sorted set, or block until one is available", KeysAfterTimeoutAndNumkeys},
    {"zrandmember", -2, kRead, 1, 1, 1, ZRandMember, {}, "Get one or multiple random elements from a sorted set"},
    {"zunion", -3, kRead, 2, 2, 1, ZUnion, {}, "Add multiple sorted sets", KeysAfterNumkeys},
    {"zinter", -3, kRead, 2, 2, 1, ZInter, {}, "Intersect multiple sorted sets", KeysAfterNumkeys},
    {"zdiff", -3, kRead, 2, 2, 1, ZDiff, {}, "Subtract multiple sorted sets", KeysAfterNumkeys},
    {"zunionstore", -4, kWriteOom, 1, 1, 1, ZUnionStore, {}, "Add multiple sorted sets and store the resulting sorted set in a new key", StoreKeysAfterNumkeys},
    {"zinterstore", -4, kWriteOom, 1, 1, 1, ZInterStore, {}, "Intersect multiple sorted sets and store the resulting sorted set in a new key", StoreKeysAfterNumkeys},
    {"zdiffstore", -4, kWriteOom, 1, 1, 1, ZDiffStore, {}, "Subtract multiple sorted sets and store the resulting sorted set in a new key", StoreKeysAfterNumkeys},
    {"zintercard", -3, kRead, 2, 2, 1, ZInterCard, {}, "Intersect multiple sorted sets and return the cardinality of the result", KeysAfterNumkeys},
    {"zscan", -3, kRead, 1, 1, 1, ZScan, {}, "Incrementally iterate sorted sets elements and associated scores"},
};

}  // namespace

std::span<const CommandSpec> ZSetCommands() { return kZSetCommands; }

}  // namespace strata::server
