#include "server/tracking.h"

#include <algorithm>
#include <bit>
#include <mutex>

#include "server/absl_compat.h"
#include "server/config.h"
#include "server/connection.h"
#include "server/io_thread.h"
#include "storage/keyspace.h"

namespace strata::server {
namespace {

// The tables' counters are written under their shard's lock and read without it: a plain
// load and store, no locked read-modify-write on the read path.
void Add(std::atomic<size_t>& counter, size_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
void Subtract(std::atomic<size_t>& counter, size_t n) {
  counter.store(counter.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
}

InvalidatedKeys OneKey(std::string_view key) {
  return std::make_shared<const std::vector<std::string>>(1, std::string(key));
}

}  // namespace

bool Tracking::Readers::AddMore(uint32_t slot) {
  if (more == nullptr) more = std::make_unique<std::vector<uint32_t>>();
  if (std::find(more->begin(), more->end(), slot) != more->end()) return false;
  more->push_back(slot);
  return true;
}

size_t Tracking::Readers::Remove(uint64_t mask_bits, std::span<const uint32_t> others) {
  size_t removed = static_cast<size_t>(std::popcount(mask & mask_bits));
  mask &= ~mask_bits;
  if (more != nullptr && !others.empty()) {
    removed += std::erase_if(*more, [&](uint32_t slot) {
      return std::find(others.begin(), others.end(), slot) != others.end();
    });
  }
  return removed;
}

void Tracking::Readers::AppendSlots(std::vector<uint32_t>* out) const {
  for (uint64_t bits = mask; bits != 0; bits &= bits - 1) out->push_back(static_cast<uint32_t>(std::countr_zero(bits)));
  if (more != nullptr) out->insert(out->end(), more->begin(), more->end());
}

Tracking::Tracking(storage::Keyspace& keyspace, const Config& config)
    : keyspace_(keyspace),
      config_(config),
      table_count_(keyspace.shard_count()),
      tables_(std::make_unique<ShardTable[]>(table_count_)) {}

Tracking::~Tracking() = default;

uint32_t Tracking::Enable(Client client, bool bcast, std::span<const std::string> prefixes) {
  uint32_t slot;
  {
    absl::MutexLock lock(&slots_mu_);
    if (!free_slots_.empty()) {
      // The lowest free slot: slots stay within the 64 a reader mask holds while they can.
      auto lowest = std::min_element(free_slots_.begin(), free_slots_.end());
      slot = *lowest;
      *lowest = free_slots_.back();
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
  draining_.push_back(slot);
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
  if (pass_slots_.empty()) {
    absl::MutexLock lock(&slots_mu_);
    if (draining_.empty()) return;
    // A pass clears the slots given up before it began: no bit of theirs is added afterwards (a
    // client remembers nothing once it has disabled tracking).
    pass_slots_.swap(draining_);
    pass_next_shard_ = 0;
  }
  uint64_t mask_bits = 0;
  std::vector<uint32_t> others;
  for (uint32_t slot : pass_slots_) {
    if (slot < kMaskSlots) {
      mask_bits |= uint64_t{1} << slot;
    } else {
      others.push_back(slot);
    }
  }
  for (size_t visited = 0; visited < kDrainShardsPerCall && pass_next_shard_ < table_count_; ++visited) {
    // A shard a script holds is visited again by the next call: the cron must not wait for it.
    std::unique_lock<std::timed_mutex> lock(keyspace_.shard(pass_next_shard_).mu, std::try_to_lock);
    if (!lock.owns_lock()) return;
    ShardTable& table = tables_[pass_next_shard_++];
    size_t removed_items = 0;
    size_t removed_keys = 0;
    for (auto it = table.readers.begin(); it != table.readers.end();) {
      removed_items += it->second.Remove(mask_bits, others);
      if (it->second.empty()) {
        table.names.erase(it->first);
        table.readers.erase(it++);
        ++removed_keys;
      } else {
        ++it;
      }
    }
    Subtract(table.item_count, removed_items);
    Subtract(table.key_count, removed_keys);
  }
  if (pass_next_shard_ < table_count_) return;
  absl::MutexLock lock(&slots_mu_);
  free_slots_.insert(free_slots_.end(), pass_slots_.begin(), pass_slots_.end());
  pass_slots_.clear();
}

void Tracking::Remember(uint32_t slot, std::string_view key, uint64_t hash) {
  ShardTable& table = TableOf(hash);
  auto [it, inserted] = table.readers.try_emplace(hash);
  if (inserted) {
    table.names.try_emplace(hash, key);
    Add(table.key_count, 1);
  }
  if (it->second.Add(slot)) Add(table.item_count, 1);
}

std::vector<uint32_t> Tracking::Take(ShardTable& table, uint64_t hash) {
  std::vector<uint32_t> slots;
  auto it = table.readers.find(hash);
  if (it == table.readers.end()) return slots;
  it->second.AppendSlots(&slots);
  table.readers.erase(it);
  table.names.erase(hash);
  Subtract(table.item_count, slots.size());
  Subtract(table.key_count, 1);
  return slots;
}

void Tracking::OnKeyChanged(std::string_view key, uint64_t hash, uint64_t writer) {
  InvalidatedKeys keys;
  ShardTable& table = TableOf(hash);
  if (!table.readers.empty()) {
    const std::vector<uint32_t> slots = Take(table, hash);
    if (!slots.empty()) {
      keys = OneKey(key);
      SendToSlots(slots, keys, writer);
    }
  }
  if (!has_prefixes_.load(std::memory_order_relaxed)) return;
  absl::ReaderMutexLock lock(&slots_mu_);
  for (const auto& [prefix, clients] : prefixes_) {
    if (!key.starts_with(prefix)) continue;
    if (keys == nullptr) keys = OneKey(key);
    for (const Client& client : clients) Send(client, keys, writer);
  }
}

void Tracking::SendToSlots(std::span<const uint32_t> slots, const InvalidatedKeys& keys, uint64_t writer) {
  absl::ReaderMutexLock lock(&slots_mu_);
  for (uint32_t slot : slots) {
    if (slot < slots_.size() && slots_[slot]) Send(*slots_[slot], keys, writer);
  }
}

void Tracking::OnFlush() {
  for (size_t index = 0; index < table_count_; ++index) {
    storage::WideShardLock lock(keyspace_.shard(index));
    ShardTable& table = tables_[index];
    table.readers.clear();
    table.names.clear();
    table.key_count.store(0, std::memory_order_relaxed);
    table.item_count.store(0, std::memory_order_relaxed);
  }
  absl::ReaderMutexLock lock(&slots_mu_);
  for (const std::optional<Client>& client : slots_) {
    if (client) Send(*client, nullptr, 0);
  }
}

size_t Tracking::InvalidateSomeOf(size_t index, size_t wanted) {
  std::vector<Dropped> dropped;
  {
    std::unique_lock<std::timed_mutex> lock(keyspace_.shard(index).mu, std::try_to_lock);
    if (!lock.owns_lock()) return 0;
    ShardTable& table = tables_[index];
    // The table's own order is hash order, as good as Redis's random pick.
    while (dropped.size() < wanted && !table.readers.empty()) {
      const uint64_t hash = table.readers.begin()->first;
      auto name = table.names.find(hash);
      std::string key = name != table.names.end() ? std::move(name->second) : std::string();
      dropped.push_back({std::move(key), Take(table, hash)});
    }
  }
  // Sent outside the shard lock: nothing here needs it, and I/O threads do.
  for (const Dropped& d : dropped) SendToSlots(d.slots, OneKey(d.key), 0);
  return dropped.size();
}

void Tracking::EnforceLimit() {
  DrainSlots();
  const auto max_keys = static_cast<size_t>(config_.tracking_table_max_keys.load(std::memory_order_relaxed));
  size_t keys = total_keys();
  if (max_keys == 0 || keys <= max_keys) {
    limit_effort_rounds_ = 0;
    return;
  }
  // Redis's effort: 100 keys the first time, more each time the table is still over. Shards are
  // taken in turn, a few keys from each.
  size_t effort = 100 * (limit_effort_rounds_ + 1);
  for (size_t visited = 0; visited < table_count_ && effort > 0 && keys > max_keys; ++visited) {
    const size_t index = next_limit_shard_++ % table_count_;
    const size_t done = InvalidateSomeOf(index, std::min({effort, keys - max_keys, kLimitKeysPerLock}));
    effort -= done;
    keys -= std::min(keys, done);
  }
  limit_effort_rounds_ = total_keys() > max_keys ? limit_effort_rounds_ + 1 : 0;
}

void Tracking::Send(const Client& client, InvalidatedKeys keys, uint64_t writer) {
  IoThread* thread = client.thread;
  const uint64_t id = client.id;
  thread->Deliver([thread, id, keys = std::move(keys), writer] {
    if (Connection* c = thread->FindConnection(id)) c->DeliverInvalidation(keys, writer);
  });
}

size_t Tracking::total_keys() const {
  size_t total = 0;
  for (size_t i = 0; i < table_count_; ++i) total += tables_[i].key_count.load(std::memory_order_relaxed);
  return total;
}

size_t Tracking::total_items() const {
  size_t total = 0;
  for (size_t i = 0; i < table_count_; ++i) total += tables_[i].item_count.load(std::memory_order_relaxed);
  return total;
}

size_t Tracking::total_prefixes() const {
  absl::ReaderMutexLock lock(&slots_mu_);
  return prefixes_.size();
}

}  // namespace strata::server
