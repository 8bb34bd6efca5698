#include "server/metrics.h"

#include <cmath>
#include <exception>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"
#include "prometheus/metric_family.h"
#include "server/absl_compat.h"
#include "server/server.h"

namespace strata::server {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {

struct Mapped {
  const char* name;  // after "redis_"
  MetricType type;
};

// INFO fields with a redis_exporter name (its metricMapGauges / metricMapCounters), so that
// dashboards and alerts written for it read strata unchanged.
const absl::flat_hash_map<std::string, Mapped>& RedisExporterNames() {
  static const auto* names = new absl::flat_hash_map<std::string, Mapped>{
      {"uptime_in_seconds", {"uptime_in_seconds", MetricType::Gauge}},
      {"process_id", {"process_id", MetricType::Gauge}},
      {"io_threads_active", {"io_threads_active", MetricType::Gauge}},
      {"connected_clients", {"connected_clients", MetricType::Gauge}},
      {"blocked_clients", {"blocked_clients", MetricType::Gauge}},
      {"tracking_clients", {"tracking_clients", MetricType::Gauge}},
      {"maxclients", {"max_clients", MetricType::Gauge}},
      {"used_memory", {"memory_used_bytes", MetricType::Gauge}},
      {"used_memory_rss", {"memory_used_rss_bytes", MetricType::Gauge}},
      {"used_memory_peak", {"memory_used_peak_bytes", MetricType::Gauge}},
      {"used_memory_lua", {"memory_used_lua_bytes", MetricType::Gauge}},
      {"used_memory_vm_eval", {"memory_used_vm_eval_bytes", MetricType::Gauge}},
      {"used_memory_scripts_eval", {"memory_used_scripts_eval_bytes", MetricType::Gauge}},
      {"used_memory_overhead", {"memory_used_overhead_bytes", MetricType::Gauge}},
      {"used_memory_startup", {"memory_used_startup_bytes", MetricType::Gauge}},
      {"used_memory_dataset", {"memory_used_dataset_bytes", MetricType::Gauge}},
      {"used_memory_vm_functions", {"memory_used_vm_functions_bytes", MetricType::Gauge}},
      {"used_memory_scripts", {"memory_used_scripts_bytes", MetricType::Gauge}},
      {"used_memory_functions", {"memory_used_functions_bytes", MetricType::Gauge}},
      {"used_memory_vm_total", {"memory_used_vm_total", MetricType::Gauge}},
      {"number_of_cached_scripts", {"number_of_cached_scripts", MetricType::Gauge}},
      {"number_of_functions", {"number_of_functions", MetricType::Gauge}},
      {"number_of_libraries", {"number_of_libraries", MetricType::Gauge}},
      {"maxmemory", {"memory_max_bytes", MetricType::Gauge}},
      {"allocator_active", {"allocator_active_bytes", MetricType::Gauge}},
      {"allocator_allocated", {"allocator_allocated_bytes", MetricType::Gauge}},
      {"allocator_resident", {"allocator_resident_bytes", MetricType::Gauge}},
      {"allocator_frag_ratio", {"allocator_frag_ratio", MetricType::Gauge}},
      {"allocator_frag_bytes", {"allocator_frag_bytes", MetricType::Gauge}},
      {"allocator_rss_ratio", {"allocator_rss_ratio", MetricType::Gauge}},
      {"allocator_rss_bytes", {"allocator_rss_bytes", MetricType::Gauge}},
      {"rss_overhead_ratio", {"rss_overhead_ratio", MetricType::Gauge}},
      {"rss_overhead_bytes", {"rss_overhead_bytes", MetricType::Gauge}},
      {"mem_fragmentation_ratio", {"mem_fragmentation_ratio", MetricType::Gauge}},
      {"mem_fragmentation_bytes", {"mem_fragmentation_bytes", MetricType::Gauge}},
      {"mem_clients_slaves", {"mem_clients_slaves", MetricType::Gauge}},
      {"mem_clients_normal", {"mem_clients_normal", MetricType::Gauge}},
      {"mem_not_counted_for_evict", {"mem_not_counted_for_eviction_bytes", MetricType::Gauge}},
      {"lazyfree_pending_objects", {"lazyfree_pending_objects", MetricType::Gauge}},
      {"active_defrag_running", {"active_defrag_running", MetricType::Gauge}},
      {"total_system_memory", {"total_system_memory_bytes", MetricType::Gauge}},
      {"loading", {"loading_dump_file", MetricType::Gauge}},
      {"async_loading", {"async_loading", MetricType::Gauge}},
      {"rdb_changes_since_last_save", {"rdb_changes_since_last_save", MetricType::Gauge}},
      {"rdb_bgsave_in_progress", {"rdb_bgsave_in_progress", MetricType::Gauge}},
      {"rdb_last_save_time", {"rdb_last_save_timestamp_seconds", MetricType::Gauge}},
      {"rdb_last_bgsave_time_sec", {"rdb_last_bgsave_duration_sec", MetricType::Gauge}},
      {"rdb_current_bgsave_time_sec", {"rdb_current_bgsave_duration_sec", MetricType::Gauge}},
      {"rdb_saves", {"rdb_saves_total", MetricType::Counter}},
      {"rdb_last_cow_size", {"rdb_last_cow_size_bytes", MetricType::Gauge}},
      {"aof_enabled", {"aof_enabled", MetricType::Gauge}},
      {"aof_rewrite_in_progress", {"aof_rewrite_in_progress", MetricType::Gauge}},
      {"aof_rewrite_scheduled", {"aof_rewrite_scheduled", MetricType::Gauge}},
      {"aof_last_rewrite_time_sec", {"aof_last_rewrite_duration_sec", MetricType::Gauge}},
      {"aof_current_rewrite_time_sec", {"aof_current_rewrite_duration_sec", MetricType::Gauge}},
      {"aof_last_cow_size", {"aof_last_cow_size_bytes", MetricType::Gauge}},
      {"aof_rewrites", {"aof_rewrites", MetricType::Counter}},
      {"module_fork_in_progress", {"module_fork_in_progress", MetricType::Gauge}},
      {"module_fork_last_cow_size", {"module_fork_last_cow_size", MetricType::Gauge}},
      {"total_connections_received", {"connections_received_total", MetricType::Counter}},
      {"total_commands_processed", {"commands_processed_total", MetricType::Counter}},
      {"instantaneous_ops_per_sec", {"instantaneous_ops_per_sec", MetricType::Gauge}},
      {"total_net_input_bytes", {"net_input_bytes_total", MetricType::Counter}},
      {"total_net_output_bytes", {"net_output_bytes_total", MetricType::Counter}},
      {"rejected_connections", {"rejected_connections_total", MetricType::Counter}},
      {"expired_keys", {"expired_keys_total", MetricType::Counter}},
      {"evicted_keys", {"evicted_keys_total", MetricType::Counter}},
      {"evicted_clients", {"evicted_clients_total", MetricType::Counter}},
      {"total_eviction_exceeded_time", {"eviction_exceeded_time_ms_total", MetricType::Counter}},
      {"current_eviction_exceeded_time", {"current_eviction_exceeded_time_ms", MetricType::Gauge}},
      {"keyspace_hits", {"keyspace_hits_total", MetricType::Counter}},
      {"keyspace_misses", {"keyspace_misses_total", MetricType::Counter}},
      {"pubsub_channels", {"pubsub_channels", MetricType::Gauge}},
      {"pubsub_patterns", {"pubsub_patterns", MetricType::Gauge}},
      {"pubsubshard_channels", {"pubsubshard_channels", MetricType::Gauge}},
      {"tracking_total_keys", {"tracking_total_keys", MetricType::Gauge}},
      {"tracking_total_items", {"tracking_total_items", MetricType::Gauge}},
      {"tracking_total_prefixes", {"tracking_total_prefixes", MetricType::Gauge}},
      {"total_error_replies", {"total_error_replies", MetricType::Counter}},
      {"unexpected_error_replies", {"unexpected_error_replies", MetricType::Counter}},
      {"connected_slaves", {"connected_slaves", MetricType::Gauge}},
      {"master_repl_offset", {"master_repl_offset", MetricType::Gauge}},
      {"second_repl_offset", {"second_repl_offset", MetricType::Gauge}},
      {"repl_backlog_active", {"repl_backlog_is_active", MetricType::Gauge}},
      {"repl_backlog_size", {"replication_backlog_bytes", MetricType::Gauge}},
      {"repl_backlog_first_byte_offset", {"repl_backlog_first_byte_offset", MetricType::Gauge}},
      {"repl_backlog_histlen", {"repl_backlog_history_bytes", MetricType::Gauge}},
      {"used_cpu_sys", {"cpu_sys_seconds_total", MetricType::Counter}},
      {"used_cpu_user", {"cpu_user_seconds_total", MetricType::Counter}},
      {"used_cpu_sys_children", {"cpu_sys_children_seconds_total", MetricType::Counter}},
      {"used_cpu_user_children", {"cpu_user_children_seconds_total", MetricType::Counter}},
      {"used_cpu_sys_main_thread", {"cpu_sys_main_thread_seconds_total", MetricType::Counter}},
      {"used_cpu_user_main_thread", {"cpu_user_main_thread_seconds_total", MetricType::Counter}},
  };
  return *names;
}

// strata's own INFO fields that only grow (exposed as counters, strata_<field>_total); the
// rest of strata's numeric fields are gauges.
bool IsStrataCounter(std::string_view field) {
  static const auto* counters = new absl::flat_hash_set<std::string>{
      "spill_writes",        "spill_writes_dropped", "spill_reads",          "spill_hits",
      "spill_promotions",    "spill_sync_reads",     "spill_clean_evictions", "spill_evicted_keys",
      "invalidations_applied", "invalidation_keys_dropped", "invalidation_messages_malformed"};
  return counters->contains(absl::string_view(field.data(), field.size()));
}

// The loader line's counters (INFO # Loaders, loaderN:template=...,loads=...).
bool IsLoaderCounter(std::string_view field) {
  static const auto* counters = new absl::flat_hash_set<std::string>{
      "loads",         "not_found", "hits",   "misses",   "coalesced",      "stale_served",
      "negative_hits", "refreshes", "errors", "timeouts", "source_queries", "breaker_opened"};
  return counters->contains(absl::string_view(field.data(), field.size()));
}

// Families by name, in the order first met, each metric appended as found.
class Families {
 public:
  ClientMetric& Add(const std::string& name, MetricType type, std::string help,
                    std::vector<ClientMetric::Label> labels = {}) {
    auto [it, inserted] = index_.try_emplace(name, families_.size());
    if (inserted) families_.push_back(MetricFamily{name, std::move(help), type, {}});
    MetricFamily& family = families_[it->second];
    family.metric.emplace_back();
    family.metric.back().label = std::move(labels);
    return family.metric.back();
  }
  void Value(const std::string& name, MetricType type, const std::string& help, double value,
             std::vector<ClientMetric::Label> labels = {}) {
    ClientMetric& m = Add(name, type, help, std::move(labels));
    if (type == MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
  }
  std::vector<MetricFamily> Take() { return std::move(families_); }

 private:
  std::vector<MetricFamily> families_;
  absl::flat_hash_map<std::string, size_t> index_;
};

// "a=1,b=x" as pairs.
std::vector<std::pair<std::string, std::string>> Pairs(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view part : absl::StrSplit(Absl(text), ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    out.emplace_back(std::string(kv.first), std::string(kv.second));
  }
  return out;
}

bool Number(std::string_view text, double* value) {
  return !text.empty() && absl::SimpleAtod(Absl(text), value) && std::isfinite(*value);
}

std::string CommandLabel(std::string_view name) { return std::string(name); }

}  // namespace

std::vector<MetricFamily> MetricsFromInfo(std::string_view info) {
  Families families;
  std::vector<ClientMetric::Label> instance_labels;
  // commandstats feeds latencystats' summaries their count and sum.
  struct CommandFigures {
    double calls = 0, usec = 0;
  };
  std::map<std::string, CommandFigures> commands;
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> latency_lines;
  std::string section;
  for (absl::string_view raw_line : absl::StrSplit(Absl(info), '\n')) {
    std::string_view line = Std(absl::StripTrailingAsciiWhitespace(raw_line));
    if (line.empty()) continue;
    if (line[0] == '#') {
      section = absl::AsciiStrToLower(Absl(line.substr(line.find_first_not_of("# "))));
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string field(line.substr(0, colon));
    const std::string_view value = line.substr(colon + 1);
    if (section == "commandstats" && field.starts_with("cmdstat_")) {
      const std::string cmd = CommandLabel(std::string_view(field).substr(8));
      CommandFigures& figures = commands[cmd];
      for (const auto& [k, v] : Pairs(value)) {
        double n;
        if (!Number(v, &n)) continue;
        if (k == "calls") {
          figures.calls = n;
          families.Value("redis_commands_total", MetricType::Counter, "Total number of calls per command", n,
                         {{"cmd", cmd}});
        } else if (k == "usec") {
          figures.usec = n;
          families.Value("redis_commands_duration_seconds_total", MetricType::Counter,
                         "Total amount of time in seconds spent per command", n / 1e6, {{"cmd", cmd}});
        } else if (k == "rejected_calls") {
          families.Value("redis_commands_rejected_calls_total", MetricType::Counter,
                         "Total number of calls refused before they ran, per command", n, {{"cmd", cmd}});
        } else if (k == "failed_calls") {
          families.Value("redis_commands_failed_calls_total", MetricType::Counter,
                         "Total number of calls that answered an error, per command", n, {{"cmd", cmd}});
        }
      }
      continue;
    }
    if (section == "errorstats" && field.starts_with("errorstat_")) {
      for (const auto& [k, v] : Pairs(value)) {
        double n;
        if (k == "count" && Number(v, &n)) {
          families.Value("redis_errors_total", MetricType::Counter, "Total number of error replies, per kind", n,
                         {{"err", field.substr(10)}});
        }
      }
      continue;
    }
    if (section == "latencystats" && field.starts_with("latency_percentiles_usec_")) {
      latency_lines.emplace_back(field.substr(25), Pairs(value));
      continue;
    }
    if (section == "keyspace" && field.starts_with("db")) {
      for (const auto& [k, v] : Pairs(value)) {
        double n;
        if (!Number(v, &n)) continue;
        if (k == "keys") {
          families.Value("redis_db_keys", MetricType::Gauge, "Total number of keys by DB", n, {{"db", field}});
        } else if (k == "expires") {
          families.Value("redis_db_keys_expiring", MetricType::Gauge, "Total number of expiring keys by DB", n,
                         {{"db", field}});
        } else if (k == "avg_ttl") {
          families.Value("redis_db_avg_ttl_seconds", MetricType::Gauge, "Avg TTL in seconds", n / 1000, {{"db", field}});
        }
      }
      continue;
    }
    if (section == "loaders" && field.starts_with("loader") && field != "loaders") {
      std::vector<std::pair<std::string, std::string>> pairs = Pairs(value);
      std::vector<ClientMetric::Label> labels;
      for (const auto& [k, v] : pairs) {
        if (k == "template") labels.push_back({"loader", v});
        if (k == "source") labels.push_back({"source", v});
      }
      for (const auto& [k, v] : pairs) {
        double n;
        if (k == "breaker") {
          families.Value("strata_loader_breaker_open", MetricType::Gauge,
                         "1 while the loader's source circuit breaker is not closed", v == "closed" ? 0 : 1, labels);
        } else if (Number(v, &n)) {
          const bool counter = IsLoaderCounter(k);
          families.Value(absl::StrCat("strata_loader_", k, counter ? "_total" : ""),
                         counter ? MetricType::Counter : MetricType::Gauge, absl::StrCat("INFO loaders field ", k), n,
                         labels);
        }
      }
      continue;
    }
    if (section == "keyfamilies" && field.starts_with("keyfamily")) {
      std::vector<std::pair<std::string, std::string>> pairs = Pairs(value);
      std::vector<ClientMetric::Label> labels;
      for (const auto& [k, v] : pairs) {
        if (k == "name") labels.push_back({"family", v});
      }
      for (const auto& [k, v] : pairs) {
        double n;
        if (k == "name" || k == "glob" || !Number(v, &n)) continue;
        const bool counter = k == "hits" || k == "misses" || k == "evictions";
        const std::string name = k == "memory" ? "strata_keyfamily_memory_bytes" : absl::StrCat("strata_keyfamily_", k, counter ? "_total" : "");
        families.Value(name, counter ? MetricType::Counter : MetricType::Gauge,
                       absl::StrCat("Key family ", k, " (INFO keyfamilies)"), n, labels);
      }
      continue;
    }
    if (field.ends_with("_human")) continue;
    double n;
    if (!Number(value, &n)) {
      // Text: the instance's description, as redis_exporter's redis_instance_info labels.
      if (section == "server" || field == "role" || field == "maxmemory_policy" || field == "mem_allocator") {
        instance_labels.push_back({field, std::string(value)});
      }
      continue;
    }
    const auto& redis_names = RedisExporterNames();
    if (auto it = redis_names.find(field); it != redis_names.end()) {
      families.Value(absl::StrCat("redis_", it->second.name), it->second.type, absl::StrCat("INFO field ", field), n);
    } else if (IsStrataCounter(field)) {
      families.Value(absl::StrCat("strata_", field, "_total"), MetricType::Counter, absl::StrCat("INFO field ", field), n);
    } else {
      families.Value(absl::StrCat("strata_", field), MetricType::Gauge, absl::StrCat("INFO field ", field), n);
    }
  }
  for (const auto& [cmd, pairs] : latency_lines) {
    ClientMetric& m = families.Add("redis_latency_percentiles_usec", MetricType::Summary,
                                   "Latency percentiles in microseconds per command (latencystats)", {{"cmd", cmd}});
    for (const auto& [k, v] : pairs) {
      double q, usec;
      if (k.size() > 1 && k[0] == 'p' && Number(std::string_view(k).substr(1), &q) && Number(v, &usec)) {
        m.summary.quantile.push_back({std::round(q * 1e4) / 1e6, usec});  // 99.9 -> 0.999 exactly
      }
    }
    if (auto it = commands.find(cmd); it != commands.end()) {
      m.summary.sample_count = static_cast<uint64_t>(it->second.calls);
      m.summary.sample_sum = it->second.usec;
    }
  }
  if (!instance_labels.empty()) {
    families.Value("redis_instance_info", MetricType::Gauge, "Information about the strata instance", 1,
                   std::move(instance_labels));
  }
  return families.Take();
}

namespace {

// A histogram of `counts` (LatencyHistogram buckets) with Prometheus buckets at the powers of two
// from 2^first to 2^last units, which are LatencyHistogram bucket boundaries: each bucket's count
// is exact (values below 2^k, i.e. at most 2^k - 1 units).
ClientMetric::Histogram PowerOfTwoHistogram(const uint64_t* counts, int first, int last, double units_per_second,
                                            double sum_seconds) {
  ClientMetric::Histogram h;
  uint64_t cumulative = 0, total = 0;
  for (int b = 0; b < LatencyHistogram::kBuckets; ++b) total += counts[b];
  int bucket = 0;
  for (int k = first; k <= last; ++k) {
    const uint64_t bound = uint64_t{1} << k;
    while (bucket < LatencyHistogram::kBuckets && LatencyHistogram::BucketUpperBound(bucket) < bound) {
      cumulative += counts[bucket++];
    }
    // Divided, not multiplied by 1e-9: 8192 / 1e9 prints as 8.192e-06.
    h.bucket.push_back({cumulative, static_cast<double>(bound) / units_per_second});
  }
  h.bucket.push_back({total, std::numeric_limits<double>::infinity()});
  h.sample_count = total;
  h.sample_sum = sum_seconds;
  return h;
}

std::vector<uint64_t> CountsOf(const LatencyHistogram& h, double* estimated_sum) {
  std::vector<uint64_t> counts(LatencyHistogram::kBuckets);
  *estimated_sum = 0;
  for (int b = 0; b < LatencyHistogram::kBuckets; ++b) {
    counts[b] = h.bucket(b);
    *estimated_sum += static_cast<double>(counts[b]) * static_cast<double>(LatencyHistogram::BucketUpperBound(b));
  }
  return counts;
}

}  // namespace

class MetricsExporter::Collector : public prometheus::Collectable {
 public:
  explicit Collector(Server& server) : server_(server) {}

  std::vector<MetricFamily> Collect() const override {
    std::vector<MetricFamily> families = MetricsFromInfo(server_.Info({"everything"}));
    AddCommandHistograms(&families);
    AddLoaderHistograms(&families);
    return families;
  }

 private:
  void AddCommandHistograms(std::vector<MetricFamily>* families) const {
    MetricFamily family{"strata_command_duration_seconds",
                        "Time to run a command, per command (latency-tracking)", MetricType::Histogram, {}};
    std::vector<uint64_t> counts;
    for (const CommandSpec* spec : server_.commands().by_id()) {
      if (!server_.command_stats().Histogram(spec->id, &counts)) continue;
      const CommandTotals totals = server_.command_stats().Totals(spec->id);
      ClientMetric m;
      m.label = {{"cmd", std::string(spec->name)}};
      // 1.024 us .. 17 s, doubling.
      m.histogram = PowerOfTwoHistogram(counts.data(), 10, 34, 1e9, static_cast<double>(totals.nanos) / 1e9);
      family.metric.push_back(std::move(m));
    }
    families->push_back(std::move(family));
  }

  // Load, source, spill read and invalidation lag histograms. Their sums are estimated from the
  // buckets (each value counted at its bucket's upper bound, within 6%): these histograms
  // keep counts only.
  void AddLoaderHistograms(std::vector<MetricFamily>* families) const {
    MetricFamily loads{"strata_loader_duration_seconds", "Time of a loader's source calls (sum estimated)",
                       MetricType::Histogram, {}};
    for (const auto& loader : server_.loaders().loaders()) {
      double sum;
      const std::vector<uint64_t> counts = CountsOf(loader->stats().latency_us, &sum);
      ClientMetric m;
      m.label = {{"loader", loader->name()}, {"source", loader->source().name()}};
      m.histogram = PowerOfTwoHistogram(counts.data(), 4, 25, 1e6, sum / 1e6);  // 16 us .. 33 s
      loads.metric.push_back(std::move(m));
    }
    families->push_back(std::move(loads));
    MetricFamily sources{"strata_source_query_duration_seconds",
                         "Time of a source's calls, over its loaders (sum estimated)", MetricType::Histogram, {}};
    for (const auto& source : server_.loaders().sources()) {
      double sum;
      const std::vector<uint64_t> counts = CountsOf(source->query_latency_us(), &sum);
      ClientMetric m;
      m.label = {{"source", source->name()}};
      m.histogram = PowerOfTwoHistogram(counts.data(), 4, 25, 1e6, sum / 1e6);
      sources.metric.push_back(std::move(m));
    }
    families->push_back(std::move(sources));
    if (server_.spill_enabled()) {
      double sum;
      const std::vector<uint64_t> counts = CountsOf(server_.spill_promoter().read_latency_us(), &sum);
      MetricFamily spill{"strata_spill_read_duration_seconds", "Time to read a key back from the spill (sum estimated)",
                         MetricType::Histogram, {}};
      ClientMetric m;
      m.histogram = PowerOfTwoHistogram(counts.data(), 2, 22, 1e6, sum / 1e6);  // 4 us .. 4 s
      spill.metric.push_back(std::move(m));
      families->push_back(std::move(spill));
    }
    double sum;
    const std::vector<uint64_t> counts = CountsOf(server_.invalidator().lag_histogram_ms(), &sum);
    MetricFamily lag{"strata_invalidation_lag_seconds",
                     "From a change at the source (the message's ts) to its keys dropped (sum estimated)",
                     MetricType::Histogram, {}};
    ClientMetric m;
    m.histogram = PowerOfTwoHistogram(counts.data(), 0, 20, 1e3, sum / 1e3);  // 1 ms .. 17 min
    lag.metric.push_back(std::move(m));
    families->push_back(std::move(lag));
  }

  Server& server_;
};

absl::StatusOr<std::unique_ptr<MetricsExporter>> MetricsExporter::Start(Server& server, int port,
                                                                       const std::vector<std::string>& bind) {
  auto listening = [&](bool with_ipv6) {
    std::vector<std::string> ports;
    for (const std::string& address : bind) {
      if (address == "*" || address.empty()) {
        ports.push_back(absl::StrCat(port));
      } else if (address.find(':') != std::string::npos) {
        if (with_ipv6) ports.push_back(absl::StrCat("[", address, "]:", port));
      } else {
        ports.push_back(absl::StrCat(address, ":", port));
      }
    }
    return absl::StrJoin(ports, ",");
  };
  std::unique_ptr<MetricsExporter> exporter(new MetricsExporter());
  exporter->collector_ = std::make_shared<Collector>(server);
  std::string error;
  for (bool with_ipv6 : {true, false}) {
    const std::string ports = listening(with_ipv6);
    if (ports.empty()) continue;
    try {
      exporter->exposer_ = std::make_unique<prometheus::Exposer>(ports, 2);
      break;
    } catch (const std::exception& e) {
      error = absl::StrCat("metrics-port: cannot listen on ", ports, ": ", e.what());
    }
  }
  if (exporter->exposer_ == nullptr) return absl::UnavailableError(error);
  return exporter;
}

void MetricsExporter::Publish() { exposer_->RegisterCollectable(collector_); }

MetricsExporter::~MetricsExporter() = default;

std::vector<int> MetricsExporter::ports() const { return exposer_->GetListeningPorts(); }

}  // namespace strata::server
