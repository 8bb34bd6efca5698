// List commands (Redis's t_list.c), the blocking ones on server/blocking.h. Reads go through
// storage::FindValueForRead<ListValue>; every write through storage::UpdateValue<ListValue>,
// which keeps memory accounting and deletes emptied lists. Chunk size: list-max-listpack-size.
// Keyspace events are Redis 7.0's: each write raises its own after the change (after the "new"
// that storage raises when the write created the key), and "del" after it when it emptied the
// list. A blocked client served later runs its command again (server/blocking.h), so it raises
// the same events as when served at once.
#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "server/absl_compat.h"
#include "server/blocking.h"
#include "server/command.h"
#include "server/config.h"
#include "server/errors.h"
#include "server/server.h"
#include "storage/list.h"
#include "storage/typed_values.h"

namespace strata::server {

namespace {

using storage::ListValue;
namespace notify = storage::notify;

enum class End { kLeft, kRight };

std::string_view PushEvent(End end) { return end == End::kLeft ? "lpush" : "rpush"; }

// Redis's listElementsRemoved: a pop's event, then "del" when it took the last element.
void NotifyPopped(CommandContext& ctx, std::string_view key, End end, bool emptied) {
  ctx.keys().Notify(notify::kList, end == End::kLeft ? "lpop" : "rpop", key);
  if (emptied) ctx.keys().Notify(notify::kGeneric, "del", key);
}

storage::ListLimits Limits(CommandContext& ctx) {
  const Config& config = ctx.server.config();
  return storage::ListLimits{config.list_max_listpack_size.load(std::memory_order_relaxed),
                             config.list_compress_depth.load(std::memory_order_relaxed)};
}

// Reads the list at args[1] for a read command: false after a WRONGTYPE reply.
bool ReadList(CommandContext& ctx, storage::ValueView<ListValue>* list) {
  auto found = storage::FindValueForRead<ListValue>(ctx.keys(), ctx.args[1]);
  if (!found.ok()) {
    ctx.reply.Error(Std(found.status().message()));
    return false;
  }
  *list = *std::move(found);
  return true;
}

bool ParseEnd(std::string_view text, End* end) {
  if (EqualsIgnoreCase(text, "left")) {
    *end = End::kLeft;
  } else if (EqualsIgnoreCase(text, "right")) {
    *end = End::kRight;
  } else {
    return false;
  }
  return true;
}

// Redis's start/stop range rules (LRANGE, LTRIM): negative counts from the end, clamped; false
// when the range is empty.
bool ClampRange(int64_t start, int64_t stop, size_t size, size_t* first, size_t* last) {
  const int64_t length = static_cast<int64_t>(size);
  if (start < 0) start += length;
  if (stop < 0) stop += length;
  if (start < 0) start = 0;
  if (start > stop || start >= length) return false;
  if (stop >= length) stop = length - 1;
  *first = static_cast<size_t>(start);
  *last = static_cast<size_t>(stop);
  return true;
}

// An index as LINDEX/LSET take it; nullopt when outside the list.
std::optional<size_t> NormalizeIndex(int64_t index, size_t size) {
  if (index < 0) index += static_cast<int64_t>(size);
  if (index < 0 || index >= static_cast<int64_t>(size)) return std::nullopt;
  return static_cast<size_t>(index);
}

void PushAt(ListValue& list, End end, std::string_view element, const storage::ListLimits& limits) {
  if (end == End::kLeft) {
    list.PushFront(element, limits);
  } else {
    list.PushBack(element, limits);
  }
}

void Push(CommandContext& ctx, End end, bool only_if_exists) {
  const storage::ListLimits limits = Limits(ctx);
  auto length = storage::UpdateValue<ListValue>(ctx.keys(), ctx.args[1], !only_if_exists,
                                                [&](ListValue& list) -> absl::StatusOr<int64_t> {
    if (only_if_exists && list.empty()) return 0;
    for (size_t i = 2; i < ctx.args.size(); ++i) PushAt(list, end, ctx.args[i], limits);
    return static_cast<int64_t>(list.size());
  });
  // LPUSHX raises "lpush" too; on a missing key it pushed nothing and raises nothing.
  if (length.ok() && *length > 0) ctx.keys().Notify(notify::kList, PushEvent(end), ctx.args[1]);
  ReplyIntegerOrError(ctx, length);
}
void LPush(CommandContext& ctx) { Push(ctx, End::kLeft, false); }
void RPush(CommandContext& ctx) { Push(ctx, End::kRight, false); }
void LPushX(CommandContext& ctx) { Push(ctx, End::kLeft, true); }
void RPushX(CommandContext& ctx) { Push(ctx, End::kRight, true); }

// Pops up to `count` elements from one end of the list at key into `out`; the caller has checked
// that the key holds a list. True when it took the last element (the key is gone). Raises no
// event: the caller does (NotifyPopped), after a move's push as Redis does.
bool PopElements(CommandContext& ctx, std::string_view key, End end, size_t count, std::vector<std::string>* out) {
  bool emptied = false;
  (void)storage::UpdateValue<ListValue>(ctx.keys(), key, false, [&](ListValue& list) -> absl::StatusOr<int64_t> {
    while (out->size() < count && !list.empty()) out->push_back(end == End::kLeft ? list.PopFront() : list.PopBack());
    emptied = !out->empty() && list.empty();
    return 0;
  });
  return emptied;
}

void Pop(CommandContext& ctx, End end) {
  if (ctx.args.size() > 3) {
    ctx.reply.Error(errors::WrongArity(ctx.spec.name));
    return;
  }
  int64_t count = 1;
  const bool with_count = ctx.args.size() == 3;
  if (with_count && (!ParseInteger(ctx.args[2], &count) || count < 0)) {
    ctx.reply.Error(errors::kMustBePositive);
    return;
  }
  auto found = storage::FindValueForWrite<ListValue>(ctx.keys(), ctx.args[1]);
  if (!found.ok()) {
    ctx.reply.Error(Std(found.status().message()));
    return;
  }
  if (*found == nullptr) {
    if (with_count) {
      ctx.reply.NullArray();
    } else {
      ctx.reply.Null();
    }
    return;
  }
  if (count == 0) {  // as Redis: no change, so no event and no write for WATCH or waiters
    ctx.reply.ArrayHeader(0);
    return;
  }
  std::vector<std::string> popped;
  NotifyPopped(ctx, ctx.args[1], end, PopElements(ctx, ctx.args[1], end, static_cast<size_t>(count), &popped));
  if (!with_count) {
    ctx.reply.Bulk(popped.front());
    return;
  }
  ctx.reply.ArrayHeader(popped.size());
  for (const std::string& element : popped) ctx.reply.Bulk(element);
}
void LPop(CommandContext& ctx) { Pop(ctx, End::kLeft); }
void RPop(CommandContext& ctx) { Pop(ctx, End::kRight); }

void LLen(CommandContext& ctx) {
  storage::ValueView<ListValue> list;
  if (!ReadList(ctx, &list)) return;
  ctx.reply.Integer(list ? static_cast<int64_t>(list->size()) : 0);
}

void LRange(CommandContext& ctx) {
  int64_t start, stop;
  if (!ParseInteger(ctx.args[2], &start) || !ParseInteger(ctx.args[3], &stop)) {
    ctx.reply.Error(errors::kNotInteger);
    return;
  }
  storage::ValueView<ListValue> list;
  if (!ReadList(ctx, &list)) return;
  size_t first, last;
  if (list == nullptr || !ClampRange(start, stop, list->size(), &first, &last)) {
    ctx.reply.ArrayHeader(0);
    return;
  }
  ctx.reply.ArrayHeader(last - first + 1);
  list->Walk(first, last, [&](size_t, std::string_view element) {
    ctx.reply.Bulk(element);
    return true;
  });
}

void LIndex(CommandContext& ctx) {
  // Redis looks the key up before it parses the index: a missing key is nil whatever the index.
  storage::ValueView<ListValue> list;
  if (!ReadList(ctx, &list)) return;
  if (list == nullptr) {
    ctx.reply.Null();
    return;
  }
  int64_t index;
  if (!ParseInteger(ctx.args[2], &index)) {
    ctx.reply.Error(errors::kNotInteger);
    return;
  }
  std::optional<size_t> at = NormalizeIndex(index, list->size());
  if (at) {
    ctx.reply.Bulk(list->At(*at));
  } else {
    ctx.reply.Null();
  }
}

void LSet(CommandContext& ctx) {
  // As in Redis: the key (no such key, WRONGTYPE), then the index.
  auto found = storage::FindValueForWrite<ListValue>(ctx.keys(), ctx.args[1]);
  if (!found.ok()) {
    ctx.reply.Error(Std(found.status().message()));
    return;
  }
  if (*found == nullptr) {
    ctx.reply.Error(errors::kNoSuchKey);
    return;
  }
  int64_t index;
  if (!ParseInteger(ctx.args[2], &index)) {
    ctx.reply.Error(errors::kNotInteger);
    return;
  }
  const storage::ListLimits limits = Limits(ctx);
  auto result = storage::UpdateValue<ListValue>(ctx.keys(), ctx.args[1], false, [&](ListValue& list) -> absl::StatusOr<int64_t> {
    std::optional<size_t> at = NormalizeIndex(index, list.size());
    if (!at) return absl::OutOfRangeError(Absl(errors::kIndexOutOfRange));
    list.Set(*at, ctx.args[3], limits);
    return 0;
  });
  if (result.ok()) {
    ctx.keys().Notify(notify::kList, "lset", ctx.args[1]);
    ctx.reply.Ok();
  } else {
    ctx.reply.Error(Std(result.status().message()));
  }
}

void LTrim(CommandContext& ctx) {
  int64_t start, stop;
  if (!ParseInteger(ctx.args[2], &start) || !ParseInteger(ctx.args[3], &stop)) {
    ctx.reply.Error(errors::kNotInteger);
    return;
  }
  const storage::ListLimits limits = Limits(ctx);
  bool existed = false, emptied = false;  // a list that exists is never empty
  auto result = storage::UpdateValue<ListValue>(ctx.keys(), ctx.args[1], false, [&](ListValue& list) -> absl::StatusOr<int64_t> {
    existed = !list.empty();
    size_t first, last;
    if (!ClampRange(start, stop, list.size(), &first, &last)) {
      list.Erase(0, list.size(), limits);
    } else {
      if (last + 1 < list.size()) list.Erase(last + 1, list.size() - last - 1, limits);
      if (first > 0) list.Erase(0, first, limits);
    }
    emptied = existed && list.empty();
    return 0;
  });
  if (result.ok()) {
    // Redis raises "ltrim" on any list, even when nothing was trimmed.
    if (existed) ctx.keys().Notify(notify::kList, "ltrim", ctx.args[1]);
    if (emptied) ctx.keys().Notify(notify::kGeneric, "del", ctx.args[1]);
    ctx.reply.Ok();
  } else {
    ctx.reply.Error(Std(result.status().message()));
  }
}

void LRem(CommandContext& ctx) {
  int64_t count;
  if (!ParseInteger(ctx.args[2], &count)) {
    ctx.reply.Error(errors::kNotInteger);
    return;
  }
  const std::string_view element = ctx.args[3];
  const storage::ListLimits limits = Limits(ctx);
  bool emptied = false;
  auto removed = storage::UpdateValue<ListValue>(ctx.keys(), ctx.args[1], false, [&](ListValue& list) -> absl::StatusOr<int64_t> {
    if (list.empty()) return 0;
    // Find the matches first (from the head, or from the tail for a negative count), then
    // erase them from the back so earlier indexes stay valid.
    std::vector<size_t> matches;
    // |count| without overflow at INT64_MIN.
    const size_t limit = count == 0 ? SIZE_MAX : count < 0 ? static_cast<size_t>(-(count + 1)) + 1 : static_cast<size_t>(count);
    const size_t first = count < 0 ? list.size() - 1 : 0;
    const size_t last = count < 0 ? 0 : list.size() - 1;
    list.Walk(first, last, [&](size_t index, std::string_view candidate) {
      if (candidate == element) matches.push_back(index);
      return matches.size() < limit;
    });
    if (count >= 0) std::reverse(matches.begin(), matches.end());
    // One compression pass at the end, not one per removed element.
    const storage::ListLimits uncompressed{.fill = limits.fill, .compress_depth = 0};
    for (size_t index : matches) list.Erase(index, 1, uncompressed);
    list.CompressInterior(limits);
    emptied = list.empty();
    return static_cast<int64_t>(matches.size());
  }, storage::ChangeReport::kWhenPositive);
  if (removed.ok() && *removed > 0) {
    ctx.keys().Notify(notify::kList, "lrem", ctx.args[1]);
    if (emptied) ctx.keys().Notify(notify::kGeneric, "del", ctx.args[1]);
  }
  ReplyIntegerOrError(ctx, removed);
}

void LInsert(CommandContext& ctx) {
  bool after;
  if (EqualsIgnoreCase(ctx.args[2], "after")) {
    after = true;
  } else if (EqualsIgnoreCase(ctx.args[2], "before")) {
    after = false;
  } else {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  const storage::ListLimits limits = Limits(ctx);
  auto length = storage::UpdateValue<ListValue>(ctx.keys(), ctx.args[1], false, [&](ListValue& list) -> absl::StatusOr<int64_t> {
    if (list.empty()) return 0;
    std::optional<size_t> pivot;
    list.Walk(0, list.size() - 1, [&](size_t index, std::string_view candidate) {
      if (candidate == ctx.args[3]) pivot = index;
      return !pivot;
    });
    if (!pivot) return -1;
    list.Insert(*pivot + (after ? 1 : 0), ctx.args[4], limits);
    return static_cast<int64_t>(list.size());
  });
  // 0: no such key, -1: no such pivot; neither raises an event.
  if (length.ok() && *length > 0) ctx.keys().Notify(notify::kList, "linsert", ctx.args[1]);
  ReplyIntegerOrError(ctx, length);
}

void LPos(CommandContext& ctx) {
  int64_t rank = 1, count = -1, maxlen = 0;
  for (size_t i = 3; i < ctx.args.size(); i += 2) {
    if (i + 1 >= ctx.args.size()) {
      ctx.reply.Error(errors::kSyntax);
      return;
    }
    std::string_view option = ctx.args[i];
    int64_t value;
    if (!EqualsIgnoreCase(option, "rank") && !EqualsIgnoreCase(option, "count") && !EqualsIgnoreCase(option, "maxlen")) {
      ctx.reply.Error(errors::kSyntax);
      return;
    }
    const bool parsed = ParseInteger(ctx.args[i + 1], &value);
    if (EqualsIgnoreCase(option, "rank")) {
      if (!parsed) {
        ctx.reply.Error(errors::kNotInteger);
        return;
      }
      if (value == 0) {
        ctx.reply.Error(errors::kLposRankZero);
        return;
      }
      rank = value;
    } else if (EqualsIgnoreCase(option, "count")) {
      // Redis gives COUNT's and MAXLEN's own messages for any value that is not a count.
      if (!parsed || value < 0) {
        ctx.reply.Error(errors::kLposCountNegative);
        return;
      }
      count = value;
    } else {
      if (!parsed || value < 0) {
        ctx.reply.Error(errors::kLposMaxlenNegative);
        return;
      }
      maxlen = value;
    }
  }
  storage::ValueView<ListValue> list;
  if (!ReadList(ctx, &list)) return;
  const bool many = count >= 0;
  std::vector<int64_t> found;
  if (list != nullptr && !list->empty()) {
    // Skip rank-1 matches, then collect up to count (0: all), comparing at most maxlen elements.
    const bool backwards = rank < 0;
    // Redis computes -rank on a long; LLONG_MIN stays negative there and acts as "skip none".
    uint64_t skip = rank == INT64_MIN ? 0 : static_cast<uint64_t>(backwards ? -rank : rank) - 1;
    const size_t wanted = !many ? 1 : count == 0 ? SIZE_MAX : static_cast<size_t>(count);
    size_t compared = 0;
    list->Walk(backwards ? list->size() - 1 : 0, backwards ? 0 : list->size() - 1, [&](size_t index, std::string_view e) {
      if (maxlen != 0 && compared++ >= static_cast<size_t>(maxlen)) return false;
      if (e == ctx.args[2]) {
        if (skip > 0) {
          --skip;
        } else {
          found.push_back(static_cast<int64_t>(index));
        }
      }
      return found.size() < wanted;
    });
  }
  if (!many) {
    if (found.empty()) {
      ctx.reply.Null();
    } else {
      ctx.reply.Integer(found.front());
    }
    return;
  }
  ctx.reply.ArrayHeader(found.size());
  for (int64_t index : found) ctx.reply.Integer(index);
}

// LMOVE / RPOPLPUSH: pops from one end of source, pushes at one end of destination, atomically.
// Events in Redis's order: the push's (after "new" for a destination it creates), then the pop's,
// then "del" for a source it emptied.
void Move(CommandContext& ctx, End from, End to) {
  storage::Transaction& txn = ctx.keys();
  auto source = storage::FindValueForWrite<ListValue>(txn, ctx.args[1]);
  if (!source.ok()) {
    ctx.reply.Error(Std(source.status().message()));
    return;
  }
  if (*source == nullptr) {
    ctx.reply.Null();
    return;
  }
  // The destination's type is checked before anything moves.
  if (auto destination = storage::FindValueForWrite<ListValue>(txn, ctx.args[2]); !destination.ok()) {
    ctx.reply.Error(Std(destination.status().message()));
    return;
  }
  const storage::ListLimits limits = Limits(ctx);
  std::string element;
  bool emptied = false;
  if (ctx.args[1] == ctx.args[2]) {
    // A rotation never empties the list: the key is not deleted and created again (no "del" nor
    // "new", and its TTL stays), as Redis pushes onto the very list it popped from.
    (void)storage::UpdateValue<ListValue>(txn, ctx.args[1], false, [&](ListValue& list) -> absl::StatusOr<int64_t> {
      element = from == End::kLeft ? list.PopFront() : list.PopBack();
      PushAt(list, to, element, limits);
      return 0;
    });
  } else {
    std::vector<std::string> popped;
    emptied = PopElements(ctx, ctx.args[1], from, 1, &popped);
    element = std::move(popped.front());
    (void)storage::UpdateValue<ListValue>(txn, ctx.args[2], true, [&](ListValue& list) -> absl::StatusOr<int64_t> {
      PushAt(list, to, element, limits);
      return 0;
    });
  }
  txn.Notify(notify::kList, PushEvent(to), ctx.args[2]);
  NotifyPopped(ctx, ctx.args[1], from, emptied);
  ctx.reply.Bulk(element);
}

void LMove(CommandContext& ctx) {
  End from, to;
  if (!ParseEnd(ctx.args[3], &from) || !ParseEnd(ctx.args[4], &to)) {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  Move(ctx, from, to);
}
void RPopLPush(CommandContext& ctx) { Move(ctx, End::kRight, End::kLeft); }

// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
void LMPop(CommandContext& ctx) {
  MPopArgs mpop;
  if (!ParseMPopArgs(ctx, 1, "left", "right", &mpop)) return;
  const End end = mpop.second_where ? End::kRight : End::kLeft;
  const int64_t count = mpop.count;
  const size_t where_index = mpop.keys_end;
  for (size_t k = 2; k < where_index; ++k) {
    auto found = storage::FindValueForWrite<ListValue>(ctx.keys(), ctx.args[k]);
    if (!found.ok()) {
      ctx.reply.Error(Std(found.status().message()));
      return;
    }
    if (*found == nullptr) continue;
    std::vector<std::string> popped;
    NotifyPopped(ctx, ctx.args[k], end, PopElements(ctx, ctx.args[k], end, static_cast<size_t>(count), &popped));
    ctx.reply.ArrayHeader(2);
    ctx.reply.Bulk(ctx.args[k]);
    ctx.reply.ArrayHeader(popped.size());
    for (const std::string& element : popped) ctx.reply.Bulk(element);
    return;
  }
  ctx.reply.NullArray();
}

// BLPOP / BRPOP key [key ...] timeout: the first non-empty list, in argument order.
void BlockingPop(CommandContext& ctx, End end) {
  int64_t deadline_ms;
  if (!ParseBlockTimeout(ctx, ctx.args.back(), &deadline_ms)) return;
  const auto keys = ctx.args.subspan(1, ctx.args.size() - 2);
  for (std::string_view key : keys) {
    bool ready;
    if (!FindForBlockingPop<ListValue>(ctx, key, &ready)) return;
    if (!ready) continue;
    std::vector<std::string> popped;
    NotifyPopped(ctx, key, end, PopElements(ctx, key, end, 1, &popped));
    ctx.reply.ArrayHeader(2);
    ctx.reply.Bulk(key);
    ctx.reply.Bulk(popped.front());
    return;
  }
  BlockOrTimeOut(ctx, keys, deadline_ms, NoWaitReply::kNullArray);
}
void BLPop(CommandContext& ctx) { BlockingPop(ctx, End::kLeft); }
void BRPop(CommandContext& ctx) { BlockingPop(ctx, End::kRight); }

// BLMOVE / BRPOPLPUSH: LMOVE that waits for the source to fill.
void BlockingMove(CommandContext& ctx, End from, End to, std::string_view timeout) {
  int64_t deadline_ms;
  if (!ParseBlockTimeout(ctx, timeout, &deadline_ms)) return;
  bool ready;
  if (!FindForBlockingPop<ListValue>(ctx, ctx.args[1], &ready)) return;
  if (!ready) {
    BlockOrTimeOut(ctx, ctx.args.subspan(1, 1), deadline_ms, NoWaitReply::kNull);
    return;
  }
  Move(ctx, from, to);
}

// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
void BLMove(CommandContext& ctx) {
  End from, to;
  if (!ParseEnd(ctx.args[3], &from) || !ParseEnd(ctx.args[4], &to)) {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  BlockingMove(ctx, from, to, ctx.args[5]);
}
void BRPopLPush(CommandContext& ctx) { BlockingMove(ctx, End::kRight, End::kLeft, ctx.args[3]); }

// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
void BLMPop(CommandContext& ctx) {
  MPopArgs mpop;
  if (!ParseMPopArgs(ctx, 2, "left", "right", &mpop)) return;
  int64_t deadline_ms;
  if (!ParseBlockTimeout(ctx, ctx.args[1], &deadline_ms)) return;
  const End end = mpop.second_where ? End::kRight : End::kLeft;
  const auto keys = ctx.args.subspan(mpop.first_key, mpop.keys_end - mpop.first_key);
  for (std::string_view key : keys) {
    bool ready;
    if (!FindForBlockingPop<ListValue>(ctx, key, &ready)) return;
    if (!ready) continue;
    std::vector<std::string> popped;
    NotifyPopped(ctx, key, end, PopElements(ctx, key, end, static_cast<size_t>(mpop.count), &popped));
    ctx.reply.ArrayHeader(2);
    ctx.reply.Bulk(key);
    ctx.reply.ArrayHeader(popped.size());
    for (const std::string& element : popped) ctx.reply.Bulk(element);
    return;
  }
  BlockOrTimeOut(ctx, keys, deadline_ms, NoWaitReply::kNullArray);
}

constexpr uint32_t kRead = flags::kReadOnly;
constexpr uint32_t kWriteOom = flags::kWrite | flags::kDenyOom;

constexpr CommandSpec kListCommands[] = {
    {"lpush", -3, kWriteOom | flags::kFast, 1, 1, 1, LPush, {}, "Prepend one or multiple elements to a list"},
    {"rpush", -3, kWriteOom | flags::kFast, 1, 1, 1, RPush, {}, "Append one or multiple elements to a list"},
    {"lpushx", -3, kWriteOom | flags::kFast, 1, 1, 1, LPushX, {}, "Prepend an element to a list, only if the list exists"},
    {"rpushx", -3, kWriteOom | flags::kFast, 1, 1, 1, RPushX, {}, "Append an element to a list, only if the list exists"},
    {"lpop", -2, flags::kWrite | flags::kFast, 1, 1, 1, LPop, {}, "Remove and get the first elements in a list"},
    {"rpop", -2, flags::kWrite | flags::kFast, 1, 1, 1, RPop, {}, "Remove and get the last elements in a list"},
    {"llen", 2, kRead | flags::kFast, 1, 1, 1, LLen, {}, "Get the length of a list"},
    {"lrange", 4, kRead, 1, 1, 1, LRange, {}, "Get a range of elements from a list"},
    {"lindex", 3, kRead, 1, 1, 1, LIndex, {}, "Get an element from a list by its index"},
    {"lset", 4, kWriteOom, 1, 1, 1, LSet, {}, "Set the value of an element in a list by its index"},
    {"ltrim", 4, flags::kWrite, 1, 1, 1, LTrim, {}, "Trim a list to the specified range"},
    {"lrem", 4, flags::kWrite, 1, 1, 1, LRem, {}, "Remove elements from a list"},
    {"linsert", 5, kWriteOom, 1, 1, 1, LInsert, {}, "Insert an element before or after another element in a list"},
    {"lpos", -3, kRead, 1, 1, 1, LPos, {}, "Return the index of matching elements on a list"},
    {"lmove", 5, kWriteOom, 1, 2, 1, LMove, {}, "Pop an element from a list, push it to another list and return it"},
    {"rpoplpush", 3, kWriteOom, 1, 2, 1, RPopLPush, {}, "Remove the last element in a list, prepend it to another list and return it"},
    {"lmpop", -4, flags::kWrite, 2, 2, 1, LMPop, {}, "Pop elements from a list", KeysAfterNumkeys},
    {"blpop", -3, flags::kWrite | flags::kNoScript | flags::kBlocking, 1, -2, 1, BLPop, {}, "Remove and get the first element in a list, or block until one is available"},
    {"brpop", -3, flags::kWrite | flags::kNoScript | flags::kBlocking, 1, -2, 1, BRPop, {}, "Remove and get the last element in a list, or block until one is available"},
    {"blmove", 6, kWriteOom | flags::kNoScript | flags::kBlocking, 1, 2, 1, BLMove, {}, "Pop an element from a list, push it to another list and return it; or block until one is available"},
    {"brpoplpush", 4, kWriteOom | flags::kNoScript | flags::kBlocking, 1, 2, 1, BRPopLPush, {}, "Pop an element from a list, push it to another list and return it; or block until one is available"},
    {"blmpop", -5, flags::kWrite | flags::kBlocking, 3, 3, 1, BLMPop, {}, "Pop elements from a list, or block until one is available", KeysAfterTimeoutAndNumkeys},
};

}  // namespace

std::span<const CommandSpec> ListCommands() { return kListCommands; }

}  // namespace strata::server
