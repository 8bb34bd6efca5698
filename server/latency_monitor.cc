#include "server/latency_monitor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/absl_compat.h"

namespace strata::server {

void LatencyMonitor::Add(std::string_view event, uint64_t millis, int64_t unix_seconds) {
  absl::MutexLock lock(&mu_);
  auto it = events_.find(event);
  if (it == events_.end()) it = events_.emplace(std::string(event), Series()).first;
  Series& s = it->second;
  s.max_millis = std::max(s.max_millis, millis);
  // One sample per second: a second spike in the same second keeps the worse.
  Sample& previous = s.samples[(s.next + kSamples - 1) % kSamples];
  if (previous.unix_seconds == unix_seconds) {
    previous.millis = std::max(previous.millis, millis);
    return;
  }
  s.samples[s.next] = {unix_seconds, millis};
  s.next = (s.next + 1) % kSamples;
}

std::vector<LatencyMonitor::Sample> LatencyMonitor::Ordered(const Series& series) {
  std::vector<Sample> out;
  for (size_t j = 0; j < kSamples; ++j) {
    const Sample& s = series.samples[(series.next + j) % kSamples];
    if (s.unix_seconds != 0) out.push_back(s);
  }
  return out;
}

std::vector<LatencyMonitor::Latest> LatencyMonitor::LatestSamples() const {
  absl::MutexLock lock(&mu_);
  std::vector<Latest> out;
  for (const auto& [name, series] : events_) {
    const Sample& last = series.samples[(series.next + kSamples - 1) % kSamples];
    out.push_back({name, last.unix_seconds, last.millis, series.max_millis});
  }
  return out;
}

std::vector<LatencyMonitor::Sample> LatencyMonitor::History(std::string_view event) const {
  absl::MutexLock lock(&mu_);
  auto it = events_.find(event);
  return it == events_.end() ? std::vector<Sample>() : Ordered(it->second);
}

uint64_t LatencyMonitor::MaxMillis(std::string_view event) const {
  absl::MutexLock lock(&mu_);
  auto it = events_.find(event);
  return it == events_.end() ? 0 : it->second.max_millis;
}

int LatencyMonitor::Reset(const std::vector<std::string>& events) {
  absl::MutexLock lock(&mu_);
  if (events.empty()) {
    const int n = static_cast<int>(events_.size());
    events_.clear();
    return n;
  }
  int n = 0;
  for (const std::string& e : events) n += static_cast<int>(events_.erase(e));
  return n;
}

namespace {
// "4s", "12m", "3h", "2d": how long ago, as Redis labels the graph's columns.
std::string Age(int64_t seconds) {
  if (seconds < 60) return absl::StrCat(seconds, "s");
  if (seconds < 3600) return absl::StrCat(seconds / 60, "m");
  if (seconds < 86400) return absl::StrCat(seconds / 3600, "h");
  return absl::StrCat(seconds / 86400, "d");
}
}  // namespace

namespace {

// Redis's sparkline (LATENCY GRAPH), drawn the same way so that the same samples give the same
// picture: `rows` rows of one character per sample, whose height is the sample's place between
// the lowest and the highest in rows * 3 steps (characters '_', '-', '`' within a row); then a
// blank row and each sample's label written downwards. Samples beyond `columns` wrap into
// another block below.
constexpr std::string_view kSparkChars = "_-`";

void SparklineBlock(std::string* out, const std::vector<uint64_t>& values, const std::vector<std::string>& labels,
                    uint64_t low, uint64_t high, int rows, size_t offset, size_t len) {
  double relmax = static_cast<double>(high - low);
  if (relmax == 0) relmax = 1;
  const int steps = static_cast<int>(kSparkChars.size()) * rows;
  for (int row = 0;; ++row) {
    std::string line(len, ' ');
    bool any = false;
    for (size_t j = 0; j < len; ++j) {
      const double relval = static_cast<double>(values[offset + j] - low);
      int step = static_cast<int>(static_cast<double>(static_cast<int>(relval * steps)) / relmax);
      step = std::clamp(step, 0, steps - 1);
      if (row < rows) {
        any = true;
        const int index = step - (rows - row - 1) * static_cast<int>(kSparkChars.size());
        if (index >= 0 && index < static_cast<int>(kSparkChars.size())) line[j] = kSparkChars[static_cast<size_t>(index)];
      } else if (row == rows) {
        any = true;  // the blank row between the chart and the labels
        break;
      } else {
        const size_t label_char = static_cast<size_t>(row - rows - 1);
        const std::string& label = labels[offset + j];
        if (label_char < label.size()) {
          any = true;
          line[j] = label[label_char];
        }
      }
    }
    if (!any) return;
    *out += line;
    *out += '\n';
  }
}

}  // namespace

std::string LatencyMonitor::Graph(std::string_view event, int64_t now_seconds) const {
  const std::vector<Sample> samples = History(event);
  const uint64_t all_time = MaxMillis(event);
  if (samples.empty()) return "";
  constexpr size_t kColumns = 80;  // Redis's LATENCY_GRAPH_COLS
  constexpr int kRows = 4;
  std::vector<uint64_t> values;
  std::vector<std::string> labels;
  uint64_t low = samples[0].millis, high = samples[0].millis;
  for (const Sample& s : samples) {
    values.push_back(s.millis);
    labels.push_back(Age(std::max<int64_t>(0, now_seconds - s.unix_seconds)));
    low = std::min(low, s.millis);
    high = std::max(high, s.millis);
  }
  std::string out = absl::StrFormat("%s - high %d ms, low %d ms (all time high %d ms)\n", Absl(event), high, low,
                                    all_time);
  out.append(kColumns, '-');
  out += '\n';
  for (size_t offset = 0; offset < values.size(); offset += kColumns) {
    if (offset != 0) out += '\n';
    SparklineBlock(&out, values, labels, low, high, kRows, offset, std::min(kColumns, values.size() - offset));
  }
  return out;
}

std::string LatencyMonitor::Doctor(uint64_t threshold_millis) const {
  if (threshold_millis == 0) {
    return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this strata instance. You may use "
           "\"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it.\n";
  }
  absl::MutexLock lock(&mu_);
  if (events_.empty()) {
    return "Dave, no latency spike was observed during the lifetime of this strata instance, not in the slightest "
           "bit. I honestly think you ought to sleep tonight.\n";
  }
  std::string out = "Dave, I have observed latency spikes in this strata instance. You don't mind talking about it, "
                    "do you Dave?\n\n";
  int index = 1;
  bool slow_commands = false, expiry = false, eviction = false;
  for (const auto& [name, series] : events_) {
    const std::vector<Sample> samples = Ordered(series);
    uint64_t sum = 0;
    for (const Sample& s : samples) sum += s.millis;
    const double mean = samples.empty() ? 0 : double(sum) / double(samples.size());
    double deviation = 0;
    for (const Sample& s : samples) deviation += std::abs(double(s.millis) - mean);
    if (!samples.empty()) deviation /= double(samples.size());
    const double period = samples.size() > 1 ? double(samples.back().unix_seconds - samples.front().unix_seconds) /
                                                   double(samples.size() - 1)
                                             : 0;
    absl::StrAppend(&out, absl::StrFormat("%d. %s: %d latency spikes (average %dms, mean deviation %dms, period "
                                          "%.2f sec). Worst all time event %dms.\n",
                                          index++, name, samples.size(), static_cast<uint64_t>(mean),
                                          static_cast<uint64_t>(deviation), period, series.max_millis));
    slow_commands |= name == "command" || name == "fast-command";
    expiry |= name == "expire-cycle";
    eviction |= name == "eviction-cycle";
  }
  out += "\nI have a few advices for you:\n\n";
  if (slow_commands) {
    out += "- Check your slow log (SLOWLOG GET) for the commands that are slow to run: O(N) commands on big values "
           "(KEYS, SMEMBERS, HGETALL, LRANGE 0 -1, SORT) are the usual cause. Split big values, or use SCAN and its "
           "family to walk them a piece at a time.\n";
  }
  if (expiry) {
    out += "- Many keys expire at the same second. Spread their TTLs (a loader's jitter option does it for loaded "
           "keys), or lower active-expire-effort.\n";
  }
  if (eviction) {
    out += "- Eviction passes are long: writes are outrunning maxmemory. Raise maxmemory, lower "
           "maxmemory-eviction-tenacity, or set spill-dir so evicted values go to disk.\n";
  }
  if (!slow_commands && !expiry && !eviction) out += "- No advice for these events yet.\n";
  return out;
}

}  // namespace strata::server
