#include "server/loader_store.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "server/server.h"
#include "storage/hash.h"

namespace strata::server {

void KeyspaceValueStore::Store(int db, std::string_view key, loaders::ValueShape shape,
                               const loaders::LoadOutcome& outcome, int64_t fresh_until_ms, int64_t expire_at_ms,
                               const std::function<bool()>& still_wanted) {
  const int64_t now_ms = NowMs();
  // A loaded value makes room by the policy first, like a write. It is stored even when nothing
  // can be evicted (noeviction at the limit): it answers a read, and a read never fails for
  // memory; the waiting clients read it from the keyspace.
  evictor_.MakeRoom();
  const std::string_view keys[] = {key};
  storage::Transaction txn(keyspace_, db, keys, now_ms);
  if (!still_wanted()) return;
  if (watches_.any()) watches_.Touch(db, key);
  storage::EntryMeta meta;
  meta.expire_at_ms = expire_at_ms;
  meta.fresh_until_ms = fresh_until_ms;
  // The key's family cap (a loader's max-ttl, key-family-max-ttl): the stale window included.
  if (const int64_t cap = keyspace_.TtlCapMs(key); cap > 0) {
    const int64_t limit = now_ms + cap;
    if (meta.expire_at_ms == storage::EntryMeta::kNever || meta.expire_at_ms > limit) meta.expire_at_ms = limit;
    if (meta.fresh_until_ms == storage::EntryMeta::kNever || meta.fresh_until_ms > meta.expire_at_ms) {
      meta.fresh_until_ms = meta.expire_at_ms;
    }
  }
  // Keyspace notifications, class L: a value loaded for a key that was not there, or one that
  // replaced the key's value (stale-while-revalidate, refresh-ahead).
  const std::string_view event = txn.Peek(key) != nullptr ? "refreshed" : "loaded";
  if (shape == loaders::ValueShape::kString) {
    txn.SetString(db, key, outcome.value, meta);
    txn.Notify(storage::notify::kLoader, event, db, key);
    return;
  }
  auto hash = std::make_unique<storage::HashValue>();
  for (const auto& [field, value] : outcome.fields) hash->Set(field, value);
  if (hash->empty()) {  // a row whose columns were all NULL: an empty hash is no key in Redis
    txn.Delete(db, key);
    return;
  }
  txn.Store(db, storage::Entry::NewHash(key, hash.release(), meta));
  txn.Notify(storage::notify::kLoader, event, db, key);
}

bool KeyspaceValueStore::Delete(int db, std::string_view key, const std::function<bool()>& still_wanted) {
  const std::string_view keys[] = {key};
  storage::Transaction txn(keyspace_, db, keys, NowMs());
  if (!still_wanted()) return false;
  if (!txn.Delete(db, key)) return false;
  if (watches_.any()) watches_.Touch(db, key);
  return true;
}

std::vector<std::pair<std::string, std::string>> DescribeLoaderStats(loaders::LoaderManager& manager,
                                                                     const loaders::Loader& loader) {
  const loaders::LoaderStats& stats = loader.stats();
  const loaders::BreakerSnapshot breaker = manager.Breaker(loader.source());
  auto n = [](const std::atomic<uint64_t>& counter) { return absl::StrCat(counter.load(std::memory_order_relaxed)); };
  return {
      {"template", loader.name()},
      {"source", loader.source().name()},
      {"loads", n(stats.loads)},
      {"not_found", n(stats.not_found)},
      {"hits", n(stats.hits)},
      {"misses", n(stats.misses)},
      {"coalesced", n(stats.coalesced)},
      {"stale_served", n(stats.stale_served)},
      {"negative_hits", n(stats.negative_hits)},
      {"refreshes", n(stats.refreshes)},
      {"errors", n(stats.errors)},
      {"timeouts", n(stats.timeouts)},
      {"source_queries", n(stats.source_queries)},
      {"breaker", breaker.state},
      {"breaker_opened", absl::StrCat(breaker.opened)},
      {"latency_p50_us", absl::StrCat(stats.latency_us.Percentile(50))},
      {"latency_p99_us", absl::StrCat(stats.latency_us.Percentile(99))},
  };
}

}  // namespace strata::server
