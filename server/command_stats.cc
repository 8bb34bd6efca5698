#include "server/command_stats.h"

#include <algorithm>

namespace strata::server {

CommandStats::CommandStats(size_t command_count)
    : command_count_(command_count), counters_(std::make_unique<Counters[]>(command_count)) {}

CommandStats::~CommandStats() {
  for (size_t i = 0; i < command_count_; ++i) delete counters_[i].histogram.load(std::memory_order_relaxed);
}

LatencyHistogram& CommandStats::MakeHistogram(uint16_t id) {
  auto* made = new LatencyHistogram();
  // Release: a reader that sees the pointer sees the zeroed buckets.
  counters_[id].histogram.store(made, std::memory_order_release);
  return *made;
}

CommandTotals CommandStats::Read(uint16_t id) const {
  const Counters& c = counters_[id];
  return {c.calls.load(std::memory_order_relaxed), c.nanos.load(std::memory_order_relaxed),
          c.rejected_calls.load(std::memory_order_relaxed), c.failed_calls.load(std::memory_order_relaxed)};
}

CommandTotals CommandStatsReader::SumOverThreads(uint16_t id) const {
  CommandTotals sum;
  for (const CommandStats* t : tables_) {
    const CommandTotals one = t->Read(id);
    sum.calls += one.calls;
    sum.nanos += one.nanos;
    sum.rejected_calls += one.rejected_calls;
    sum.failed_calls += one.failed_calls;
  }
  return sum;
}

CommandTotals CommandStatsReader::Totals(uint16_t id) const {
  // The snapshot first, then the sum: the counters only grow, so a sum read after the snapshot is
  // never below it, even with a CONFIG RESETSTAT in between (then the figure is since the older
  // reset, and the next read is since the newer one).
  CommandTotals base;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = base_.find(id); it != base_.end()) base = it->second;
  }
  CommandTotals sum = SumOverThreads(id);
  auto since = [](uint64_t now, uint64_t then) { return now >= then ? now - then : 0; };
  sum.calls = since(sum.calls, base.calls);
  sum.nanos = since(sum.nanos, base.nanos);
  sum.rejected_calls = since(sum.rejected_calls, base.rejected_calls);
  sum.failed_calls = since(sum.failed_calls, base.failed_calls);
  return sum;
}

void CommandStatsReader::SumHistogram(uint16_t id, std::vector<uint64_t>* counts, bool* any) const {
  counts->assign(LatencyHistogram::kBuckets, 0);
  *any = false;
  for (const CommandStats* t : tables_) {
    const LatencyHistogram* h = t->histogram(id);
    if (h == nullptr) continue;
    *any = true;
    for (int b = 0; b < LatencyHistogram::kBuckets; ++b) (*counts)[b] += h->bucket(b);
  }
}

bool CommandStatsReader::Histogram(uint16_t id, std::vector<uint64_t>* counts) const {
  std::vector<uint64_t> base;  // the snapshot first, as in Totals
  {
    absl::MutexLock lock(&mu_);
    if (auto it = base_histograms_.find(id); it != base_histograms_.end()) base = it->second;
  }
  bool any;
  SumHistogram(id, counts, &any);
  if (!any) return false;
  for (size_t b = 0; b < base.size(); ++b) (*counts)[b] = (*counts)[b] >= base[b] ? (*counts)[b] - base[b] : 0;
  return std::any_of(counts->begin(), counts->end(), [](uint64_t c) { return c != 0; });
}

void CommandStatsReader::Reset() {
  if (tables_.empty()) return;
  const size_t commands = tables_[0]->command_count();
  absl::flat_hash_map<uint16_t, CommandTotals> base;
  absl::flat_hash_map<uint16_t, std::vector<uint64_t>> base_histograms;
  for (size_t i = 0; i < commands; ++i) {
    const auto id = static_cast<uint16_t>(i);
    const CommandTotals sum = SumOverThreads(id);
    if (sum.calls != 0 || sum.rejected_calls != 0) base[id] = sum;
    std::vector<uint64_t> counts;
    bool any;
    SumHistogram(id, &counts, &any);
    if (any) base_histograms[id] = std::move(counts);
  }
  absl::MutexLock lock(&mu_);
  base_ = std::move(base);
  base_histograms_ = std::move(base_histograms);
}

void ErrorStats::OnErrorReply(std::string_view message) {
  // Redis's rule: the kind is the first word; a message without one counts as ERR.
  const size_t space = message.find(' ');
  std::string_view kind = message.substr(0, space);
  if (kind.empty()) kind = "ERR";
  absl::MutexLock lock(&mu_);
  ++total_;
  auto it = kinds_.find(absl::string_view(kind.data(), kind.size()));
  if (it != kinds_.end()) {
    ++it->second;
  } else if (kinds_.size() < kMaxKinds) {
    kinds_.emplace(std::string(kind), 1);
  }
}

uint64_t ErrorStats::total() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

std::vector<std::pair<std::string, uint64_t>> ErrorStats::Kinds() const {
  std::vector<std::pair<std::string, uint64_t>> kinds;
  {
    absl::MutexLock lock(&mu_);
    kinds.assign(kinds_.begin(), kinds_.end());
  }
  std::sort(kinds.begin(), kinds.end());
  return kinds;
}

void ErrorStats::Reset() {
  absl::MutexLock lock(&mu_);
  total_ = 0;
  kinds_.clear();
}

}  // namespace strata::server
