// What an operator asks about the server's own latency, as Redis 7.0 answers: SLOWLOG (the
// slow commands), LATENCY (the latency monitor's events and the per-command histograms).
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "server/absl_compat.h"
#include "server/command.h"
#include "server/errors.h"
#include "server/server.h"

namespace strata::server {
namespace {

void SlowlogGet(CommandContext& ctx) {
  if (ctx.args.size() > 3) {
    ctx.reply.Error(errors::SubcommandSyntax(ctx.args[1], "SLOWLOG"));
    return;
  }
  int64_t count = 10;
  if (ctx.args.size() == 3 && (!ParseInteger(ctx.args[2], &count) || count < -1)) {
    ctx.reply.Error("ERR count should be greater than or equal to -1");
    return;
  }
  const std::vector<SlowLog::Entry> entries = ctx.server.slowlog().Newest(count);
  ctx.reply.ArrayHeader(entries.size());
  for (const SlowLog::Entry& e : entries) {
    ctx.reply.ArrayHeader(6);
    ctx.reply.Integer(static_cast<int64_t>(e.id));
    ctx.reply.Integer(e.unix_seconds);
    ctx.reply.Integer(e.micros);
    ctx.reply.ArrayHeader(e.args.size());
    for (const std::string& arg : e.args) ctx.reply.Bulk(arg);
    ctx.reply.Bulk(e.peer);
    ctx.reply.Bulk(e.client_name);
  }
}

void SlowlogLen(CommandContext& ctx) { ctx.reply.Integer(static_cast<int64_t>(ctx.server.slowlog().size())); }

void SlowlogReset(CommandContext& ctx) {
  ctx.server.slowlog().Reset();
  ctx.reply.Ok();
}

void SlowlogHelp(CommandContext& ctx) {
  constexpr std::string_view kLines[] = {
      "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GET [<count>]",
      "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
      "    Entries are made of:",
      "    id, timestamp, time in microseconds, arguments array, client IP and port,",
      "    client name",
      "LEN",
      "    Return the length of the slowlog.",
      "RESET",
      "    Reset the slowlog.",
      "HELP",
      "    Prints this help.",
  };
  ReplyHelp(ctx, kLines);
}

void LatencyLatest(CommandContext& ctx) {
  const std::vector<LatencyMonitor::Latest> latest = ctx.server.latency_monitor().LatestSamples();
  ctx.reply.ArrayHeader(latest.size());
  for (const LatencyMonitor::Latest& l : latest) {
    ctx.reply.ArrayHeader(4);
    ctx.reply.Bulk(l.event);
    ctx.reply.Integer(l.unix_seconds);
    ctx.reply.Integer(static_cast<int64_t>(l.latest_millis));
    ctx.reply.Integer(static_cast<int64_t>(l.max_millis));
  }
}

void LatencyHistory(CommandContext& ctx) {
  const std::vector<LatencyMonitor::Sample> samples = ctx.server.latency_monitor().History(ctx.args[2]);
  ctx.reply.ArrayHeader(samples.size());
  for (const LatencyMonitor::Sample& s : samples) {
    ctx.reply.ArrayHeader(2);
    ctx.reply.Integer(s.unix_seconds);
    ctx.reply.Integer(static_cast<int64_t>(s.millis));
  }
}

void LatencyReset(CommandContext& ctx) {
  std::vector<std::string> events(ctx.args.begin() + 2, ctx.args.end());
  ctx.reply.Integer(ctx.server.latency_monitor().Reset(events));
}

void LatencyGraph(CommandContext& ctx) {
  const std::string graph = ctx.server.latency_monitor().Graph(ctx.args[2], NowMs() / 1000);
  if (graph.empty()) {
    ctx.reply.Error(absl::StrCat("ERR No samples available for event '", Absl(ctx.args[2]), "'"));
    return;
  }
  ctx.reply.Verbatim(graph);
}

void LatencyDoctor(CommandContext& ctx) {
  const int64_t threshold = ctx.server.config().latency_monitor_threshold.load();
  ctx.reply.Verbatim(ctx.server.latency_monitor().Doctor(static_cast<uint64_t>(threshold)));
}

// One command's LATENCY HISTOGRAM entry: its calls and, per power of two microseconds, how
// many calls took at most that long (cumulative, as Redis's hdr_histogram iteration reports).
void ReplyHistogram(CommandContext& ctx, const CommandSpec& spec, const std::vector<uint64_t>& counts) {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  std::vector<std::pair<int64_t, uint64_t>> buckets;
  uint64_t cumulative = 0;
  int bucket = 0;
  // Powers of two are bucket boundaries (loaders/latency_histogram.h), so "under 2^k ns" is
  // exact. Redis labels the bucket of 1024 << j ns with hdr_histogram's highest value equivalent
  // to it at 2 significant digits (v + v/128 - 1), in whole microseconds: 1, 2, 4, 8, 16, 33, 66,
  // 132, 264...
  for (int j = 0; cumulative < total && j < 50; ++j) {
    const uint64_t bound_ns = uint64_t{1024} << j;
    while (bucket < LatencyHistogram::kBuckets && LatencyHistogram::BucketUpperBound(bucket) < bound_ns) {
      cumulative += counts[bucket++];
    }
    // As Redis: a bucket is listed only when calls fell in it.
    if (cumulative == 0 || (!buckets.empty() && buckets.back().second == cumulative)) continue;
    buckets.push_back({static_cast<int64_t>((bound_ns + bound_ns / 128 - 1) / 1000), cumulative});
  }
  ctx.reply.Bulk(spec.name);
  ctx.reply.MapHeader(2);
  ctx.reply.Bulk("calls");
  ctx.reply.Integer(static_cast<int64_t>(total));
  ctx.reply.Bulk("histogram_usec");
  ctx.reply.MapHeader(buckets.size());
  for (const auto& [usec, count] : buckets) {
    ctx.reply.Integer(usec);
    ctx.reply.Integer(static_cast<int64_t>(count));
  }
}

void LatencyHistogramCommand(CommandContext& ctx) {
  const CommandTable& table = ctx.server.commands();
  std::vector<const CommandSpec*> wanted;
  if (ctx.args.size() == 2) {
    wanted = table.by_id();
  } else {
    // Named commands ("config|get" too); a container names its subcommands; unknown names are
    // left out.
    for (size_t i = 2; i < ctx.args.size(); ++i) {
      const CommandSpec* spec = table.FindByFullName(ctx.args[i]);
      if (spec == nullptr) continue;
      if (spec->subcommands.empty()) {
        wanted.push_back(spec);
      } else {
        for (const CommandSpec& sub : spec->subcommands) wanted.push_back(&sub);
      }
    }
  }
  std::sort(wanted.begin(), wanted.end(), [](const CommandSpec* a, const CommandSpec* b) { return a->name < b->name; });
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  std::vector<std::pair<const CommandSpec*, std::vector<uint64_t>>> found;
  for (const CommandSpec* spec : wanted) {
    std::vector<uint64_t> counts;
    if (ctx.server.command_stats().Histogram(spec->id, &counts)) found.emplace_back(spec, std::move(counts));
  }
  ctx.reply.MapHeader(found.size());
  for (const auto& [spec, counts] : found) ReplyHistogram(ctx, *spec, counts);
}

void LatencyHelp(CommandContext& ctx) {
  constexpr std::string_view kLines[] = {
      "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "DOCTOR",
      "    Return a human readable latency analysis report.",
      "GRAPH <event>",
      "    Return an ASCII latency graph for the <event> class.",
      "HISTORY <event>",
      "    Return time-latency samples for the <event> class.",
      "LATEST",
      "    Return the latest latency samples for all events.",
      "RESET [<event> ...]",
      "    Reset latency data of one or more <event> classes.",
      "    (default: reset all data for all event classes)",
      "HISTOGRAM [COMMAND ...]",
      "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
      "    If no commands are specified then all histograms are replied.",
      "HELP",
      "    Prints this help.",
  };
  ReplyHelp(ctx, kLines);
}

constexpr uint32_t kAdminStale = flags::kAdmin | flags::kNoScript | flags::kLoading | flags::kStale;

constexpr CommandSpec kSlowlogSubcommands[] = {
    {"slowlog|get", -2, flags::kAdmin | flags::kLoading | flags::kStale, 0, 0, 0, SlowlogGet, {}, "Get the slow log's entries"},
    {"slowlog|len", 2, flags::kAdmin | flags::kLoading | flags::kStale, 0, 0, 0, SlowlogLen, {}, "Get the slow log's length"},
    {"slowlog|reset", 2, flags::kAdmin | flags::kLoading | flags::kStale, 0, 0, 0, SlowlogReset, {}, "Clear all entries from the slow log"},
    {"slowlog|help", 2, flags::kLoading | flags::kStale, 0, 0, 0, SlowlogHelp, {}, "Show helpful text about the different subcommands"},
};

constexpr CommandSpec kLatencySubcommands[] = {
    {"latency|latest", 2, kAdminStale, 0, 0, 0, LatencyLatest, {}, "Return the latest latency samples for all events"},
    {"latency|history", 3, kAdminStale, 0, 0, 0, LatencyHistory, {}, "Return timestamp-latency samples for an event"},
    {"latency|reset", -2, kAdminStale, 0, 0, 0, LatencyReset, {}, "Reset latency data for one or more events"},
    {"latency|graph", 3, kAdminStale, 0, 0, 0, LatencyGraph, {}, "Return a latency graph for an event"},
    {"latency|doctor", 2, kAdminStale, 0, 0, 0, LatencyDoctor, {}, "Return a human-readable latency analysis report"},
    {"latency|histogram", -2, kAdminStale, 0, 0, 0, LatencyHistogramCommand, {}, "Return the cumulative distribution of latencies of a subset or all commands"},
    {"latency|help", 2, flags::kLoading | flags::kStale, 0, 0, 0, LatencyHelp, {}, "Show helpful text about the different subcommands"},
};

constexpr CommandSpec kDiagnosticsCommands[] = {
    {"slowlog", -2, 0, 0, 0, 0, nullptr, kSlowlogSubcommands, "A container for slow log commands"},
    {"latency", -2, 0, 0, 0, 0, nullptr, kLatencySubcommands, "A container for latency diagnostics commands"},
};

}  // namespace

std::span<const CommandSpec> DiagnosticsCommands() { return kDiagnosticsCommands; }

}  // namespace strata::server
