#include "bench/strata_bench/bench_report.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/numbers.h"
#include "loaders/json.h"

namespace strata_bench {

namespace {

// The loaders' JSON writer, for absl's string_view too.
std::string JsonQuote(absl::string_view text) { return strata::loaders::JsonQuote(std::string_view(text.data(), text.size())); }

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

// The "latency_us" summary and the "percentile_distribution" of `h`, as two members of an
// object whose members are indented by `indent`; no newline after the closing bracket.
void AppendJsonLatency(const LatencyHistogram& h, absl::string_view indent, std::string* out) {
  absl::StrAppendFormat(out, "%s\"latency_us\": {\"mean\": %.2f, \"min\": %d", indent, h.mean(), h.min());
  for (double p : kReportPercentiles) absl::StrAppendFormat(out, ", \"%s\": %d", PercentileKey(p), h.ValueAtPercentile(p));
  absl::StrAppendFormat(out, ", \"max\": %d},\n", h.max());
  absl::StrAppend(out, indent, "\"percentile_distribution\": [");
  const std::vector<PercentilePoint> points = h.PercentileDistribution();
  for (size_t i = 0; i < points.size(); ++i) {
    absl::StrAppendFormat(out, "%s\n%s  {\"percentile\": %.6f, \"latency_us\": %d}", i == 0 ? "" : ",", indent,
                          points[i].percentile, points[i].value_micros);
  }
  absl::StrAppend(out, points.empty() ? "]" : absl::StrCat("\n", indent, "]"));
}

void AppendJsonCommand(const NamedCommand& command, double duration_sec, std::string* out) {
  const CommandStats& s = *command.stats;
  absl::StrAppendFormat(out, "    %s: {\n", JsonQuote(command.name));
  absl::StrAppendFormat(out, "      \"requests\": %d,\n      \"errors\": %d,\n", s.requests, s.errors);
  if (command.is_get) absl::StrAppendFormat(out, "      \"hits\": %d,\n      \"misses\": %d,\n", s.hits, s.misses);
  absl::StrAppendFormat(out, "      \"ops_per_sec\": %.2f,\n", PerSecond(s.requests, duration_sec));
  AppendJsonLatency(s.latency, "      ", out);
  out->append("\n    }");
}

// The --cache-aside LOOKUP figures, as the "lookups" object of the JSON report.
void AppendJsonLookups(const LookupStats& s, double duration_sec, std::string* out) {
  absl::StrAppendFormat(out, "  \"lookups\": {\n    \"requests\": %d,\n    \"errors\": %d,\n", s.requests, s.errors);
  absl::StrAppendFormat(out, "    \"ops_per_sec\": %.2f,\n", PerSecond(s.requests, duration_sec));
  AppendJsonLatency(s.latency, "    ", out);
  out->append("\n  },\n");
}

// The --pubsub-subscribers figures, as the "pubsub" object of the JSON report.
void AppendJsonPubSub(const BenchOptions& o, const RunResult& result, std::string* out) {
  const RunStats& stats = result.stats;
  const DeliveryStats& d = stats.delivery;
  const PubSubTally tally = TallyPubSub(o, stats);
  absl::StrAppend(out, "  \"pubsub\": {\n    \"channel\": ", JsonQuote(o.pubsub_channel), ",\n");
  absl::StrAppendFormat(out, "    \"subscribers\": %d,\n    \"published\": %d,\n    \"expected_deliveries\": %d,\n",
                        o.pubsub_subscribers, stats.publishes(), tally.expected);
  absl::StrAppendFormat(out, "    \"delivered\": %d,\n    \"missing\": %d,\n    \"out_of_order\": %d,\n", d.delivered,
                        tally.missing, d.out_of_order);
  absl::StrAppendFormat(out, "    \"malformed\": %d,\n    \"first_malformed\": %s,\n", d.malformed,
                        d.first_malformed.empty() ? "null" : JsonQuote(d.first_malformed));
  absl::StrAppendFormat(out, "    \"publish_receivers\": %d,\n", stats.publish_receivers);
  absl::StrAppendFormat(out, "    \"delivery_duration_sec\": %.6f,\n    \"delivered_per_sec\": %.2f,\n",
                        result.delivery_duration_sec, PerSecond(d.delivered, result.delivery_duration_sec));
  AppendJsonLatency(d.latency, "    ", out);
  out->append("\n  },\n");
}

}  // namespace

PubSubTally TallyPubSub(const BenchOptions& options, const RunStats& stats) {
  PubSubTally tally;
  if (!options.pubsub()) return tally;
  tally.expected = stats.publishes() * static_cast<uint64_t>(options.pubsub_subscribers);
  tally.missing = tally.expected > stats.delivery.delivered ? tally.expected - stats.delivery.delivered : 0;
  tally.out_of_order = stats.delivery.out_of_order;
  tally.malformed = stats.delivery.malformed;
  return tally;
}

std::string FormatTextReport(const BenchOptions& options, const RunResult& result) {
  const RunStats& stats = result.stats;
  const CommandStats total = stats.Total();
  std::string out = absl::StrCat("strata-bench: ", DescribeLoad(options), "\n\n");
  absl::StrAppendFormat(&out, "%d requests in %.3f s: %.0f ops/s\n\n", stats.requests(), result.duration_sec,
                        PerSecond(stats.requests(), result.duration_sec));
  // PUBLISH and DELIVER are a letter wider than the other row names.
  const int type_width = options.pubsub() ? 7 : 6;
  absl::StrAppendFormat(&out, "%-*s %11s %10s %10s %10s %7s %9s", type_width, "Type", "Ops/sec", "Requests", "Hits",
                        "Misses", "Errors", "Avg");
  for (double p : kReportPercentiles) absl::StrAppendFormat(&out, " %8s", PercentileKey(p));
  absl::StrAppendFormat(&out, " %8s   (latency in usec)\n", "Max");
  auto row = [&out, type_width](absl::string_view name, double ops_per_sec, uint64_t requests, absl::string_view hits,
                                absl::string_view misses, uint64_t errors, const LatencyHistogram& h) {
    absl::StrAppendFormat(&out, "%-*s %11.0f %10d %10s %10s %7d %9.1f", type_width, name, ops_per_sec, requests, hits,
                          misses, errors, h.mean());
    for (double p : kReportPercentiles) absl::StrAppendFormat(&out, " %8d", h.ValueAtPercentile(p));
    absl::StrAppendFormat(&out, " %8d\n", h.max());
  };
  if (options.pubsub()) {
    // The clients' PUBLISHes, then one DELIVER per message a subscriber got; see --help.
    const PubSubTally tally = TallyPubSub(options, stats);
    const DeliveryStats& d = stats.delivery;
    row("PUBLISH", PerSecond(stats.publish.requests, result.duration_sec), stats.publish.requests, "-", "-",
        stats.publish.errors, stats.publish.latency);
    row("DELIVER", PerSecond(d.delivered, result.delivery_duration_sec), d.delivered, "-", "-", tally.errors(),
        d.latency);
    absl::StrAppendFormat(&out, "\nPub/sub: %d messages published to '%s'; %d of %d deliveries (%d x %d subscriber%s) "
                          "in %.3f s: %d missing, %d out of order, %d malformed; PUBLISH replies counted %d "
                          "receivers; %d errors\n",
                          stats.publishes(), options.pubsub_channel, d.delivered, tally.expected, stats.publishes(),
                          options.pubsub_subscribers, options.pubsub_subscribers == 1 ? "" : "s",
                          result.delivery_duration_sec, tally.missing, d.out_of_order, d.malformed,
                          stats.publish_receivers, stats.errors());
    if (d.malformed > 0) absl::StrAppend(&out, "First malformed message: ", d.first_malformed, "\n");
    if (stats.errors() > 0) absl::StrAppend(&out, "First error reply: ", stats.first_error, "\n");
    return out;
  }
  const NamedCommand rows[] = {{"SET", &stats.set, false}, {"GET", &stats.get, true}, {"TOTAL", &total, true}};
  for (const NamedCommand& r : rows) {
    const CommandStats& s = *r.stats;
    row(r.name, PerSecond(s.requests, result.duration_sec), s.requests, r.is_get ? absl::StrCat(s.hits) : "-",
        r.is_get ? absl::StrCat(s.misses) : "-", s.errors, s.latency);
  }
  if (options.cache_aside) {
    // What the application waited for per GET of the load; see --help.
    row("LOOKUP", PerSecond(stats.lookup.requests, result.duration_sec), stats.lookup.requests, "-", "-",
        stats.lookup.errors, stats.lookup.latency);
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
  if (options.tracking || stats.other_pushes > 0) {
    absl::StrAppendFormat(&out, "Tracking: %d invalidation pushes received, %d other pushes\n", stats.invalidations,
                          stats.other_pushes);
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
  absl::StrAppend(&out, "    \"source_query\": ", o.has_source() ? JsonQuote(o.source_query) : "null", ",\n");
  absl::StrAppendFormat(&out, "    \"tracking\": %s,\n", o.tracking ? "true" : "false");
  absl::StrAppendFormat(&out, "    \"pubsub_subscribers\": %d,\n", o.pubsub_subscribers);
  absl::StrAppend(&out, "    \"pubsub_channel\": ", o.pubsub() ? JsonQuote(o.pubsub_channel) : "null", "\n");
  absl::StrAppend(&out, "  },\n");
  absl::StrAppendFormat(&out, "  \"duration_sec\": %.6f,\n", result.duration_sec);
  absl::StrAppendFormat(&out, "  \"requests\": %d,\n  \"sets\": %d,\n  \"hits\": %d,\n  \"misses\": %d,\n",
                        stats.requests(), stats.sets(), stats.hits(), stats.misses());
  absl::StrAppendFormat(&out, "  \"publishes\": %d,\n", stats.publishes());
  absl::StrAppendFormat(&out, "  \"invalidations\": %d,\n  \"other_pushes\": %d,\n", stats.invalidations,
                        stats.other_pushes);
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
  if (o.pubsub()) AppendJsonPubSub(o, result, &out);
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
  if (o.pubsub()) {
    AppendJsonCommand({"PUBLISH", &stats.publish, false}, result.duration_sec, &out);
    out.append(",\n");
  }
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
  if (stats.delivery.latency.count() > 0) {
    series.push_back({absl::StrCat(result.label, ": DELIVER"), stats.delivery.latency.PercentileDistribution()});
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
  // The curve `name` from the object that holds its percentile_distribution (a command, or
  // "pubsub" for DELIVER); none if the report has no such object.
  auto read_curve = [&](const JsonValue* holder,
                        absl::string_view name) -> absl::StatusOr<std::vector<PercentilePoint>> {
    std::vector<PercentilePoint> points;
    if (holder == nullptr) return points;
    const JsonValue* distribution = holder->Find("percentile_distribution");
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
  absl::StatusOr<std::vector<PercentilePoint>> total = read_curve(commands->Find("TOTAL"), "TOTAL");
  absl::StatusOr<std::vector<PercentilePoint>> get = read_curve(commands->Find("GET"), "GET");
  absl::StatusOr<std::vector<PercentilePoint>> set = read_curve(commands->Find("SET"), "SET");
  absl::StatusOr<std::vector<PercentilePoint>> deliver = read_curve(document->Find("pubsub"), "DELIVER");
  for (const auto* curve : {&total, &get, &set, &deliver}) {
    if (!curve->ok()) return curve->status();
  }
  std::vector<LatencySeries> series;
  if (total->empty()) return absl::InvalidArgumentError("the report's TOTAL percentile_distribution is empty");
  series.push_back({absl::StrCat(run_label, ": TOTAL"), std::move(*total)});
  if (!get->empty() && !set->empty()) {
    series.push_back({absl::StrCat(run_label, ": GET"), std::move(*get)});
    series.push_back({absl::StrCat(run_label, ": SET"), std::move(*set)});
  }
  if (!deliver->empty()) series.push_back({absl::StrCat(run_label, ": DELIVER"), std::move(*deliver)});
  return series;
}

}  // namespace strata_bench
