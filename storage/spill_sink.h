// SpillSink: the Keyspace's view of the spill tier (DESIGN section 8), so that storage/keyspace
// needs no RocksDB; storage/spill.h's SpillStore implements it.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace strata::storage {

// Where the Keyspace sends what it spills and what it takes back (storage/spill.h implements
// it on RocksDB). Called under the key's shard lock: none waits for the disk (a Put waits, a
// bounded time, only for room in the store's queue of writes).
class SpillSink {
 public:
  virtual ~SpillSink() = default;
  virtual void Put(int db, std::string_view key, std::string record) = 0;
  virtual void Delete(int db, std::string_view key) = 0;
  virtual void DeleteDb(int db) = 0;
  virtual void DeleteAll() = 0;
  virtual void SwapDb(int a, int b) = 0;
};

class Entry;

// Reads a spilled key back at once, on the calling thread, under the key's shard lock: the
// fallback for the few paths that meet a spilled key without having parked for it first (a
// blocked command served later, a database chosen inside EXEC, MOVE's and COPY's other
// database, a script's undeclared key). Everything else parks and is read on the promoter's
// thread (server/spill_promoter.h). Returns the decoded entry (the caller owns it), nullptr
// when the disk has no readable record, or the disk's error (the key is then left where it is).
class SpillReader {
 public:
  virtual ~SpillReader() = default;
  virtual absl::StatusOr<Entry*> ReadNow(int db, std::string_view key) = 0;
};

}  // namespace strata::storage
