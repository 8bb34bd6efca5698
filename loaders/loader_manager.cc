#include "loaders/loader_manager.h"

#include <time.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "storage/clock.h"
#include "storage/glob.h"

namespace strata::loaders {

using storage::MonotonicNs;
using storage::NowMs;

namespace {

constexpr int64_t kDefaultBreakerFailures = 5;
constexpr int64_t kDefaultBreakerCooldownMs = 5000;
// Past this many remembered "not found" keys, expired ones are swept before adding more, and
// if none expired the new one is not remembered: a scan of random missing keys cannot grow the
// negative cache without bound.
constexpr size_t kMaxNegativeEntries = 1 << 20;
constexpr size_t kMaxNegativeKeyBytes = 64 << 20;
// When full, expired entries are swept at most this often (a sweep walks every entry).
constexpr int64_t kNegativeSweepIntervalMs = 1000;

}  // namespace

// A reader's request: several keys, one callback when the last is resolved.
struct LoaderManager::Request {
  absl::Mutex mu;
  size_t remaining = 0;
  absl::Status first_error;
  std::function<void(absl::Status)> done;

  void Resolve(const absl::Status& status) {
    absl::Status result;
    {
      absl::MutexLock lock(&mu);
      if (!status.ok() && first_error.ok()) first_error = status;
      if (--remaining != 0) return;
      result = first_error;
    }
    done(result);
  }
};

// One load in flight for one (db, key), and everyone waiting for it.
struct LoaderManager::Flight {
  Loader* loader;
  int db;
  std::string key;
  std::vector<std::string> captures;
  std::vector<std::shared_ptr<Request>> waiters;
  bool invalidated = false;  // an invalidation arrived: load again, do not store this answer
  bool superseded = false;   // a write changed the key: do not store; waiters read the write
};

struct LoaderManager::SourceState {
  const Source* source;
  int64_t failures_to_open = kDefaultBreakerFailures;
  int64_t cooldown_ms = kDefaultBreakerCooldownMs;
  absl::Mutex mu;
  uint64_t consecutive_failures = 0;
  bool open = false;
  int64_t open_until_ms = 0;
  bool probe_in_flight = false;
  uint64_t times_opened = 0;
};

LoaderManager::LoaderManager(ValueStore& store) : store_(store), random_(std::random_device{}()) {}

LoaderManager::~LoaderManager() { Stop(); }

absl::Status LoaderManager::AddSource(const std::vector<std::string>& words) {
  if (words.size() < 2 || words.size() % 2 != 0) {
    return absl::InvalidArgumentError("source takes NAME URL [option value ...]");
  }
  const std::string& name = words[0];
  for (const auto& source : sources_) {
    if (source->name() == name) return absl::InvalidArgumentError(absl::StrCat("source ", name, " is defined twice"));
  }
  auto state = std::make_unique<SourceState>();
  SourceOptions options;
  for (size_t i = 2; i < words.size(); i += 2) {
    const std::string& option = words[i];
    const std::string& value = words[i + 1];
    int64_t number;
    if (option == "breaker-failures" || option == "breaker-cooldown") {
      if (!absl::SimpleAtoi(value, &number) || number < 1) {
        return absl::InvalidArgumentError(absl::StrCat("source ", name, ": ", option, " must be a positive integer"));
      }
      if (option == "breaker-failures") {
        state->failures_to_open = number;
      } else {
        state->cooldown_ms = number * 1000;
      }
      continue;
    }
    options.emplace(option, value);
  }
  auto source = MakeSource(name, words[1], options);
  if (!source.ok()) return source.status();
  state->source = source->get();
  sources_.push_back(std::move(*source));
  source_states_.push_back(std::move(state));
  return absl::OkStatus();
}

absl::Status LoaderManager::AddLoader(const std::vector<std::string>& words) {
  if (words.size() < 3) return absl::InvalidArgumentError("loader takes KEY-TEMPLATE SOURCE QUERY [option value ...]");
  auto key_template = KeyTemplate::Parse(words[0]);
  if (!key_template.ok()) return key_template.status();
  Source* source = nullptr;
  for (const auto& candidate : sources_) {
    if (candidate->name() == words[1]) source = candidate.get();
  }
  if (source == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("loader ", words[0], ": no source named '", words[1],
                                                   "' (a source line must come before the loaders that use it)"));
  }
  auto options = ParseLoaderOptions(std::vector<std::string>(words.begin() + 3, words.end()));
  if (!options.ok()) return absl::InvalidArgumentError(absl::StrCat("loader ", words[0], ": ", options.status().message()));
  SourceQuery query;
  query.text = words[2];
  query.batch_text = options->batch_query;
  query.shape = options->shape;
  query.timeout = options->timeout;
  query.capture_names = key_template->capture_names();
  if (absl::Status s = source->Prepare(query); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("loader ", words[0], ": ", s.message()));
  }
  loaders_.push_back(std::make_unique<Loader>(std::move(*key_template), *source, std::move(query), std::move(*options)));
  return absl::OkStatus();
}

absl::Status LoaderManager::Start() {
  for (auto& source : sources_) {
    if (invalidation_message_handler_) {
      source->set_invalidation_handler([handler = invalidation_message_handler_, name = source->name()](std::string payload) {
        handler(name, std::move(payload));
      });
    }
    if (absl::Status s = source->Start(); !s.ok()) {
      return absl::InternalError(absl::StrCat("source ", source->name(), ": ", s.message()));
    }
  }
  started_ = true;
  return absl::OkStatus();
}

void LoaderManager::Stop() {
  if (!started_) return;
  started_ = false;
  for (auto& source : sources_) source->Stop();
}

LoaderManager::SourceState& LoaderManager::StateOf(const Source& source) {
  for (auto& state : source_states_) {
    if (state->source == &source) return *state;
  }
  return *source_states_.front();  // unreachable: every source has a state
}

BreakerSnapshot LoaderManager::Breaker(const Source& source) {
  SourceState& state = StateOf(source);
  absl::MutexLock lock(&state.mu);
  BreakerSnapshot snapshot;
  snapshot.state = !state.open ? "closed" : (NowMs() < state.open_until_ms ? "open" : "half-open");
  snapshot.consecutive_failures = state.consecutive_failures;
  snapshot.opened = state.times_opened;
  return snapshot;
}

Loader* LoaderManager::Match(std::string_view key) const {
  for (const auto& loader : loaders_) {
    if (loader->key_template().Matches(key)) return loader.get();
  }
  return nullptr;
}

Loader* LoaderManager::MatchWithCaptures(std::string_view key, std::vector<std::string>* captures) const {
  for (const auto& loader : loaders_) {
    if (auto matched = loader->key_template().Match(key)) {
      *captures = std::move(*matched);
      return loader.get();
    }
  }
  return nullptr;
}

bool LoaderManager::IsNegative(Loader& loader, int db, std::string_view key, int64_t now_ms) {
  absl::MutexLock lock(&negative_mu_);
  auto it = negative_until_ms_.find(FlightKey(db, std::string(key)));
  if (it == negative_until_ms_.end()) return false;
  if (it->second <= now_ms) {
    negative_key_bytes_ -= it->first.second.size();
    negative_until_ms_.erase(it);
    return false;
  }
  loader.stats().negative_hits.fetch_add(1, std::memory_order_relaxed);
  return true;
}

LoaderManager::Freshness LoaderManager::OnHit(Loader& loader, int64_t fresh_until_ms, int64_t now_ms) {
  LoaderStats& stats = loader.stats();
  stats.hits.fetch_add(1, std::memory_order_relaxed);
  if (fresh_until_ms < 0) return Freshness::kFresh;
  if (now_ms >= fresh_until_ms) {
    stats.stale_served.fetch_add(1, std::memory_order_relaxed);
    return Freshness::kStale;
  }
  const LoaderOptions& options = loader.options();
  if (options.refresh_ahead_percent > 0) {
    const auto window = static_cast<int64_t>(static_cast<double>(options.ttl_ms) * options.refresh_ahead_percent / 100);
    if (now_ms >= fresh_until_ms - window) return Freshness::kRefreshAhead;
  }
  return Freshness::kFresh;
}

void LoaderManager::Enqueue(int db, const std::vector<std::string>& keys, std::function<void(absl::Status)> done,
                            PendingLoads* pending) {
  auto request = std::make_shared<Request>();
  request->remaining = keys.size();
  request->done = std::move(done);
  size_t unmatched = 0;
  {
    absl::MutexLock lock(&flights_mu_);
    for (const std::string& key : keys) {
      std::vector<std::string> captures;
      Loader* loader = MatchWithCaptures(key, &captures);
      if (loader == nullptr) {
        ++unmatched;
        continue;
      }
      loader->stats().misses.fetch_add(1, std::memory_order_relaxed);
      std::unique_ptr<Flight>& slot = flights_[FlightKey(db, key)];
      if (slot) {
        slot->waiters.push_back(request);
        loader->stats().coalesced.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      slot = std::make_unique<Flight>(Flight{loader, db, key, std::move(captures), {request}});
      auto& batches = pending->batches_;
      auto batch = std::find_if(batches.begin(), batches.end(), [&](const auto& b) { return b.first == loader; });
      if (batch == batches.end()) batch = batches.insert(batches.end(), {loader, {}});
      batch->second.push_back(slot.get());
    }
  }
  // Only possible if a caller passes keys no loader matches; they resolve at once.
  for (size_t i = 0; i < unmatched; ++i) request->Resolve(absl::OkStatus());
}

void LoaderManager::EnqueueRefresh(int db, std::string_view key, PendingLoads* pending) {
  std::vector<std::string> captures;
  Loader* loader = MatchWithCaptures(key, &captures);
  if (loader == nullptr) return;
  {
    absl::MutexLock lock(&flights_mu_);
    std::unique_ptr<Flight>& slot = flights_[FlightKey(db, std::string(key))];
    if (slot) return;  // a load is already on its way
    slot = std::make_unique<Flight>(Flight{loader, db, std::string(key), std::move(captures), {}});
    pending->batches_.push_back({loader, {slot.get()}});
  }
  loader->stats().refreshes.fetch_add(1, std::memory_order_relaxed);
}

void LoaderManager::Start(PendingLoads* pending) {
  auto batches = std::move(pending->batches_);
  pending->batches_.clear();
  for (auto& [loader, flights] : batches) Dispatch(*loader, std::move(flights));
}

void LoaderManager::Load(int db, const std::vector<std::string>& keys, std::function<void(absl::Status)> done) {
  PendingLoads pending;
  Enqueue(db, keys, std::move(done), &pending);
  Start(&pending);
}


void LoaderManager::NoteWrite(int db, std::string_view key) {
  const FlightKey flight_key(db, std::string(key));
  {
    absl::MutexLock lock(&flights_mu_);
    auto it = flights_.find(flight_key);
    if (it != flights_.end()) it->second->superseded = true;
  }
  absl::MutexLock lock(&negative_mu_);
  auto it = negative_until_ms_.find(flight_key);
  if (it != negative_until_ms_.end()) {
    negative_key_bytes_ -= key.size();
    negative_until_ms_.erase(it);
  }
}

void LoaderManager::RememberNegative(int db, const std::string& key, int64_t until_ms, int64_t now_ms) {
  absl::MutexLock lock(&negative_mu_);
  auto full = [&] {
    return negative_until_ms_.size() >= kMaxNegativeEntries || negative_key_bytes_ + key.size() > kMaxNegativeKeyBytes;
  };
  if (full() && now_ms >= next_negative_sweep_ms_) {
    next_negative_sweep_ms_ = now_ms + kNegativeSweepIntervalMs;
    for (auto it = negative_until_ms_.begin(); it != negative_until_ms_.end();) {
      if (it->second <= now_ms) {
        negative_key_bytes_ -= it->first.second.size();
        negative_until_ms_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  if (full()) return;  // not remembered: the next read asks the source again
  auto [it, inserted] = negative_until_ms_.insert_or_assign(FlightKey(db, key), until_ms);
  if (inserted) negative_key_bytes_ += key.size();
}

void LoaderManager::ForgetNegative(int db, const std::string& key) {
  absl::MutexLock lock(&negative_mu_);
  auto it = negative_until_ms_.find(FlightKey(db, key));
  if (it == negative_until_ms_.end()) return;
  negative_key_bytes_ -= key.size();
  negative_until_ms_.erase(it);
}

void LoaderManager::Dispatch(Loader& loader, std::vector<Flight*> flights) {
  SourceState& state = StateOf(loader.source());
  if (!BreakerAllows(state, NowMs())) {
    std::vector<LoadOutcome> outcomes(flights.size(),
                                      LoadOutcome::Error(absl::StrCat("source ", loader.source().name(),
                                                                      " is failing (circuit breaker open)")));
    Complete(loader, std::move(flights), std::move(outcomes), -1);
    return;
  }
  std::vector<std::vector<std::string>> batch;
  batch.reserve(flights.size());
  for (Flight* flight : flights) batch.push_back(flight->captures);
  loader.stats().source_queries.fetch_add(1, std::memory_order_relaxed);
  const int64_t started_ns = MonotonicNs();
  loader.source().Load(loader.query(), std::move(batch),
                       [this, &loader, flights = std::move(flights), started_ns](std::vector<LoadOutcome> outcomes) {
                         Complete(loader, flights, std::move(outcomes), started_ns);
                       });
}

void LoaderManager::Complete(Loader& loader, std::vector<Flight*> flights, std::vector<LoadOutcome> outcomes,
                             int64_t started_ns) {
  const int64_t now = NowMs();
  LoaderStats& stats = loader.stats();
  const LoaderOptions& options = loader.options();
  if (outcomes.size() != flights.size()) {
    outcomes.assign(flights.size(), LoadOutcome::Error("source returned a wrong number of results"));
  }
  // Before anything else sees the values: a redacted column never reaches the keyspace.
  if (!options.redact.empty()) {
    for (LoadOutcome& outcome : outcomes) Redact(options, outcome);
  }
  if (started_ns >= 0) {  // a real source call, not a breaker fast-fail
    const int64_t micros = (MonotonicNs() - started_ns) / 1000;
    stats.latency_us.Record(micros);
    loader.source().query_latency_us().Record(micros);
    const bool failed = std::all_of(outcomes.begin(), outcomes.end(),
                                    [](const LoadOutcome& o) { return o.kind == LoadOutcome::Kind::kError; });
    BreakerRecord(StateOf(loader.source()), failed, now);
  }
  std::vector<Flight*> restart;
  for (size_t i = 0; i < flights.size(); ++i) {
    Flight* flight = flights[i];
    const LoadOutcome& outcome = outcomes[i];
    absl::Status status;
    // Called under the key's shard lock, so a write or invalidation either came before (and
    // wins) or comes after (and overwrites or drops what is stored now).
    auto still_wanted = [&] {
      absl::MutexLock lock(&flights_mu_);
      return !flight->invalidated && !flight->superseded;
    };
    switch (outcome.kind) {
      case LoadOutcome::Kind::kFound: {
        const int64_t ttl = JitteredTtl(options);
        int64_t fresh_until = ttl > 0 ? now + ttl : -1;
        int64_t expire_at = ttl > 0 ? fresh_until + options.stale_ms : -1;
        if (options.max_ttl_ms > 0) {  // the cap holds over jitter and the stale window
          const int64_t limit = now + options.max_ttl_ms;
          if (expire_at < 0 || expire_at > limit) expire_at = limit;
          if (fresh_until < 0 || fresh_until > expire_at) fresh_until = expire_at;
        }
        bool stored = false;
        store_.Store(flight->db, flight->key, options.shape, outcome, fresh_until, expire_at, [&] {
          stored = still_wanted();
          return stored;
        });
        if (stored) {
          stats.loads.fetch_add(1, std::memory_order_relaxed);
          ForgetNegative(flight->db, flight->key);
        }
        break;
      }
      case LoadOutcome::Kind::kNotFound:
        stats.not_found.fetch_add(1, std::memory_order_relaxed);
        // The row is gone: a stale copy must not outlive it, and "not found" is remembered
        // under the same lock that readers check it under.
        store_.Delete(flight->db, flight->key, [&] {
          if (!still_wanted()) return false;
          if (options.negative_ttl_ms > 0) {
            const int64_t remember_ms = options.max_ttl_ms > 0 ? std::min(options.negative_ttl_ms, options.max_ttl_ms)
                                                                : options.negative_ttl_ms;
            RememberNegative(flight->db, flight->key, now + remember_ms, now);
          }
          return true;
        });
        break;
      case LoadOutcome::Kind::kError:
        stats.errors.fetch_add(1, std::memory_order_relaxed);
        if (outcome.timed_out) stats.timeouts.fetch_add(1, std::memory_order_relaxed);
        status = absl::UnavailableError(absl::StrCat("LOADERR ", loader.name(), ": ", outcome.error));
        break;
    }
    std::vector<std::shared_ptr<Request>> waiters;
    {
      absl::MutexLock lock(&flights_mu_);
      if (flight->invalidated && !flight->superseded && outcome.kind != LoadOutcome::Kind::kError) {
        // Loaded before an invalidation: what it read may be old. Load again for the waiters.
        flight->invalidated = false;
        restart.push_back(flight);
        continue;
      }
      // A write overtook this load: its waiters run their command again, which reads what
      // the write left (or, after a DEL, loads afresh).
      if (flight->superseded && status.ok()) status = SupersededStatus();
      waiters = std::move(flight->waiters);
      flights_.erase(FlightKey(flight->db, flight->key));
    }
    for (auto& waiter : waiters) waiter->Resolve(status);
  }
  if (!restart.empty()) Dispatch(loader, std::move(restart));
}

bool LoaderManager::BreakerAllows(SourceState& state, int64_t now_ms) {
  absl::MutexLock lock(&state.mu);
  if (!state.open) return true;
  if (now_ms < state.open_until_ms || state.probe_in_flight) return false;
  state.probe_in_flight = true;  // half-open: one load probes the source
  return true;
}

void LoaderManager::BreakerRecord(SourceState& state, bool failed, int64_t now_ms) {
  absl::MutexLock lock(&state.mu);
  state.probe_in_flight = false;
  if (!failed) {
    state.consecutive_failures = 0;
    state.open = false;
    return;
  }
  ++state.consecutive_failures;
  if (state.open || state.consecutive_failures >= static_cast<uint64_t>(state.failures_to_open)) {
    if (!state.open) ++state.times_opened;
    state.open = true;
    state.open_until_ms = now_ms + state.cooldown_ms;
  }
}

int64_t LoaderManager::JitteredTtl(const LoaderOptions& options) {
  if (options.ttl_ms <= 0) return 0;
  if (options.jitter_percent <= 0) return options.ttl_ms;
  double factor;
  {
    absl::MutexLock lock(&random_mu_);
    factor = std::uniform_real_distribution<double>(0.0, options.jitter_percent / 100.0)(random_);
  }
  return static_cast<int64_t>(static_cast<double>(options.ttl_ms) * (1.0 + factor));
}

void LoaderManager::Supersede(int db, const std::vector<std::string>& keys) {
  const int first = db < 0 ? 0 : db, last = db < 0 ? store_.databases() - 1 : db;
  {
    absl::MutexLock lock(&flights_mu_);
    for (const std::string& key : keys) {
      for (int d = first; d <= last; ++d) {
        auto it = flights_.find(FlightKey(d, key));
        if (it != flights_.end()) it->second->invalidated = true;
      }
    }
  }
  for (const std::string& key : keys) {
    for (int d = first; d <= last; ++d) ForgetNegative(d, key);
  }
}

void LoaderManager::SupersedeMatching(int db, std::string_view pattern) {
  auto matches = [&](const FlightKey& key) { return (db < 0 || key.first == db) && storage::GlobMatch(pattern, key.second); };
  {
    absl::MutexLock lock(&flights_mu_);
    for (auto& [key, flight] : flights_) {
      if (matches(key)) flight->invalidated = true;
    }
  }
  absl::MutexLock lock(&negative_mu_);
  for (auto it = negative_until_ms_.begin(); it != negative_until_ms_.end();) {
    if (matches(it->first)) {
      negative_key_bytes_ -= it->first.second.size();
      negative_until_ms_.erase(it++);
    } else {
      ++it;
    }
  }
}

}  // namespace strata::loaders
