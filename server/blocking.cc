#include "server/blocking.h"

#include <algorithm>
#include <cmath>

#include "protocol/reply_builder.h"
#include "server/connection.h"
#include "server/errors.h"
#include "server/io_thread.h"
#include "server/server.h"
#include "storage/keyspace.h"

namespace strata::server {

std::shared_ptr<BlockedClient> BlockingRegistry::Add(BlockedClient waiter) {
  auto shared = std::make_shared<BlockedClient>(std::move(waiter));
  absl::MutexLock lock(&mu_);
  for (const std::string& key : shared->keys) {
    auto& queue = by_key_[KeyId(shared->db, key)];
    // BLPOP k k waits once on k.
    if (queue.empty() || queue.back() != shared) queue.push_back(shared);
  }
  by_client_[shared->client_id] = shared;
  waiting_.fetch_add(1, std::memory_order_relaxed);
  return shared;
}

bool BlockingRegistry::HasWaiters(int db, std::string_view key) {
  if (!any()) return false;
  absl::MutexLock lock(&mu_);
  return by_key_.contains(KeyId(db, std::string(key)));
}

void BlockingRegistry::KeepWaitedKeys(std::vector<std::pair<int, std::string>>* keys) {
  absl::MutexLock lock(&mu_);
  std::erase_if(*keys, [&](const KeyId& key) { return !by_key_.contains(key); });
  std::sort(keys->begin(), keys->end());
  keys->erase(std::unique(keys->begin(), keys->end()), keys->end());
}

std::vector<std::pair<int, std::string>> BlockingRegistry::KeysWaitedIn(int db) {
  std::vector<KeyId> keys;
  absl::MutexLock lock(&mu_);
  for (const auto& [key, queue] : by_key_) {
    if (key.first == db) keys.push_back(key);
  }
  return keys;
}

void BlockingRegistry::RemoveLocked(const std::shared_ptr<BlockedClient>& waiter) {
  for (const std::string& key : waiter->keys) {
    auto it = by_key_.find(KeyId(waiter->db, key));
    if (it == by_key_.end()) continue;
    std::erase(it->second, waiter);
    if (it->second.empty()) by_key_.erase(it);
  }
  auto it = by_client_.find(waiter->client_id);
  if (it != by_client_.end() && it->second == waiter) by_client_.erase(it);
  waiter->state = BlockedClient::State::kDone;
  waiting_.fetch_sub(1, std::memory_order_relaxed);
}

void BlockingRegistry::Finish(const BlockedClient& waiter, std::string reply, bool served) {
  IoThread* thread = waiter.thread;
  thread->Post([thread, id = waiter.client_id, reply = std::move(reply), served] {
    // A client that disconnected meanwhile is simply not found.
    if (Connection* c = thread->FindConnection(id)) c->ResumeBlocked(reply, served);
  });
}

bool BlockingRegistry::CancelWait(uint64_t client_id, Cancel why) {
  std::shared_ptr<BlockedClient> waiter;
  std::string reply;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_client_.find(client_id);
    if (it == by_client_.end()) return false;
    waiter = it->second;
    protocol::ReplyBuilder builder(&reply);
    builder.set_resp3(waiter->resp3);
    if (why == Cancel::kUnblockError) {
      builder.Error(errors::kUnblocked);
    } else if (why != Cancel::kGone) {
      builder.NullArray();  // every blocking command's timeout, BLMOVE's too, as in Redis
    }
    if (waiter->state == BlockedClient::State::kServing) {
      // The writer serving it decides: served, the cancel is moot; not served, it ends so.
      waiter->cancelled_while_serving = true;
      waiter->cancel_reply = std::move(reply);
      return true;
    }
    RemoveLocked(waiter);
  }
  if (why != Cancel::kGone) Finish(*waiter, std::move(reply), /*served=*/false);
  return true;
}

bool BlockingRegistry::RunAgain(Server& server, Connection& writer, BlockedClient& waiter, const KeyId& ready_key,
                                bool* key_still_exists, std::vector<KeyId>* changed) {
  std::vector<std::string_view> args(waiter.command.begin(), waiter.command.end());
  std::vector<size_t> key_indexes;
  CommandTable::KeyIndexes(*waiter.spec, args, &key_indexes);
  std::vector<std::string_view> keys;
  for (size_t index : key_indexes) keys.push_back(args[index]);
  std::string out;
  protocol::ReplyBuilder reply(&out);
  reply.set_resp3(waiter.resp3);
  const int64_t now_ms = NowMs();
  {
    storage::Transaction txn(server.keyspace(), waiter.db, keys, now_ms);
    txn.RecordModifications();
    txn.set_writer(waiter.client_id);  // the waiter's pop is the waiter's change, as Redis serves it
    CommandContext ctx{args, reply, writer, server, &txn, *waiter.spec, now_ms, BlockingMode::kRetry};
    waiter.spec->handler(ctx);
    if (server.keyspace().has_ttl_caps()) [[unlikely]] txn.CapModifiedTtls();  // BLMOVE's destination
    *key_still_exists = txn.Peek(ready_key.second) != nullptr;
    server.NoteWrites(txn);
    for (const auto& modified : txn.modified()) changed->push_back(modified);
  }
  if (out.empty()) return false;
  Finish(waiter, std::move(out), /*served=*/true);
  return true;
}

void BlockingRegistry::ServeReadyKeys(Server& server, Connection& writer, std::vector<std::pair<int, std::string>> ready) {
  // `ready` grows while it is walked: a served BLMOVE makes its destination ready in turn.
  for (size_t i = 0; i < ready.size() && any(); ++i) {
    const KeyId key = ready[i];
    std::vector<std::shared_ptr<BlockedClient>> queue;
    {
      absl::MutexLock lock(&mu_);
      auto it = by_key_.find(key);
      if (it == by_key_.end()) continue;
      queue.assign(it->second.begin(), it->second.end());
    }
    for (const auto& waiter : queue) {
      {
        absl::MutexLock lock(&mu_);
        if (waiter->state == BlockedClient::State::kServing) {
          waiter->recheck = true;  // the writer serving it runs it again for this key too
          continue;
        }
        if (waiter->state != BlockedClient::State::kWaiting) continue;  // served or cancelled
        waiter->state = BlockedClient::State::kServing;
      }
      bool key_still_exists = false;
      std::string cancel_reply;
      bool cancelled = false;
      for (;;) {
        const bool replied = RunAgain(server, writer, *waiter, key, &key_still_exists, &ready);
        absl::MutexLock lock(&mu_);
        if (!replied && waiter->recheck && !waiter->cancelled_while_serving) {
          waiter->recheck = false;
          continue;
        }
        if (replied || waiter->cancelled_while_serving) {
          RemoveLocked(waiter);
          cancelled = !replied;
          cancel_reply = std::move(waiter->cancel_reply);
        } else {
          waiter->state = BlockedClient::State::kWaiting;
        }
        waiter->recheck = false;
        break;
      }
      if (cancelled && !cancel_reply.empty()) Finish(*waiter, std::move(cancel_reply), /*served=*/false);
      // Nothing left to serve here; a key that exists with a type this waiter does not pop may
      // still serve the next one (a BLPOP behind a BZPOPMIN).
      if (!key_still_exists) break;
    }
  }
}

bool OthersWaitOn(CommandContext& ctx, std::string_view key) {
  return ctx.server.blocking().HasWaiters(ctx.keys().db(), key);
}

bool ParseBlockTimeout(CommandContext& ctx, std::string_view text, int64_t* deadline_ms) {
  long double seconds;
  if (!ParseDouble(text, &seconds)) {
    ctx.reply.Error(errors::kTimeoutNotFloat);
    return false;
  }
  // Redis converts with a cast that makes anything past 2^63 ms (and inf) negative.
  const long double ms = std::ceil(seconds * 1000.0L);
  if (ms < 0 || !(ms < 9223372036854775807.0L)) {
    ctx.reply.Error(errors::kTimeoutNegative);
    return false;
  }
  const int64_t timeout = static_cast<int64_t>(ms);
  if (timeout == 0) {
    *deadline_ms = 0;
  } else {
    *deadline_ms = timeout > INT64_MAX - ctx.now_ms ? INT64_MAX : ctx.now_ms + timeout;
  }
  return true;
}

void BlockOrTimeOut(CommandContext& ctx, std::span<const std::string_view> keys, int64_t deadline_ms,
                    NoWaitReply no_wait) {
  if (ctx.blocking == BlockingMode::kRetry) return;  // keeps waiting
  if (ctx.blocking == BlockingMode::kNever) {
    if (no_wait == NoWaitReply::kNullArray) {
      ctx.reply.NullArray();
    } else {
      ctx.reply.Null();
    }
    return;
  }
  BlockedClient waiter;
  waiter.thread = &ctx.client.thread();
  waiter.client_id = ctx.client.id();
  waiter.db = ctx.keys().db();
  waiter.resp3 = ctx.reply.resp3();
  waiter.spec = &ctx.spec;
  waiter.command.assign(ctx.args.begin(), ctx.args.end());
  waiter.keys.assign(keys.begin(), keys.end());
  waiter.deadline_ms = deadline_ms;
  ctx.client.ParkBlocked(ctx.server.blocking().Add(std::move(waiter)));
}

}  // namespace strata::server
