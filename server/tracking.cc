#include "server/tracking.h"

#include <algorithm>
#include <bit>

#include "absl/hash/hash.h"
#include "server/absl_compat.h"
#include "server/config.h"
#include "server/connection.h"
#include "server/io_thread.h"
#include "storage/keyspace.h"

namespace strata::server {

bool Tracking::Readers::Add(uint32_t slot) {
  if (slot < kMaskSlots) {
    const uint64_t bit = uint64_t{1} << slot;
    if (mask & bit) return false;
    mask |= bit;
    return true;
  }
  if (more == nullptr) more = std::make_unique<std::vector<uint32_t>>();
  if (std::find(more->begin(), more->end(), slot) != more->end()) return false;
  more->push_back(slot);
  return true;
}

bool Tracking::Readers::Remove(uint32_t slot) {
  if (slot < kMaskSlots) {
    const uint64_t bit = uint64_t{1} << slot;
    if (!(mask & bit)) return false;
    mask &= ~bit;
    return true;
  }
  return more != nullptr && std::erase(*more, slot) > 0;
}

bool Tracking::Readers::empty() const { return mask == 0 && (more == nullptr || more->empty()); }

void Tracking::Readers::AppendSlots(std::vector<uint32_t>* out) const {
  for (uint64_t bits = mask; bits != 0; bits &= bits - 1) out->push_back(static_cast<uint32_t>(std::countr_zero(bits)));
  if (more != nullptr) out->insert(out->end(), more->begin(), more->end());
}

size_t Tracking::HashOf(std::string_view key) { return absl::Hash<absl::string_view>{}(Absl(key)); }

Tracking::Stripe& Tracking::StripeOf(size_t hash) {
  // The hash's top bits: the stripe's table places keys by its low bits (absl's H1 and H2), which
  // must stay as varied within a stripe as in the whole.
  return stripes_[(hash >> 60) % kStripes];
}

uint32_t Tracking::Enable(Client client, bool bcast, std::span<const std::string> prefixes) {
  uint32_t slot;
  {
    absl::MutexLock lock(&slots_mu_);
    if (!free_slots_.empty()) {
      slot = free_slots_.back();
      free_slots_.pop_back();
      slots_[slot] = client;
    } else {
      slot = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back(client);
    }
  }
  clients_.fetch_add(1, std::memory_order_relaxed);
  if (bcast) AddPrefixes(client, prefixes);
  keyspace_.set_track_changes(true);
  return slot;
}

void Tracking::AddPrefixes(Client client, std::span<const std::string> prefixes) {
  absl::MutexLock lock(&slots_mu_);
  for (const std::string& prefix : prefixes) {
    std::vector<Client>& clients = prefixes_[prefix];
    if (std::none_of(clients.begin(), clients.end(), [&](const Client& c) { return c.id == client.id; })) {
      clients.push_back(client);
    }
  }
  has_prefixes_.store(!prefixes_.empty(), std::memory_order_relaxed);
}

void Tracking::Disable(uint32_t slot, uint64_t client_id, std::span<const std::string> prefixes) {
  absl::MutexLock lock(&slots_mu_);
  // Nothing is sent to the slot from now on; its bits leave the table in the cron's slices
  // (DrainSlots) before the slot is reused, so a later client in it is never told of keys it did
  // not read, and a disconnect never walks the whole table on an I/O thread.
  slots_[slot].reset();
  draining_.push_back({slot, kStripes});
  for (const std::string& prefix : prefixes) {
    auto it = prefixes_.find(Absl(prefix));
    if (it == prefixes_.end()) continue;
    std::erase_if(it->second, [&](const Client& c) { return c.id == client_id; });
    if (it->second.empty()) prefixes_.erase(it);
  }
  has_prefixes_.store(!prefixes_.empty(), std::memory_order_relaxed);
  if (clients_.fetch_sub(1, std::memory_order_relaxed) == 1) keyspace_.set_track_changes(false);
}

void Tracking::DrainSlots() {
  std::vector<uint32_t> slots;
  {
    absl::MutexLock lock(&slots_mu_);
    if (draining_.empty()) return;
    for (const Draining& d : draining_) slots.push_back(d.slot);
  }
  // One stripe per call; a slot has left every stripe after kStripes calls.
  Stripe& stripe = stripes_[drain_cursor_++ % kStripes];
  {
    absl::MutexLock lock(&stripe.mu);
    for (auto it = stripe.keys.begin(); it != stripe.keys.end();) {
      for (uint32_t slot : slots) {
        if (it->second.Remove(slot)) RemovedItems(stripe, 1);
      }
      if (it->second.empty()) {
        stripe.keys.erase(it++);
        remembered_keys_.fetch_sub(1, std::memory_order_relaxed);
      } else {
        ++it;
      }
    }
  }
  absl::MutexLock lock(&slots_mu_);
  for (auto it = draining_.begin(); it != draining_.end();) {
    // Only the slots this call drained count a stripe (one added meanwhile was not in `slots`).
    if (std::find(slots.begin(), slots.end(), it->slot) != slots.end() && --it->stripes_left == 0) {
      free_slots_.push_back(it->slot);
      it = draining_.erase(it);
    } else {
      ++it;
    }
  }
}

void Tracking::RemovedItems(Stripe& stripe, size_t n) {
  stripe.items -= n;
  items_.fetch_sub(n, std::memory_order_relaxed);
}

void Tracking::Remember(uint32_t slot, std::span<const std::string_view> keys) {
  for (std::string_view key : keys) {
    // One hash for the stripe and the probe: this runs on every read of a tracking client.
    const size_t hash = HashOf(key);
    Stripe& stripe = StripeOf(hash);
    absl::MutexLock lock(&stripe.mu);
    auto it = stripe.keys.find(Absl(key), hash);
    if (it == stripe.keys.end()) {
      it = stripe.keys.try_emplace(Absl(key)).first;
      remembered_keys_.fetch_add(1, std::memory_order_relaxed);
    }
    if (it->second.Add(slot)) {
      ++stripe.items;
      items_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void Tracking::OnKeyChanged(std::string_view key, uint64_t writer) {
  const bool remembered = remembered_keys_.load(std::memory_order_relaxed) != 0;
  const bool prefixed = has_prefixes_.load(std::memory_order_relaxed);
  if (!remembered && !prefixed) return;
  if (remembered) InvalidateRemembered(key, writer);
  if (!prefixed) return;
  InvalidatedKeys keys;
  absl::ReaderMutexLock lock(&slots_mu_);
  for (const auto& [prefix, clients] : prefixes_) {
    if (!key.starts_with(prefix)) continue;
    if (keys == nullptr) keys = std::make_shared<const std::vector<std::string>>(1, std::string(key));
    for (const Client& client : clients) Send(client, keys, writer);
  }
}

void Tracking::InvalidateRemembered(std::string_view key, uint64_t writer) {
  const size_t hash = HashOf(key);
  Stripe& stripe = StripeOf(hash);
  std::vector<uint32_t> slots;
  {
    absl::MutexLock lock(&stripe.mu);
    auto it = stripe.keys.find(Absl(key), hash);
    if (it == stripe.keys.end()) return;
    it->second.AppendSlots(&slots);
    stripe.keys.erase(it);
    RemovedItems(stripe, slots.size());
    remembered_keys_.fetch_sub(1, std::memory_order_relaxed);
  }
  SendToSlots(slots, std::make_shared<const std::vector<std::string>>(1, std::string(key)), writer);
}

void Tracking::SendToSlots(std::span<const uint32_t> slots, const InvalidatedKeys& keys, uint64_t writer) {
  absl::ReaderMutexLock lock(&slots_mu_);
  for (uint32_t slot : slots) {
    if (slot < slots_.size() && slots_[slot]) Send(*slots_[slot], keys, writer);
  }
}

void Tracking::OnFlush() {
  // The counters go down by what each stripe held, under its lock: other threads may be adding
  // to or invalidating from other stripes meanwhile.
  for (Stripe& stripe : stripes_) {
    absl::MutexLock lock(&stripe.mu);
    remembered_keys_.fetch_sub(stripe.keys.size(), std::memory_order_relaxed);
    RemovedItems(stripe, stripe.items);
    stripe.keys.clear();
  }
  absl::ReaderMutexLock lock(&slots_mu_);
  for (const std::optional<Client>& client : slots_) {
    if (client) Send(*client, nullptr, 0);
  }
}

void Tracking::EnforceLimit() {
  DrainSlots();
  const auto max_keys = static_cast<size_t>(config_.tracking_table_max_keys.load(std::memory_order_relaxed));
  if (max_keys == 0 || remembered_keys_.load(std::memory_order_relaxed) <= max_keys) {
    limit_effort_rounds_.store(0, std::memory_order_relaxed);
    return;
  }
  // Redis's effort: 100 keys the first time, more each time the table is still over. Keys go
  // from the stripes in turn; a stripe's own order is hash order, as good as a random pick.
  uint64_t effort = 100 * (limit_effort_rounds_.load(std::memory_order_relaxed) + 1);
  while (effort-- > 0 && remembered_keys_.load(std::memory_order_relaxed) > max_keys) {
    Stripe& stripe = stripes_[next_limit_stripe_.fetch_add(1, std::memory_order_relaxed) % kStripes];
    std::string key;
    {
      absl::MutexLock lock(&stripe.mu);
      if (stripe.keys.empty()) continue;
      key = stripe.keys.begin()->first;
    }
    InvalidateRemembered(key, 0);
  }
  const bool still_over = remembered_keys_.load(std::memory_order_relaxed) > max_keys;
  limit_effort_rounds_.store(still_over ? limit_effort_rounds_.load(std::memory_order_relaxed) + 1 : 0,
                             std::memory_order_relaxed);
}

void Tracking::Send(const Client& client, InvalidatedKeys keys, uint64_t writer) {
  IoThread* thread = client.thread;
  const uint64_t id = client.id;
  thread->Deliver([thread, id, keys = std::move(keys), writer] {
    if (Connection* c = thread->FindConnection(id)) c->DeliverInvalidation(keys, writer);
  });
}

size_t Tracking::total_keys() const { return remembered_keys_.load(std::memory_order_relaxed); }

size_t Tracking::total_prefixes() const {
  absl::ReaderMutexLock lock(&slots_mu_);
  return prefixes_.size();
}

}  // namespace strata::server
