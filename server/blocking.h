// Blocking commands (BLPOP, BLMOVE, BZPOPMIN, ...): which clients wait on which keys, in arrival
// order per key, and how a write wakes them.
//
// Contract: a blocking command that finds nothing to pop registers its client here while it still
// holds its keys' shard locks, so a write that comes after it cannot miss it; its connection
// parks (Connection::ParkBlocked), as a read-through client parks on a load. Every write command,
// after releasing its locks, hands the keys it changed to ServeReadyKeys, which runs the waiters'
// commands again from the top, first come first served, each under its own shard locks, on the
// writer's thread; each reply is posted to the waiter's thread, which resumes its pipeline. So, as
// in Redis, the client that pushed sees the waiters served before its next command runs, and a
// served waiter's command raises its keyspace events (a pop's, then "del") right after the
// writer's. A waiter is finished exactly once: served, timed out, unblocked (CLIENT UNBLOCK) or
// gone (closed).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "server/absl_compat.h"
#include "server/command.h"
#include "storage/typed_values.h"

namespace strata::server {

class IoThread;

// One client waiting in a blocking command.
struct BlockedClient {
  enum class State { kWaiting, kServing, kDone };

  IoThread* thread = nullptr;
  uint64_t client_id = 0;
  int db = 0;
  bool resp3 = false;
  const CommandSpec* spec = nullptr;
  std::vector<std::string> command;  // the blocking command, to run again
  std::vector<std::string> keys;
  int64_t deadline_ms = 0;  // 0: waits until served

  // Under BlockingRegistry::mu_.
  State state = State::kWaiting;
  std::string cancel_reply;  // set when a timeout or CLIENT UNBLOCK came while it was being served
  bool cancelled_while_serving = false;
  // Another write made one of its keys ready while it was being served: run it once more before
  // it goes back to waiting, or that write's wake-up would be lost.
  bool recheck = false;
};

class BlockingRegistry {
 public:
  // Cheap enough for every write command: false when no client waits anywhere.
  bool any() const { return waiting_.load(std::memory_order_relaxed) > 0; }
  size_t size() const { return waiting_.load(std::memory_order_relaxed); }

  // Under the shard locks of the waiter's keys.
  std::shared_ptr<BlockedClient> Add(BlockedClient waiter);

  // True when clients wait on (db, key): a blocking command arriving then queues behind them
  // rather than take what a write just made ready for them (first come, first served).
  bool HasWaiters(int db, std::string_view key);

  // Keeps, of the (db, key)s a write changed, those some client waits on (once each).
  void KeepWaitedKeys(std::vector<std::pair<int, std::string>>* keys);
  // Every key clients wait on in `db` (SWAPDB makes them all possibly ready).
  std::vector<std::pair<int, std::string>> KeysWaitedIn(int db);

  // After a write released its locks: serves the clients waiting on these (db, key)s, and on the
  // keys those clients' commands change in turn (BLMOVE's destination). `writer` is the
  // connection that wrote; a command run again for a waiter gets it as ctx.client and must not
  // use it (blocking commands use only their keys).
  void ServeReadyKeys(Server& server, Connection& writer, std::vector<std::pair<int, std::string>> ready);

  enum class Cancel { kTimeout, kUnblockTimeout, kUnblockError, kGone };
  // Ends the wait of this client unless it is being served right now; posts the reply (a
  // timeout's, or CLIENT UNBLOCK ERROR's error) to its thread. False when it was not waiting.
  bool CancelWait(uint64_t client_id, Cancel why);

 private:
  using KeyId = std::pair<int, std::string>;

  // Takes the waiter out of every queue (mu_ held).
  void RemoveLocked(const std::shared_ptr<BlockedClient>& waiter);
  // Posts `reply` to the waiter's thread, which resumes its connection.
  // `served`: the command ran and popped (false: it timed out or was unblocked).
  static void Finish(const BlockedClient& waiter, std::string reply, bool served);
  // Runs the waiter's command again; true when it replied (served, or failed for good).
  bool RunAgain(Server& server, Connection& writer, BlockedClient& waiter, const KeyId& ready_key, bool* key_still_exists,
                std::vector<KeyId>* changed);

  absl::Mutex mu_;
  absl::flat_hash_map<KeyId, std::deque<std::shared_ptr<BlockedClient>>> by_key_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, std::shared_ptr<BlockedClient>> by_client_ ABSL_GUARDED_BY(mu_);
  std::atomic<size_t> waiting_{0};
};

// The timeout argument of a blocking command (seconds, fractions allowed, 0 = forever) as an
// absolute deadline in ms (0 = none), checked with Redis's errors; false after replying one.
bool ParseBlockTimeout(CommandContext& ctx, std::string_view text, int64_t* deadline_ms);

// What a blocking command answers when it may not block (in MULTI): BLMOVE and BRPOPLPUSH a
// null, the others a null array. A wait that times out answers a null array for all, as in Redis.
enum class NoWaitReply { kNullArray, kNull };

// For a blocking command that found nothing to pop: parks the client on `keys` until
// `deadline_ms`; where the client may not block (MULTI, scripts) answers `no_wait` at once;
// when the command runs again for a waiter, replies nothing, so the client keeps waiting.
void BlockOrTimeOut(CommandContext& ctx, std::span<const std::string_view> keys, int64_t deadline_ms,
                    NoWaitReply no_wait);

// True when clients already wait on key in ctx's db (see BlockingRegistry::HasWaiters).
bool OthersWaitOn(CommandContext& ctx, std::string_view key);

// A blocking command's lookup of a key it pops from (a list or sorted set, as Value says):
// false after a WRONGTYPE reply; else *ready tells whether it has something to pop. When the
// command runs again for a waiter, a key of another type counts as empty: as in Redis 7.0, the
// client goes on waiting. A newly arriving command sees a key others wait on as empty, so it
// queues behind them.
template <typename Value>
bool FindForBlockingPop(CommandContext& ctx, std::string_view key, bool* ready) {
  auto found = storage::FindValueForWrite<Value>(ctx.keys(), key);
  if (found.ok()) {
    // Clients already waiting on the key go first (a write made it ready; they are being served).
    *ready = *found != nullptr && !(ctx.blocking == BlockingMode::kMayBlock && OthersWaitOn(ctx, key));
    return true;
  }
  if (ctx.blocking == BlockingMode::kRetry) {
    *ready = false;
    return true;
  }
  ctx.reply.Error(Std(found.status().message()));
  return false;
}

}  // namespace strata::server
