// strata-bench: a memtier-style load generator for strata and any Redis-compatible server.
// main() owns every object of a run: options, encoder, run control, workers; see --help.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "bench/strata_bench/bench_options.h"
#include "bench/strata_bench/bench_report.h"
#include "bench/strata_bench/bench_stats.h"
#include "bench/strata_bench/bench_worker.h"
#include "bench/strata_bench/client_connection.h"
#include "bench/strata_bench/latency_plot.h"
#include "bench/strata_bench/run_control.h"
#include "bench/strata_bench/source_lookup.h"
#include "bench/strata_bench/workload.h"

namespace strata_bench {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRunFailed = 1;
constexpr int kExitUsage = 2;
// The run completed and its figures are valid, but the --plot picture was not drawn.
constexpr int kExitPlotNotDrawn = 3;

int UsageError(const absl::Status& status) {
  std::cerr << "strata-bench: " << status.message() << "\nTry 'strata-bench --help'.\n";
  return kExitUsage;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// A prefix no earlier run has used: the cold storm must ask for keys nobody has set. It is
// random on purpose, independent of --seed, which fixes the key sequence but must not make
// a second storm find the first one's cache-aside SETs.
std::string FreshColdPrefix(const std::string& key_prefix) {
  std::random_device device;
  const uint64_t entropy = (uint64_t{device()} << 32) ^ device() ^ static_cast<uint64_t>(MonotonicNanos()) ^
                           (static_cast<uint64_t>(getpid()) << 16);
  return absl::StrFormat("%scold-%012x:", key_prefix, ClientSeed(entropy, 0) & 0xffffffffffffULL);
}

// The load the workers actually run. A cold storm is N GETs of the keys 0..N-1 under a fresh
// prefix, spread over the clients by the sequential pattern: client c of C asks c, c+C, ...,
// and with budgets of N/C (+1) each, every key is asked exactly once.
BenchOptions EffectivePlan(const BenchOptions& options, std::string* key_prefix) {
  BenchOptions plan = options;
  *key_prefix = options.key_prefix;
  if (options.cold_storm > 0) {
    *key_prefix = FreshColdPrefix(options.key_prefix);
    plan.key_pattern = KeyPattern{KeyPatternKind::kSequential, 0};
    plan.key_min = 0;
    plan.key_max = options.cold_storm - 1;
    plan.ratio_sets = 0;
    plan.ratio_gets = 1;
    plan.requests = options.cold_storm;
    plan.test_time_sec = 0;
  }
  return plan;
}

// The previous progress sample, for the current rate.
struct ProgressSample {
  uint64_t requests = 0;
  absl::Time when;
};

void PrintProgress(const BenchOptions& options, const std::vector<std::unique_ptr<BenchWorker>>& workers,
                   absl::Time started, ProgressSample* last) {
  WorkerProgress sum;
  for (const auto& worker : workers) {
    const WorkerProgress p = worker->progress();
    sum.requests += p.requests;
    sum.hits += p.hits;
    sum.misses += p.misses;
    sum.errors += p.errors;
    sum.delivered += p.delivered;
  }
  const absl::Time now = absl::Now();
  const double interval_sec = absl::ToDoubleSeconds(now - last->when);
  const double rate = interval_sec > 0 ? static_cast<double>(sum.requests - last->requests) / interval_sec : 0.0;
  const uint64_t lookups = sum.hits + sum.misses;
  // \r and erase-to-end-of-line: the line updates in place on the terminal.
  if (options.pubsub()) {
    std::cerr << absl::StrFormat("\r[%4.0fs] %d published, %.0f ops/s, %d delivered, %d errors\033[K",
                                 absl::ToDoubleSeconds(now - started), sum.requests, rate, sum.delivered, sum.errors);
    *last = {sum.requests, now};
    return;
  }
  std::cerr << absl::StrFormat("\r[%4.0fs] %d requests, %.0f ops/s, hit ratio %.1f%%, %d errors\033[K",
                               absl::ToDoubleSeconds(now - started), sum.requests, rate,
                               lookups == 0 ? 0.0 : 100.0 * static_cast<double>(sum.hits) / lookups, sum.errors);
  *last = {sum.requests, now};
}

// Draws the latency plot of `result` (and of the --compare runs) into options.plot_path.
absl::Status DrawPlot(const BenchOptions& options, const RunResult& result, std::vector<LatencySeries> compared) {
  const char* path_env = getenv("PATH");
  absl::StatusOr<std::string> gnuplot = FindGnuplot(path_env != nullptr ? path_env : "/usr/bin:/bin");
  if (!gnuplot.ok()) return gnuplot.status();
  std::vector<LatencySeries> series = SeriesOfRun(result);
  const size_t primary_count = series.size();
  for (LatencySeries& s : compared) series.push_back(std::move(s));
  const std::string title = compared.empty() ? "Latency by percentile distribution"
                                             : "Latency by percentile distribution (dashed: --compare run)";
  return WriteLatencyPlot(*gnuplot, options.plot_path, title, series, primary_count);
}

int Run(const BenchOptions& options) {
  // Read the run to compare with first: a bad file should not cost a whole benchmark.
  std::vector<LatencySeries> compared;
  if (!options.compare_path.empty()) {
    absl::StatusOr<std::string> text = ReadFile(options.compare_path);
    if (!text.ok()) return UsageError(absl::InvalidArgumentError(absl::StrCat("--compare: ", text.status().message())));
    absl::StatusOr<std::vector<LatencySeries>> series = SeriesFromJsonReport(*text);
    if (!series.ok()) {
      return UsageError(absl::InvalidArgumentError(
          absl::StrCat("--compare ", options.compare_path, ": ", series.status().message())));
    }
    compared = std::move(*series);
  }

  absl::StatusOr<ServerAddress> server = ResolveServer(options.host, options.port);
  if (!server.ok()) {
    std::cerr << "strata-bench: " << server.status().message() << "\n";
    return kExitRunFailed;
  }
  // The database of --cache-aside --source, shared by every worker; declared before them so it
  // outlives them, stopped explicitly once they are joined.
  std::unique_ptr<SourceLookup> lookup;
  if (options.has_source()) {
    const int timeout_ms = static_cast<int>(std::min(options.reply_timeout_sec * 1000, 1e9));
    absl::StatusOr<std::unique_ptr<SourceLookup>> made =
        SourceLookup::Make(options.source_url, options.source_query, options.source_pool, timeout_ms);
    if (!made.ok()) return UsageError(made.status());
    lookup = std::move(*made);
    if (absl::Status s = lookup->Start(); !s.ok()) {
      std::cerr << "strata-bench: --source: " << s.message() << "\n";
      return kExitRunFailed;
    }
  }
  std::string key_prefix;
  const BenchOptions plan = EffectivePlan(options, &key_prefix);
  const RequestEncoder encoder(key_prefix, plan.data_size);

  RunControl control(plan.threads);
  std::vector<std::unique_ptr<BenchWorker>> workers;
  for (int t = 0; t < plan.threads; ++t) {
    workers.push_back(std::make_unique<BenchWorker>(t, plan, encoder, *server, &control, lookup.get()));
  }
  std::vector<std::thread> threads;
  for (auto& worker : workers) threads.emplace_back([w = worker.get()] { w->Run(); });

  // Progress only on a terminal: in a pipe or a log file, a line per second is noise.
  const bool progress = isatty(STDERR_FILENO) == 1;
  const absl::Time started = absl::Now();
  ProgressSample last{0, started};
  bool printed_progress = false;
  while (!control.WaitAllFinished(absl::Seconds(1))) {
    if (progress) {
      PrintProgress(options, workers, started, &last);
      printed_progress = true;
    }
  }
  if (printed_progress) std::cerr << "\r\033[K";
  for (std::thread& thread : threads) thread.join();
  // Queries still in flight (only after a failure) complete with an error into mailboxes nobody reads.
  if (lookup != nullptr) lookup->Stop();

  if (absl::Status failure = control.failure(); !failure.ok()) {
    std::cerr << "strata-bench: error: " << failure.message() << "\n";
    return kExitRunFailed;
  }

  RunResult result;
  result.label = options.label.empty() ? DescribeLoad(options) : options.label;
  result.cold_storm_prefix = options.cold_storm > 0 ? key_prefix : "";
  if (lookup != nullptr) result.source = lookup->Describe();
  int64_t first_start = INT64_MAX;
  int64_t last_end = 0;
  int64_t last_delivery = 0;
  for (const auto& worker : workers) {
    result.stats.Merge(worker->stats());
    first_start = std::min(first_start, worker->start_ns());
    last_end = std::max(last_end, worker->end_ns());
    last_delivery = std::max(last_delivery, worker->last_delivery_ns());
  }
  result.duration_sec = last_end > first_start ? static_cast<double>(last_end - first_start) / 1e9 : 0.0;
  result.delivery_duration_sec =
      last_delivery > first_start ? static_cast<double>(last_delivery - first_start) / 1e9 : 0.0;
  const PubSubTally pubsub = TallyPubSub(options, result.stats);

  std::cout << FormatTextReport(options, result) << std::flush;
  int exit_code = result.stats.errors() > 0 || result.stats.source.errors > 0 || !pubsub.ok() ? kExitRunFailed
                                                                                              : kExitOk;
  if (!options.json_path.empty()) {
    if (absl::Status s = WriteFile(options.json_path, FormatJsonReport(options, result)); !s.ok()) {
      std::cerr << "strata-bench: " << s.message() << "\n";
      exit_code = kExitRunFailed;
    }
  }
  if (!options.plot_path.empty()) {
    // The figures above are the result, so they are printed whatever happens here; but a user who
    // asked for a picture and got none must not miss it: say so on stdout and stderr, and exit 3.
    absl::Status plotted = DrawPlot(options, result, compared);
    if (!plotted.ok()) {
      std::cout << "Plot: NOT DRAWN (" << options.plot_path << "): " << plotted.message() << "\n" << std::flush;
      std::cerr << "strata-bench: --plot " << options.plot_path << " was not drawn: " << plotted.message() << "\n";
      if (exit_code == kExitOk) exit_code = kExitPlotNotDrawn;
    } else {
      std::cout << "Plot: " << options.plot_path << "\n" << std::flush;
    }
  }
  if (result.stats.errors() > 0) {
    std::cerr << "strata-bench: " << result.stats.errors() << " error replies; first: " << result.stats.first_error
              << "\n";
  }
  if (!pubsub.ok()) {
    std::cerr << absl::StrFormat("strata-bench: pub/sub: %d of %d deliveries missing, %d out of order, %d malformed\n",
                                 pubsub.missing, pubsub.expected, result.stats.delivery.out_of_order,
                                 result.stats.delivery.malformed);
  }
  if (result.stats.source.errors > 0) {
    std::cerr << "strata-bench: " << result.stats.source.errors
              << " source queries failed; first: " << result.stats.source.first_error << "\n";
  }
  return exit_code;
}

}  // namespace
}  // namespace strata_bench

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<strata_bench::BenchOptions> options = strata_bench::ParseBenchOptions(args);
  if (!options.ok()) return strata_bench::UsageError(options.status());
  if (options->help) {
    std::cout << strata_bench::BenchUsage();
    return 0;
  }
  return strata_bench::Run(*options);
}
