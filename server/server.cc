#include "server/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/absl_compat.h"
#include "server/connection.h"
#include "server/memory.h"
#include "server/metrics.h"
#include "storage/spill_codec.h"

namespace strata::server {

void ClientRegistry::Add(Connection* c) {
  absl::MutexLock lock(&mu_);
  clients_[c->id()] = c;
}

void ClientRegistry::Remove(Connection* c) {
  absl::MutexLock lock(&mu_);
  clients_.erase(c->id());
}

size_t ClientRegistry::size() const {
  absl::MutexLock lock(&mu_);
  return clients_.size();
}

IoThread* ClientRegistry::ThreadOf(uint64_t id) const {
  absl::MutexLock lock(&mu_);
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : &it->second->thread();
}

void ClientRegistry::ForEach(const std::function<void(Connection&)>& fn) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<uint64_t, Connection*>> ordered(clients_.begin(), clients_.end());
  std::sort(ordered.begin(), ordered.end());
  for (auto& [id, c] : ordered) fn(*c);
}

Server::Server(Config& config, Logger& logger)
    : config_(config), logger_(logger), start_time_ms_(NowMs()) {
  std::random_device random;
  for (int i = 0; i < 40; ++i) run_id_.push_back("0123456789abcdef"[random() % 16]);
}

Server::~Server() = default;

bool Server::IsInvalidationChannel(std::string_view channel) const {
  for (const std::string& name : invalidation_channels_) {
    if (name == channel) return true;
  }
  return false;
}

absl::Status Server::Listen(std::vector<ListeningSocket>* sockets) {
  // As Redis: port 0 turns the plain-text listener off, which only makes sense with a TLS one.
  const int port = static_cast<int>(config_.port.load());
  const int tls_port = static_cast<int>(config_.tls_port.load());
  if (port == 0 && tls_port == 0) {
    return absl::InvalidArgumentError("port 0 (no TCP listener) is supported only with a tls-port");
  }
  if (port != 0) {
    if (absl::Status s = ListenOn(port, /*tls=*/false, sockets); !s.ok()) return s;
  }
  if (tls_port != 0) return ListenOn(tls_port, /*tls=*/true, sockets);
  return absl::OkStatus();
}

absl::Status Server::ListenOn(int port, bool tls, std::vector<ListeningSocket>* sockets) {
  int bound = 0;
  std::string failures;
  for (const std::string& address : config_.bind()) {
    sockaddr_storage addr{};
    socklen_t len;
    std::string host = address == "*" ? "0.0.0.0" : (address == "::*" ? "::" : address);
    int family;
    if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) == 0) {
      family = AF_INET;
      len = sizeof(sockaddr_in);
    } else if (uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) == 0) {
      family = AF_INET6;
      len = sizeof(sockaddr_in6);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("Invalid bind address '", address, "'"));
    }
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      absl::StrAppend(&failures, " ", address, ": ", strerror(errno));
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd, 511) != 0) {
      int error = errno;
      close(fd);
      // Like Redis's default "-::1": an address family the host lacks is skipped, a port in use
      // is fatal.
      if (error == EADDRNOTAVAIL || error == EAFNOSUPPORT) {
        logger_.Warning(absl::StrCat("Could not create server TCP listening socket ", address, ":", port, ": ",
                                     strerror(error), " (skipped)"));
        continue;
      }
      return absl::UnavailableError(
          absl::StrCat("Could not create server TCP listening socket ", address, ":", port, ": ", strerror(error)));
    }
    sockets->push_back(ListeningSocket{fd, tls});
    ++bound;
  }
  if (bound == 0) return absl::UnavailableError(absl::StrCat("Failed listening on any address:", failures));
  return absl::OkStatus();
}

int Server::Run() {
  storage::KeyspaceOptions options;
  options.databases = static_cast<int>(config_.databases.load());
  keyspace_ = std::make_unique<storage::Keyspace>(options);
  evictor_ = std::make_unique<Evictor>(config_, *keyspace_, memory_meter_);
  value_store_ = std::make_unique<KeyspaceValueStore>(*keyspace_, watches_, *evictor_);
  loaders_ = std::make_unique<loaders::LoaderManager>(*value_store_);
  invalidator_ = std::make_unique<Invalidator>(*keyspace_, *loaders_, watches_, audit_);
  loaders_->set_invalidation_message_handler([this](const std::string& source, std::string payload) {
    invalidator_->ApplyMessage(payload, AuditActor{0, absl::StrCat("source:", source), "", ""}).IgnoreError();
  });
  invalidation_channels_ = config_.invalidation_channels();
  if (absl::Status s = StartLoaders(); !s.ok()) {
    logger_.Warning(Std(s.message()));
    return 1;
  }
  if (absl::Status s = RenameCommands(); !s.ok()) {
    logger_.Warning(Std(s.message()));
    return 1;
  }
  if (absl::Status s = SetUpKeyFamilies(); !s.ok()) {
    logger_.Warning(Std(s.message()));
    return 1;
  }
  if (const int64_t metrics_port = config_.metrics_port.load(); metrics_port != 0) {
    auto exporter = MetricsExporter::Start(*this, static_cast<int>(metrics_port), config_.bind());
    if (!exporter.ok()) {
      logger_.Warning(Std(exporter.status().message()));
      return 1;
    }
    metrics_ = std::move(*exporter);
    logger_.Notice(absl::StrCat("Prometheus metrics on port ", metrics_port, " at /metrics"));
  }

  std::string dir = config_.dir();
  if (!dir.empty() && chdir(dir.c_str()) != 0) {
    logger_.Warning(absl::StrCat("Can't chdir to '", dir, "': ", strerror(errno)));
    return 1;
  }
  // After the chdir: a relative audit-log path is in `dir`, as the pidfile is.
  if (absl::Status s = audit_.Open(config_.audit_log()); !s.ok()) {
    logger_.Warning(Std(s.message()));
    return 1;
  }

  // After the chdir: a relative aclfile is in `dir`, as Redis reads it.
  if (absl::Status s = LoadAclUsers(); !s.ok()) {
    logger_.Warning(Std(s.message()));
    return 1;
  }

  // After the chdir too: relative certificate paths are in `dir`.
  if (config_.tls_port.load() != 0) {
    if (absl::Status s = tls_.Configure(config_.tls_settings()); !s.ok()) {
      logger_.Warning(absl::StrCat("Failed to configure TLS: ", s.message()));
      return 1;
    }
  }

  std::vector<ListeningSocket> listen_sockets;
  if (absl::Status s = Listen(&listen_sockets); !s.ok()) {
    logger_.Warning(Std(s.message()));
    return 1;
  }
  std::string pidfile = config_.pidfile();
  if (!pidfile.empty()) {
    std::ofstream(pidfile) << getpid() << "\n";
  }

  // The main loop exists before the I/O threads, which may wake its background eviction at once.
  uv_loop_init(&main_loop_);
  main_loop_.data = this;
  uv_async_init(&main_loop_, &eviction_async_, OnEvictionWanted);
  eviction_async_.data = this;
  uv_timer_init(&main_loop_, &eviction_timer_);
  eviction_timer_.data = this;
  evictor_->set_background_wakeup([this] { uv_async_send(&eviction_async_); });
  keyspace_notifier_ = std::make_unique<KeyspaceNotifier>(*keyspace_, pubsub_);
  keyspace_->set_event_listener(keyspace_notifier_.get());
  tracking_ = std::make_unique<Tracking>(*keyspace_, config_);
  keyspace_->set_change_listener(tracking_.get());
  if (absl::Status s = OpenSpill(); !s.ok()) {
    logger_.Warning(Std(s.message()));
    return 1;
  }
  ApplyConfig();
  memory_meter_.Calibrate();
  startup_memory_ = UsedMemory();

  int64_t threads = config_.io_threads.load();
  if (threads <= 0) threads = std::max<int64_t>(1, std::thread::hardware_concurrency());
  config_.io_threads.store(threads);
  for (int64_t i = 0; i < threads; ++i) io_threads_.push_back(std::make_unique<IoThread>(*this, static_cast<int>(i)));
  std::vector<const CommandStats*> command_tables;
  for (auto& t : io_threads_) command_tables.push_back(&t->command_stats());
  command_stats_.set_tables(std::move(command_tables));
  for (auto& t : io_threads_) t->Start();
  // After the threads exist: a scrape reads their statistics.
  if (metrics_ != nullptr) metrics_->Publish();
  IoThread& acceptor = *io_threads_[0];
  acceptor.Post([&acceptor, listen_sockets] {
    for (const ListeningSocket& socket : listen_sockets) acceptor.AddListener(socket);
  });

  uv_signal_init(&main_loop_, &sigint_);
  uv_signal_init(&main_loop_, &sigterm_);
  sigint_.data = sigterm_.data = this;
  uv_signal_start(&sigint_, OnSignal, SIGINT);
  uv_signal_start(&sigterm_, OnSignal, SIGTERM);
  signal(SIGPIPE, SIG_IGN);
  uv_async_init(&main_loop_, &shutdown_async_, OnShutdownAsync);
  shutdown_async_.data = this;
  uv_timer_init(&main_loop_, &cron_timer_);
  cron_timer_.data = this;
  cron_hz_ = static_cast<int>(config_.hz.load());
  uv_timer_start(&cron_timer_, OnCron, 1000 / cron_hz_, 1000 / cron_hz_);
  last_sample_ms_ = NowMs();

  logger_.Notice(absl::StrFormat("strata %s (Redis %s compatible) starting, pid=%d", kStrataVersion,
                                 kRedisCompatVersion, getpid()));
  logger_.Notice(absl::StrFormat("Server initialized: port=%d io-threads=%d shards=%d databases=%d",
                                 config_.port.load(), threads, keyspace_->shard_count(), options.databases));
  if (config_.port.load() != 0) logger_.Notice("Ready to accept connections tcp");
  if (config_.tls_port.load() != 0) logger_.Notice("Ready to accept connections tls");

  uv_run(&main_loop_, UV_RUN_DEFAULT);

  metrics_.reset();  // no scrape reads what stops next
  // The sweeper and the spill's promoter stop first: their answers post to the I/O threads.
  invalidator_->Stop();
  if (spill_promoter_ != nullptr) spill_promoter_->Stop();
  // Loads in flight finish (with errors) while the I/O threads can still take their answers.
  loaders_->Stop();
  for (auto& t : io_threads_) t->Stop();
  for (auto& t : io_threads_) t->Join();
  io_threads_.clear();
  uv_loop_close(&main_loop_);
  if (!pidfile.empty()) unlink(pidfile.c_str());
  // What is spilled stays for the next start; the memory tier joins it if asked to, and is
  // otherwise freed without touching it.
  if (spill_ != nullptr) {
    const ShutdownSpill spill_memory = shutdown_spill_.load();
    if (spill_memory == ShutdownSpill::kYes ||
        (spill_memory == ShutdownSpill::kAsConfigured && config_.spill_on_shutdown.load())) {
      SpillMemoryTier();
    }
  }
  keyspace_->set_spill(nullptr);
  keyspace_->set_spill_reader(nullptr);
  keyspace_->FlushAll();
  evictor_->set_counts_keys_only(false);
  spill_.reset();  // applies the writes still queued
  logger_.Notice("strata is now ready to exit, bye bye...");
  return 0;
}

absl::Status Server::OpenSpill() {
  const std::string dir = config_.spill_dir();
  if (dir.empty()) return absl::OkStatus();
  storage::SpillStore::Options options;
  options.dir = dir;
  absl::StatusOr<std::unique_ptr<storage::SpillStore>> store = storage::SpillStore::Open(options);
  if (!store.ok()) return store.status();
  spill_ = std::move(*store);
  // What an earlier run spilled is served again: its keys go into the index (the records stay on
  // disk until read). Expired ones, and any of a database this configuration does not have, go.
  const int64_t now_ms = NowMs();
  uint64_t indexed = 0, dropped = 0;
  absl::Status walked = spill_->ForEachRecord([&](int db, std::string_view key, std::string_view record) {
    absl::StatusOr<storage::SpillRecordSummary> summary = storage::SummarizeSpillRecord(record);
    if (db < 0 || db >= keyspace_->databases() || !summary.ok() || storage::IsExpiredAt(summary->expire_at_ms, now_ms)) {
      spill_->Delete(db, key);
      ++dropped;
      return;
    }
    keyspace_->IndexSpilled(db, key, summary->type, summary->expire_at_ms, record.size());
    ++indexed;
  });
  if (!walked.ok()) return walked;
  keyspace_->set_spill(spill_.get());
  evictor_->set_counts_keys_only(true);
  spill_promoter_ = std::make_unique<SpillPromoter>(*keyspace_, *spill_, config_, [this] { evictor_->MakeRoom(); });
  keyspace_->set_spill_reader(spill_promoter_.get());
  spill_promoter_->Start();
  logger_.Notice(absl::StrFormat("Spill tier in %s: %d keys from an earlier run, %d expired ones dropped", dir,
                                 indexed, dropped));
  return absl::OkStatus();
}

absl::Status Server::LoadAclUsers() {
  if (const std::string password = config_.requirepass(); !password.empty()) acl_.SetDefaultPassword(password);
  const std::vector<LoaderDirective> users = config_.user_directives();
  const std::string aclfile = config_.aclfile();
  if (!aclfile.empty() && !users.empty()) {
    return absl::InvalidArgumentError(
        "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This "
        "setup is very likely to lead to configuration errors and security holes, please define either an ACL file "
        "or declare users directly in your redis.conf, but not both.");
  }
  std::vector<Acl::UserDefinition> definitions;
  for (size_t i = 0; i < users.size(); ++i) definitions.push_back({users[i].words, users[i].origin, i + 1});
  if (absl::Status s = acl_.LoadUsers(definitions, /*replace_all=*/false); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("Critical error while loading ACLs: ", s.message()));
  }
  if (!aclfile.empty()) {
    if (absl::Status s = LoadAclFile(acl_, aclfile); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("Aborting Redis startup because of ACL errors: ", s.message()));
    }
  }
  for (const auto& user : acl_.Users()) {
    if (!user->enabled) {
      logger_.Notice(absl::StrCat("The user '", user->name,
                                  "' is disabled (there is no 'on' modifier in the user description). Make sure this "
                                  "is not a configuration error."));
    }
  }
  return absl::OkStatus();
}

absl::Status Server::RenameCommands() {
  for (const LoaderDirective& line : config_.rename_directives()) {
    if (absl::Status s = commands_.Rename(line.words[0], line.words[1]); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(line.origin, ": rename-command ", line.words[0], " ",
                                                     line.words[1], ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status Server::SetUpKeyFamilies() {
  std::vector<storage::KeyFamilies::Family> families;
  for (const auto& [name, glob] : config_.key_families()) families.push_back({name, glob});
  // The tighter of two caps wins.
  auto cap = [](storage::KeyFamilies::Family& family, int64_t max_ttl_ms) {
    if (max_ttl_ms > 0 && (family.max_ttl_ms == 0 || max_ttl_ms < family.max_ttl_ms)) family.max_ttl_ms = max_ttl_ms;
  };
  // Every loader template is a family, unless a stats-key-family line names its keys already;
  // the loader's max-ttl caps that family.
  for (const auto& loader : loaders_->loaders()) {
    std::string glob = loader->key_template().Glob();
    auto named = std::find_if(families.begin(), families.end(),
                              [&](const storage::KeyFamilies::Family& f) { return f.glob == glob; });
    if (named == families.end()) {
      families.push_back({loader->name(), std::move(glob)});
      named = families.end() - 1;
    }
    cap(*named, loader->options().max_ttl_ms);
  }
  for (const auto& [name, max_ttl_ms] : config_.key_family_max_ttl_ms()) {
    auto family = std::find_if(families.begin(), families.end(),
                               [&](const storage::KeyFamilies::Family& f) { return f.name == name; });
    if (family == families.end()) {
      return absl::InvalidArgumentError(absl::StrCat("key-family-max-ttl ", name,
                                                     ": no such key family (a stats-key-family name or a loader's template)"));
    }
    cap(*family, max_ttl_ms);
  }
  if (families.size() > storage::KeyFamilies::kMaxFamilies &&
      std::any_of(families.begin() + storage::KeyFamilies::kMaxFamilies, families.end(),
                  [](const storage::KeyFamilies::Family& f) { return f.max_ttl_ms > 0; })) {
    return absl::InvalidArgumentError(absl::StrCat("a family with a max-ttl is beyond the first ",
                                                   storage::KeyFamilies::kMaxFamilies, " key families"));
  }
  if (families.empty()) return absl::OkStatus();
  logger_.Notice(absl::StrCat("Key families: ", families.size()));
  keyspace_->SetKeyFamilies(std::make_unique<const storage::KeyFamilies>(std::move(families)));
  return absl::OkStatus();
}

absl::Status Server::StartLoaders() {
  for (const LoaderDirective& directive : config_.loader_directives()) {
    absl::Status s = directive.kind == "source" ? loaders_->AddSource(directive.words) : loaders_->AddLoader(directive.words);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(directive.origin, ": ", s.message()));
  }
  if (absl::Status s = loaders_->Start(); !s.ok()) return s;
  for (const auto& loader : loaders_->loaders()) {
    logger_.Notice(absl::StrCat("Loader ", loader->name(), " reads from source ", loader->source().name(), " (",
                                loader->source().Describe(), ")"));
  }
  return absl::OkStatus();
}

void Server::SpillMemoryTier() {
  const int64_t start_ms = NowMs();
  // Paced so that the store's queue never fills: a full queue would drop values (storage/spill.h).
  const storage::Keyspace::SpillAllOutcome outcome = keyspace_->SpillAll(start_ms, [this] { spill_->WaitForWrites(); });
  spill_->WaitForWrites();
  logger_.Notice(absl::StrFormat("Memory tier written to the spill: %d keys, %d bytes in %d ms", outcome.keys,
                                 outcome.bytes, NowMs() - start_ms));
}

void Server::RequestShutdown(ShutdownSpill spill_memory) {
  if (spill_memory != ShutdownSpill::kAsConfigured) shutdown_spill_.store(spill_memory);
  // A running script would keep its I/O thread from stopping: it ends now, written or not (as
  // SHUTDOWN NOSAVE ends a busy script in Redis).
  scripts_.KillAll();
  uv_async_send(&shutdown_async_);
}

void Server::OnSignal(uv_signal_t* handle, int signum) {
  auto* self = static_cast<Server*>(handle->data);
  self->logger_.Warning(absl::StrCat("Received ", signum == SIGINT ? "SIGINT" : "SIGTERM",
                                     " scheduling shutdown..."));
  self->RequestShutdown();
}

void Server::OnShutdownAsync(uv_async_t* handle) {
  auto* self = static_cast<Server*>(handle->data);
  self->logger_.Warning("User requested shutdown...");
  uv_close(reinterpret_cast<uv_handle_t*>(&self->sigint_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&self->sigterm_), nullptr);
  uv_timer_stop(&self->cron_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&self->cron_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&self->shutdown_async_), nullptr);
  uv_timer_stop(&self->eviction_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&self->eviction_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&self->eviction_async_), nullptr);
}

void Server::OnEvictionWanted(uv_async_t* handle) {
  auto* self = static_cast<Server*>(handle->data);
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&self->eviction_timer_))) {
    uv_timer_start(&self->eviction_timer_, OnEvictionTimer, 0, 1);
  }
}

void Server::OnEvictionTimer(uv_timer_t* handle) {
  auto* self = static_cast<Server*>(handle->data);
  const int64_t start_ns = MonotonicNs();
  if (!self->evictor_->BackgroundPass(NowMs())) uv_timer_stop(handle);
  self->NoteLatency("eviction-cycle", MonotonicNs() - start_ns);
}

void Server::OnCron(uv_timer_t* handle) { static_cast<Server*>(handle->data)->Cron(); }

void Server::Pause(PauseMode mode, int64_t until_ms) {
  int64_t current_until;
  // A pause still in force keeps its mode if that is the stricter (ALL over WRITE).
  const PauseMode current = PausedAt(NowMs(), &current_until);
  const int wanted = std::max(static_cast<int>(mode), static_cast<int>(current));
  int64_t previous = pause_until_ms_.load();
  while (previous < until_ms && !pause_until_ms_.compare_exchange_weak(previous, until_ms)) {
  }
  pause_mode_.store(wanted, std::memory_order_release);
}

void Server::Unpause() {
  pause_mode_.store(0, std::memory_order_release);
  pause_until_ms_.store(0);
  for (auto& t : io_threads_) {
    IoThread* thread = t.get();
    thread->Post([thread] { thread->ResumePausedClients(); });
  }
}

void Server::ApplyDiagnosticsConfig() {
  int64_t notable = INT64_MAX;
  if (const int64_t slower_than_us = config_.slowlog_log_slower_than.load(); slower_than_us >= 0) {
    notable = slower_than_us > INT64_MAX / 1000 ? INT64_MAX : slower_than_us * 1000;
  }
  if (const int64_t threshold_ms = config_.latency_monitor_threshold.load(); threshold_ms > 0) {
    notable = std::min(notable, threshold_ms > INT64_MAX / 1000000 ? INT64_MAX : threshold_ms * 1000000);
  }
  notable_command_ns_.store(notable, std::memory_order_relaxed);
}

uint64_t Server::RateSamples::Add(uint64_t total, int64_t elapsed_ms) {
  samples[index] = (total - last_total) * 1000 / static_cast<uint64_t>(elapsed_ms);
  index = (index + 1) % kOpsSamples;
  last_total = total;
  uint64_t sum = 0;
  for (uint64_t s : samples) sum += s;
  return sum / kOpsSamples;
}

uint64_t Server::TotalCommands() {
  uint64_t total = 0;
  for (auto& t : io_threads_) total += t->stats().commands_processed.load(std::memory_order_relaxed);
  return total;
}

// The periodic work, hz times a second. Active expiry gets a CPU budget of
// (25 + 2 * (active-expire-effort - 1))% of each period, Redis's slow-cycle share.
void Server::Cron() {
  wall_clock_.Calibrate();
  const int64_t now = NowMs();
  const int64_t period_ns = 1000000000LL / cron_hz_;
  const int64_t effort = config_.active_expire_effort.load();
  const int64_t budget_ns = period_ns * (25 + 2 * (effort - 1)) / 100;
  const int64_t expire_start_ns = MonotonicNs();
  uint64_t sampled = 0;
  int64_t pause_until;
  // A pause (CLIENT PAUSE) stops keys expiring in the background, as in Redis.
  const bool expire = active_expire_.load(std::memory_order_relaxed) && PausedAt(now, &pause_until) == PauseMode::kNone;
  const uint64_t expired = expire ? keyspace_->ActiveExpireCycle(now, expire_start_ns + budget_ns, &sampled) : 0;
  const int64_t expire_ns = MonotonicNs() - expire_start_ns;
  if (sampled > 0) {
    // Redis's running estimate of the share of keys with a TTL that are expired but not yet gone.
    const double current = double(expired) / double(sampled);
    expired_stale_ratio_.store(current * 0.05 + expired_stale_ratio_.load(std::memory_order_relaxed) * 0.95,
                               std::memory_order_relaxed);
  }
  expire_cycle_ns_.fetch_add(static_cast<uint64_t>(expire_ns), std::memory_order_relaxed);
  if (expire_ns >= budget_ns) expire_cycles_capped_.fetch_add(1, std::memory_order_relaxed);
  NoteLatency("expire-cycle", expire_ns);
  // The key-family census: stats-key-family-census-effort percent of the period.
  keyspace_->KeyFamilyCensusStep(now, MonotonicNs() + period_ns * config_.key_family_census_effort.load() / 100);
  // spill-max-size: the oldest spilled keys leave the disk for good (a quarter period at most).
  if (const int64_t spill_max = config_.spill_max_size.load(); spill_ != nullptr && spill_max > 0) {
    keyspace_->TrimSpill(static_cast<uint64_t>(spill_max), now, MonotonicNs() + period_ns / 4);
  }
  memory_meter_.Calibrate();
  const auto used = static_cast<uint64_t>(std::max<int64_t>(0, memory_meter_.Used()));
  if (used > peak_memory_.load(std::memory_order_relaxed)) peak_memory_.store(used, std::memory_order_relaxed);
  // Memory can grow without a write command asking (loader pools, client buffers): the cron
  // starts the background pass when it finds memory over the limit.
  if (PausedAt(now, &pause_until) == PauseMode::kNone && evictor_->BackgroundPass(now)) {
    OnEvictionWanted(&eviction_async_);
  }
  tracking_->EnforceLimit();

  const uint64_t commands = TotalCommands();
  const int64_t elapsed = now - last_sample_ms_;
  if (elapsed > 0) {
    ops_samples_[ops_sample_index_] = (commands - last_sample_commands_) * 1000 / static_cast<uint64_t>(elapsed);
    ops_sample_index_ = (ops_sample_index_ + 1) % kOpsSamples;
    uint64_t sum = 0;
    for (uint64_t s : ops_samples_) sum += s;
    instantaneous_ops_.store(sum / kOpsSamples, std::memory_order_relaxed);
  }
  last_sample_commands_ = commands;
  if (elapsed > 0) {
    uint64_t input = 0, output = 0;
    for (auto& t : io_threads_) {
      input += t->stats().net_input_bytes.load(std::memory_order_relaxed);
      output += t->stats().net_output_bytes.load(std::memory_order_relaxed);
    }
    instantaneous_input_bps_.store(input_rate_.Add(input, elapsed), std::memory_order_relaxed);
    instantaneous_output_bps_.store(output_rate_.Add(output, elapsed), std::memory_order_relaxed);
  }
  last_sample_ms_ = now;

  const int hz = static_cast<int>(config_.hz.load());
  if (hz != cron_hz_) {
    cron_hz_ = hz;
    uv_timer_set_repeat(&cron_timer_, static_cast<uint64_t>(1000 / cron_hz_));
  }
}

void Server::ResetStats() {
  keyspace_->ResetStats();
  evictor_->ResetStats();
  command_stats_.Reset();
  error_stats_.Reset();
  invalidator_->ResetStats();
  stats_commands_base_ = TotalCommands();
  total_connections_received.store(0);
  rejected_connections.store(0);
}

namespace {

std::string HumanBytes(uint64_t n) {
  const double d = static_cast<double>(n);
  if (n < 1024) return absl::StrCat(n, "B");
  if (n < 1024 * 1024) return absl::StrFormat("%.2fK", d / 1024);
  if (n < 1024ULL * 1024 * 1024) return absl::StrFormat("%.2fM", d / (1024 * 1024));
  return absl::StrFormat("%.2fG", d / (1024.0 * 1024 * 1024));
}

int64_t ServerTimeMicros() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

std::vector<const CommandSpec*> SortedByName(std::vector<const CommandSpec*> specs) {
  std::sort(specs.begin(), specs.end(), [](const CommandSpec* a, const CommandSpec* b) { return a->name < b->name; });
  return specs;
}

bool Wants(const std::vector<std::string>& sections, std::string_view name, bool in_default) {
  if (sections.empty()) return in_default;
  for (const std::string& s : sections) {
    if (s == name || s == "all" || s == "everything" || (s == "default" && in_default)) return true;
  }
  return false;
}

}  // namespace

namespace {

size_t FunctionCount(const scripting::Scripts& scripts) {
  size_t count = 0;
  for (const scripting::FunctionLibrary& library : scripts.Libraries()) count += library.functions.size();
  return count;
}

size_t LibraryCount(const scripting::Scripts& scripts) { return scripts.Libraries().size(); }

// The libraries' code, as Redis's used_memory_functions counts it.
size_t FunctionBytes(const scripting::Scripts& scripts) {
  size_t bytes = 0;
  for (const scripting::FunctionLibrary& library : scripts.Libraries()) bytes += library.code.size();
  return bytes;
}

}  // namespace

struct Server::MemoryFigures {
  uint64_t used = 0;
  uint64_t rss = 0;
  uint64_t peak = 0;
  uint64_t startup = 0;
  uint64_t dataset = 0;   // the keys and their values
  uint64_t overhead = 0;  // everything else: tables, buffers, scripts, start-up
  uint64_t keys = 0;
  uint64_t keys_bytes = 0;
  uint64_t tables_bytes = 0;
  uint64_t sketch_bytes = 0;
  uint64_t clients = 0;
  AllocatorFigures allocator;
};

Server::MemoryFigures Server::ReadMemoryFigures() {
  MemoryFigures m;
  // The meter's reading, the figure eviction holds at maxmemory (memory.h says how it follows
  // jemalloc's), so that INFO and the limit always agree; re-anchored first, so that it takes in
  // threads that do not publish (the sources' pools) as of now.
  memory_meter_.Calibrate();
  m.used = static_cast<uint64_t>(std::max<int64_t>(0, memory_meter_.Used()));
  m.rss = ResidentMemory();
  m.allocator = ReadAllocatorFigures();
  uint64_t peak = peak_memory_.load(std::memory_order_relaxed);
  while (m.used > peak && !peak_memory_.compare_exchange_weak(peak, m.used, std::memory_order_relaxed)) {
  }
  m.peak = std::max(peak, m.used);
  m.startup = startup_memory_;
  storage::KeyspaceStats ks = keyspace_->Stats();
  m.keys_bytes = ks.entry_bytes;
  m.tables_bytes = ks.table_bytes;
  m.sketch_bytes = ks.sketch_bytes;
  m.dataset = std::min(m.used, ks.entry_bytes);
  m.overhead = m.used - m.dataset;
  for (const storage::DbInfo& db : keyspace_->DbInfos()) m.keys += db.keys;
  clients_.ForEach([&](Connection& c) { m.clients += c.MemoryBytes(); });
  return m;
}

void Server::MemoryStats(protocol::ReplyBuilder& reply) {
  const MemoryFigures m = ReadMemoryFigures();
  const std::vector<storage::DbInfo> dbs = keyspace_->DbInfos();
  size_t used_dbs = 0;
  for (const storage::DbInfo& db : dbs) used_dbs += db.keys > 0;
  const uint64_t net = m.used > m.startup ? m.used - m.startup : 0;
  auto fraction = [](uint64_t a, uint64_t b) { return b ? double(a) / double(b) : 0.0; };
  reply.MapHeader(27 + used_dbs);
  auto integer = [&](std::string_view name, int64_t value) {
    reply.Bulk(name);
    reply.Integer(value);
  };
  auto real = [&](std::string_view name, double value) {
    reply.Bulk(name);
    reply.Double(value);
  };
  auto signed_difference = [](uint64_t a, uint64_t b) { return static_cast<int64_t>(a) - static_cast<int64_t>(b); };
  integer("peak.allocated", static_cast<int64_t>(m.peak));
  integer("total.allocated", static_cast<int64_t>(m.used));
  integer("startup.allocated", static_cast<int64_t>(m.startup));
  integer("replication.backlog", 0);
  integer("clients.slaves", 0);
  integer("clients.normal", static_cast<int64_t>(m.clients));
  integer("cluster.links", 0);
  integer("aof.buffer", 0);
  integer("lua.caches", static_cast<int64_t>(scripts_.body_bytes()));
  integer("functions.caches", 0);
  for (size_t i = 0; i < dbs.size(); ++i) {
    if (dbs[i].keys == 0) continue;
    reply.Bulk(absl::StrCat("db.", i));
    reply.MapHeader(3);
    // strata's tables are shared by the databases of a shard: each database's share by keys.
    integer("overhead.hashtable.main",
            static_cast<int64_t>(m.keys ? m.tables_bytes * dbs[i].keys / m.keys : 0));
    integer("overhead.hashtable.expires", static_cast<int64_t>(dbs[i].expires * sizeof(void*)));
    integer("overhead.hashtable.slot-to-keys", 0);  // no cluster mode
  }
  integer("overhead.total", static_cast<int64_t>(m.overhead));
  integer("keys.count", static_cast<int64_t>(m.keys));
  integer("keys.bytes-per-key", static_cast<int64_t>(m.keys ? net / m.keys : 0));
  integer("dataset.bytes", static_cast<int64_t>(m.dataset));
  real("dataset.percentage", 100.0 * fraction(m.dataset, net));
  real("peak.percentage", 100.0 * fraction(m.used, m.peak));
  integer("allocator.allocated", static_cast<int64_t>(m.allocator.allocated));
  integer("allocator.active", static_cast<int64_t>(m.allocator.active));
  integer("allocator.resident", static_cast<int64_t>(m.allocator.resident));
  real("allocator-fragmentation.ratio", fraction(m.allocator.active, m.allocator.allocated));
  integer("allocator-fragmentation.bytes", signed_difference(m.allocator.active, m.allocator.allocated));
  real("allocator-rss.ratio", fraction(m.allocator.resident, m.allocator.active));
  integer("allocator-rss.bytes", signed_difference(m.allocator.resident, m.allocator.active));
  real("rss-overhead.ratio", fraction(m.rss, m.allocator.resident));
  integer("rss-overhead.bytes", signed_difference(m.rss, m.allocator.resident));
  real("fragmentation", fraction(m.rss, m.used));
  integer("fragmentation.bytes", signed_difference(m.rss, m.used));
}

std::string Server::MemoryDoctor() {
  const MemoryFigures m = ReadMemoryFigures();
  // Redis's checks and thresholds (object.c, getMemoryDoctorReport), in strata's words.
  if (m.used < 5 * 1024 * 1024) {
    return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in "
           "these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I "
           "will be back to our programming as soon as I finished rebooting.";
  }
  std::string report;
  if (m.peak > m.used && double(m.peak) / double(m.used) > 1.5) {
    absl::StrAppend(&report, " * Peak memory: In the past this instance used more than 150% the memory that is "
                             "currently using. The allocator is normally not able to release memory after a peak, "
                             "so you can expect to see a big fragmentation ratio, however this is actually "
                             "harmless and is only due to the memory peak, and if the instance is restarted the "
                             "ratio will become normal.\n\n");
  }
  const double allocator_fragmentation =
      m.allocator.allocated ? double(m.allocator.active) / double(m.allocator.allocated) : 1.0;
  if (allocator_fragmentation > 1.1 && m.allocator.active - m.allocator.allocated > 10 * 1024 * 1024) {
    absl::StrAppend(&report, absl::StrFormat(" * High allocator fragmentation: This instance has an allocator "
                                             "external fragmentation greater than 1.1 (%.2f): jemalloc holds %s "
                                             "more than the live data in partly used pages.\n\n",
                                             allocator_fragmentation,
                                             HumanBytes(m.allocator.active - m.allocator.allocated)));
  }
  const double rss_ratio = m.used ? double(m.rss) / double(m.used) : 1.0;
  if (rss_ratio > 1.4 && m.rss - m.used > 10 * 1024 * 1024) {
    absl::StrAppend(&report, absl::StrFormat(" * High total RSS: This instance has a memory fragmentation and RSS "
                                             "overhead greater than 1.4 (%.2f), %s over the live data.\n\n",
                                             rss_ratio, HumanBytes(m.rss - m.used)));
  }
  const int64_t maxmemory = config_.maxmemory.load();
  if (maxmemory != 0 && m.used > static_cast<uint64_t>(maxmemory)) {
    absl::StrAppend(&report, absl::StrFormat(" * Over maxmemory: used memory (%s) is above maxmemory (%s) under "
                                             "the policy %s, so eviction is running or cannot free anything.\n\n",
                                             HumanBytes(m.used), HumanBytes(static_cast<uint64_t>(maxmemory)),
                                             config_.Get({"maxmemory-policy"})[0].second));
  }
  if (m.clients > 200 * 1024 * 1024) {
    absl::StrAppend(&report, absl::StrFormat(" * Big client buffers: the clients' query and output buffers hold "
                                             "%s.\n\n", HumanBytes(m.clients)));
  }
  if (report.empty()) {
    return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this "
           "base.";
  }
  return "Sam, I detected a few issues in this strata instance memory implants:\n\n" + report +
         "I'm here to keep you safe, Sam. I want to help you.";
}

std::string Server::Info(const std::vector<std::string>& requested) {
  std::vector<std::string> sections;
  for (const std::string& s : requested) sections.push_back(absl::AsciiStrToLower(s));
  std::string out;
  const int64_t now = NowMs();
  auto section = [&](std::string_view title) {
    if (!out.empty()) out += "\r\n";
    absl::StrAppend(&out, "# ", Absl(title), "\r\n");
  };
  if (Wants(sections, "server", true)) {
    section("Server");
    utsname name;
    uname(&name);
    absl::StrAppend(&out, "redis_version:", kRedisCompatVersion, "\r\nstrata_version:", kStrataVersion,
                    "\r\nredis_mode:standalone\r\nos:", name.sysname, " ", name.release, " ", name.machine,
                    "\r\narch_bits:64\r\nmultiplexing_api:epoll (libuv ", uv_version_string(), ")\r\n",
                    "process_id:", getpid(), "\r\nrun_id:", run_id_, "\r\ntcp_port:", config_.port.load(),
                    "\r\nuptime_in_seconds:", (now - start_time_ms_) / 1000,
                    "\r\nuptime_in_days:", (now - start_time_ms_) / 86400000, "\r\nhz:", config_.hz.load(),
                    "\r\nio_threads_active:", io_threads_.size(), "\r\nexecutable:/proc/", getpid(),
                    "/exe\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:", kStrataVersion,
                    "\r\nmonotonic_clock:POSIX clock_gettime\r\natomicvar_api:c11-builtin\r\ngcc_version:",
                    __GNUC__, ".", __GNUC_MINOR__, ".", __GNUC_PATCHLEVEL__, "\r\nprocess_supervised:no",
                    "\r\nserver_time_usec:", ServerTimeMicros(), "\r\nconfigured_hz:", config_.hz.load(),
                    "\r\nlru_clock:", (now / 1000) & ((1 << 24) - 1), "\r\nconfig_file:", config_.config_file(),
                    "\r\n");
  }
  if (Wants(sections, "clients", true)) {
    section("Clients");
    // Redis's "recent" maxima are over its last seconds of cron samples; here, over the clients now.
    size_t max_input = 0, max_output = 0;
    clients_.ForEach([&](Connection& c) {
      max_input = std::max(max_input, c.QueryBufferBytes());
      max_output = std::max(max_output, c.OutputBufferBytes());
    });
    absl::StrAppend(&out, "connected_clients:", clients_.size(), "\r\ncluster_connections:0\r\nmaxclients:",
                    config_.maxclients.load(), "\r\nclient_recent_max_input_buffer:", max_input,
                    "\r\nclient_recent_max_output_buffer:", max_output,
                    "\r\nblocked_clients:", blocking_.size() + static_cast<size_t>(std::max<int64_t>(0, paused_clients_.load())),
                    "\r\ntracking_clients:", tracking_->tracking_clients(),
                    "\r\nclients_in_timeout_table:", blocking_.size(), "\r\n");
  }
  if (Wants(sections, "memory", true)) {
    section("Memory");
    const MemoryFigures m = ReadMemoryFigures();
    const int64_t maxmemory = config_.maxmemory.load();
    auto ratio = [](uint64_t a, uint64_t b) { return absl::StrFormat("%.2f", b ? double(a) / double(b) : 0.0); };
    auto percent = [](uint64_t a, uint64_t b) { return absl::StrFormat("%.2f%%", b ? 100.0 * double(a) / double(b) : 0.0); };
    auto difference = [](uint64_t a, uint64_t b) { return static_cast<int64_t>(a) - static_cast<int64_t>(b); };
    const uint64_t system_memory = TotalSystemMemory();
    absl::StrAppend(&out, "used_memory:", m.used, "\r\nused_memory_human:", HumanBytes(m.used),
                    "\r\nused_memory_rss:", m.rss, "\r\nused_memory_rss_human:", HumanBytes(m.rss),
                    "\r\nused_memory_peak:", m.peak, "\r\nused_memory_peak_human:", HumanBytes(m.peak),
                    "\r\nused_memory_peak_perc:", percent(m.used, m.peak),
                    "\r\nused_memory_overhead:", m.overhead, "\r\nused_memory_startup:", m.startup,
                    "\r\nused_memory_dataset:", m.dataset,
                    "\r\nused_memory_dataset_perc:", percent(m.dataset, m.used > m.startup ? m.used - m.startup : 0),
                    "\r\nallocator_allocated:", m.allocator.allocated, "\r\nallocator_active:", m.allocator.active,
                    "\r\nallocator_resident:", m.allocator.resident, "\r\ntotal_system_memory:", system_memory,
                    "\r\ntotal_system_memory_human:", HumanBytes(system_memory));
    // One Lua state per I/O thread serves both EVAL and functions: its heap is reported as the
    // eval VM, the functions' VM as part of it (0), as one figure cannot be split.
    uint64_t lua_vm = 0;
    for (auto& t : io_threads_) lua_vm += t->stats().lua_vm_bytes.load(std::memory_order_relaxed);
    absl::StrAppend(&out, "\r\nused_memory_lua:", lua_vm, "\r\nused_memory_vm_eval:", lua_vm,
                    "\r\nused_memory_lua_human:", HumanBytes(lua_vm),
                    "\r\nused_memory_scripts_eval:", scripts_.body_bytes(),
                    "\r\nnumber_of_cached_scripts:", scripts_.count(),
                    "\r\nnumber_of_functions:", FunctionCount(scripts_),
                    "\r\nnumber_of_libraries:", LibraryCount(scripts_),
                    "\r\nused_memory_vm_functions:0\r\nused_memory_vm_total:", lua_vm,
                    "\r\nused_memory_vm_total_human:", HumanBytes(lua_vm),
                    "\r\nused_memory_functions:", FunctionBytes(scripts_),
                    "\r\nused_memory_scripts:", scripts_.body_bytes() + FunctionBytes(scripts_),
                    "\r\nused_memory_scripts_human:", HumanBytes(scripts_.body_bytes() + FunctionBytes(scripts_)));
    absl::StrAppend(&out, "\r\nmaxmemory:", maxmemory, "\r\nmaxmemory_human:", HumanBytes(static_cast<uint64_t>(maxmemory)),
                    "\r\nmaxmemory_policy:", config_.Get({"maxmemory-policy"})[0].second,
                    "\r\nallocator_frag_ratio:", ratio(m.allocator.active, m.allocator.allocated),
                    "\r\nallocator_frag_bytes:", difference(m.allocator.active, m.allocator.allocated),
                    "\r\nallocator_rss_ratio:", ratio(m.allocator.resident, m.allocator.active),
                    "\r\nallocator_rss_bytes:", difference(m.allocator.resident, m.allocator.active),
                    "\r\nrss_overhead_ratio:", ratio(m.rss, m.allocator.resident),
                    "\r\nrss_overhead_bytes:", difference(m.rss, m.allocator.resident),
                    "\r\nmem_fragmentation_ratio:", ratio(m.rss, m.used),
                    "\r\nmem_fragmentation_bytes:", difference(m.rss, m.used));
    // Nothing is left out of eviction's count (no replication or AOF buffers here).
    absl::StrAppend(&out, "\r\nmem_not_counted_for_evict:0\r\nmem_replication_backlog:0",
                    "\r\nmem_total_replication_buffers:0\r\nmem_clients_slaves:0\r\nmem_clients_normal:",
                    m.clients, "\r\nmem_cluster_links:0\r\nmem_aof_buffer:0\r\nmem_allocator:", AllocatorName(),
                    "\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0",
                    "\r\nused_memory_keys_bytes:", m.keys_bytes, "\r\nused_memory_tables_bytes:", m.tables_bytes,
                    "\r\nused_memory_eviction_sketch:", m.sketch_bytes, "\r\n");
  }
  if (Wants(sections, "persistence", true)) {
    section("Persistence");
    // No snapshot or append-only file: Redis's fields, with the values of "never saved".
    absl::StrAppend(&out,
                    "loading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\n"
                    "current_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\n"
                    "current_save_keys_total:0\r\nrdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:0\r\n"
                    "rdb_last_save_time:", start_time_ms_ / 1000,
                    "\r\nrdb_last_bgsave_status:ok\r\nrdb_last_bgsave_time_sec:-1\r\n"
                    "rdb_current_bgsave_time_sec:-1\r\nrdb_saves:0\r\nrdb_last_cow_size:0\r\n"
                    "rdb_last_load_keys_expired:0\r\nrdb_last_load_keys_loaded:0\r\naof_enabled:0\r\n"
                    "aof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:-1\r\n"
                    "aof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\n"
                    "aof_rewrites_consecutive_failures:0\r\naof_last_write_status:ok\r\naof_last_cow_size:0\r\n"
                    "module_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n");
  }
  if (Wants(sections, "stats", true)) {
    section("Stats");
    storage::KeyspaceStats ks = keyspace_->Stats();
    uint64_t input = 0, output = 0, reads = 0, writes = 0;
    for (auto& t : io_threads_) {
      input += t->stats().net_input_bytes.load(std::memory_order_relaxed);
      output += t->stats().net_output_bytes.load(std::memory_order_relaxed);
      reads += t->stats().reads_processed.load(std::memory_order_relaxed);
      writes += t->stats().writes_processed.load(std::memory_order_relaxed);
    }
    auto kbps = [](uint64_t bytes_per_second) { return absl::StrFormat("%.2f", double(bytes_per_second) / 1024.0); };
    absl::StrAppend(&out, "total_connections_received:", total_connections_received.load(),
                    "\r\ntotal_commands_processed:", TotalCommands() - stats_commands_base_,
                    "\r\ninstantaneous_ops_per_sec:", instantaneous_ops_.load(), "\r\ntotal_net_input_bytes:", input,
                    "\r\ntotal_net_output_bytes:", output, "\r\ntotal_net_repl_input_bytes:0",
                    "\r\ntotal_net_repl_output_bytes:0\r\ninstantaneous_input_kbps:", kbps(instantaneous_input_bps_.load()),
                    "\r\ninstantaneous_output_kbps:", kbps(instantaneous_output_bps_.load()),
                    "\r\ninstantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00",
                    "\r\nrejected_connections:", rejected_connections.load(),
                    "\r\nsync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0",
                    "\r\nexpired_keys:", ks.expired_keys,
                    "\r\nexpired_stale_perc:", absl::StrFormat("%.2f", expired_stale_ratio_.load() * 100),
                    "\r\nexpired_time_cap_reached_count:", expire_cycles_capped_.load(),
                    "\r\nexpire_cycle_cpu_milliseconds:", expire_cycle_ns_.load() / 1000000,
                    "\r\nevicted_keys:", ks.evicted_keys,
                    "\r\nevicted_clients:0\r\ntotal_eviction_exceeded_time:", evictor_->total_exceeded_ms(now),
                    "\r\ncurrent_eviction_exceeded_time:", evictor_->current_exceeded_ms(now),
                    "\r\nkeyspace_hits:", ks.keyspace_hits,
                    "\r\nkeyspace_misses:", ks.keyspace_misses, "\r\npubsub_channels:", pubsub_.ActiveCount(SubscriptionKind::kChannel),
                    "\r\npubsub_patterns:", pubsub_.ActiveCount(SubscriptionKind::kPattern),
                    "\r\npubsubshard_channels:", pubsub_.ActiveCount(SubscriptionKind::kShardChannel),
                    "\r\ntracking_total_keys:", tracking_->total_keys(),
                    "\r\ntracking_total_items:", tracking_->total_items(),
                    "\r\ntracking_total_prefixes:", tracking_->total_prefixes(),
                    // No fork, no replica, no active defragmentation, no RESTORE payloads, no
                    // reply-buffer resizing: Redis's counters of those are 0 here, truly.
                    "\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:0",
                    "\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0",
                    "\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0",
                    "\r\ncurrent_active_defrag_time:0",
                    "\r\ntotal_error_replies:", error_stats_.total(), "\r\nunexpected_error_replies:0",
                    "\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:", reads,
                    "\r\ntotal_writes_processed:", writes,
                    // Every read and write is done by an I/O thread (Redis counts those of its
                    // helper threads here).
                    "\r\nio_threaded_reads_processed:", reads, "\r\nio_threaded_writes_processed:", writes,
                    "\r\nreply_buffer_shrinks:0\r\nreply_buffer_expands:0",
                    "\r\n");
  }
  if (Wants(sections, "replication", true)) {
    section("Replication");
    // A primary without replicas: Redis's fields, with an empty backlog.
    absl::StrAppend(&out, "role:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:",
                    run_id_, "\r\nmaster_replid2:0000000000000000000000000000000000000000\r\n",
                    "master_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\n",
                    "repl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n");
  }
  if (Wants(sections, "cpu", true)) {
    section("CPU");
    rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    auto seconds = [](const timeval& tv) { return absl::StrFormat("%d.%06d", tv.tv_sec, tv.tv_usec); };
    absl::StrAppend(&out, "used_cpu_sys:", seconds(self.ru_stime), "\r\nused_cpu_user:", seconds(self.ru_utime),
                    "\r\nused_cpu_sys_children:", seconds(children.ru_stime),
                    "\r\nused_cpu_user_children:", seconds(children.ru_utime));
    // Redis's "main thread" is the one that runs commands: here, the I/O thread answering.
    rusage thread;
    getrusage(RUSAGE_THREAD, &thread);
    absl::StrAppend(&out, "\r\nused_cpu_sys_main_thread:", seconds(thread.ru_stime),
                    "\r\nused_cpu_user_main_thread:", seconds(thread.ru_utime), "\r\n");
  }
  if (Wants(sections, "loaders", true)) {
    section("Loaders");
    absl::StrAppend(&out, "loaders:", loaders_->loaders().size(), "\r\nsources:", loaders_->sources().size(), "\r\n");
    int index = 0;
    for (const auto& loader : loaders_->loaders()) {
      absl::StrAppend(&out, "loader", index++, ":");
      bool first = true;
      for (const auto& [name, value] : DescribeLoaderStats(*loaders_, *loader)) {
        absl::StrAppend(&out, first ? "" : ",", name, "=", value);
        first = false;
      }
      out += "\r\n";
    }
  }
  if (Wants(sections, "keyfamilies", true) && keyspace_->has_key_families()) {
    section("Keyfamilies");
    int index = 0;
    for (const storage::KeyFamilyStats& f : keyspace_->KeyFamilyStatsNow()) {
      const uint64_t lookups = f.hits + f.misses;
      absl::StrAppend(&out, "keyfamily", index++, ":name=", f.name, ",glob=", f.glob, ",hits=", f.hits,
                      ",misses=", f.misses, ",hit_ratio=",
                      absl::StrFormat("%.4f", lookups ? double(f.hits) / double(lookups) : 0.0), ",keys=", f.keys,
                      ",memory=", f.memory_bytes, ",evictions=", f.evictions, "\r\n");
    }
  }
  if (Wants(sections, "spill", true)) {
    section("Spill");
    const storage::KeyspaceStats stats = keyspace_->Stats();
    const storage::SpillStore::Stats store = spill_ != nullptr ? spill_->stats() : storage::SpillStore::Stats();
    absl::StrAppend(&out, "spill_enabled:", spill_ != nullptr ? 1 : 0, "\r\nspilled_keys:", stats.spilled_keys,
                    "\r\nspill_writes:", stats.spill_writes, "\r\nspill_writes_dropped:", store.writes_dropped,
                    "\r\nspill_reads:", spill_promoter_ != nullptr ? spill_promoter_->reads() : 0,
                    "\r\nspill_hits:", store.read_hits, "\r\nspill_promotions:", stats.spill_promotions,
                    "\r\nspill_sync_reads:", stats.spill_sync_reads,
                    "\r\nspill_clean_evictions:", stats.spill_clean_evictions,
                    "\r\nspill_disk_bytes:", store.disk_bytes, "\r\nspill_pending_bytes:", store.pending_bytes,
                    "\r\nspill_memory_bytes:", spill_ != nullptr ? spill_->memory_bytes().load() : 0,
                    "\r\nspill_record_bytes:", stats.spill_record_bytes,
                    "\r\nspill_evicted_keys:", stats.spill_evicted_keys, "\r\nspill_read_latency_p99_us:",
                    spill_promoter_ != nullptr ? spill_promoter_->read_latency_us().Percentile(99) : 0, "\r\n");
  }
  if (Wants(sections, "invalidation", true)) {
    section("Invalidation");
    out += invalidator_->InfoFields();
  }
  if (Wants(sections, "modules", true)) section("Modules");  // strata loads no modules
  if (Wants(sections, "commandstats", false)) {
    section("Commandstats");
    for (const CommandSpec* spec : SortedByName(commands_.by_id())) {
      const CommandTotals t = command_stats_.Totals(spec->id);
      if (t.calls == 0 && t.rejected_calls == 0 && t.failed_calls == 0) continue;
      // As Redis: usec_per_call is usec / calls (whole microseconds summed).
      const uint64_t usec = t.nanos / 1000;
      absl::StrAppend(&out, "cmdstat_", Absl(spec->name), ":calls=", t.calls, ",usec=", usec,
                      ",usec_per_call=", absl::StrFormat("%.2f", t.calls ? double(usec) / double(t.calls) : 0.0),
                      ",rejected_calls=", t.rejected_calls, ",failed_calls=", t.failed_calls, "\r\n");
    }
  }
  if (Wants(sections, "errorstats", true)) {
    section("Errorstats");
    for (const auto& [kind, count] : error_stats_.Kinds()) absl::StrAppend(&out, "errorstat_", kind, ":count=", count, "\r\n");
  }
  if (Wants(sections, "latencystats", false)) {
    section("Latencystats");
    const std::vector<double> percentiles = config_.latency_tracking_percentiles();
    std::vector<uint64_t> counts;
    // As Redis: while latency-tracking is off the section is empty (the histograms are kept).
    for (const CommandSpec* spec : config_.latency_tracking.load() ? SortedByName(commands_.by_id())
                                                                     : std::vector<const CommandSpec*>()) {
      if (!command_stats_.Histogram(spec->id, &counts)) continue;
      absl::StrAppend(&out, "latency_percentiles_usec_", Absl(spec->name), ":");
      for (size_t i = 0; i < percentiles.size(); ++i) {
        const int64_t nanos = LatencyHistogram::PercentileOf(counts.data(), percentiles[i]);
        absl::StrAppend(&out, i ? "," : "", "p", FormatPercentile(percentiles[i]), "=",
                        absl::StrFormat("%.3f", static_cast<double>(nanos) / 1000.0));
      }
      out += "\r\n";
    }
  }
  if (Wants(sections, "cluster", true)) {
    section("Cluster");
    out += "cluster_enabled:0\r\n";
  }
  if (Wants(sections, "keyspace", true)) {
    section("Keyspace");
    std::vector<storage::DbInfo> dbs = keyspace_->DbInfos();
    for (size_t i = 0; i < dbs.size(); ++i) {
      if (dbs[i].keys == 0) continue;
      absl::StrAppend(&out, "db", i, ":keys=", dbs[i].keys, ",expires=", dbs[i].expires, ",avg_ttl=0\r\n");
    }
  }
  return out;
}

void Server::AfterWrites(const storage::Transaction& txn, std::vector<std::pair<int, std::string>>* ready_for_waiters) {
  const auto& changed = txn.modified();
  if (changed.empty()) return;
  NoteWrites(txn);
  if (blocking_.any()) {
    const size_t before = ready_for_waiters->size();
    ready_for_waiters->insert(ready_for_waiters->end(), changed.begin(), changed.end());
    if (before == 0) {
      blocking_.KeepWaitedKeys(ready_for_waiters);
    } else {
      std::vector<std::pair<int, std::string>> added(ready_for_waiters->begin() + static_cast<ptrdiff_t>(before),
                                                     ready_for_waiters->end());
      ready_for_waiters->resize(before);
      blocking_.KeepWaitedKeys(&added);
      ready_for_waiters->insert(ready_for_waiters->end(), added.begin(), added.end());
    }
  }
}

void Server::NoteWrites(const storage::Transaction& txn) {
  const auto& changed = txn.modified();
  if (!loaders_->empty()) {
    for (const auto& [key_db, key] : changed) {
      if (loaders_->Match(key) != nullptr) loaders_->NoteWrite(key_db, key);
    }
  }
  if (watches_.any()) {
    for (const auto& [key_db, key] : changed) watches_.Touch(key_db, key);
  }
}

void Server::TouchWatchedBeforeFlush(int db, int other_db) {
  watches_.TouchExisting(other_db >= 0 ? -1 : db, [&](int key_db, std::string_view key) {
    if (other_db >= 0 && key_db != db && key_db != other_db) return false;
    const std::string_view keys[] = {key};
    auto exists = [&](int in_db) {
      storage::Transaction txn(*keyspace_, in_db, keys, NowMs());
      return txn.Find(in_db, key, false, false) != nullptr;
    };
    if (other_db >= 0) return exists(db) || exists(other_db);
    return exists(key_db);
  });
}

}  // namespace strata::server
