#include "server/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "protocol/request_parser.h"
#include "storage/keyspace_events.h"
#include "storage/numbers.h"
#include "server/absl_compat.h"
#include "storage/glob.h"

namespace strata::server {

namespace {

constexpr int kMaxIncludeDepth = 16;

absl::Status BadValue(std::string_view why) { return absl::InvalidArgumentError(std::string(why)); }

bool IEquals(std::string_view a, std::string_view b) { return absl::EqualsIgnoreCase(Absl(a), Absl(b)); }

absl::StatusOr<bool> ParseYesNo(std::string_view text) {
  if (IEquals(text, "yes")) return true;
  if (IEquals(text, "no")) return false;
  return BadValue("argument must be 'yes' or 'no'");
}

}  // namespace

absl::StatusOr<int64_t> ParseMemory(std::string_view text) {
  std::string lower = absl::AsciiStrToLower(Absl(text));
  int64_t multiplier = 1;
  struct Unit { const char* suffix; int64_t factor; };
  const Unit units[] = {{"kb", 1024}, {"mb", 1024 * 1024}, {"gb", 1024LL * 1024 * 1024},
                        {"k", 1000}, {"m", 1000 * 1000}, {"g", 1000LL * 1000 * 1000}, {"b", 1}};
  for (const Unit& unit : units) {
    if (absl::EndsWith(lower, unit.suffix)) {
      multiplier = unit.factor;
      lower.resize(lower.size() - std::string_view(unit.suffix).size());
      break;
    }
  }
  int64_t value;
  if (!storage::ParseInt64(lower, &value)) return BadValue("argument must be a memory value");
  if (value != 0 && (value > INT64_MAX / multiplier || value < INT64_MIN / multiplier)) {
    return BadValue("argument must be a memory value");
  }
  return value * multiplier;
}

absl::StatusOr<std::vector<std::string>> SplitConfigLine(std::string_view line) {
  std::vector<std::string> words;
  if (!protocol::SplitInlineArgs(line, &words)) return BadValue("Unbalanced quotes in configuration line");
  return words;
}

struct Config::Directive {
  std::string name;
  bool runtime_settable;
  // Applies the directive's arguments (the words after its name).
  std::function<absl::Status(Config&, const std::vector<std::string>&)> set;
  std::function<std::string(const Config&)> get;
  // Refused by CONFIG SET as Redis refuses a protected config while enable-protected-configs
  // is no (strata's is always no).
  bool protected_config = false;
};

Config::Config() {
  bind_ = {"127.0.0.1", "::1"};
  auto one_arg = [](const std::vector<std::string>& args) -> absl::Status {
    return args.size() == 1 ? absl::OkStatus() : BadValue("wrong number of arguments");
  };
  auto integer = [&](const char* name, std::atomic<int64_t> Config::*field, int64_t min, int64_t max,
                     bool settable, bool memory = false) {
    directives_.push_back(Directive{
        name, settable,
        [=](Config& c, const std::vector<std::string>& args) -> absl::Status {
          if (auto s = one_arg(args); !s.ok()) return s;
          int64_t value;
          if (memory) {
            auto parsed = ParseMemory(args[0]);
            if (!parsed.ok()) return parsed.status();
            value = *parsed;
          } else if (!storage::ParseInt64(args[0], &value)) {
            return BadValue("argument couldn't be parsed into an integer");
          }
          if (value < min || value > max) {
            return BadValue(absl::StrCat("argument must be between ", min, " and ", max, " inclusive"));
          }
          (c.*field).store(value);
          return absl::OkStatus();
        },
        [=](const Config& c) { return absl::StrCat((c.*field).load()); }});
  };
  auto boolean = [&](const char* name, std::atomic<bool> Config::*field, bool settable) {
    directives_.push_back(Directive{
        name, settable,
        [=](Config& c, const std::vector<std::string>& args) -> absl::Status {
          if (auto s = one_arg(args); !s.ok()) return s;
          auto parsed = ParseYesNo(args[0]);
          if (!parsed.ok()) return parsed.status();
          (c.*field).store(*parsed);
          return absl::OkStatus();
        },
        [=](const Config& c) { return std::string((c.*field).load() ? "yes" : "no"); }});
  };
  auto enumerated = [&](const char* name, std::atomic<int> Config::*field,
                        std::vector<std::string> names, bool settable) {
    directives_.push_back(Directive{
        name, settable,
        [=](Config& c, const std::vector<std::string>& args) -> absl::Status {
          if (auto s = one_arg(args); !s.ok()) return s;
          for (size_t i = 0; i < names.size(); ++i) {
            if (IEquals(args[0], names[i])) {
              (c.*field).store(static_cast<int>(i));
              return absl::OkStatus();
            }
          }
          return BadValue(absl::StrCat("argument(s) must be one of the following: ", absl::StrJoin(names, ", ")));
        },
        [=](const Config& c) { return names[static_cast<size_t>((c.*field).load())]; }});
  };
  auto text = [&](const char* name, std::string Config::*field, bool settable) {
    directives_.push_back(Directive{
        name, settable,
        [=](Config& c, const std::vector<std::string>& args) -> absl::Status {
          if (args.size() > 1) return BadValue("wrong number of arguments");
          absl::MutexLock lock(&c.mu_);
          c.*field = args.empty() ? "" : args[0];
          return absl::OkStatus();
        },
        [=](const Config& c) {
          absl::MutexLock lock(&c.mu_);
          return c.*field;
        }});
  };

  integer("port", &Config::port, 0, 65535, false);
  directives_.push_back(Directive{
      "bind", false,
      [](Config& c, const std::vector<std::string>& args) -> absl::Status {
        if (args.empty()) return BadValue("wrong number of arguments");
        absl::MutexLock lock(&c.mu_);
        c.bind_.clear();
        for (const std::string& a : args) c.bind_.push_back(a.size() > 1 && a[0] == '-' ? a.substr(1) : a);
        return absl::OkStatus();
      },
      [](const Config& c) {
        absl::MutexLock lock(&c.mu_);
        return absl::StrJoin(c.bind_, " ");
      }});
  boolean("protected-mode", &Config::protected_mode, true);
  integer("busy-reply-threshold", &Config::busy_reply_threshold_ms, 0, INT64_MAX, true);
  integer("lua-time-limit", &Config::busy_reply_threshold_ms, 0, INT64_MAX, true);
  boolean("lua-allow-undeclared-keys", &Config::lua_allow_undeclared_keys, true);
  text("requirepass", &Config::requirepass_, true);
  text("aclfile", &Config::aclfile_, false);
  integer("acllog-max-len", &Config::acllog_max_len, 0, INT64_MAX, true);
  integer("maxclients", &Config::maxclients, 1, 1000000, true);
  integer("timeout", &Config::timeout_seconds, 0, INT32_MAX, true);
  integer("tcp-keepalive", &Config::tcp_keepalive, 0, INT32_MAX, true);
  integer("databases", &Config::databases, 1, 65536, false);
  integer("maxmemory", &Config::maxmemory, 0, INT64_MAX, true, true);
  enumerated("maxmemory-policy", &Config::maxmemory_policy,
             {"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu",
              "allkeys-random", "noeviction", "allkeys-tinylfu"},
             true);
  integer("maxmemory-samples", &Config::maxmemory_samples, 1, 64, true);
  integer("maxmemory-eviction-tenacity", &Config::maxmemory_eviction_tenacity, 0, 100, true);
  integer("lfu-log-factor", &Config::lfu_log_factor, 0, INT32_MAX, true);
  integer("lfu-decay-time", &Config::lfu_decay_time, 0, INT32_MAX, true);
  directives_.push_back(Directive{
      "hz", true,
      [](Config& c, const std::vector<std::string>& args) -> absl::Status {
        int64_t value;
        if (args.size() != 1 || !storage::ParseInt64(args[0], &value)) {
          return BadValue("argument couldn't be parsed into an integer");
        }
        if (value < 0 || value > INT32_MAX) return BadValue("argument must be between 0 and 2147483647 inclusive");
        // As Redis: accepted, then held to 1..500.
        c.hz.store(std::clamp<int64_t>(value, 1, 500));
        return absl::OkStatus();
      },
      [](const Config& c) { return absl::StrCat(c.hz.load()); }});
  integer("active-expire-effort", &Config::active_expire_effort, 1, 10, true);
  integer("list-max-listpack-size", &Config::list_max_listpack_size, INT32_MIN, INT32_MAX, true);
  integer("list-max-ziplist-size", &Config::list_max_listpack_size, INT32_MIN, INT32_MAX, true);
  integer("list-compress-depth", &Config::list_compress_depth, 0, INT32_MAX, true);
  integer("hash-max-listpack-entries", &Config::hash_max_listpack_entries, 0, INT64_MAX, true);
  integer("hash-max-ziplist-entries", &Config::hash_max_listpack_entries, 0, INT64_MAX, true);
  integer("hash-max-listpack-value", &Config::hash_max_listpack_value, 0, INT64_MAX, true, true);
  integer("hash-max-ziplist-value", &Config::hash_max_listpack_value, 0, INT64_MAX, true, true);
  integer("zset-max-listpack-entries", &Config::zset_max_listpack_entries, 0, INT64_MAX, true);
  integer("zset-max-ziplist-entries", &Config::zset_max_listpack_entries, 0, INT64_MAX, true);
  integer("zset-max-listpack-value", &Config::zset_max_listpack_value, 0, INT64_MAX, true, true);
  integer("zset-max-ziplist-value", &Config::zset_max_listpack_value, 0, INT64_MAX, true, true);
  integer("set-max-intset-entries", &Config::set_max_intset_entries, 0, INT64_MAX, true);
  integer("hll-sparse-max-bytes", &Config::hll_sparse_max_bytes, 0, INT64_MAX, true, true);
  integer("set-max-listpack-entries", &Config::set_max_listpack_entries, 0, INT64_MAX, true);
  integer("set-max-listpack-value", &Config::set_max_listpack_value, 0, INT64_MAX, true, true);
  enumerated("loglevel", &Config::loglevel, {"debug", "verbose", "notice", "warning", "nothing"}, true);
  text("logfile", &Config::logfile_, false);
  text("pidfile", &Config::pidfile_, false);
  text("dir", &Config::dir_, false);
  text("spill-dir", &Config::spill_dir_, false);
  text("audit-log", &Config::audit_log_, false);
  integer("spill-max-size", &Config::spill_max_size, 0, INT64_MAX, true, true);
  boolean("spill-on-shutdown", &Config::spill_on_shutdown, true);
  directives_.push_back(Directive{
      "notify-keyspace-events", true,
      [](Config& c, const std::vector<std::string>& args) -> absl::Status {
        uint32_t classes;
        if (args.size() != 1 || !storage::ParseNotifyClasses(args[0], &classes)) {
          return BadValue("Invalid event class character. Use 'Ag$lshzxeKEtmdnL'.");
        }
        c.notify_classes.store(classes);
        return absl::OkStatus();
      },
      [](const Config& c) { return storage::NotifyClassesToString(c.notify_classes.load()); }});
  directives_.push_back(Directive{
      "client-output-buffer-limit", true,
      [](Config& c, const std::vector<std::string>& args) -> absl::Status {
        if (args.empty() || args.size() % 4 != 0) return BadValue("Wrong number of arguments in buffer limit configuration.");
        // Checked whole before any class changes (all or nothing); classes not named keep theirs.
        std::vector<std::pair<ClientClass, OutputLimitValues>> parsed;
        for (size_t i = 0; i < args.size(); i += 4) {
          const std::string cls = absl::AsciiStrToLower(args[i]);
          ClientClass client_class;
          if (cls == "normal") {
            client_class = ClientClass::kNormal;
          } else if (cls == "replica" || cls == "slave") {
            client_class = ClientClass::kReplica;
          } else if (cls == "pubsub") {
            client_class = ClientClass::kPubSub;
          } else {
            return BadValue("Invalid client class specified in buffer limit configuration.");
          }
          auto hard = ParseMemory(args[i + 1]);
          auto soft = ParseMemory(args[i + 2]);
          int64_t soft_seconds;
          if (!hard.ok() || !soft.ok() || !storage::ParseInt64(args[i + 3], &soft_seconds) || *hard < 0 ||
              *soft < 0 || soft_seconds < 0) {
            return BadValue("Error in hard, soft or soft_seconds setting in buffer limit configuration.");
          }
          parsed.push_back({client_class, {*hard, *soft, soft_seconds}});
        }
        for (const auto& [client_class, values] : parsed) c.output_limits[static_cast<int>(client_class)].Set(values);
        return absl::OkStatus();
      },
      [](const Config& c) {
        std::string text;
        for (auto [client_class, name] : {std::pair{ClientClass::kNormal, "normal"}, std::pair{ClientClass::kReplica, "slave"},
                                          std::pair{ClientClass::kPubSub, "pubsub"}}) {
          const OutputLimit& limit = c.output_limits[static_cast<int>(client_class)];
          absl::StrAppend(&text, text.empty() ? "" : " ", name, " ", limit.hard.load(), " ", limit.soft.load(), " ",
                          limit.soft_seconds.load());
        }
        return text;
      }});
  integer("stats-key-family-census-effort", &Config::key_family_census_effort, 1, 25, true);
  integer("slowlog-log-slower-than", &Config::slowlog_log_slower_than, -1, INT64_MAX, true);
  integer("slowlog-max-len", &Config::slowlog_max_len, 0, INT64_MAX, true);
  integer("latency-monitor-threshold", &Config::latency_monitor_threshold, 0, INT64_MAX, true);
  boolean("latency-tracking", &Config::latency_tracking, true);
  directives_.push_back(Directive{
      "latency-tracking-info-percentiles", true,
      [](Config& c, const std::vector<std::string>& args) -> absl::Status {
        // One word of space-separated numbers (CONFIG SET), or the numbers as words (a file line).
        // As Redis: every space separates, so "50  99" has an empty, invalid, word.
        std::vector<double> percentiles;
        for (const std::string& arg : args) {
          if (arg.empty()) continue;
          for (absl::string_view word : absl::StrSplit(arg, ' ')) {
            double p;
            if (!absl::SimpleAtod(word, &p) || std::isnan(p)) return BadValue("Invalid latency-tracking-info-percentiles parameters");
            if (p < 0 || p > 100) return BadValue("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]");
            percentiles.push_back(p);
          }
        }
        absl::MutexLock lock(&c.mu_);
        c.latency_tracking_percentiles_ = std::move(percentiles);
        return absl::OkStatus();
      },
      [](const Config& c) {
        absl::MutexLock lock(&c.mu_);
        std::vector<std::string> words;
        for (double p : c.latency_tracking_percentiles_) words.push_back(FormatPercentile(p));
        return absl::StrJoin(words, " ");
      }});
  // Repeatable: each line adds a family (a second line with the same name replaces its glob).
  directives_.push_back(Directive{
      "stats-key-family", false,
      [](Config& c, const std::vector<std::string>& args) -> absl::Status {
        if (args.size() != 2 || args[0].empty() || args[1].empty()) return BadValue("takes NAME GLOB");
        if (args[0].find_first_of(",= ") != std::string::npos) return BadValue("a family NAME may not contain ',', '=' or spaces");
        absl::MutexLock lock(&c.mu_);
        for (auto& [name, glob] : c.key_families_) {
          if (name == args[0]) {
            glob = args[1];
            return absl::OkStatus();
          }
        }
        c.key_families_.emplace_back(args[0], args[1]);
        return absl::OkStatus();
      },
      [](const Config& c) {
        absl::MutexLock lock(&c.mu_);
        std::vector<std::string> words;
        for (const auto& [name, glob] : c.key_families_) {
          words.push_back(name);
          words.push_back(glob);
        }
        return absl::StrJoin(words, " ");
      }});
  // Repeatable: a TTL cap per family, by the family's name (a stats-key-family or a loader's
  // template); a second line for the same family replaces its cap.
  directives_.push_back(Directive{
      "key-family-max-ttl", false,
      [](Config& c, const std::vector<std::string>& args) -> absl::Status {
        double seconds;
        if (args.size() != 2 || args[0].empty()) return BadValue("takes NAME SECONDS");
        if (!absl::SimpleAtod(args[1], &seconds) || !(seconds * 1000 >= 1) || !(seconds <= 100.0 * 365 * 24 * 3600)) {
          return BadValue("SECONDS must be a number from 0.001 to 100 years");
        }
        absl::MutexLock lock(&c.mu_);
        c.key_family_max_ttl_ms_[args[0]] = static_cast<int64_t>(seconds * 1000);
        return absl::OkStatus();
      },
      [](const Config& c) {
        absl::MutexLock lock(&c.mu_);
        std::vector<std::string> words;
        for (const auto& [name, ms] : c.key_family_max_ttl_ms_) {
          words.push_back(name);
          words.push_back(ms % 1000 == 0 ? absl::StrCat(ms / 1000) : absl::StrFormat("%.3f", ms / 1000.0));
        }
        return absl::StrJoin(words, " ");
      }});
  integer("tracking-table-max-keys", &Config::tracking_table_max_keys, 0, INT64_MAX, true);
  integer("proto-max-bulk-len", &Config::proto_max_bulk_len, 1024 * 1024, INT64_MAX, true, true);
  integer("client-query-buffer-limit", &Config::client_query_buffer_limit, 1024 * 1024, INT64_MAX, true, true);
  integer("io-threads", &Config::io_threads, 0, 128, false);
  // Repeatable: each line adds a channel; the first one given replaces the default.
  directives_.push_back(Directive{
      "invalidation-channel", false,
      [](Config& c, const std::vector<std::string>& args) -> absl::Status {
        if (args.size() != 1 || args[0].empty()) return BadValue("takes one channel name");
        absl::MutexLock lock(&c.mu_);
        if (!c.invalidation_channels_given_) c.invalidation_channels_.clear();
        c.invalidation_channels_given_ = true;
        if (std::find(c.invalidation_channels_.begin(), c.invalidation_channels_.end(), args[0]) ==
            c.invalidation_channels_.end()) {
          c.invalidation_channels_.push_back(args[0]);
        }
        return absl::OkStatus();
      },
      [](const Config& c) {
        absl::MutexLock lock(&c.mu_);
        return absl::StrJoin(c.invalidation_channels_, " ");
      }});
  // As Redis: these protect a running server, so only the config file or command line sets them.
  enumerated("enable-debug-command", &Config::enable_debug_command, {"no", "yes", "local"}, false);
  enumerated("enable-monitor-command", &Config::enable_monitor_command, {"no", "yes", "local"}, false);
  integer("tls-port", &Config::tls_port, 0, 65535, false);
  integer("metrics-port", &Config::metrics_port, 0, 65535, false);
  // TLS (server/tls.h). CONFIG SET of any of these rebuilds the TLS context for new connections
  // (commands/server.cc), and puts the old values back if OpenSSL refuses the new ones.
  text("tls-cert-file", &Config::tls_cert_file_, true);
  text("tls-key-file", &Config::tls_key_file_, true);
  text("tls-key-file-pass", &Config::tls_key_file_pass_, true);
  text("tls-ca-cert-file", &Config::tls_ca_cert_file_, true);
  text("tls-ca-cert-dir", &Config::tls_ca_cert_dir_, true);
  enumerated("tls-auth-clients", &Config::tls_auth_clients, {"no", "yes", "optional"}, true);
  text("tls-protocols", &Config::tls_protocols_, true);
  text("tls-ciphers", &Config::tls_ciphers_, true);
  text("tls-ciphersuites", &Config::tls_ciphersuites_, true);
  boolean("tls-prefer-server-ciphers", &Config::tls_prefer_server_ciphers, true);
  boolean("tls-session-caching", &Config::tls_session_caching, true);
  integer("tls-session-cache-size", &Config::tls_session_cache_size, 0, INT32_MAX, true);
  integer("tls-session-cache-timeout", &Config::tls_session_cache_timeout, 0, INT32_MAX, true);

  // strata keeps no snapshot or append-only file; these exist so redis.conf files and tools
  // that read them (redis-benchmark asks for both) get Redis's answer for "persistence off".
  directives_.push_back(Directive{
      "save", false,
      [](Config&, const std::vector<std::string>& args) -> absl::Status {
        if (args.size() == 1 && args[0].empty()) return absl::OkStatus();
        return BadValue("strata does not write snapshots: only save \"\" is accepted");
      },
      [](const Config&) { return std::string(); }});
  directives_.push_back(Directive{
      "appendonly", false,
      [](Config&, const std::vector<std::string>& args) -> absl::Status {
        if (args.size() == 1 && IEquals(args[0], "no")) return absl::OkStatus();
        return BadValue("strata does not write an append-only file: only appendonly no is accepted");
      },
      [](const Config&) { return std::string("no"); }});

  // Every other Redis 7.0 parameter names something strata does not have (persistence,
  // replication, cluster, active defragmentation, daemon mode...) or does one fixed way. Each
  // answers CONFIG GET with the value that describes strata (Redis's default unless strata does
  // otherwise), so redis.conf files and tools that read settings work; a file or CONFIG SET may
  // give only that value, in any spelling Redis accepts for it, and anything else is refused
  // with what strata lacks.
  enum class Fixed { kBool, kInteger, kMemory, kText };
  // When CONFIG SET may give it, as Redis: at runtime, only at start-up (immutable), or only
  // with enable-protected-configs (strata's is always no).
  enum class Settable { kRuntime, kStartupOnly, kProtected };
  struct FixedParameter {
    const char* name;
    const char* value;
    Fixed kind;
    const char* lacks;  // "strata has no ..." / "strata ..."
    Settable settable = Settable::kRuntime;
  };
  static constexpr const char* kPersistence = "strata has no snapshots or append-only file";
  static constexpr const char* kReplication = "strata has no replication";
  static constexpr const char* kCluster = "strata has no cluster mode";
  static constexpr const char* kDefrag = "strata has no active defragmentation";
  static constexpr const char* kProcess = "strata has no such process setting";
  static constexpr const char* kTls = "strata makes no outgoing TLS connections (no replication or cluster)";
  static constexpr const char* kAcl = "strata's new ACL users start with no channels (resetchannels)";
  static constexpr const char* kLazyFree = "strata frees a value where it is deleted, never in the background";
  static constexpr const char* kStreams = "strata has no streams";
  static constexpr const char* kModules = "strata has no modules";
  static constexpr FixedParameter kFixedParameters[] = {
      {"acl-pubsub-default", "resetchannels", Fixed::kText, kAcl},
      {"active-defrag-cycle-max", "25", Fixed::kInteger, kDefrag},
      {"active-defrag-cycle-min", "1", Fixed::kInteger, kDefrag},
      {"active-defrag-ignore-bytes", "104857600", Fixed::kMemory, kDefrag},
      {"active-defrag-max-scan-fields", "1000", Fixed::kInteger, kDefrag},
      {"active-defrag-threshold-lower", "10", Fixed::kInteger, kDefrag},
      {"active-defrag-threshold-upper", "100", Fixed::kInteger, kDefrag},
      {"activedefrag", "no", Fixed::kBool, kDefrag},
      {"activerehashing", "yes", Fixed::kBool, "strata's tables always rehash incrementally"},
      {"always-show-logo", "no", Fixed::kBool, "strata has no logo", Settable::kStartupOnly},
      {"aof-disable-auto-gc", "no", Fixed::kBool, kPersistence},
      {"aof-load-truncated", "yes", Fixed::kBool, kPersistence},
      {"aof-rewrite-incremental-fsync", "yes", Fixed::kBool, kPersistence},
      {"aof-timestamp-enabled", "no", Fixed::kBool, kPersistence},
      {"aof-use-rdb-preamble", "yes", Fixed::kBool, kPersistence},
      {"aof_rewrite_cpulist", "", Fixed::kText, kPersistence, Settable::kStartupOnly},
      {"appenddirname", "appendonlydir", Fixed::kText, kPersistence, Settable::kStartupOnly},
      {"appendfilename", "appendonly.aof", Fixed::kText, kPersistence, Settable::kStartupOnly},
      {"appendfsync", "everysec", Fixed::kText, kPersistence},
      {"auto-aof-rewrite-min-size", "67108864", Fixed::kMemory, kPersistence},
      {"auto-aof-rewrite-percentage", "100", Fixed::kInteger, kPersistence},
      {"bgsave_cpulist", "", Fixed::kText, kPersistence, Settable::kStartupOnly},
      {"bind-source-addr", "", Fixed::kText, kReplication},
      {"bio_cpulist", "", Fixed::kText, kProcess, Settable::kStartupOnly},
      {"cluster-allow-pubsubshard-when-down", "yes", Fixed::kBool, kCluster},
      {"cluster-allow-reads-when-down", "no", Fixed::kBool, kCluster},
      {"cluster-allow-replica-migration", "yes", Fixed::kBool, kCluster},
      {"cluster-announce-bus-port", "0", Fixed::kInteger, kCluster},
      {"cluster-announce-hostname", "", Fixed::kText, kCluster},
      {"cluster-announce-ip", "", Fixed::kText, kCluster},
      {"cluster-announce-port", "0", Fixed::kInteger, kCluster},
      {"cluster-announce-tls-port", "0", Fixed::kInteger, kCluster},
      {"cluster-config-file", "nodes.conf", Fixed::kText, kCluster, Settable::kStartupOnly},
      {"cluster-enabled", "no", Fixed::kBool, kCluster, Settable::kStartupOnly},
      {"cluster-link-sendbuf-limit", "0", Fixed::kMemory, kCluster},
      {"cluster-migration-barrier", "1", Fixed::kInteger, kCluster},
      {"cluster-node-timeout", "15000", Fixed::kInteger, kCluster},
      {"cluster-port", "0", Fixed::kInteger, kCluster, Settable::kStartupOnly},
      {"cluster-preferred-endpoint-type", "ip", Fixed::kText, kCluster},
      {"cluster-replica-no-failover", "no", Fixed::kBool, kCluster},
      {"cluster-replica-validity-factor", "10", Fixed::kInteger, kCluster},
      {"cluster-require-full-coverage", "yes", Fixed::kBool, kCluster},
      {"cluster-slave-no-failover", "no", Fixed::kBool, kCluster},
      {"cluster-slave-validity-factor", "10", Fixed::kInteger, kCluster},
      {"crash-log-enabled", "yes", Fixed::kBool, kProcess},
      {"crash-memcheck-enabled", "no", Fixed::kBool, "strata runs no memory test after a crash"},
      {"daemonize", "no", Fixed::kBool, "strata does not daemonize: run it under a supervisor (systemd, a container)", Settable::kStartupOnly},
      {"dbfilename", "dump.rdb", Fixed::kText, kPersistence, Settable::kProtected},
      {"disable-thp", "yes", Fixed::kBool, kProcess, Settable::kStartupOnly},
      {"dynamic-hz", "yes", Fixed::kBool, kProcess},
      {"enable-module-command", "no", Fixed::kText, kModules, Settable::kStartupOnly},
      {"enable-protected-configs", "no", Fixed::kText, "strata has no protected configs", Settable::kStartupOnly},
      {"ignore-warnings", "", Fixed::kText, kProcess},
      {"io-threads-do-reads", "yes", Fixed::kBool, "strata's I/O threads always read and parse", Settable::kStartupOnly},
      {"jemalloc-bg-thread", "yes", Fixed::kBool, kProcess},
      {"lazyfree-lazy-eviction", "no", Fixed::kBool, kLazyFree},
      {"lazyfree-lazy-expire", "no", Fixed::kBool, kLazyFree},
      {"lazyfree-lazy-server-del", "no", Fixed::kBool, kLazyFree},
      {"lazyfree-lazy-user-del", "no", Fixed::kBool, kLazyFree},
      {"lazyfree-lazy-user-flush", "no", Fixed::kBool, kLazyFree},
      {"masterauth", "", Fixed::kText, kReplication},
      {"masteruser", "", Fixed::kText, kReplication},
      {"maxmemory-clients", "0", Fixed::kMemory, "strata does not evict clients for memory"},
      {"min-replicas-max-lag", "10", Fixed::kInteger, kReplication},
      {"min-replicas-to-write", "0", Fixed::kInteger, kReplication},
      {"min-slaves-max-lag", "10", Fixed::kInteger, kReplication},
      {"min-slaves-to-write", "0", Fixed::kInteger, kReplication},
      {"no-appendfsync-on-rewrite", "no", Fixed::kBool, kPersistence},
      {"oom-score-adj", "no", Fixed::kText, kProcess},
      {"oom-score-adj-values", "0 200 800", Fixed::kText, kProcess},
      {"proc-title-template", "{title} {listen-addr} {server-mode}", Fixed::kText, kProcess},
      {"propagation-error-behavior", "ignore", Fixed::kText, kReplication},
      {"rdb-del-sync-files", "no", Fixed::kBool, kPersistence},
      {"rdb-save-incremental-fsync", "yes", Fixed::kBool, kPersistence},
      {"rdbchecksum", "yes", Fixed::kBool, kPersistence, Settable::kStartupOnly},
      {"rdbcompression", "yes", Fixed::kBool, kPersistence},
      {"repl-backlog-size", "1048576", Fixed::kMemory, kReplication},
      {"repl-backlog-ttl", "3600", Fixed::kInteger, kReplication},
      {"repl-disable-tcp-nodelay", "no", Fixed::kBool, kReplication},
      {"repl-diskless-load", "disabled", Fixed::kText, kReplication},
      {"repl-diskless-sync", "yes", Fixed::kBool, kReplication},
      {"repl-diskless-sync-delay", "5", Fixed::kInteger, kReplication},
      {"repl-diskless-sync-max-replicas", "0", Fixed::kInteger, kReplication},
      {"repl-ping-replica-period", "10", Fixed::kInteger, kReplication},
      {"repl-ping-slave-period", "10", Fixed::kInteger, kReplication},
      {"repl-timeout", "60", Fixed::kInteger, kReplication},
      {"replica-announce-ip", "", Fixed::kText, kReplication},
      {"replica-announce-port", "0", Fixed::kInteger, kReplication},
      {"replica-announced", "yes", Fixed::kBool, kReplication},
      {"replica-ignore-disk-write-errors", "no", Fixed::kBool, kReplication},
      {"replica-ignore-maxmemory", "yes", Fixed::kBool, kReplication},
      {"replica-lazy-flush", "no", Fixed::kBool, kReplication},
      {"replica-priority", "100", Fixed::kInteger, kReplication},
      {"replica-read-only", "yes", Fixed::kBool, kReplication},
      {"replica-serve-stale-data", "yes", Fixed::kBool, kReplication},
      {"replicaof", "", Fixed::kText, kReplication, Settable::kStartupOnly},
      {"sanitize-dump-payload", "no", Fixed::kText, "strata has no RESTORE"},
      {"server_cpulist", "", Fixed::kText, kProcess, Settable::kStartupOnly},
      {"set-proc-title", "yes", Fixed::kBool, kProcess, Settable::kStartupOnly},
      {"shutdown-on-sigint", "default", Fixed::kText, kPersistence},
      {"shutdown-on-sigterm", "default", Fixed::kText, kPersistence},
      {"shutdown-timeout", "10", Fixed::kInteger, kReplication},
      {"slave-announce-ip", "", Fixed::kText, kReplication},
      {"slave-announce-port", "0", Fixed::kInteger, kReplication},
      {"slave-ignore-maxmemory", "yes", Fixed::kBool, kReplication},
      {"slave-lazy-flush", "no", Fixed::kBool, kReplication},
      {"slave-priority", "100", Fixed::kInteger, kReplication},
      {"slave-read-only", "yes", Fixed::kBool, kReplication},
      {"slave-serve-stale-data", "yes", Fixed::kBool, kReplication},
      {"slaveof", "", Fixed::kText, kReplication, Settable::kStartupOnly},
      {"socket-mark-id", "0", Fixed::kInteger, kProcess, Settable::kStartupOnly},
      {"stop-writes-on-bgsave-error", "yes", Fixed::kBool, kPersistence},
      {"stream-node-max-bytes", "4096", Fixed::kMemory, kStreams},
      {"stream-node-max-entries", "100", Fixed::kInteger, kStreams},
      {"supervised", "no", Fixed::kText, "strata does not signal a supervisor", Settable::kStartupOnly},
      {"syslog-enabled", "no", Fixed::kBool, "strata does not log to syslog", Settable::kStartupOnly},
      {"syslog-facility", "local0", Fixed::kText, "strata does not log to syslog", Settable::kStartupOnly},
      {"syslog-ident", "redis", Fixed::kText, "strata does not log to syslog", Settable::kStartupOnly},
      {"tcp-backlog", "511", Fixed::kInteger, "strata listens with a backlog of 511", Settable::kStartupOnly},
      {"tls-client-cert-file", "", Fixed::kText, kTls},
      {"tls-client-key-file", "", Fixed::kText, kTls},
      {"tls-client-key-file-pass", "", Fixed::kText, kTls},
      {"tls-cluster", "no", Fixed::kBool, kTls},
      {"tls-dh-params-file", "", Fixed::kText, "strata uses OpenSSL's built-in Diffie-Hellman groups"},
      {"tls-replication", "no", Fixed::kBool, kTls},
      {"unixsocket", "", Fixed::kText, "strata listens on TCP only", Settable::kStartupOnly},
      {"unixsocketperm", "0", Fixed::kInteger, "strata listens on TCP only", Settable::kStartupOnly},
  };
  for (const FixedParameter& p : kFixedParameters) {
    directives_.push_back(Directive{
        p.name, /*runtime_settable=*/p.settable != Settable::kStartupOnly,
        [p](Config&, const std::vector<std::string>& args) -> absl::Status {
          const std::string given = absl::StrJoin(args, " ");
          bool same = false;
          switch (p.kind) {
            case Fixed::kBool: {
              auto parsed = ParseYesNo(given);
              same = parsed.ok() && *parsed == IEquals(p.value, "yes");
              break;
            }
            case Fixed::kInteger: {
              int64_t value, expected;
              same = storage::ParseInt64(given, &value) && storage::ParseInt64(p.value, &expected) && value == expected;
              break;
            }
            case Fixed::kMemory: {
              auto value = ParseMemory(given);
              auto expected = ParseMemory(p.value);
              same = value.ok() && expected.ok() && *value == *expected;
              break;
            }
            case Fixed::kText:
              same = IEquals(given, p.value);
              break;
          }
          if (same) return absl::OkStatus();
          return BadValue(absl::StrCat(p.lacks, ": only ", p.name, " ", *p.value ? p.value : "\"\"", " is accepted"));
        },
        [p](const Config&) { return std::string(p.value); }});
    directives_.back().protected_config = p.settable == Settable::kProtected;
  }

  // Redis's defaults.
  output_limits[static_cast<int>(ClientClass::kReplica)].Set({256LL << 20, 64LL << 20, 60});
  output_limits[static_cast<int>(ClientClass::kPubSub)].Set({32LL << 20, 8LL << 20, 60});
}

Config::~Config() = default;

const Config::Directive* Config::FindDirective(std::string_view name) const {
  for (const Directive& d : directives_) {
    if (IEquals(d.name, name)) return &d;
  }
  return nullptr;
}

bool Config::IsMultiWordDirective(const Directive& d) {
  return d.name == "bind" || d.name == "client-output-buffer-limit";
}

std::string FormatPercentile(double p) {
  std::string text = absl::StrFormat("%f", p);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

std::string Config::audit_log() const {
  absl::MutexLock lock(&mu_);
  return audit_log_;
}

TlsSettings Config::tls_settings() const {
  TlsSettings settings;
  {
    absl::MutexLock lock(&mu_);
    settings.cert_file = tls_cert_file_;
    settings.key_file = tls_key_file_;
    settings.key_file_pass = tls_key_file_pass_;
    settings.ca_cert_file = tls_ca_cert_file_;
    settings.ca_cert_dir = tls_ca_cert_dir_;
    settings.protocols = tls_protocols_;
    settings.ciphers = tls_ciphers_;
    settings.ciphersuites = tls_ciphersuites_;
  }
  settings.auth_clients = static_cast<TlsSettings::ClientAuth>(tls_auth_clients.load());
  settings.prefer_server_ciphers = tls_prefer_server_ciphers.load();
  settings.session_caching = tls_session_caching.load();
  settings.session_cache_size = tls_session_cache_size.load();
  settings.session_cache_timeout = tls_session_cache_timeout.load();
  return settings;
}

std::string Config::aclfile() const {
  absl::MutexLock lock(&mu_);
  return aclfile_;
}

std::vector<LoaderDirective> Config::user_directives() const {
  absl::MutexLock lock(&mu_);
  return user_directives_;
}

std::vector<LoaderDirective> Config::rename_directives() const {
  absl::MutexLock lock(&mu_);
  return rename_directives_;
}

std::map<std::string, int64_t> Config::key_family_max_ttl_ms() const {
  absl::MutexLock lock(&mu_);
  return key_family_max_ttl_ms_;
}

std::vector<std::pair<std::string, std::string>> Config::key_families() const {
  absl::MutexLock lock(&mu_);
  return key_families_;
}

std::vector<double> Config::latency_tracking_percentiles() const {
  absl::MutexLock lock(&mu_);
  return latency_tracking_percentiles_;
}

absl::Status Config::Apply(const std::vector<std::string>& words, const std::string& origin) {
  if (words.empty()) return absl::OkStatus();
  if (IEquals(words[0], "include")) {
    if (words.size() != 2) return BadValue(absl::StrCat(origin, ": include takes one file"));
    return LoadFileAt(words[1], 1);
  }
  if (IEquals(words[0], "user")) {
    // ACL users (server/acl.h), applied at start-up once every line is read.
    if (words.size() < 2) return BadValue(absl::StrCat(origin, ": user takes NAME [rule ...]"));
    absl::MutexLock lock(&mu_);
    user_directives_.push_back(LoaderDirective{"user", std::vector<std::string>(words.begin() + 1, words.end()), origin});
    return absl::OkStatus();
  }
  if (IEquals(words[0], "rename-command")) {
    // As Redis: a file or command-line line only (CONFIG GET and REWRITE do not show it),
    // applied to the command table at start-up. An empty NEW removes the command.
    if (words.size() != 3) return BadValue(absl::StrCat(origin, ": rename-command takes OLD NEW"));
    absl::MutexLock lock(&mu_);
    rename_directives_.push_back(LoaderDirective{"rename-command", {words[1], words[2]}, origin});
    return absl::OkStatus();
  }
  if (IEquals(words[0], "source") || IEquals(words[0], "loader")) {
    const bool is_source = IEquals(words[0], "source");
    if (words.size() < (is_source ? 3u : 4u)) {
      return BadValue(absl::StrCat(origin, ": ", is_source ? "source takes NAME URL [option value ...]"
                                                           : "loader takes KEY-TEMPLATE SOURCE QUERY [option value ...]"));
    }
    absl::MutexLock lock(&mu_);
    loader_directives_.push_back(LoaderDirective{is_source ? "source" : "loader",
                                                 std::vector<std::string>(words.begin() + 1, words.end()), origin});
    return absl::OkStatus();
  }
  const Directive* d = FindDirective(words[0]);
  if (d == nullptr) return BadValue(absl::StrCat(origin, ": Bad directive or wrong number of arguments: '", words[0], "'"));
  std::vector<std::string> args(words.begin() + 1, words.end());
  if (args.size() == 1 && IsMultiWordDirective(*d)) {
    // As Redis 7: a multi-word directive given as one quoted word ("--bind '1.2.3.4 ::1'").
    auto split = SplitConfigLine(args[0]);
    if (split.ok()) args = *split;
  }
  if (absl::Status s = d->set(*this, args); !s.ok()) {
    return BadValue(absl::StrCat(origin, ": '", absl::StrJoin(words, " "), "': ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status Config::LoadFile(const std::string& path) {
  {
    // Absolute, as Redis keeps it: `dir` changes the working directory before CONFIG REWRITE.
    char resolved[PATH_MAX];
    absl::MutexLock lock(&mu_);
    config_file_ = realpath(path.c_str(), resolved) != nullptr ? std::string(resolved) : path;
  }
  return LoadFileAt(path, 0);
}

namespace {

// A value as a config line writes it: quoted (with redis.conf's escapes) when it is empty or has
// characters a bare word cannot.
std::string ConfigWord(std::string_view value) {
  const bool bare = !value.empty() && std::all_of(value.begin(), value.end(), [](unsigned char c) {
    return c > ' ' && c < 0x7f && c != '"' && c != '\'' && c != '\\';
  });
  if (bare) return std::string(value);
  std::string out = "\"";
  for (unsigned char c : value) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < ' ' || c >= 0x7f) {
          out += absl::StrFormat("\\x%02x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace

bool Config::IsRepeatable(const Directive& d) {
  return d.name == "stats-key-family" || d.name == "key-family-max-ttl" || d.name == "invalidation-channel";
}

std::string Config::RewriteLine(const Directive& d) const {
  const std::string value = d.get(*this);
  // Several words where the directive takes several (bind a b, client-output-buffer-limit ...).
  if (IsMultiWordDirective(d) || d.name == "latency-tracking-info-percentiles") {
    return absl::StrCat(d.name, " ", value.empty() ? "\"\"" : value);
  }
  return absl::StrCat(d.name, " ", ConfigWord(value));
}

absl::Status Config::Rewrite(const std::vector<std::string>& user_lines) {
  // One rewrite at a time (two I/O threads may both be asked).
  absl::MutexLock rewriting(&rewrite_mu_);
  const std::string path = config_file();
  if (path.empty()) return absl::FailedPreconditionError("The server is running without a config file");
  std::vector<std::string> lines;
  {
    std::ifstream in(path);
    if (!in) return absl::InternalError(absl::StrCat("Rewriting config file: ", strerror(errno)));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  // As Redis: a directive's line keeps its place with the current value (its later lines go);
  // comments, blank lines and what is not a single-valued directive (source, loader, include,
  // the repeatable ones) stay as they are; directives whose value is not the default and that
  // the file lacks are appended. Defaults are a fresh Config's.
  const Config defaults;
  std::vector<std::string> out;
  absl::flat_hash_set<const Directive*> written;
  bool users_written = false;
  for (const std::string& line : lines) {
    std::string_view trimmed = Std(absl::StripAsciiWhitespace(line));
    if (trimmed.empty() || trimmed[0] == '#') {
      out.push_back(line);
      continue;
    }
    auto words = SplitConfigLine(trimmed);
    // The users as they are now take the place of the file's `user` lines (as Redis rewrites them).
    if (words.ok() && !words->empty() && IEquals((*words)[0], "user")) {
      if (!users_written) out.insert(out.end(), user_lines.begin(), user_lines.end());
      users_written = true;
      continue;
    }
    const Directive* d = words.ok() && !words->empty() ? FindDirective((*words)[0]) : nullptr;
    if (d == nullptr || IsRepeatable(*d)) {
      out.push_back(line);
      continue;
    }
    if (!written.insert(d).second) continue;
    out.push_back(RewriteLine(*d));
  }
  bool header = false;
  for (const Directive& d : directives_) {
    if (written.contains(&d) || IsRepeatable(d)) continue;
    const Directive* fresh = defaults.FindDirective(d.name);
    if (fresh != nullptr && fresh->get(defaults) == d.get(*this)) continue;
    // An alias (lua-time-limit, list-max-ziplist-size...) shares its value with the name written.
    bool alias_written = false;
    for (const Directive* w : written) alias_written |= w->get(*this) == d.get(*this) && AliasOf(w->name, d.name);
    if (alias_written) continue;
    if (!header) {
      out.push_back("# Generated by CONFIG REWRITE");
      header = true;
    }
    out.push_back(RewriteLine(d));
    written.insert(&d);
  }
  if (!users_written) out.insert(out.end(), user_lines.begin(), user_lines.end());
  std::string text;
  for (const std::string& line : out) absl::StrAppend(&text, line, "\n");
  if (absl::Status s = WriteFileAtomically(path, text); !s.ok()) {
    return absl::InternalError(absl::StrCat("Rewriting config file: ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view text) {
  // Written whole to a temporary file of its own, synced, then renamed over the old one: a crash
  // or a power loss leaves one or the other, never a half-written file.
  std::string temporary = absl::StrCat(path, ".tmp-XXXXXX");
  const int fd = mkstemp(temporary.data());
  if (fd < 0) return absl::InternalError(strerror(errno));
  // The file keeps its permissions (mkstemp makes the new one 0600).
  if (struct stat original; stat(path.c_str(), &original) == 0) fchmod(fd, original.st_mode & 07777);
  bool ok = true;
  for (size_t written_bytes = 0; ok && written_bytes < text.size();) {
    const ssize_t n = write(fd, text.data() + written_bytes, text.size() - written_bytes);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) written_bytes += static_cast<size_t>(n);
  }
  const int error = ok ? 0 : errno;
  ok = ok && fsync(fd) == 0;
  close(fd);
  if (!ok || rename(temporary.c_str(), path.c_str()) != 0) {
    const int failure = error != 0 ? error : errno;
    unlink(temporary.c_str());
    return absl::InternalError(strerror(failure));
  }
  return absl::OkStatus();
}

bool Config::AliasOf(std::string_view a, std::string_view b) {
  auto base = [](std::string_view name) -> std::string {
    if (name == "lua-time-limit") return "busy-reply-threshold";
    std::string text(name);
    if (auto at = text.find("ziplist"); at != std::string::npos) text.replace(at, 7, "listpack");
    return text;
  };
  return base(a) == base(b);
}

absl::Status Config::LoadFileAt(const std::string& path, int depth) {
  if (depth > kMaxIncludeDepth) return BadValue(absl::StrCat(path, ": include nested too deeply"));
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("Fatal error, can't open config file '", path, "': ", strerror(errno)));
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    std::string_view trimmed = Std(absl::StripAsciiWhitespace(line));
    if (trimmed.empty() || trimmed[0] == '#') continue;
    const std::string origin = absl::StrCat(path, ":", line_number);
    auto words = SplitConfigLine(trimmed);
    if (!words.ok()) return BadValue(absl::StrCat(origin, ": ", words.status().message()));
    if (IEquals((*words)[0], "include") && words->size() == 2) {
      if (absl::Status s = LoadFileAt((*words)[1], depth + 1); !s.ok()) return s;
      continue;
    }
    if (absl::Status s = Apply(*words, origin); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Config::LoadArgs(const std::vector<std::string>& args) {
  size_t i = 0;
  if (!args.empty() && !absl::StartsWith(args[0], "--")) {
    if (absl::Status s = LoadFile(args[0]); !s.ok()) return s;
    i = 1;
  }
  // "--name a b --other c": each "--" word starts a directive; the words up to the next one
  // are its arguments (as redis-server reads its command line).
  while (i < args.size()) {
    if (!absl::StartsWith(args[i], "--") || args[i].size() == 2) {
      return BadValue(absl::StrCat("command line: expected --directive, got '", args[i], "'"));
    }
    std::vector<std::string> words = {args[i].substr(2)};
    ++i;
    while (i < args.size() && !(absl::StartsWith(args[i], "--") && args[i].size() > 2)) words.push_back(args[i++]);
    if (absl::Status s = Apply(words, "command line"); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::vector<std::pair<std::string, std::string>> Config::Get(const std::vector<std::string_view>& patterns) {
  std::vector<std::pair<std::string, std::string>> result;
  for (const Directive& d : directives_) {
    for (std::string_view pattern : patterns) {
      if (storage::GlobMatch(pattern, d.name, /*nocase=*/true)) {
        result.emplace_back(d.name, d.get(*this));
        break;
      }
    }
  }
  return result;
}

absl::Status Config::SetAll(const std::vector<std::pair<std::string_view, std::string_view>>& pairs) {
  // As Redis 7: every name is checked before any value changes, and a value refused part-way
  // restores the ones set before it, so the command takes effect whole or not at all.
  for (size_t i = 0; i < pairs.size(); ++i) {
    const Directive* d = FindDirective(pairs[i].first);
    if (d == nullptr || !d->runtime_settable || d->protected_config) return Set(pairs[i].first, pairs[i].second);  // its error
    for (size_t j = 0; j < i; ++j) {
      if (FindDirective(pairs[j].first) == d) {
        return BadValue(absl::StrCat("CONFIG SET failed (possibly related to argument '", Absl(pairs[i].first),
                                     "') - duplicate parameter"));
      }
    }
  }
  std::vector<std::pair<const Directive*, std::string>> applied;
  for (const auto& [name, value] : pairs) {
    const Directive* d = FindDirective(name);
    std::string previous = d->get(*this);
    if (absl::Status s = Set(name, value); !s.ok()) {
      for (auto it = applied.rbegin(); it != applied.rend(); ++it) Set(it->first->name, it->second).IgnoreError();
      return s;
    }
    applied.emplace_back(d, std::move(previous));
  }
  return absl::OkStatus();
}

absl::Status Config::Set(std::string_view name, std::string_view value) {
  const Directive* d = FindDirective(name);
  if (d == nullptr) {
    return BadValue(absl::StrCat("Unknown option or number of arguments for CONFIG SET - '", Absl(name), "'"));
  }
  if (!d->runtime_settable) {
    return BadValue(absl::StrCat("CONFIG SET failed (possibly related to argument '", d->name,
                                 "') - can't set immutable config"));
  }
  if (d->protected_config) {
    return BadValue(absl::StrCat("CONFIG SET failed (possibly related to argument '", d->name,
                                 "') - can't set protected config"));
  }
  std::vector<std::string> args;
  if (IsMultiWordDirective(*d)) {
    auto words = SplitConfigLine(value);
    if (words.ok()) args = *words;
  } else {
    args.emplace_back(value);
  }
  if (absl::Status s = d->set(*this, args); !s.ok()) {
    return BadValue(absl::StrCat("CONFIG SET failed (possibly related to argument '", d->name, "') - ", s.message()));
  }
  return absl::OkStatus();
}

std::vector<std::string> Config::bind() const {
  absl::MutexLock lock(&mu_);
  return bind_;
}
std::string Config::requirepass() const {
  absl::MutexLock lock(&mu_);
  return requirepass_;
}
std::string Config::logfile() const {
  absl::MutexLock lock(&mu_);
  return logfile_;
}
std::string Config::pidfile() const {
  absl::MutexLock lock(&mu_);
  return pidfile_;
}
std::string Config::spill_dir() const {
  absl::MutexLock lock(&mu_);
  return spill_dir_;
}
std::string Config::dir() const {
  absl::MutexLock lock(&mu_);
  return dir_;
}
std::string Config::config_file() const {
  absl::MutexLock lock(&mu_);
  return config_file_;
}
std::vector<std::string> Config::invalidation_channels() const {
  absl::MutexLock lock(&mu_);
  return invalidation_channels_;
}
std::vector<LoaderDirective> Config::loader_directives() const {
  absl::MutexLock lock(&mu_);
  return loader_directives_;
}

}  // namespace strata::server
