#include "server/tracking.h"

#include <algorithm>

#include "server/absl_compat.h"
#include "server/config.h"
#include "server/connection.h"
#include "server/io_thread.h"
#include "storage/keyspace.h"

namespace strata::server {

namespace {
thread_local uint64_t current_writer = 0;
}  // namespace

uint64_t Tracking::CurrentWriter() { return current_writer; }
void Tracking::SetCurrentWriter(uint64_t client_id) { current_writer = client_id; }

void Tracking::Enable(Client client, bool bcast, std::span<const std::string> prefixes) {
  absl::MutexLock lock(&mu_);
  if (tracking_.emplace(client.id, client).second) clients_.fetch_add(1, std::memory_order_relaxed);
  if (bcast) {
    for (const std::string& prefix : prefixes) {
      std::vector<Client>& clients = prefixes_[prefix];
      if (std::none_of(clients.begin(), clients.end(), [&](const Client& c) { return c.id == client.id; })) {
        clients.push_back(client);
      }
    }
    anything_to_invalidate_.store(true, std::memory_order_relaxed);
  }
  keyspace_.set_track_changes(true);
}

void Tracking::Disable(uint64_t client_id, std::span<const std::string> prefixes) {
  absl::MutexLock lock(&mu_);
  if (tracking_.erase(client_id) > 0) clients_.fetch_sub(1, std::memory_order_relaxed);
  for (const std::string& prefix : prefixes) {
    auto it = prefixes_.find(Absl(prefix));
    if (it == prefixes_.end()) continue;
    std::erase_if(it->second, [&](const Client& c) { return c.id == client_id; });
    if (it->second.empty()) prefixes_.erase(it);
  }
  // Remembered keys of a client that is gone are dropped lazily, as Redis does: when the key
  // changes (or the table's limit evicts it), the id no longer finds a tracking client.
  if (tracking_.empty()) keyspace_.set_track_changes(false);
}

void Tracking::Remember(Client client, std::span<const std::string_view> keys) {
  absl::MutexLock lock(&mu_);
  for (std::string_view key : keys) {
    std::vector<Client>& clients = remembered_[Absl(key)];
    if (std::none_of(clients.begin(), clients.end(), [&](const Client& c) { return c.id == client.id; })) {
      clients.push_back(client);
      ++items_;
    }
  }
  anything_to_invalidate_.store(true, std::memory_order_relaxed);
}

void Tracking::OnKeyChanged(std::string_view key) {
  if (!anything_to_invalidate_.load(std::memory_order_relaxed)) return;
  const uint64_t writer = CurrentWriter();
  absl::MutexLock lock(&mu_);
  InvalidateRememberedLocked(key, writer);
  if (prefixes_.empty()) return;
  InvalidatedKeys keys;
  for (const auto& [prefix, clients] : prefixes_) {
    if (!key.starts_with(prefix)) continue;
    if (keys == nullptr) keys = std::make_shared<const std::vector<std::string>>(1, std::string(key));
    for (const Client& client : clients) Send(client, keys, writer);
  }
}

void Tracking::InvalidateRememberedLocked(std::string_view key, uint64_t writer) {
  auto it = remembered_.find(Absl(key));
  if (it == remembered_.end()) return;
  auto keys = std::make_shared<const std::vector<std::string>>(1, std::string(key));
  for (const Client& client : it->second) {
    // A client that turned tracking off (or left) since is skipped on its own thread.
    Send(client, keys, writer);
  }
  items_ -= it->second.size();
  remembered_.erase(it);
  if (remembered_.empty() && prefixes_.empty()) anything_to_invalidate_.store(false, std::memory_order_relaxed);
}

void Tracking::OnFlush() {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, client] : tracking_) Send(client, nullptr, 0);
  remembered_.clear();
  items_ = 0;
  if (prefixes_.empty()) anything_to_invalidate_.store(false, std::memory_order_relaxed);
}

void Tracking::EnforceLimit() {
  const auto max_keys = static_cast<size_t>(config_.tracking_table_max_keys.load(std::memory_order_relaxed));
  absl::MutexLock lock(&mu_);
  if (max_keys == 0 || remembered_.size() <= max_keys) {
    limit_effort_rounds_ = 0;
    return;
  }
  // Redis's effort: 100 keys the first time, more each time the table is still over.
  uint64_t effort = 100 * (limit_effort_rounds_ + 1);
  while (effort-- > 0 && remembered_.size() > max_keys) {
    // The table's own order is arbitrary (hash order): its first key is as good as a random one.
    const std::string key = remembered_.begin()->first;
    InvalidateRememberedLocked(key, 0);
  }
  limit_effort_rounds_ = remembered_.size() > max_keys ? limit_effort_rounds_ + 1 : 0;
}

void Tracking::Send(const Client& client, InvalidatedKeys keys, uint64_t writer) const {
  IoThread* thread = client.thread;
  const uint64_t id = client.id;
  if (thread == IoThread::Current()) {
    if (Connection* c = thread->FindConnection(id)) c->DeliverInvalidation(keys, writer);
    return;
  }
  thread->Post([thread, id, keys = std::move(keys), writer] {
    if (Connection* c = thread->FindConnection(id)) c->DeliverInvalidation(keys, writer);
  });
}

size_t Tracking::total_keys() const {
  absl::MutexLock lock(&mu_);
  return remembered_.size();
}

size_t Tracking::total_items() const {
  absl::MutexLock lock(&mu_);
  return items_;
}

size_t Tracking::total_prefixes() const {
  absl::MutexLock lock(&mu_);
  return prefixes_.size();
}

}  // namespace strata::server
