#include "bench/strata_bench/workload.h"

#include <algorithm>
#include <charconv>

#include "absl/strings/str_cat.h"

namespace strata_bench {

namespace {

// Value filler: printable, deterministic and not a single repeated byte, so a server that
// compresses or deduplicates values gets no unrealistic advantage from it.
constexpr absl::string_view kValueAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz";

// --scan-share is a percentage: the scan GETs are spread over cycles of this many GETs.
constexpr uint64_t kScanCycle = 100;

// The fields of a PublishStamp: width in digits, and where each starts (one space between two).
constexpr size_t kSendDigits = 19;
constexpr size_t kPublisherDigits = 7;
constexpr size_t kSequenceDigits = 12;
constexpr size_t kPublisherAt = kSendDigits + 1;
constexpr size_t kSequenceAt = kPublisherAt + kPublisherDigits + 1;
static_assert(kSequenceAt + kSequenceDigits == kPublishStampBytes);

// `value` as `width` zero-padded decimal digits (its last `width` digits if it has more).
void WriteDigits(uint64_t value, size_t width, char* out) {
  for (size_t i = width; i > 0; --i) {
    out[i - 1] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

bool ReadDigits(absl::string_view text, uint64_t* value) {
  uint64_t v = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *value = v;
  return true;
}

}  // namespace

RatioSchedule::RatioSchedule(uint32_t sets, uint32_t gets) : sets_(sets), cycle_(uint64_t{sets} + gets) {
  if (cycle_ == 0) cycle_ = 1;  // 0:0 is refused by option parsing; read it as all GETs
}

CommandType RatioSchedule::Next() {
  const uint64_t i = position_;
  position_ = position_ + 1 == cycle_ ? 0 : position_ + 1;
  return (i + 1) * sets_ / cycle_ > i * sets_ / cycle_ ? CommandType::kSet : CommandType::kGet;
}

ScanSchedule::ScanSchedule(uint32_t percent) : percent_(percent) {}

bool ScanSchedule::NextIsScan() {
  const uint64_t i = position_;
  position_ = position_ + 1 == kScanCycle ? 0 : position_ + 1;
  return (i + 1) * percent_ / kScanCycle > i * percent_ / kScanCycle;
}

uint64_t ClientRequestBudget(uint64_t total, uint64_t client_index, uint64_t client_count) {
  if (client_count == 0) return 0;
  return total / client_count + (client_index < total % client_count ? 1 : 0);
}

std::optional<PublishStamp> ParsePublishStamp(absl::string_view payload) {
  if (payload.size() < kPublishStampBytes || payload[kPublisherAt - 1] != ' ' || payload[kSequenceAt - 1] != ' ') {
    return std::nullopt;
  }
  uint64_t send_ns = 0;
  PublishStamp stamp;
  if (!ReadDigits(payload.substr(0, kSendDigits), &send_ns) || send_ns > static_cast<uint64_t>(INT64_MAX) ||
      !ReadDigits(payload.substr(kPublisherAt, kPublisherDigits), &stamp.publisher) ||
      !ReadDigits(payload.substr(kSequenceAt, kSequenceDigits), &stamp.sequence)) {
    return std::nullopt;
  }
  stamp.send_ns = static_cast<int64_t>(send_ns);
  return stamp;
}

RequestEncoder::RequestEncoder(std::string key_prefix, size_t value_size)
    : key_prefix_(std::move(key_prefix)) {
  value_.resize(value_size);
  for (size_t i = 0; i < value_size; ++i) value_[i] = kValueAlphabet[i % kValueAlphabet.size()];
  set_value_tail_ = absl::StrCat("$", value_size, "\r\n", value_, "\r\n");
}

void RequestEncoder::AppendKey(uint64_t key_index, std::string* out) const {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), key_index);
  const size_t digit_count = static_cast<size_t>(end - digits);
  char length[24];
  const auto [length_end, length_ec] =
      std::to_chars(length, length + sizeof(length), key_prefix_.size() + digit_count);
  out->push_back('$');
  out->append(length, length_end);
  out->append("\r\n");
  out->append(key_prefix_);
  out->append(digits, end);
  out->append("\r\n");
}

void RequestEncoder::AppendSet(uint64_t key_index, std::string* out) const {
  out->append("*3\r\n$3\r\nSET\r\n");
  AppendKey(key_index, out);
  out->append(set_value_tail_);
}

void RequestEncoder::AppendSetValue(uint64_t key_index, absl::string_view value, std::string* out) const {
  out->append("*3\r\n$3\r\nSET\r\n");
  AppendKey(key_index, out);
  absl::StrAppend(out, "$", value.size(), "\r\n", value, "\r\n");
}

void RequestEncoder::AppendGet(uint64_t key_index, std::string* out) const {
  out->append("*2\r\n$3\r\nGET\r\n");
  AppendKey(key_index, out);
}

void RequestEncoder::AppendPublish(absl::string_view channel, const PublishStamp& stamp, std::string* out) const {
  const size_t filler = value_.size() > kPublishStampBytes ? value_.size() - kPublishStampBytes : 0;
  absl::StrAppend(out, "*3\r\n$7\r\nPUBLISH\r\n$", channel.size(), "\r\n", channel, "\r\n$",
                  kPublishStampBytes + filler, "\r\n");
  char head[kPublishStampBytes];
  WriteDigits(static_cast<uint64_t>(std::max<int64_t>(stamp.send_ns, 0)), kSendDigits, head);
  head[kPublisherAt - 1] = ' ';
  WriteDigits(stamp.publisher, kPublisherDigits, head + kPublisherAt);
  head[kSequenceAt - 1] = ' ';
  WriteDigits(stamp.sequence % kPublishSequenceModulus, kSequenceDigits, head + kSequenceAt);
  out->append(head, kPublishStampBytes);
  out->append(value_, value_.size() - filler, filler);
  out->append("\r\n");
}

std::string RequestEncoder::Key(uint64_t key_index) const { return absl::StrCat(key_prefix_, key_index); }

void RequestEncoder::AppendCommand(std::initializer_list<absl::string_view> args, std::string* out) {
  absl::StrAppend(out, "*", args.size(), "\r\n");
  for (absl::string_view arg : args) absl::StrAppend(out, "$", arg.size(), "\r\n", arg, "\r\n");
}

}  // namespace strata_bench
