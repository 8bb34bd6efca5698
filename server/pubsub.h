// PubSub: who is subscribed to which channels, patterns and shard channels, and the delivery of
// published messages to them across the I/O threads.
//
// Contract: any thread may publish (a client's PUBLISH, keyspace notifications, the server's
// own messages); a connection subscribes and unsubscribes on its own I/O thread. Publishing never
// waits for a receiver: the receivers are found and counted under the registry's lock, then each
// I/O thread gets one batch through its mailbox, and receivers on the publisher's own thread are
// written at once. Mailboxes are FIFO, so the messages of one publisher reach every subscriber in
// the order they were published. A receiver that closes before its batch runs is skipped (it was
// counted, as Redis counts a client whose socket is about to fail).
//
// Order of delivery to one receiver, as Redis: the channel's subscribers first, then each
// matching pattern; a client subscribed both ways gets the message once per subscription.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "protocol/reply_builder.h"

namespace strata::server {

class IoThread;

enum class SubscriptionKind { kChannel, kPattern, kShardChannel };

// Redis's name of a subscription kind's confirmations and messages.
struct SubscriptionWords {
  std::string_view subscribe, unsubscribe, message;
};
SubscriptionWords WordsFor(SubscriptionKind kind);

// One message as a receiver's thread writes it (views of the publisher's arguments when it is
// delivered at once, of a shared copy when it travels through a mailbox).
struct PublishedMessage {
  SubscriptionKind kind;  // kChannel or kShardChannel: how it was published
  std::string_view channel;
  std::string_view payload;
};

// Writes `message` as a subscriber receives it ([message, channel, payload], or [pmessage,
// pattern, channel, payload] when it matched `pattern`), a push in RESP3.
void WriteMessage(protocol::ReplyBuilder& out, const PublishedMessage& message, const std::string* pattern);

// One receiver of a message, on its thread: the connection, and the pattern it matched (none for
// a channel or shard channel subscription).
struct MessageReceiver {
  uint64_t connection_id;
  std::optional<std::string> pattern;
};

// A connection's own subscriptions (its I/O thread only).
struct Subscriptions {
  absl::flat_hash_set<std::string> channels, patterns, shard_channels;

  absl::flat_hash_set<std::string>& Of(SubscriptionKind kind) {
    return kind == SubscriptionKind::kChannel ? channels : kind == SubscriptionKind::kPattern ? patterns : shard_channels;
  }
  bool empty() const { return channels.empty() && patterns.empty() && shard_channels.empty(); }
};

class PubSub {
 public:
  // A subscriber as the registry knows it: where to deliver, and to whom.
  struct Subscriber {
    IoThread* thread;
    uint64_t connection_id;
  };

  // Adds the subscription, which the connection must not have yet (it keeps its own set).
  void Subscribe(SubscriptionKind kind, std::string_view name, Subscriber subscriber);
  // Removes it; false when the connection did not have it.
  bool Unsubscribe(SubscriptionKind kind, std::string_view name, uint64_t connection_id);

  // Delivers `payload` on `channel` (kChannel: to its subscribers and the matching patterns';
  // kShardChannel: to its shard subscribers) and returns how many receivers it was sent to.
  // Receivers on the caller's own I/O thread are written before this returns (IoThread::Deliver),
  // so a RESP3 client that publishes to itself gets the message before the reply, as in Redis.
  int64_t Publish(SubscriptionKind kind, std::string_view channel, std::string_view payload);

  // PUBSUB CHANNELS / SHARDCHANNELS: the channels (kChannel or kShardChannel) with at least one
  // subscriber, those matching `pattern` when given.
  std::vector<std::string> ActiveChannels(SubscriptionKind kind, std::optional<std::string_view> pattern) const;
  // PUBSUB NUMSUB / SHARDNUMSUB: subscribers of one channel.
  int64_t SubscriberCount(SubscriptionKind kind, std::string_view channel) const;
  // INFO's pubsub_channels / pubsub_patterns / pubsubshard_channels, PUBSUB NUMPAT: distinct
  // channels or patterns with at least one subscriber.
  size_t ActiveCount(SubscriptionKind kind) const;
  // True when nobody subscribes to anything: a notification can skip building its message.
  bool empty() const { return subscriptions_.load(std::memory_order_relaxed) == 0; }

 private:
  using SubscriberMap = absl::flat_hash_map<std::string, std::vector<Subscriber>>;
  SubscriberMap& MapOf(SubscriptionKind kind) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const SubscriberMap& MapOf(SubscriptionKind kind) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  SubscriberMap channels_ ABSL_GUARDED_BY(mu_);
  SubscriberMap patterns_ ABSL_GUARDED_BY(mu_);
  SubscriberMap shard_channels_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> subscriptions_{0};
};

}  // namespace strata::server
