// Server: the process. Owns the configuration, the keyspace, the command table and the I/O
// threads, and runs the periodic tasks (active expiry, ops/sec sampling) on the main thread's
// loop, which also handles SIGINT/SIGTERM.
//
// Contract: made once in main; everything else reaches shared state through it. Methods marked
// "any thread" are safe from the I/O threads.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "server/audit_log.h"
#include "server/blocking.h"
#include "server/acl.h"
#include "server/command.h"
#include "server/command_stats.h"
#include "server/config.h"
#include "server/latency_monitor.h"
#include "server/slowlog.h"
#include "server/tls.h"
#include "server/evictor.h"
#include "server/invalidation.h"
#include "server/io_thread.h"
#include "server/keyspace_notifier.h"
#include "loaders/loader_manager.h"
#include "server/loader_store.h"
#include "server/logger.h"
#include "server/memory.h"
#include "server/monitor.h"
#include "server/pubsub.h"
#include "server/spill_promoter.h"
#include "server/tracking.h"
#include "server/scripting/scripts.h"
#include "server/watch.h"
#include "storage/clock.h"
#include "storage/keyspace.h"

namespace strata::server {

inline constexpr char kStrataVersion[] = "0.1.0";
// The Redis version strata answers as (HELLO, INFO), so clients enable the features it has.
inline constexpr char kRedisCompatVersion[] = "7.0.15";

// Registry of live clients, for CLIENT LIST/KILL and connected_clients (any thread).
class ClientRegistry {
 public:
  void Add(Connection* c);
  void Remove(Connection* c);
  size_t size() const;
  // Runs fn on every client under the registry lock (the clients cannot go away meanwhile).
  void ForEach(const std::function<void(Connection&)>& fn) const;
  // The I/O thread of client `id`, or nullptr when there is no such client.
  IoThread* ThreadOf(uint64_t id) const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Connection*> clients_;
};

class MetricsExporter;

class Server {
 public:
  Server(Config& config, Logger& logger);
  ~Server();

  // Binds, starts the I/O threads and serves until shutdown. Returns the exit code.
  int Run();
  // Any thread: begin a graceful shutdown. With a spill tier, the memory tier is written into it
  // first when `spill_memory` says so (kAsConfigured: spill-on-shutdown; SHUTDOWN SAVE / NOSAVE
  // force it either way).
  enum class ShutdownSpill { kAsConfigured, kYes, kNo };
  void RequestShutdown(ShutdownSpill spill_memory = ShutdownSpill::kAsConfigured);

  Config& config() { return config_; }
  Logger& logger() { return logger_; }
  storage::Keyspace& keyspace() { return *keyspace_; }
  loaders::LoaderManager& loaders() { return *loaders_; }
  const CommandTable& commands() const { return commands_; }
  // rename-command lines, applied to the table once at start-up.
  absl::Status RenameCommands();
  Acl& acl() { return acl_; }
  AclLog& acl_log() { return acl_log_; }
  // The context TLS connections are made from (server/tls.h); configured when tls-port is set.
  TlsContextHolder& tls() { return tls_; }
  ClientRegistry& clients() { return clients_; }
  BlockingRegistry& blocking() { return blocking_; }
  WatchRegistry& watches() { return watches_; }
  PubSub& pubsub() { return pubsub_; }
  // Client-side caching (server/tracking.h).
  Tracking& tracking() { return *tracking_; }
  // The spill tier (DESIGN section 8): whether `spill-dir` is set, and what reads keys back.
  bool spill_enabled() const { return spill_ != nullptr; }
  SpillPromoter& spill_promoter() { return *spill_promoter_; }
  // Invalidation messages (server/invalidation.h); made with the loaders.
  Invalidator& invalidator() { return *invalidator_; }
  // True when PUBLISH to `channel` is an invalidation message (`invalidation-channel`).
  bool IsInvalidationChannel(std::string_view channel) const;
  scripting::Scripts& scripts() { return scripts_; }
  // Holds memory at maxmemory (any thread; see evictor.h).
  Evictor& evictor() { return *evictor_; }
  MemoryMeter& memory_meter() { return memory_meter_; }
  // Operator statistics (server/command_stats.h, slowlog.h, latency_monitor.h); any thread.
  const CommandStatsReader& command_stats() const { return command_stats_; }
  ErrorStats& error_stats() { return error_stats_; }
  SlowLog& slowlog() { return slowlog_; }
  LatencyMonitor& latency_monitor() { return latency_monitor_; }
  MonitorRegistry& monitors() { return monitors_; }
  AuditLog& audit() { return audit_; }
  const storage::WallClock& wall_clock() const { return wall_clock_; }
  // The latency monitor's hook (any thread): the event goes into its series when it took at
  // least latency-monitor-threshold ms; one atomic load otherwise.
  void NoteLatency(std::string_view event, int64_t nanos) {
    const int64_t threshold_ms = config_.latency_monitor_threshold.load(std::memory_order_relaxed);
    if (threshold_ms > 0 && nanos / 1000000 >= threshold_ms) {
      latency_monitor_.Add(event, static_cast<uint64_t>(nanos / 1000000), storage::NowMs() / 1000);
    }
  }
  // After CONFIG SET: pushes settings that live outside Config into the parts that use them.
  void ApplyConfig() {
    evictor_->ApplyConfig();
    keyspace_->set_notify_classes(config_.notify_classes.load());
    ApplyDiagnosticsConfig();
  }
  // The command path's one test for the slow log and the latency monitor: a command that took
  // at least this long (ns) is looked at by Connection::NoteSlowCommand; INT64_MAX when neither
  // is on.
  int64_t notable_command_ns() const { return notable_command_ns_.load(std::memory_order_relaxed); }
  // MEMORY STATS / MEMORY DOCTOR (any thread).
  void MemoryStats(protocol::ReplyBuilder& reply);
  std::string MemoryDoctor();
  // True when someone must hear of writes (loaders, blocked clients, WATCH): a write command
  // then records what it changes, and AfterWrites tells them, under the command's locks.
  bool WritesObserved() const { return !loaders_->empty() || blocking_.any() || watches_.any(); }
  // The after-write step of the command path: the keys `txn` changed go to the loaders (so a
  // load in flight does not store over a write), to WATCH, and, when clients wait on them, to
  // *ready_for_waiters (served once the locks are released).
  void AfterWrites(const storage::Transaction& txn, std::vector<std::pair<int, std::string>>* ready_for_waiters);
  // AfterWrites without the blocked clients (a blocked client's own retry reports to the registry).
  void NoteWrites(const storage::Transaction& txn);
  // FLUSHDB / FLUSHALL (db < 0) / SWAPDB: dirties the watched keys that exist in db (or other_db).
  void TouchWatchedBeforeFlush(int db, int other_db = -1);
  IoThread& io_thread(size_t i) { return *io_threads_[i]; }
  size_t io_thread_count() const { return io_threads_.size(); }

  int64_t start_time_ms() const { return start_time_ms_; }
  // CLIENT PAUSE (any thread). While a pause holds, the commands it covers park until it ends:
  // every command (kAll) or those that write (kWrite: writes, scripts, PUBLISH, PFCOUNT); and
  // keys neither expire nor are evicted in the background.
  enum class PauseMode : int { kNone = 0, kWrite = 1, kAll = 2 };
  bool pause_may_hold() const { return pause_mode_.load(std::memory_order_relaxed) != 0; }
  // The pause in force at now_ms, and when it ends.
  PauseMode PausedAt(int64_t now_ms, int64_t* until_ms) const {
    const int mode = pause_mode_.load(std::memory_order_acquire);
    *until_ms = pause_until_ms_.load(std::memory_order_relaxed);
    return mode != 0 && now_ms < *until_ms ? static_cast<PauseMode>(mode) : PauseMode::kNone;
  }
  // As Redis: while a pause holds, the stricter mode and the later end win.
  void Pause(PauseMode mode, int64_t until_ms);
  // A pause that has run out is forgotten, so commands stop looking at it.
  void ClearExpiredPause(int64_t now_ms) {
    int mode = pause_mode_.load(std::memory_order_relaxed);
    if (mode != 0 && now_ms >= pause_until_ms_.load(std::memory_order_relaxed)) {
      pause_mode_.compare_exchange_strong(mode, 0);
    }
  }
  // Clients whose command waits for a pause (INFO blocked_clients counts them, as Redis does).
  void NotePausedClient(int delta) { paused_clients_.fetch_add(delta, std::memory_order_relaxed); }
  // Ends the pause and wakes every paused client on its own I/O thread.
  void Unpause();
  // Cross-protocol attempts are logged at most once a minute (any thread).
  bool ShouldLogSecurityWarning(int64_t now_ms) {
    int64_t last = last_security_warning_ms_.load(std::memory_order_relaxed);
    return now_ms - last >= 60000 && last_security_warning_ms_.compare_exchange_strong(last, now_ms);
  }
  // DEBUG SET-ACTIVE-EXPIRE: whether the cron reclaims expired keys (any thread).
  void set_active_expire(bool on) { active_expire_.store(on, std::memory_order_relaxed); }
  uint64_t NextClientId() { return next_client_id_.fetch_add(1, std::memory_order_relaxed); }
  // Any thread: the INFO text for the requested sections ("default" when empty).
  std::string Info(const std::vector<std::string>& sections);
  void ResetStats();

  std::atomic<uint64_t> total_connections_received{0};
  std::atomic<uint64_t> rejected_connections{0};

 private:
  static void OnSignal(uv_signal_t* handle, int signum);
  static void OnCron(uv_timer_t* handle);
  static void OnShutdownAsync(uv_async_t* handle);
  static void OnEvictionWanted(uv_async_t* handle);
  static void OnEvictionTimer(uv_timer_t* handle);
  // The memory figures INFO and MEMORY STATS share.
  struct MemoryFigures;
  MemoryFigures ReadMemoryFigures();
  // The plain-text (port) and TLS (tls-port) listeners, on every bind address.
  absl::Status Listen(std::vector<ListeningSocket>* sockets);
  absl::Status ListenOn(int port, bool tls, std::vector<ListeningSocket>* sockets);
  absl::Status StartLoaders();
  // Key families (storage/key_families.h): the stats-key-family lines, then the loaders' templates.
  absl::Status SetUpKeyFamilies();
  // Opens the spill tier when `spill-dir` is set, and indexes what an earlier run spilled.
  absl::Status OpenSpill();
  void Cron();
  uint64_t TotalCommands();

  Config& config_;
  Logger& logger_;
  std::unique_ptr<storage::Keyspace> keyspace_;
  MemoryMeter memory_meter_;
  std::unique_ptr<Evictor> evictor_;
  uint64_t startup_memory_ = 0;
  std::atomic<uint64_t> peak_memory_{0};
  std::unique_ptr<KeyspaceValueStore> value_store_;
  std::unique_ptr<loaders::LoaderManager> loaders_;
  CommandTable commands_;
  // After commands_: the users' rules are bitmaps over its command ids.
  Acl acl_{commands_};
  AclLog acl_log_;
  TlsContextHolder tls_;
  // requirepass, the `user` directives and aclfile, at start-up (Redis's order).
  absl::Status LoadAclUsers();
  ClientRegistry clients_;
  BlockingRegistry blocking_;
  WatchRegistry watches_;
  PubSub pubsub_;
  std::unique_ptr<KeyspaceNotifier> keyspace_notifier_;
  std::unique_ptr<Tracking> tracking_;
  std::unique_ptr<storage::SpillStore> spill_;
  std::unique_ptr<SpillPromoter> spill_promoter_;
  // After tracking_: destroyed first, its sweeper reports changes to tracking.
  std::unique_ptr<Invalidator> invalidator_;
  std::vector<std::string> invalidation_channels_;  // read-only once serving
  scripting::Scripts scripts_;
  void ApplyDiagnosticsConfig();
  std::atomic<int64_t> notable_command_ns_{INT64_MAX};
  // Before io_threads_: the threads' connections report to them until the threads are gone.
  CommandStatsReader command_stats_;
  ErrorStats error_stats_;
  SlowLog slowlog_;
  LatencyMonitor latency_monitor_;
  MonitorRegistry monitors_;
  AuditLog audit_{logger_};
  storage::WallClock wall_clock_;
  std::vector<std::unique_ptr<IoThread>> io_threads_;
  std::atomic<uint64_t> next_client_id_{1};

  uv_loop_t main_loop_;
  uv_signal_t sigint_, sigterm_;
  uv_timer_t cron_timer_;
  uv_async_t shutdown_async_;
  std::atomic<ShutdownSpill> shutdown_spill_{ShutdownSpill::kAsConfigured};
  // The shutdown's last step: the memory tier into the spill (spill-on-shutdown).
  void SpillMemoryTier();
  // The background eviction pass: woken by any thread, then a 1 ms timer until under maxmemory.
  uv_async_t eviction_async_;
  uv_timer_t eviction_timer_;

  const int64_t start_time_ms_;
  std::string run_id_;
  int cron_hz_ = 10;
  // Instantaneous ops/sec: Redis's 16-sample ring of (commands, time) deltas.
  static constexpr int kOpsSamples = 16;
  uint64_t ops_samples_[kOpsSamples] = {};
  int ops_sample_index_ = 0;
  uint64_t last_sample_commands_ = 0;
  int64_t last_sample_ms_ = 0;
  std::atomic<uint64_t> instantaneous_ops_{0};
  // The same sampling for network bytes (instantaneous_input_kbps / output_kbps), in bytes/s.
  struct RateSamples {
    uint64_t samples[kOpsSamples] = {};
    int index = 0;
    uint64_t last_total = 0;
    // Adds the rate since the last call; returns the mean of the last kOpsSamples rates.
    uint64_t Add(uint64_t total, int64_t elapsed_ms);
  };
  RateSamples input_rate_, output_rate_;
  std::atomic<uint64_t> instantaneous_input_bps_{0}, instantaneous_output_bps_{0};
  // Active expiry: CPU time spent (ns), and cycles that stopped at their time budget.
  std::atomic<uint64_t> expire_cycle_ns_{0}, expire_cycles_capped_{0};
  std::atomic<double> expired_stale_ratio_{0};
  std::atomic<bool> active_expire_{true};
  std::atomic<int> pause_mode_{0};
  std::atomic<int64_t> paused_clients_{0};
  std::atomic<int64_t> pause_until_ms_{0};
  std::atomic<int64_t> last_security_warning_ms_{-60000};
  uint64_t stats_commands_base_ = 0;
  // Last: destroyed first, so no scrape runs while the rest goes away.
  std::unique_ptr<MetricsExporter> metrics_;
};

using storage::MonotonicNs;
using storage::NowMs;

}  // namespace strata::server
