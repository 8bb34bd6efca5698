// SORT and SORT_RO (Redis's sort.c): the elements of a list, set or sorted set, sorted
// numerically or (ALPHA) as strings, optionally by the values of other keys (BY pattern), with
// LIMIT, GET patterns and STORE into a list.
//
// The keys BY and GET name come from the data, not the arguments, so the command's own locks do
// not cover them: the handler names them with Connection::LockMoreKeysAndRunAgain and runs a
// second time with them locked.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/absl_compat.h"
#include "server/command.h"
#include "server/config.h"
#include "server/connection.h"
#include "server/errors.h"
#include "server/server.h"
#include "storage/entry.h"
#include "storage/errors.h"
#include "storage/hash.h"
#include "storage/keyspace_events.h"
#include "storage/list.h"
#include "storage/set.h"
#include "storage/typed_values.h"
#include "storage/zset.h"

namespace strata::server {

namespace {

using storage::Entry;
using storage::ValueType;
namespace notify = storage::notify;

struct SortOptions {
  std::optional<std::string_view> by;
  bool dont_sort = false;  // BY a pattern without '*': keep the native order
  int64_t limit_start = 0;
  int64_t limit_count = -1;
  std::vector<std::string_view> gets;
  bool desc = false;
  bool alpha = false;
  std::optional<std::string_view> store;
};

bool IsSelf(std::string_view pattern) { return pattern.size() == 1 && pattern[0] == '#'; }

// The options after the key, in Redis's grammar; false after a syntax or integer error.
bool ParseSortOptions(CommandContext& ctx, bool read_only, SortOptions* options) {
  const auto& args = ctx.args;
  // BY and GET patterns read keys no key spec names: as Redis, a restricted user may give them
  // only with read access to every key.
  auto every_key_readable = [&] {
    return !ctx.client.acl_restricted() ||
           ctx.server.acl().AllowsEveryKey(ctx.client.user(), ctx.spec, ctx.args, kAclKeyRead);
  };
  for (size_t j = 2; j < args.size(); ++j) {
    const size_t left = args.size() - j - 1;
    const std::string_view word = args[j];
    if (EqualsIgnoreCase(word, "asc")) {
      options->desc = false;
    } else if (EqualsIgnoreCase(word, "desc")) {
      options->desc = true;
    } else if (EqualsIgnoreCase(word, "alpha")) {
      options->alpha = true;
    } else if (EqualsIgnoreCase(word, "limit") && left >= 2) {
      if (!ParseInteger(args[j + 1], &options->limit_start) || !ParseInteger(args[j + 2], &options->limit_count)) {
        ctx.reply.Error(errors::kNotInteger);
        return false;
      }
      j += 2;
    } else if (!read_only && EqualsIgnoreCase(word, "store") && left >= 1) {
      options->store = args[++j];
    } else if (EqualsIgnoreCase(word, "by") && left >= 1) {
      options->by = args[++j];
      // C string semantics, as Redis's strchr: a pattern is read up to its first NUL.
      const std::string_view pattern = options->by->substr(0, options->by->find('\0'));
      options->dont_sort = pattern.find('*') == std::string_view::npos;
      if (!options->dont_sort && !every_key_readable()) {
        ctx.reply.Error("ERR BY option of SORT denied due to insufficient ACL permissions.");
        return false;
      }
    } else if (EqualsIgnoreCase(word, "get") && left >= 1) {
      options->gets.push_back(args[++j]);
      if (!every_key_readable()) {  // even GET #, as Redis 7.0
        ctx.reply.Error("ERR GET option of SORT denied due to insufficient ACL permissions.");
        return false;
      }
    } else {
      ctx.reply.Error(errors::kSyntax);
      return false;
    }
  }
  return true;
}

// The key a pattern names for an element ("w_*" -> "w_elem"), and the hash field after "->"
// if any; nullopt for "#" (the element itself) and for patterns without '*'.
struct PatternTarget {
  std::string key;
  std::optional<std::string> field;
};
std::optional<PatternTarget> ResolvePattern(std::string_view pattern, std::string_view element) {
  pattern = pattern.substr(0, pattern.find('\0'));
  const size_t star = pattern.find('*');
  if (star == std::string_view::npos) return std::nullopt;
  PatternTarget target;
  std::string_view rest = pattern.substr(star + 1);
  const size_t arrow = rest.find("->");
  if (arrow != std::string_view::npos && arrow + 2 < rest.size()) {
    target.field = std::string(rest.substr(arrow + 2));
    rest = rest.substr(0, arrow);
  }
  target.key = std::string(pattern.substr(0, star));
  target.key.append(element);
  target.key.append(rest);
  return target;
}


// What a pattern yields for an element: the element ("#"), a string key's value, a hash field's
// value, or nothing (missing key or field, wrong type, no '*'). A read's lookup even for STORE,
// as Redis 7.0's lookupKeyRead: a missing key is a miss and raises "keymiss".
std::optional<std::string> LookupPattern(storage::Transaction& txn, std::string_view pattern,
                                         std::string_view element) {
  if (IsSelf(pattern)) return std::string(element);
  auto target = ResolvePattern(pattern, element);
  if (!target) return std::nullopt;
  Entry* e = txn.FindForRead(target->key);
  if (e == nullptr) return std::nullopt;
  if (target->field) {
    if (e->type() != ValueType::kHash) return std::nullopt;
    auto value = storage::ValueView<storage::HashValue>(*e)->Find(*target->field);
    if (!value) return std::nullopt;
    return std::string(*value);
  }
  if (e->type() != ValueType::kString) return std::nullopt;
  return std::string(e->string_value());
}

// The elements in the collection's own order: a list's, a sorted set's by rank, a set's as it
// iterates.
std::vector<std::string> Elements(const Entry* e) {
  std::vector<std::string> out;
  if (e == nullptr) return out;
  switch (e->type()) {
    case ValueType::kList: {
      const storage::ValueView<storage::ListValue> view(*e);
      const storage::ListValue& list = *view;
      out.reserve(list.size());
      if (!list.empty()) {
        list.Walk(0, list.size() - 1, [&](size_t, std::string_view element) {
          out.emplace_back(element);
          return true;
        });
      }
      break;
    }
    case ValueType::kSet: {
      const storage::ValueView<storage::SetValue> set(*e);
      out.reserve(set->size());
      set->ForEach([&](std::string_view member) { out.emplace_back(member); });
      break;
    }
    case ValueType::kZSet: {
      const storage::ValueView<storage::ZSetValue> view(*e);
      const storage::ZSetValue& zset = *view;
      out.reserve(zset.size());
      if (!zset.empty()) {
        zset.WalkRanks(0, zset.size() - 1, false, [&](std::string_view member, double) {
          out.emplace_back(member);
          return true;
        });
      }
      break;
    }
    default:
      break;
  }
  return out;
}

// Redis's numeric reading of a sort weight: strtod over the C string (so leading spaces, hex and
// "inf" pass, and an empty string is 0); trailing text, overflow and NaN fail.
bool ParseWeight(const std::string& text, double* weight) {
  char* end = nullptr;
  errno = 0;
  *weight = std::strtod(text.c_str(), &end);
  return *end == '\0' && errno != ERANGE && !std::isnan(*weight);
}

// strcoll in the C locale, as Redis (started without a locale) compares ALPHA elements: the
// bytes up to the first NUL.
int CollateC(const std::string& a, const std::string& b) { return std::strcmp(a.c_str(), b.c_str()); }

int CompareBinary(const std::string& a, const std::string& b) { return a.compare(b) < 0 ? -1 : a == b ? 0 : 1; }

struct Item {
  std::string element;
  double weight = 0;                 // numeric sort
  std::optional<std::string> by;     // ALPHA with BY: the value the pattern found
};

void SortGeneric(CommandContext& ctx, bool read_only) {
  storage::Transaction& txn = ctx.keys();
  SortOptions options;
  if (!ParseSortOptions(ctx, read_only, &options)) return;
  Entry* source = txn.FindForRead(ctx.args[1]);
  if (source != nullptr && source->type() != ValueType::kList && source->type() != ValueType::kSet &&
      source->type() != ValueType::kZSet) {
    ctx.reply.Error(Std(storage::WrongTypeError().message()));
    return;
  }
  const bool is_set = source != nullptr && source->type() == ValueType::kSet;
  // A set stored unsorted would depend on its iteration order: Redis sorts it as ALPHA instead.
  if (options.dont_sort && is_set && options.store) {
    options.dont_sort = false;
    options.alpha = true;
    options.by.reset();
  }
  std::vector<std::string> elements = Elements(source);

  // Every key the patterns name must be locked before any is read.
  std::vector<std::string> named_keys;
  auto name_keys = [&](std::string_view pattern) {
    for (const std::string& element : elements) {
      if (auto target = ResolvePattern(pattern, element); target && !txn.Covers(target->key)) {
        named_keys.push_back(std::move(target->key));
      }
    }
  };
  if (options.by && !options.dont_sort) name_keys(*options.by);
  for (std::string_view pattern : options.gets) name_keys(pattern);
  if (!named_keys.empty()) {
    std::sort(named_keys.begin(), named_keys.end());
    named_keys.erase(std::unique(named_keys.begin(), named_keys.end()), named_keys.end());
    ctx.client.LockMoreKeysAndRunAgain(std::move(named_keys));
    return;
  }

  // LIMIT as Redis clamps it: [start, end] of the sorted elements.
  const int64_t count = static_cast<int64_t>(elements.size());
  int64_t start = std::max<int64_t>(options.limit_start, 0);
  int64_t end = options.limit_count < 0 ? count - 1 : start + options.limit_count - 1;
  if (start >= count) {
    start = count - 1;
    end = count - 2;
  }
  end = std::min(end, count - 1);

  std::vector<Item> items;
  items.reserve(elements.size());
  for (std::string& element : elements) items.push_back(Item{std::move(element), 0, std::nullopt});
  const bool for_store = options.store.has_value();
  bool weight_error = false;
  if (options.dont_sort) {
    // Native order, reversed by DESC (a set has none to reverse).
    if (options.desc && !is_set) std::reverse(items.begin(), items.end());
  } else {
    for (Item& item : items) {
      std::optional<std::string> by_value;
      if (options.by) {
        by_value = LookupPattern(txn, *options.by, item.element);
        if (!by_value) continue;  // a missing weight sorts as 0 (numeric) or first (ALPHA)
      }
      if (options.alpha) {
        if (options.by) item.by = std::move(by_value);
      } else if (!ParseWeight(options.by ? *by_value : item.element, &item.weight)) {
        weight_error = true;
      }
    }
    const bool alpha = options.alpha;
    const bool by = options.by.has_value();
    auto compare = [&](const Item& a, const Item& b) {
      int cmp;
      if (!alpha) {
        cmp = a.weight > b.weight ? 1 : a.weight < b.weight ? -1 : CompareBinary(a.element, b.element);
      } else if (by) {
        if (!a.by || !b.by) {
          cmp = a.by.has_value() == b.by.has_value() ? 0 : !a.by ? -1 : 1;
        } else {
          cmp = for_store ? CompareBinary(*a.by, *b.by) : CollateC(*a.by, *b.by);
        }
      } else {
        cmp = for_store ? CompareBinary(a.element, b.element) : CollateC(a.element, b.element);
      }
      return (options.desc ? -cmp : cmp) < 0;
    };
    if (!weight_error) std::stable_sort(items.begin(), items.end(), compare);
  }
  if (weight_error) {
    ctx.reply.Error(errors::kSortWeightNotDouble);
    return;
  }

  const size_t per_element = options.gets.empty() ? 1 : options.gets.size();
  const int64_t output_elements = end >= start ? end - start + 1 : 0;
  if (!options.store) {
    ctx.reply.ArrayHeader(static_cast<size_t>(output_elements) * per_element);
    for (int64_t i = start; i <= end; ++i) {
      const std::string& element = items[static_cast<size_t>(i)].element;
      if (options.gets.empty()) ctx.reply.Bulk(element);
      for (std::string_view pattern : options.gets) {
        auto value = LookupPattern(txn, pattern, element);
        if (value) {
          ctx.reply.Bulk(*value);
        } else {
          ctx.reply.Null();
        }
      }
    }
    return;
  }
  std::vector<std::string> stored;
  for (int64_t i = start; i <= end; ++i) {
    const std::string& element = items[static_cast<size_t>(i)].element;
    if (options.gets.empty()) stored.push_back(element);
    for (std::string_view pattern : options.gets) stored.push_back(LookupPattern(txn, pattern, element).value_or(""));
  }
  // Replaces the destination whatever it held (and its TTL); an empty result deletes it.
  const std::string_view destination = *options.store;
  if (stored.empty()) {
    if (txn.Delete(destination)) txn.Notify(notify::kGeneric, "del", destination);
  } else {
    const storage::ListLimits limits{ctx.server.config().list_max_listpack_size.load(std::memory_order_relaxed),
                                     ctx.server.config().list_compress_depth.load(std::memory_order_relaxed)};
    auto list = std::make_unique<storage::ListValue>();
    for (const std::string& value : stored) list->PushBack(value, limits);
    // Stored over the old value (no delete first), so only a destination that did not exist is
    // "new", as with Redis's setKey; one whose TTL ran out is dropped first ("expired").
    txn.FindForWrite(destination);
    txn.Store(Entry::NewList(destination, list.release(), storage::EntryMeta{}));
    txn.Notify(notify::kList, "sortstore", destination);
  }
  ctx.reply.Integer(static_cast<int64_t>(stored.size()));
}

void Sort(CommandContext& ctx) { SortGeneric(ctx, false); }
void SortRo(CommandContext& ctx) { SortGeneric(ctx, true); }

// SORT's keys: the key, and the last STORE destination, skipping LIMIT's, BY's and GET's
// arguments as Redis's sortGetKeys does.
void SortKeys(std::span<const std::string_view> args, std::vector<size_t>* out) {
  out->push_back(1);
  std::optional<size_t> store;
  for (size_t i = 2; i < args.size(); ++i) {
    if (EqualsIgnoreCase(args[i], "limit")) {
      i += 2;
    } else if (EqualsIgnoreCase(args[i], "get") || EqualsIgnoreCase(args[i], "by")) {
      i += 1;
    } else if (EqualsIgnoreCase(args[i], "store") && i + 1 < args.size()) {
      store = i + 1;
    }
  }
  if (store) out->push_back(*store);
}

constexpr CommandSpec kSortCommands[] = {
    {"sort", -2, flags::kWrite | flags::kDenyOom, 1, 1, 1, Sort, {}, "Sort the elements in a list, set or sorted set", SortKeys},
    {"sort_ro", -2, flags::kReadOnly, 1, 1, 1, SortRo, {}, "Sort the elements in a list, set or sorted set. Read-only variant of SORT."},
};

}  // namespace

std::span<const CommandSpec> SortCommands() { return kSortCommands; }

}  // namespace strata::server
