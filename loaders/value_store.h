// ValueStore: what the loaders need from the keyspace, and all they get. The server implements
// it over storage::Keyspace; loaders never see RESP, connections or shards.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "loaders/source.h"

namespace strata::loaders {

class ValueStore {
 public:
  virtual ~ValueStore() = default;

  // Stores a loaded value (outcome.kind == kFound) under key in db: fresh until
  // fresh_until_ms, dropped at expire_at_ms (-1: never). `still_wanted` is called under the
  // key's lock just before storing; if it returns false nothing is stored, so an invalidation
  // that arrived while the load was in flight wins.
  virtual void Store(int db, std::string_view key, ValueShape shape, const LoadOutcome& outcome,
                     int64_t fresh_until_ms, int64_t expire_at_ms, const std::function<bool()>& still_wanted) = 0;
  // Drops a key if `still_wanted` (called under the key's lock) agrees; false if nothing was
  // dropped.
  virtual bool Delete(int db, std::string_view key, const std::function<bool()>& still_wanted) = 0;
  bool Delete(int db, std::string_view key) {
    return Delete(db, key, [] { return true; });
  }
  virtual int databases() const = 0;
};

}  // namespace strata::loaders
