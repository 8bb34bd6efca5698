// The operator's statistics: per-command counters and histograms, the slow log, the latency
// monitor, and their Prometheus translation.
#include <gtest/gtest.h>

#include "prometheus/metric_family.h"
#include "prometheus/text_serializer.h"
#include "server/command_stats.h"
#include "server/latency_monitor.h"
#include "server/metrics.h"
#include "server/slowlog.h"

namespace strata::server {
namespace {

TEST(CommandStats, ReadersSumThreadsAndResetSubtractsASnapshot) {
  CommandStats thread_a(4), thread_b(4);
  CommandStatsReader reader;
  reader.set_tables({&thread_a, &thread_b});
  thread_a.Record(2, 1500, /*failed=*/false, /*track_latency=*/true);
  thread_b.Record(2, 2500, /*failed=*/true, /*track_latency=*/true);
  thread_b.Reject(2);
  CommandTotals t = reader.Totals(2);
  EXPECT_EQ(t.calls, 2u);
  EXPECT_EQ(t.nanos, 4000u);
  EXPECT_EQ(t.failed_calls, 1u);
  EXPECT_EQ(t.rejected_calls, 1u);
  EXPECT_EQ(reader.Totals(1).calls, 0u);
  std::vector<uint64_t> counts;
  ASSERT_TRUE(reader.Histogram(2, &counts));
  EXPECT_EQ(LatencyHistogram::PercentileOf(counts.data(), 100), 2559);  // 2500's bucket, within 1/16
  EXPECT_FALSE(reader.Histogram(1, &counts));

  reader.Reset();
  EXPECT_EQ(reader.Totals(2).calls, 0u);
  EXPECT_FALSE(reader.Histogram(2, &counts)) << "no call since the reset";
  thread_a.Record(2, 100, false, true);
  EXPECT_EQ(reader.Totals(2).calls, 1u);
  EXPECT_EQ(reader.Totals(2).nanos, 100u);
  ASSERT_TRUE(reader.Histogram(2, &counts));
  EXPECT_EQ(LatencyHistogram::PercentileOf(counts.data(), 50), 103);
}

TEST(CommandStats, LatencyTrackingOffRecordsNoHistogram) {
  CommandStats thread(2);
  CommandStatsReader reader;
  reader.set_tables({&thread});
  thread.Record(1, 1000, false, /*track_latency=*/false);
  std::vector<uint64_t> counts;
  EXPECT_EQ(reader.Totals(1).calls, 1u);
  EXPECT_FALSE(reader.Histogram(1, &counts));
}

TEST(ErrorStats, CountsByFirstWordAndCapsKinds) {
  ErrorStats errors;
  errors.OnErrorReply("ERR syntax error");
  errors.OnErrorReply("WRONGTYPE Operation against a key holding the wrong kind of value");
  errors.OnErrorReply("ERR unknown command");
  EXPECT_EQ(errors.total(), 3u);
  const auto kinds = errors.Kinds();
  ASSERT_EQ(kinds.size(), 2u);
  EXPECT_EQ(kinds[0], (std::pair<std::string, uint64_t>{"ERR", 2}));
  EXPECT_EQ(kinds[1], (std::pair<std::string, uint64_t>{"WRONGTYPE", 1}));
  for (size_t i = 0; i < 200; ++i) errors.OnErrorReply("KIND" + std::to_string(i) + " x");
  EXPECT_EQ(errors.Kinds().size(), ErrorStats::kMaxKinds);
  EXPECT_EQ(errors.total(), 203u);
}

TEST(SlowLog, KeepsNewestFirstAndTrims) {
  SlowLog log;
  for (int i = 0; i < 5; ++i) {
    const std::string_view args[] = {"set", "k", std::to_string(i) == "0" ? "0" : "x"};
    log.Add(args, 1000 + i, 20000 + i, "127.0.0.1:5000", "app", 3);
  }
  EXPECT_EQ(log.size(), 3u);
  const auto newest = log.Newest(2);
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[0].id, 4u);
  EXPECT_EQ(newest[0].micros, 20004);
  EXPECT_EQ(newest[1].id, 3u);
  EXPECT_EQ(log.Newest(-1).size(), 3u);
  const std::string_view one[] = {"get", "k"};
  log.Add(one, 2000, 30000, "127.0.0.1:5000", "", 1);  // a smaller max-len takes effect here
  EXPECT_EQ(log.size(), 1u);
  log.Reset();
  EXPECT_EQ(log.size(), 0u);
}

TEST(SlowLog, CutsLongArgumentsAndLongCommandsAsRedisDoes) {
  SlowLog log;
  std::vector<std::string> words = {"rpush", "list"};
  for (int i = 0; i < 40; ++i) words.push_back(std::string(i == 0 ? 200 : 1, 'v'));
  std::vector<std::string_view> args(words.begin(), words.end());
  log.Add(args, 1, 1, "", "", 10);
  const SlowLog::Entry e = log.Newest(1)[0];
  ASSERT_EQ(e.args.size(), SlowLog::kMaxArguments);
  EXPECT_EQ(e.args[2], std::string(128, 'v') + "... (72 more bytes)");
  EXPECT_EQ(e.args.back(), "... (11 more arguments)");  // 42 given, 31 kept
}

TEST(LatencyMonitor, OneSamplePerSecondKeepsTheWorst) {
  LatencyMonitor monitor;
  monitor.Add("command", 20, 100);
  monitor.Add("command", 50, 100);
  monitor.Add("command", 30, 101);
  const auto history = monitor.History("command");
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].unix_seconds, 100);
  EXPECT_EQ(history[0].millis, 50u);
  EXPECT_EQ(history[1].millis, 30u);
  const auto latest = monitor.LatestSamples();
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].latest_millis, 30u);
  EXPECT_EQ(latest[0].max_millis, 50u);
  EXPECT_EQ(monitor.Graph("command", 105).rfind("command - high 50 ms, low 30 ms (all time high 50 ms)\n", 0), 0u);
  EXPECT_EQ(monitor.Graph("nothing", 105), "");
  EXPECT_EQ(monitor.Reset({"nothing"}), 0);
  EXPECT_EQ(monitor.Reset({}), 1);
  EXPECT_TRUE(monitor.History("command").empty());
}

TEST(LatencyMonitor, KeepsTheLast160Seconds) {
  LatencyMonitor monitor;
  for (int s = 1; s <= 200; ++s) monitor.Add("expire-cycle", static_cast<uint64_t>(s), s);
  const auto history = monitor.History("expire-cycle");
  ASSERT_EQ(history.size(), LatencyMonitor::kSamples);
  EXPECT_EQ(history.front().unix_seconds, 41);
  EXPECT_EQ(history.back().unix_seconds, 200);
  EXPECT_EQ(monitor.MaxMillis("expire-cycle"), 200u);
}

const prometheus::MetricFamily* FamilyNamed(const std::vector<prometheus::MetricFamily>& families, std::string_view name) {
  for (const auto& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

TEST(MetricsFromInfo, UsesRedisExporterNamesAndLabels) {
  const std::string info =
      "# Server\r\nredis_version:7.0.15\r\nuptime_in_seconds:12\r\n\r\n"
      "# Clients\r\nconnected_clients:3\r\n\r\n"
      "# Memory\r\nused_memory:1000\r\nused_memory_human:1000B\r\n\r\n"
      "# Stats\r\nkeyspace_hits:7\r\nspill_reads:2\r\n\r\n"
      "# Commandstats\r\ncmdstat_get:calls=4,usec=10,usec_per_call=2.50,rejected_calls=1,failed_calls=0\r\n"
      "cmdstat_config|get:calls=1,usec=3,usec_per_call=3.00,rejected_calls=0,failed_calls=0\r\n\r\n"
      "# Errorstats\r\nerrorstat_WRONGTYPE:count=2\r\n\r\n"
      "# Latencystats\r\nlatency_percentiles_usec_get:p50=1.003,p99.9=4.001\r\n\r\n"
      "# Loaders\r\nloaders:1\r\nloader0:template=product:{id},source=shop,loads=5,breaker=closed\r\n\r\n"
      "# Keyfamilies\r\nkeyfamily0:name=users,glob=user:*,hits=3,misses=1,hit_ratio=0.7500,keys=2,memory=80,evictions=0\r\n\r\n"
      "# Keyspace\r\ndb0:keys=5,expires=1,avg_ttl=2000\r\n";
  const auto families = MetricsFromInfo(info);
  auto value = [&](std::string_view name, size_t i = 0) {
    const prometheus::MetricFamily* f = FamilyNamed(families, name);
    EXPECT_NE(f, nullptr) << name;
    if (f == nullptr || f->metric.size() <= i) return -1.0;
    return f->type == prometheus::MetricType::Counter ? f->metric[i].counter.value : f->metric[i].gauge.value;
  };
  EXPECT_EQ(value("redis_uptime_in_seconds"), 12);
  EXPECT_EQ(value("redis_connected_clients"), 3);
  EXPECT_EQ(value("redis_memory_used_bytes"), 1000);
  EXPECT_EQ(FamilyNamed(families, "strata_used_memory_human"), nullptr);
  EXPECT_EQ(value("redis_keyspace_hits_total"), 7);
  EXPECT_EQ(value("strata_spill_reads_total"), 2);
  EXPECT_EQ(value("redis_commands_total"), 4);
  EXPECT_EQ(FamilyNamed(families, "redis_commands_total")->metric[1].label[0].value, "config|get");
  EXPECT_DOUBLE_EQ(value("redis_commands_duration_seconds_total"), 10e-6);
  EXPECT_EQ(value("redis_commands_rejected_calls_total"), 1);
  EXPECT_EQ(value("redis_errors_total"), 2);
  EXPECT_EQ(FamilyNamed(families, "redis_errors_total")->metric[0].label[0].value, "WRONGTYPE");
  const auto* summary = FamilyNamed(families, "redis_latency_percentiles_usec");
  ASSERT_NE(summary, nullptr);
  ASSERT_EQ(summary->metric[0].summary.quantile.size(), 2u);
  EXPECT_DOUBLE_EQ(summary->metric[0].summary.quantile[1].quantile, 0.999);
  EXPECT_EQ(summary->metric[0].summary.sample_count, 4u);
  EXPECT_EQ(value("strata_loader_loads_total"), 5);
  EXPECT_EQ(FamilyNamed(families, "strata_loader_loads_total")->metric[0].label[0].value, "product:{id}");
  EXPECT_EQ(value("strata_loader_breaker_open"), 0);
  EXPECT_EQ(value("strata_keyfamily_hits_total"), 3);
  EXPECT_EQ(value("strata_keyfamily_hit_ratio"), 0.75);
  EXPECT_EQ(value("strata_keyfamily_memory_bytes"), 80);
  EXPECT_EQ(value("redis_db_keys"), 5);
  EXPECT_EQ(value("redis_db_keys_expiring"), 1);
  EXPECT_EQ(value("redis_db_avg_ttl_seconds"), 2);
  const auto* instance = FamilyNamed(families, "redis_instance_info");
  ASSERT_NE(instance, nullptr);
  EXPECT_EQ(instance->metric[0].label[0].name, "redis_version");
  // And the exposition serializes (the e2e tests parse it with a real Prometheus parser).
  const std::string text = prometheus::TextSerializer().Serialize(families);
  EXPECT_NE(text.find("redis_commands_total{cmd=\"get\"} 4"), std::string::npos) << text;
}

}  // namespace
}  // namespace strata::server
