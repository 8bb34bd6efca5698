// KeyspaceValueStore: the loaders' view of the keyspace (loaders::ValueStore over
// storage::Keyspace). Loaded strings and hashes are stored with their fresh-until and expiry
// times; invalidations delete.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "loaders/loader_manager.h"
#include "loaders/value_store.h"
#include "server/evictor.h"
#include "server/watch.h"
#include "storage/keyspace.h"

namespace strata::server {

class KeyspaceValueStore final : public loaders::ValueStore {
 public:
  KeyspaceValueStore(storage::Keyspace& keyspace, WatchRegistry& watches, Evictor& evictor)
      : keyspace_(keyspace), watches_(watches), evictor_(evictor) {}

  void Store(int db, std::string_view key, loaders::ValueShape shape, const loaders::LoadOutcome& outcome,
             int64_t fresh_until_ms, int64_t expire_at_ms, const std::function<bool()>& still_wanted) override;
  bool Delete(int db, std::string_view key, const std::function<bool()>& still_wanted) override;
  using loaders::ValueStore::Delete;
  int databases() const override { return keyspace_.databases(); }

 private:
  storage::Keyspace& keyspace_;
  WatchRegistry& watches_;
  Evictor& evictor_;  // loaded and invalidated keys dirty their watchers
};

// A loader's counters as (name, value) pairs, for INFO and LOADER STATS.
std::vector<std::pair<std::string, std::string>> DescribeLoaderStats(loaders::LoaderManager& manager,
                                                                     const loaders::Loader& loader);

}  // namespace strata::server
