#include "server/keyspace_notifier.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "server/absl_compat.h"

namespace strata::server {

void KeyspaceNotifier::OnKeyspaceEvent(uint32_t, std::string_view event, int db, std::string_view key) {
  if (pubsub_.empty()) return;
  const uint32_t classes = keyspace_.notify_classes();
  if (classes & storage::notify::kKeyspace) {
    const std::string channel = absl::StrCat("__keyspace@", db, "__:", Absl(key));
    pubsub_.Publish(SubscriptionKind::kChannel, channel, event);
  }
  if (classes & storage::notify::kKeyevent) {
    const std::string channel = absl::StrCat("__keyevent@", db, "__:", Absl(event));
    pubsub_.Publish(SubscriptionKind::kChannel, channel, key);
  }
}

}  // namespace strata::server
