// KeyspaceNotifier: Redis's keyspace notifications. Turns each keyspace event the Keyspace raises
// (storage/keyspace_events.h) into its pub/sub messages: "__keyspace@<db>__:<key>" carrying the
// event name (class K) and "__keyevent@<db>__:<event>" carrying the key (class E), in that order.
//
// Contract: called under the changed key's shard lock, on any thread; publishing never waits for
// a receiver (server/pubsub.h), and with no subscriber at all it costs one load.
#pragma once

#include <cstdint>
#include <string_view>

#include "server/pubsub.h"
#include "storage/keyspace.h"

namespace strata::server {

class KeyspaceNotifier : public storage::KeyspaceEventListener {
 public:
  KeyspaceNotifier(storage::Keyspace& keyspace, PubSub& pubsub) : keyspace_(keyspace), pubsub_(pubsub) {}
  void OnKeyspaceEvent(uint32_t event_class, std::string_view event, int db, std::string_view key) override;

 private:
  storage::Keyspace& keyspace_;
  PubSub& pubsub_;
};

}  // namespace strata::server
