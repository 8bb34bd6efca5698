#include "bench/strata_bench/bench_report.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/numbers.h"
#include "loaders/json.h"

namespace strata_bench {

namespace {

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out += "\"";
  return out;
}

}  // namespace


namespace {

struct NamedCommand {
  absl::string_view name;
  const CommandStats* stats;
  bool is_get;
};

double PerSecond(uint64_t count, double seconds) {
  return seconds > 0 ? static_cast<double>(count) / seconds : 0.0;
}

std::string PercentileKey(double percentile) { return absl::StrCat("p", percentile); }

void AppendJsonCommand(const NamedCommand& command, double duration_sec, std::string* out) {
  const CommandStats& s = *command.stats;
  const LatencyHistogram& h = s.latency;
  absl::StrAppendFormat(out, "    %s: {\n", JsonQuote(command.name));
  absl::StrAppendFormat(out, "      \"requests\": %d,\n      \"errors\": %d,\n", s.requests, s.errors);
  if (command.is_get) absl::StrAppendFormat(out, "      \"hits\": %d,\n      \"misses\": %d,\n", s.hits, s.misses);
  absl::StrAppendFormat(out, "      \"ops_per_sec\": %.2f,\n", PerSecond(s.requests, duration_sec));
  absl::StrAppendFormat(out, "      \"latency_us\": {\"mean\": %.2f, \"min\": %d", h.mean(), h.min());
  for (double p : kReportPercentiles) absl::StrAppendFormat(out, ", \"%s\": %d", PercentileKey(p), h.ValueAtPercentile(p));
  absl::StrAppendFormat(out, ", \"max\": %d},\n", h.max());
  out->append("      \"percentile_distribution\": [");
  const std::vector<PercentilePoint> points = h.PercentileDistribution();
  for (size_t i = 0; i < points.size(); ++i) {
    absl::StrAppendFormat(out, "%s\n        {\"percentile\": %.6f, \"latency_us\": %d}", i == 0 ? "" : ",",
                          points[i].percentile, points[i].value_micros);
  }
  out->append(points.empty() ? "]\n    }" : "\n      ]\n    }");
}

// The --cache-aside LOOKUP figures, as the "lookups" object of the JSON report.
void AppendJsonLookups(const LookupStats& s, double duration_sec, std::string* out) {
  const LatencyHistogram& h = s.latency;
  absl::StrAppendFormat(out, "  \"lookups\": {\n    \"requests\": %d,\n    \"errors\": %d,\n", s.requests, s.errors);
  absl::StrAppendFormat(out, "    \"ops_per_sec\": %.2f,\n", PerSecond(s.requests, duration_sec));
  absl::StrAppendFormat(out, "    \"latency_us\": {\"mean\": %.2f, \"min\": %d", h.mean(), h.min());
  for (double p : kReportPercentiles) absl::StrAppendFormat(out, ", \"%s\": %d", PercentileKey(p), h.ValueAtPercentile(p));
  absl::StrAppendFormat(out, ", \"max\": %d},\n", h.max());
  out->append("    \"percentile_distribution\": [");
  const std::vector<PercentilePoint> points = h.PercentileDistribution();
  for (size_t i = 0; i < points.size(); ++i) {
    absl::StrAppendFormat(out, "%s\n      {\"percentile\": %.6f, \"latency_us\": %d}", i == 0 ? "" : ",",
                          points[i].percentile, points[i].value_micros);
  }
  out->append(points.empty() ? "]\n  },\n" : "\n    ]\n  },\n");
}

}  // namespace

std::string FormatTextReport(const BenchOptions& options, const RunResult& result) {
  const RunStats& stats = result.stats;
  const CommandStats total = stats.Total();
  std::string out = absl::StrCat("strata-bench: ", DescribeLoad(options), "\n\n");
  absl::StrAppendFormat(&out, "%d requests in %.3f s: %.0f ops/s\n\n", stats.requests(), result.duration_sec,
                        PerSecond(stats.requests(), result.duration_sec));
  absl::StrAppendFormat(&out, "%-6s %11s %10s %10s %10s %7s %9s", "Type", "Ops/sec", "Requests", "Hits", "Misses",
                        "Errors", "Avg");
  for (double p : kReportPercentiles) absl::StrAppendFormat(&out, " %8s", PercentileKey(p));
  absl::StrAppendFormat(&out, " %8s   (latency in usec)\n", "Max");
  const NamedCommand rows[] = {{"SET", &stats.set, false}, {"GET", &stats.get, true}, {"TOTAL", &total, true}};
  for (const NamedCommand& row : rows) {
    const CommandStats& s = *row.stats;
    const LatencyHistogram& h = s.latency;
    const std::string hits = row.is_get ? absl::StrCat(s.hits) : "-";
    const std::string misses = row.is_get ? absl::StrCat(s.misses) : "-";
    absl::StrAppendFormat(&out, "%-6s %11.0f %10d %10s %10s %7d %9.1f", row.name,
                          PerSecond(s.requests, result.duration_sec), s.requests, hits, misses, s.errors, h.mean());
    for (double p : kReportPercentiles) absl::StrAppendFormat(&out, " %8d", h.ValueAtPercentile(p));
    absl::StrAppendFormat(&out, " %8d\n", h.max());
  }
  if (options.cache_aside) {
    // What the application waited for per GET of the load; see --help.
    const LatencyHistogram& h = stats.lookup.latency;
    absl::StrAppendFormat(&out, "%-6s %11.0f %10d %10s %10s %7d %9.1f", "LOOKUP",
                          PerSecond(stats.lookup.requests, result.duration_sec), stats.lookup.requests, "-", "-",
                          stats.lookup.errors, h.mean());
    for (double p : kReportPercentiles) absl::StrAppendFormat(&out, " %8d", h.ValueAtPercentile(p));
    absl::StrAppendFormat(&out, " %8d\n", h.max());
  }
  absl::StrAppendFormat(&out, "\nHit ratio: %.2f%% (%d hits, %d misses); %d sets", 100.0 * stats.hit_ratio(),
                        stats.hits(), stats.misses(), stats.sets());
  if (options.cache_aside) absl::StrAppendFormat(&out, " (%d of them cache-aside)", stats.cache_aside_sets);
  absl::StrAppendFormat(&out, "; %d errors\n", stats.errors());
  if (options.cold_storm > 0) {
    absl::StrAppendFormat(&out, "Cold storm: %d fresh keys %s0..%d: %d came back nil, %d with a value\n",
                          options.cold_storm, result.cold_storm_prefix, options.cold_storm - 1, stats.misses(),
                          stats.hits());
  }
  if (options.has_source()) {
    const SourceStats& s = stats.source;
    absl::StrAppendFormat(&out, "Source queries: %d to %s (%d found and SET, %d not found, %d failed)\n", s.queries,
                          result.source, s.found, s.not_found, s.errors);
    absl::StrAppendFormat(&out, "Source query latency (usec, queueing for a connection included): p50 %d, p99 %d, max %d\n",
                          s.latency.ValueAtPercentile(50), s.latency.ValueAtPercentile(99), s.latency.max());
    if (s.errors > 0) absl::StrAppend(&out, "First source error: ", s.first_error, "\n");
  }
  if (stats.errors() > 0) absl::StrAppend(&out, "First error reply: ", stats.first_error, "\n");
  return out;
}

std::string FormatJsonReport(const BenchOptions& o, const RunResult& result) {
  const RunStats& stats = result.stats;
  const CommandStats total = stats.Total();
  std::string out = "{\n  \"tool\": \"strata-bench\",\n";
  absl::StrAppend(&out, "  \"label\": ", JsonQuote(result.label), ",\n");
  absl::StrAppend(&out, "  \"config\": {\n");
  absl::StrAppend(&out, "    \"host\": ", JsonQuote(o.host), ",\n");
  absl::StrAppendFormat(&out, "    \"port\": %d,\n    \"threads\": %d,\n    \"clients_per_thread\": %d,\n", o.port,
                        o.threads, o.clients_per_thread);
  absl::StrAppendFormat(&out, "    \"pipeline\": %d,\n", o.pipeline);
  if (o.timed()) {
    absl::StrAppendFormat(&out, "    \"requests\": null,\n    \"test_time_sec\": %g,\n", o.test_time_sec);
  } else {
    absl::StrAppendFormat(&out, "    \"requests\": %d,\n    \"test_time_sec\": null,\n",
                          o.cold_storm > 0 ? o.cold_storm : o.requests);
  }
  absl::StrAppendFormat(&out, "    \"ratio\": \"%d:%d\",\n    \"data_size\": %d,\n", o.ratio_sets, o.ratio_gets,
                        o.data_size);
  absl::StrAppend(&out, "    \"key_prefix\": ", JsonQuote(o.key_prefix), ",\n");
  absl::StrAppendFormat(&out, "    \"key_min\": %d,\n    \"key_max\": %d,\n", o.key_min, o.key_max);
  absl::StrAppend(&out, "    \"key_pattern\": ", JsonQuote(KeyPatternName(o.key_pattern)), ",\n");
  absl::StrAppendFormat(&out, "    \"seed\": %d,\n    \"resp\": %d,\n    \"cache_aside\": %s,\n    \"cold_storm\": %d,\n",
                        o.seed, o.resp, o.cache_aside ? "true" : "false", o.cold_storm);
  absl::StrAppendFormat(&out, "    \"scan_share\": %d,\n    \"scan_start\": %d,\n", o.scan_share, o.scan_start);
  absl::StrAppend(&out, "    \"source\": ", o.has_source() ? JsonQuote(result.source) : "null", ",\n");
  absl::StrAppend(&out, "    \"source_query\": ", o.has_source() ? JsonQuote(o.source_query) : "null", "\n");
  absl::StrAppend(&out, "  },\n");
  absl::StrAppendFormat(&out, "  \"duration_sec\": %.6f,\n", result.duration_sec);
  absl::StrAppendFormat(&out, "  \"requests\": %d,\n  \"sets\": %d,\n  \"hits\": %d,\n  \"misses\": %d,\n",
                        stats.requests(), stats.sets(), stats.hits(), stats.misses());
  absl::StrAppendFormat(&out, "  \"errors\": %d,\n  \"cache_aside_sets\": %d,\n", stats.errors(),
                        stats.cache_aside_sets);
  absl::StrAppendFormat(&out, "  \"hit_ratio\": %.6f,\n  \"ops_per_sec\": %.2f,\n", stats.hit_ratio(),
                        PerSecond(stats.requests(), result.duration_sec));
  absl::StrAppend(&out, "  \"first_error\": ", stats.first_error.empty() ? "null" : JsonQuote(stats.first_error),
                  ",\n");
  // Queries the load generator itself sent to --source (0 without one: a read-through server
  // counts its own, e.g. strata's LOADER STATS source_queries).
  absl::StrAppendFormat(&out, "  \"source_queries\": %d,\n", stats.source.queries);
  if (o.has_source()) {
    const SourceStats& s = stats.source;
    absl::StrAppendFormat(&out, "  \"source\": {\"queries\": %d, \"found\": %d, \"not_found\": %d, \"errors\": %d, ",
                          s.queries, s.found, s.not_found, s.errors);
    absl::StrAppendFormat(&out, "\"latency_us\": {\"p50\": %d, \"p99\": %d, \"max\": %d}, ",
                          s.latency.ValueAtPercentile(50), s.latency.ValueAtPercentile(99), s.latency.max());
    absl::StrAppend(&out, "\"first_error\": ", s.first_error.empty() ? "null" : JsonQuote(s.first_error), "},\n");
  }
  if (o.cache_aside) AppendJsonLookups(stats.lookup, result.duration_sec, &out);
  if (o.cold_storm > 0) {
    absl::StrAppend(&out, "  \"cold_storm\": {\"keys\": ", o.cold_storm,
                    ", \"prefix\": ", JsonQuote(result.cold_storm_prefix), ", \"nil\": ", stats.misses(),
                    ", \"value\": ", stats.hits(), "},\n");
  }
  absl::StrAppend(&out, "  \"commands\": {\n");
  AppendJsonCommand({"SET", &stats.set, false}, result.duration_sec, &out);
  out.append(",\n");
  AppendJsonCommand({"GET", &stats.get, true}, result.duration_sec, &out);
  out.append(",\n");
  AppendJsonCommand({"TOTAL", &total, true}, result.duration_sec, &out);
  out.append("\n  }\n}\n");
  return out;
}

std::vector<LatencySeries> SeriesOfRun(const RunResult& result) {
  const RunStats& stats = result.stats;
  std::vector<LatencySeries> series;
  const CommandStats total = stats.Total();
  if (total.requests == 0) return series;
  series.push_back({absl::StrCat(result.label, ": TOTAL"), total.latency.PercentileDistribution()});
  if (stats.get.requests > 0 && stats.set.requests > 0) {
    series.push_back({absl::StrCat(result.label, ": GET"), stats.get.latency.PercentileDistribution()});
    series.push_back({absl::StrCat(result.label, ": SET"), stats.set.latency.PercentileDistribution()});
  }
  return series;
}

absl::StatusOr<std::vector<LatencySeries>> SeriesFromJsonReport(absl::string_view json_text) {
  using strata::loaders::JsonValue;
  absl::StatusOr<JsonValue> document = strata::loaders::ParseJson(std::string_view(json_text.data(), json_text.size()));
  if (!document.ok()) return document.status();
  const JsonValue* label = document->Find("label");
  const JsonValue* commands = document->Find("commands");
  if (commands == nullptr || commands->type() != JsonValue::Type::kObject) {
    return absl::InvalidArgumentError("not a strata-bench JSON report (no \"commands\" object)");
  }
  const std::string run_label =
      label != nullptr && label->type() == JsonValue::Type::kString ? label->text() : "compared run";
  auto number = [](const JsonValue* value, double* out) {
    return value != nullptr && value->type() == JsonValue::Type::kNumber && absl::SimpleAtod(value->text(), out);
  };
  auto read_curve = [&](absl::string_view name) -> absl::StatusOr<std::vector<PercentilePoint>> {
    std::vector<PercentilePoint> points;
    const JsonValue* command = commands->Find(std::string_view(name.data(), name.size()));
    if (command == nullptr) return points;
    const JsonValue* distribution = command->Find("percentile_distribution");
    if (distribution == nullptr || distribution->type() != JsonValue::Type::kArray) {
      return absl::InvalidArgumentError(
          absl::StrCat("the report has no percentile_distribution for ", name));
    }
    for (const JsonValue& point : distribution->array()) {
      double percentile, latency;
      if (!number(point.Find("percentile"), &percentile) || !number(point.Find("latency_us"), &latency) ||
          latency < 0) {
        return absl::InvalidArgumentError(absl::StrCat("malformed percentile_distribution point for ", name));
      }
      points.push_back({percentile, static_cast<uint64_t>(latency)});
    }
    return points;
  };
  absl::StatusOr<std::vector<PercentilePoint>> total = read_curve("TOTAL");
  absl::StatusOr<std::vector<PercentilePoint>> get = read_curve("GET");
  absl::StatusOr<std::vector<PercentilePoint>> set = read_curve("SET");
  for (const auto* curve : {&total, &get, &set}) {
    if (!curve->ok()) return curve->status();
  }
  std::vector<LatencySeries> series;
  if (total->empty()) return absl::InvalidArgumentError("the report's TOTAL percentile_distribution is empty");
  series.push_back({absl::StrCat(run_label, ": TOTAL"), std::move(*total)});
  if (!get->empty() && !set->empty()) {
    series.push_back({absl::StrCat(run_label, ": GET"), std::move(*get)});
    series.push_back({absl::StrCat(run_label, ": SET"), std::move(*set)});
  }
  return series;
}

}  // namespace strata_bench
