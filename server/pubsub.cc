#include "server/pubsub.h"

#include <algorithm>

#include "absl/container/inlined_vector.h"

#include "server/absl_compat.h"
#include "server/io_thread.h"
#include "storage/glob.h"

namespace strata::server {

SubscriptionWords WordsFor(SubscriptionKind kind) {
  switch (kind) {
    case SubscriptionKind::kChannel: return {"subscribe", "unsubscribe", "message"};
    case SubscriptionKind::kPattern: return {"psubscribe", "punsubscribe", "pmessage"};
    case SubscriptionKind::kShardChannel: return {"ssubscribe", "sunsubscribe", "smessage"};
  }
  return {};
}

void WriteMessage(protocol::ReplyBuilder& out, const PublishedMessage& message, const std::string* pattern) {
  const size_t parts = pattern != nullptr ? 4 : 3;
  if (out.resp3()) {
    out.PushHeader(parts);
  } else {
    out.ArrayHeader(parts);
  }
  out.Bulk(WordsFor(pattern != nullptr ? SubscriptionKind::kPattern : message.kind).message);
  if (pattern != nullptr) out.Bulk(*pattern);
  out.Bulk(message.channel);
  out.Bulk(message.payload);
}

PubSub::SubscriberMap& PubSub::MapOf(SubscriptionKind kind) {
  return kind == SubscriptionKind::kChannel ? channels_ : kind == SubscriptionKind::kPattern ? patterns_ : shard_channels_;
}

const PubSub::SubscriberMap& PubSub::MapOf(SubscriptionKind kind) const {
  return kind == SubscriptionKind::kChannel ? channels_ : kind == SubscriptionKind::kPattern ? patterns_ : shard_channels_;
}

void PubSub::Subscribe(SubscriptionKind kind, std::string_view name, Subscriber subscriber) {
  absl::MutexLock lock(&mu_);
  MapOf(kind)[Absl(name)].push_back(subscriber);
  subscriptions_.fetch_add(1, std::memory_order_relaxed);
}

bool PubSub::Unsubscribe(SubscriptionKind kind, std::string_view name, uint64_t connection_id) {
  absl::MutexLock lock(&mu_);
  SubscriberMap& map = MapOf(kind);
  auto it = map.find(Absl(name));
  if (it == map.end()) return false;
  std::vector<Subscriber>& subscribers = it->second;
  auto found = std::find_if(subscribers.begin(), subscribers.end(),
                            [&](const Subscriber& s) { return s.connection_id == connection_id; });
  if (found == subscribers.end()) return false;
  // Order kept: receivers get a message in the order they subscribed, as in Redis.
  subscribers.erase(found);
  if (subscribers.empty()) map.erase(it);
  subscriptions_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

int64_t PubSub::Publish(SubscriptionKind kind, std::string_view channel, std::string_view payload) {
  if (empty()) return 0;
  // One batch per receiving thread; few threads and receivers are the usual case, so they live
  // on the stack.
  using Receivers = absl::InlinedVector<MessageReceiver, 4>;
  absl::InlinedVector<std::pair<IoThread*, Receivers>, 2> batches;
  auto receiver_list = [&](IoThread* thread) -> Receivers& {
    for (auto& [t, receivers] : batches) {
      if (t == thread) return receivers;
    }
    return batches.emplace_back(thread, Receivers()).second;
  };
  int64_t count = 0;
  {
    absl::ReaderMutexLock lock(&mu_);
    const SubscriberMap& subscribed = MapOf(kind);
    if (auto it = subscribed.find(Absl(channel)); it != subscribed.end()) {
      for (const Subscriber& s : it->second) receiver_list(s.thread).push_back({s.connection_id, std::nullopt});
      count += static_cast<int64_t>(it->second.size());
    }
    if (kind == SubscriptionKind::kChannel) {
      for (const auto& [pattern, subscribers] : patterns_) {
        if (!storage::GlobMatch(pattern, channel)) continue;
        for (const Subscriber& s : subscribers) receiver_list(s.thread).push_back({s.connection_id, pattern});
        count += static_cast<int64_t>(subscribers.size());
      }
    }
  }
  if (count == 0) return 0;
  // The publisher's own thread writes at once from its arguments; other threads get a copy.
  std::shared_ptr<const std::pair<std::string, std::string>> copy;
  for (auto& [thread, receivers] : batches) {
    if (thread->CanDeliverNow()) {
      thread->DeliverMessage(PublishedMessage{kind, channel, payload}, receivers);
      continue;
    }
    if (copy == nullptr) copy = std::make_shared<const std::pair<std::string, std::string>>(channel, payload);
    thread->DeliverLater([thread, kind, copy, receivers = std::move(receivers)] {
      thread->DeliverMessage(PublishedMessage{kind, copy->first, copy->second}, receivers);
    });
  }
  return count;
}

std::vector<std::string> PubSub::ActiveChannels(SubscriptionKind kind, std::optional<std::string_view> pattern) const {
  std::vector<std::string> names;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [name, subscribers] : MapOf(kind)) {
    if (!pattern || storage::GlobMatch(*pattern, name)) names.push_back(name);
  }
  return names;
}

int64_t PubSub::SubscriberCount(SubscriptionKind kind, std::string_view channel) const {
  absl::ReaderMutexLock lock(&mu_);
  const SubscriberMap& map = MapOf(kind);
  auto it = map.find(Absl(channel));
  return it == map.end() ? 0 : static_cast<int64_t>(it->second.size());
}

size_t PubSub::ActiveCount(SubscriptionKind kind) const {
  absl::ReaderMutexLock lock(&mu_);
  return MapOf(kind).size();
}

}  // namespace strata::server
