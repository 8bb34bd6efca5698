#include "server/watch.h"

#include <algorithm>

namespace strata::server {

void WatchRegistry::Watch(WatchedKeys* client, int db, std::string_view key, bool existed) {
  for (const WatchedKeys::Key& watched : client->keys) {
    if (watched.db == db && watched.key == key) return;
  }
  client->keys.push_back({db, std::string(key), existed});
  absl::MutexLock lock(&mu_);
  watchers_by_key_[{db, std::string(key)}].push_back(client);
  watchers_.fetch_add(1, std::memory_order_relaxed);
}

void WatchRegistry::Unwatch(WatchedKeys* client) {
  if (!client->keys.empty()) {
    absl::MutexLock lock(&mu_);
    for (const WatchedKeys::Key& watched : client->keys) {
      auto it = watchers_by_key_.find(std::make_pair(watched.db, watched.key));
      if (it == watchers_by_key_.end()) continue;
      std::vector<WatchedKeys*>& clients = it->second;
      clients.erase(std::remove(clients.begin(), clients.end(), client), clients.end());
      if (clients.empty()) watchers_by_key_.erase(it);
      watchers_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  client->keys.clear();
  client->dirty.store(false, std::memory_order_relaxed);
}

void WatchRegistry::Touch(int db, std::string_view key) {
  absl::MutexLock lock(&mu_);
  auto it = watchers_by_key_.find(std::make_pair(db, std::string(key)));
  if (it == watchers_by_key_.end()) return;
  for (WatchedKeys* client : it->second) client->dirty.store(true, std::memory_order_relaxed);
}

void WatchRegistry::TouchExisting(int db, absl::FunctionRef<bool(int, std::string_view)> exists) {
  if (!any()) return;
  std::vector<std::pair<int, std::string>> candidates;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [watched, clients] : watchers_by_key_) {
      if (db < 0 || watched.first == db) candidates.push_back(watched);
    }
  }
  for (const auto& [key_db, key] : candidates) {
    if (exists(key_db, key)) Touch(key_db, key);
  }
}

}  // namespace strata::server
