// Prometheus metrics (DESIGN section 5, `metrics-port`): /metrics in the Prometheus text format,
// served by prometheus-cpp's exposer on its own threads, on the `bind` addresses.
//
// Contract: a scrape reads the server afresh (INFO's figures and the latency histograms), so
// nothing on the command path knows metrics exist, and /metrics always agrees with INFO. Names
// follow redis_exporter's where it has one (redis_connected_clients, redis_commands_total{cmd},
// redis_db_keys{db}...), so dashboards built for it work; strata's own figures are strata_*.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace prometheus {
class Exposer;
struct MetricFamily;
}  // namespace prometheus

namespace strata::server {

class Server;

class MetricsExporter {
 public:
  // Listens on `port` at each of `bind` (an address that cannot be bound is an error, except
  // that IPv6 ones are dropped when the host has no IPv6, as Redis's "-::1" allows).
  static absl::StatusOr<std::unique_ptr<MetricsExporter>> Start(Server& server, int port,
                                                                const std::vector<std::string>& bind);
  ~MetricsExporter();
  // Starts answering scrapes with the server's figures (until then /metrics has only the
  // exposer's own): called once the server's I/O threads exist.
  void Publish();
  // The ports really listened on (for logs and tests).
  std::vector<int> ports() const;

 private:
  class Collector;
  MetricsExporter() = default;
  std::shared_ptr<Collector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

// The metric families INFO's text stands for (every numeric field; keyspace, commandstats,
// errorstats, latencystats and loader lines as labelled series). Public for unit tests.
std::vector<prometheus::MetricFamily> MetricsFromInfo(std::string_view info);

}  // namespace strata::server
