// BenchOptions: the command line of strata-bench, parsed and validated.
//
// Contract: ParseBenchOptions either returns options that are consistent with each other
// (ranges checked, exclusive options not combined) or an InvalidArgument Status whose message
// names the offending option; it never exits or prints. BenchUsage() is the --help text and
// documents every option.
#ifndef STRATA_BENCH_BENCH_OPTIONS_H_
#define STRATA_BENCH_BENCH_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/strata_bench/key_generator.h"

namespace strata_bench {

struct BenchOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  int threads = 1;
  int clients_per_thread = 50;
  int pipeline = 1;
  // Exactly one of these bounds the run: a total request count over all clients (the
  // default, 100000) or a duration.
  uint64_t requests = 100000;
  double test_time_sec = 0;  // > 0: run for this long instead of counting requests
  uint32_t ratio_sets = 1;
  uint32_t ratio_gets = 10;
  size_t data_size = 32;
  std::string key_prefix = "key:";
  uint64_t key_min = 0;
  uint64_t key_max = 99999;
  KeyPattern key_pattern;
  uint64_t seed = 1;
  int resp = 2;
  std::string auth;  // empty: no AUTH; "USER:PASSWORD" or "PASSWORD"
  bool cache_aside = false;
  // --cache-aside with a database: on a GET miss, query it (:id bound to the key's index) and
  // SET what it returned. Empty: SET the fixed --data-size value, no database.
  std::string source_url;
  std::string source_query;
  int source_pool = 0;  // 0: the source's own default pool size
  uint64_t cold_storm = 0;  // > 0: cold-storm mode with this many distinct fresh keys
  // --cache-aside: this percentage of the GETs ask one-time keys from scan_start up (a scan
  // polluting the cache) instead of --key-pattern keys. Parsing sets scan_start to
  // key_max + 1 unless --scan-start gave it.
  int scan_share = 0;
  uint64_t scan_start = 0;
  // > 0: pub/sub mode. This many subscriber connections SUBSCRIBE to pubsub_channel before the
  // load starts, and the clients send PUBLISH pubsub_channel <stamped payload> instead of
  // SET/GET; every message must reach every subscriber.
  int pubsub_subscribers = 0;
  std::string pubsub_channel = "strata-bench";
  // Client-side caching: every client connection sends CLIENT TRACKING on after its handshake,
  // and the invalidation pushes that arrive between replies are counted. Needs RESP3 (parsing
  // sets resp to 3; an explicit --resp 2 is refused).
  bool tracking = false;
  std::string json_path;
  std::string plot_path;
  std::string compare_path;
  std::string label;  // names the run in plots; default describes the load
  double reply_timeout_sec = 10;
  bool help = false;

  int total_clients() const { return threads * clients_per_thread; }
  bool timed() const { return test_time_sec > 0; }
  bool has_source() const { return !source_url.empty(); }
  bool pubsub() const { return pubsub_subscribers > 0; }
};

// `args` excludes the program name. --opt VALUE and --opt=VALUE are both accepted.
absl::StatusOr<BenchOptions> ParseBenchOptions(const std::vector<std::string>& args);

std::string BenchUsage();

// A one-line description of the load, for the report header and the default plot label.
std::string DescribeLoad(const BenchOptions& options);

}  // namespace strata_bench

#endif  // STRATA_BENCH_BENCH_OPTIONS_H_
