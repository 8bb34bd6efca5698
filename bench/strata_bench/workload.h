// The shape of the load, independent of sockets: which command a client sends next, how many
// requests it owns, and the bytes of each request.
#ifndef STRATA_BENCH_WORKLOAD_H_
#define STRATA_BENCH_WORKLOAD_H_

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

namespace strata_bench {

enum class CommandType { kSet, kGet, kPublish };

// RatioSchedule: the deterministic SET/GET interleave of one client. Request i (from 0) is
// a SET exactly when floor((i+1)*S/(S+G)) > floor(i*S/(S+G)), which spreads the S SETs of
// every cycle of S+G requests evenly (Bresenham) instead of bunching them: 1:4 gives
// GET GET GET GET SET, 2:2 gives GET SET GET SET. Every full cycle holds exactly S SETs.
class RatioSchedule {
 public:
  RatioSchedule(uint32_t sets, uint32_t gets);
  CommandType Next();

 private:
  uint64_t sets_;
  uint64_t cycle_;
  uint64_t position_ = 0;  // index within the current cycle
};

// ScanSchedule: which GETs of one client ask a scan key under --scan-share P. GET j (from 0)
// does exactly when floor((j+1)*P/100) > floor(j*P/100): RatioSchedule's even spread over a
// cycle of 100 GETs, so P = 10 makes GETs 9, 19, 29, ... scans, exactly P in every 100.
class ScanSchedule {
 public:
  explicit ScanSchedule(uint32_t percent);
  bool NextIsScan();

 private:
  uint64_t percent_;
  uint64_t position_ = 0;  // index within the current cycle of 100 GETs
};

// The share of a total request count that client `client_index` of `client_count` sends:
// total / count, and one more for the first total mod count clients.
uint64_t ClientRequestBudget(uint64_t total, uint64_t client_index, uint64_t client_count);

// PublishStamp: what every --pubsub-subscribers message carries at the head of its payload, so
// that a subscriber can tell how late it is and whether it came in order. The head is fixed
// width, zero-padded decimal, kPublishStampBytes bytes:
//   "<send time: CLOCK_MONOTONIC ns, 19 digits> <publisher: 7 digits> <sequence: 12 digits>"
// and the --data-size filler follows. Worked example: the sixth message (sequence 5) of
// publisher 3, in a batch written at 1234567890123 ns, begins
//   "0000001234567890123 0000003 000000000005".
// The sequence counts the publisher's PUBLISHes from 0 (modulo 10^12, a million per second for
// eleven days); publishers are numbered as the clients, 0 .. threads x clients - 1.
struct PublishStamp {
  int64_t send_ns = 0;
  uint64_t publisher = 0;
  uint64_t sequence = 0;
  bool operator==(const PublishStamp&) const = default;
};
inline constexpr size_t kPublishStampBytes = 40;
inline constexpr uint64_t kPublishSequenceModulus = 1000000000000ULL;  // 10^12
// The stamp at the head of `payload`; nothing when the payload does not begin with one.
std::optional<PublishStamp> ParsePublishStamp(absl::string_view payload);

// RequestEncoder writes the workload's RESP commands: SET PREFIX<index> <value>,
// GET PREFIX<index> and PUBLISH <channel> <stamped value>. The value is `value_size` bytes of fixed content, built once.
// Thread-safe for concurrent use (all methods are const).
class RequestEncoder {
 public:
  RequestEncoder(std::string key_prefix, size_t value_size);

  void AppendSet(uint64_t key_index, std::string* out) const;
  // SET PREFIX<index> with a value of the caller's (what a --source query returned).
  void AppendSetValue(uint64_t key_index, absl::string_view value, std::string* out) const;
  void AppendGet(uint64_t key_index, std::string* out) const;
  // PUBLISH channel <payload>: the stamp, then the value's bytes past kPublishStampBytes (the
  // payload is max(value size, kPublishStampBytes) bytes).
  void AppendPublish(absl::string_view channel, const PublishStamp& stamp, std::string* out) const;
  std::string Key(uint64_t key_index) const;
  const std::string& value() const { return value_; }

  // Any command as a RESP array of bulk strings (AUTH, HELLO).
  static void AppendCommand(std::initializer_list<absl::string_view> args, std::string* out);

 private:
  void AppendKey(uint64_t key_index, std::string* out) const;

  std::string key_prefix_;
  std::string value_;
  std::string set_value_tail_;  // "$<size>\r\n<value>\r\n"
};

}  // namespace strata_bench

#endif  // STRATA_BENCH_WORKLOAD_H_
