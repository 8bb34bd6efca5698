// Config: every directive strata accepts, parsed from redis.conf-syntax files and
// `--directive value` arguments, readable and (where Redis allows) settable at run time.
//
// Contract (DESIGN.md section 5): the directive table in config.cc is the single list of
// directives, their defaults, units and whether CONFIG SET may change them. Numeric settings are
// atomics so any thread may read them without a lock; strings are behind the config's mutex.
// An unknown directive or bad value is an error that names the file and line.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/tls.h"
#include "storage/eviction.h"

namespace strata::server {

// Redis's eight policies in Redis's order (CONFIG SET lists the choices in it), then strata's own.
using MaxmemoryPolicy = storage::EvictionPolicy;

// A `source` or `loader` line, kept as written; the loaders validate it at start-up and report
// errors with its origin ("file:line").
struct LoaderDirective {
  std::string kind;  // "source" or "loader"
  std::vector<std::string> words;  // the words after the directive name
  std::string origin;
};

enum class LogLevel : int { kDebug, kVerbose, kNotice, kWarning, kNothing };

// Replaces the file at `path` with `text` so that a crash or power loss leaves the old file or the
// new, never half of one (a temporary beside it, synced, renamed over it); the file keeps its
// permissions. CONFIG REWRITE and ACL SAVE.
absl::Status WriteFileAtomically(const std::string& path, std::string_view text);

class Config {
 public:
  Config();
  ~Config();

  // Loads a config file (and the files it includes).
  absl::Status LoadFile(const std::string& path);
  // Applies one directive, as from a file line or a `--name value ...` argument. `origin`
  // names where it came from for error messages ("strata.conf:12", "command line").
  absl::Status Apply(const std::vector<std::string>& words, const std::string& origin);
  // Parses argv after the program name: an optional config file, then --directive values.
  absl::Status LoadArgs(const std::vector<std::string>& args);

  // CONFIG GET: (name, value) for every directive matching any of the glob patterns.
  std::vector<std::pair<std::string, std::string>> Get(const std::vector<std::string_view>& patterns);
  // CONFIG SET of one directive at run time; errors use Redis's wording.
  absl::Status Set(std::string_view name, std::string_view value);
  // CONFIG REWRITE: the config file the server started with, rewritten with the current values
  // (comments, unknown and repeatable lines kept), replaced atomically.
  // `user_lines` replace the file's `user` lines ("user NAME rules...", the ACL users as they are
  // now; none when the users live in an aclfile).
  absl::Status Rewrite(const std::vector<std::string>& user_lines);
  // CONFIG SET of several pairs, all or nothing, as Redis 7.0: a duplicate name or a refused
  // value leaves every setting as it was.
  absl::Status SetAll(const std::vector<std::pair<std::string_view, std::string_view>>& pairs);

  // Numeric settings, readable from any thread.
  std::atomic<int64_t> port{6379};
  std::atomic<int64_t> maxclients{10000};
  std::atomic<int64_t> timeout_seconds{0};
  std::atomic<int64_t> tcp_keepalive{300};
  std::atomic<int64_t> databases{16};
  std::atomic<int64_t> maxmemory{0};
  // The spill tier (DESIGN section 8): the bytes of records it keeps at most (0: no cap), and
  // whether a graceful stop writes the memory tier into it.
  std::atomic<int64_t> spill_max_size{0};
  std::atomic<bool> spill_on_shutdown{false};
  std::atomic<int> maxmemory_policy{static_cast<int>(MaxmemoryPolicy::kNoEviction)};
  std::atomic<int64_t> maxmemory_samples{5};
  // The time budget of one eviction pass (server/evictor.h): Redis's scale, 10 = 500 us.
  std::atomic<int64_t> maxmemory_eviction_tenacity{10};
  std::atomic<int64_t> lfu_log_factor{10};
  std::atomic<int64_t> lfu_decay_time{1};
  std::atomic<int64_t> hz{10};
  std::atomic<int64_t> active_expire_effort{1};
  // Redis's list-max-listpack-size (alias list-max-ziplist-size): a list chunk's budget, see storage/list.h.
  std::atomic<int64_t> list_max_listpack_size{-2};
  // Redis's list-compress-depth: chunks at each end of a list kept uncompressed, the rest LZ4.
  // strata's default is 1 (Redis's is 0, no compression): see conf/strata.conf.
  std::atomic<int64_t> list_compress_depth{1};
  // Hash encodings (storage/hash.h): Redis's hash-max-listpack-entries/value (ziplist aliases).
  std::atomic<int64_t> hash_max_listpack_entries{128};
  std::atomic<int64_t> hash_max_listpack_value{64};
  // Sorted set encodings (storage/zset.h): Redis's zset-max-listpack-entries/value (ziplist aliases).
  std::atomic<int64_t> zset_max_listpack_entries{128};
  std::atomic<int64_t> zset_max_listpack_value{64};
  // Set encodings (storage/set.h): Redis's set-max-intset-entries, set-max-listpack-entries/value.
  std::atomic<int64_t> set_max_intset_entries{512};
  std::atomic<int64_t> hll_sparse_max_bytes{3000};
  std::atomic<int64_t> set_max_listpack_entries{128};
  std::atomic<int64_t> set_max_listpack_value{64};
  std::atomic<int> loglevel{static_cast<int>(LogLevel::kNotice)};
  std::atomic<int64_t> proto_max_bulk_len{512LL * 1024 * 1024};
  std::atomic<int64_t> client_query_buffer_limit{1024LL * 1024 * 1024};
  std::atomic<int64_t> io_threads{0};  // 0: one per core
  std::atomic<bool> protected_mode{true};
  // Scripting (server/scripting): past busy-reply-threshold (alias lua-time-limit, ms) a running
  // script makes others' commands on its shards answer -BUSY and can be killed; 0 never.
  std::atomic<int64_t> busy_reply_threshold_ms{5000};
  // When yes, scripts may touch keys they did not declare: they run with every shard locked.
  std::atomic<bool> lua_allow_undeclared_keys{false};
  // enable-debug-command / enable-monitor-command: kProtected commands' gates.
  enum ProtectedAccess : int { kProtectedNo = 0, kProtectedYes = 1, kProtectedLocal = 2 };
  std::atomic<int> enable_debug_command{kProtectedNo};
  std::atomic<int> enable_monitor_command{kProtectedYes};
  std::atomic<int64_t> tls_port{0};
  std::atomic<int> tls_auth_clients{static_cast<int>(TlsSettings::ClientAuth::kYes)};
  std::atomic<bool> tls_prefer_server_ciphers{false};
  std::atomic<bool> tls_session_caching{true};
  std::atomic<int64_t> tls_session_cache_size{20480};
  std::atomic<int64_t> tls_session_cache_timeout{300};
  // The tls-* settings as one snapshot, for building a TLS context.
  TlsSettings tls_settings() const;
  // Prometheus /metrics (server/metrics.h) on this port; 0: off.
  std::atomic<int64_t> metrics_port{0};
  // The slow log (server/slowlog.h): commands taking at least this many microseconds are logged
  // (negative: none, 0: all); it keeps the newest slowlog-max-len.
  std::atomic<int64_t> slowlog_log_slower_than{10000};
  std::atomic<int64_t> slowlog_max_len{128};
  // The latency monitor (server/latency_monitor.h): events of at least this many ms (0: off).
  std::atomic<int64_t> latency_monitor_threshold{0};
  // The key-family census's share of each cron period, in percent (storage/key_families.h).
  std::atomic<int64_t> key_family_census_effort{1};
  std::atomic<int64_t> acllog_max_len{128};
  // Per-command latency histograms (INFO latencystats, LATENCY HISTOGRAM, /metrics).
  std::atomic<bool> latency_tracking{true};
  // Client-side caching: keys the tracking table remembers at most (0: no limit).
  std::atomic<int64_t> tracking_table_max_keys{1000000};
  // notify-keyspace-events as storage::notify classes (storage/keyspace_events.h).
  std::atomic<uint32_t> notify_classes{0};
  // client-output-buffer-limit, per client class (0: no limit), as Redis: a client past `hard`
  // bytes of pending output, or past `soft` for longer than soft_seconds, is closed.
  enum class ClientClass { kNormal = 0, kReplica = 1, kPubSub = 2 };
  struct OutputLimitValues {
    int64_t hard, soft, soft_seconds;
  };
  struct OutputLimit {
    std::atomic<int64_t> hard{0}, soft{0}, soft_seconds{0};
    void Set(OutputLimitValues values) {
      hard.store(values.hard);
      soft.store(values.soft);
      soft_seconds.store(values.soft_seconds);
    }
  };
  OutputLimit output_limits[3];

  // String settings.
  std::vector<std::string> bind() const;
  std::string requirepass() const;
  std::string logfile() const;
  std::string pidfile() const;
  std::string dir() const;
  // The spill tier's RocksDB directory (DESIGN section 8); empty: no spill.
  std::string spill_dir() const;
  // audit-log FILE (server/audit_log.h); empty: the log's notice lines only.
  std::string audit_log() const;
  std::string config_file() const;
  std::vector<std::string> invalidation_channels() const;
  std::vector<LoaderDirective> loader_directives() const;
  // `user NAME rules...` lines (kind "user"; words: the name and its rules), in order.
  std::vector<LoaderDirective> user_directives() const;
  // `rename-command OLD NEW` lines (kind "rename-command"; words: OLD, NEW), in order.
  std::vector<LoaderDirective> rename_directives() const;
  std::string aclfile() const;
  // stats-key-family NAME GLOB lines, in order (storage/key_families.h).
  std::vector<std::pair<std::string, std::string>> key_families() const;
  // key-family-max-ttl NAME SECONDS lines: family name -> cap in ms.
  std::map<std::string, int64_t> key_family_max_ttl_ms() const;
  // latency-tracking-info-percentiles: the percentiles INFO latencystats reports.
  std::vector<double> latency_tracking_percentiles() const;

 private:
  struct Directive;
  const Directive* FindDirective(std::string_view name) const;
  // Directives whose value is several words (bind, client-output-buffer-limit).
  static bool IsMultiWordDirective(const Directive& d);
  // Directives a file may give several times (each line adds): CONFIG REWRITE keeps their lines.
  static bool IsRepeatable(const Directive& d);
  // Two names of one setting (lua-time-limit and busy-reply-threshold, *-ziplist-* and *-listpack-*).
  static bool AliasOf(std::string_view a, std::string_view b);
  std::string RewriteLine(const Directive& d) const;
  absl::Status LoadFileAt(const std::string& path, int depth);

  mutable absl::Mutex mu_;
  absl::Mutex rewrite_mu_;  // CONFIG REWRITE; never held with mu_ taken first
  std::vector<std::string> bind_;
  std::string requirepass_;
  std::string aclfile_;
  std::vector<LoaderDirective> user_directives_;
  std::vector<LoaderDirective> rename_directives_;
  std::string logfile_;
  std::string pidfile_;
  std::string dir_;
  std::string spill_dir_;
  std::string audit_log_;
  std::string tls_cert_file_, tls_key_file_, tls_key_file_pass_, tls_ca_cert_file_, tls_ca_cert_dir_;
  std::string tls_protocols_, tls_ciphers_, tls_ciphersuites_;
  std::string config_file_;
  std::vector<std::string> invalidation_channels_ = {"__strata__:invalidate"};
  bool invalidation_channels_given_ = false;
  std::vector<LoaderDirective> loader_directives_;
  std::vector<double> latency_tracking_percentiles_ = {50, 99, 99.9};
  std::vector<std::pair<std::string, std::string>> key_families_;
  std::map<std::string, int64_t> key_family_max_ttl_ms_;
  std::vector<Directive> directives_;
};

// Splits one config line into words with redis.conf quoting rules (same as inline commands).
absl::StatusOr<std::vector<std::string>> SplitConfigLine(std::string_view line);

// A percentile as Redis writes it in CONFIG GET and INFO latencystats: %f without trailing
// zeros ("50", "99.9", "0.000001").
std::string FormatPercentile(double p);

// Parses a memory size with Redis's units: 1k=1000, 1kb=1024, m/mb, g/gb; plain bytes.
absl::StatusOr<int64_t> ParseMemory(std::string_view text);

}  // namespace strata::server
