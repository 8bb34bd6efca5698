#include "bench/strata_bench/subscriber_connection.h"

#include <unistd.h>

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/strata_bench/workload.h"

namespace strata_bench {

namespace {

// A message or a confirmation: ["message", channel, payload] or ["subscribe", channel, count],
// an array in RESP2, a push in RESP3.
bool IsPubSubFrame(const ReplySummary& reply, absl::string_view word) {
  return (reply.kind == ReplyKind::kArray || reply.kind == ReplyKind::kPush) && reply.integer == 3 &&
         reply.element_count == 3 && absl::EqualsIgnoreCase(reply.elements[0], word);
}

// What a malformed message looked like, short enough for a report line.
std::string Describe(const ReplySummary& reply) {
  constexpr size_t kShown = 60;
  if (reply.element_count == 3) {
    return absl::StrCat("[", reply.elements[0], ", ", reply.elements[1], ", ", reply.elements[2].substr(0, kShown),
                        "]");
  }
  return absl::StrCat("a reply of kind ", static_cast<int>(reply.kind), " with ", reply.integer, " elements: ",
                      reply.text.substr(0, kShown));
}

}  // namespace

SubscriberConnection::SubscriberConnection(const BenchOptions& plan, uint64_t publisher_count)
    : plan_(plan), next_sequence_(publisher_count, 0) {}

SubscriberConnection::~SubscriberConnection() {
  if (fd_ >= 0) close(fd_);
}

absl::Status SubscriberConnection::Connect(const ServerAddress& server, int64_t now_ns) {
  last_progress_ns_ = now_ns;
  absl::StatusOr<int> fd = StartConnect(server);
  if (!fd.ok()) return fd.status();
  fd_ = *fd;
  phase_ = Phase::kConnecting;
  return absl::OkStatus();
}

absl::Status SubscriberConnection::OnConnectDone(int64_t now_ns) {
  if (absl::Status s = ConnectOutcome(fd_); !s.ok()) return s;
  last_progress_ns_ = now_ns;
  AppendHandshake(plan_, &out_, &handshake_pending_);
  RequestEncoder::AppendCommand({"SUBSCRIBE", plan_.pubsub_channel}, &out_);
  handshake_pending_.push_back("SUBSCRIBE");
  phase_ = Phase::kSubscribing;
  return Flush();
}

absl::Status SubscriberConnection::OnReadable(DeliveryStats* stats) {
  bool closed = false;
  if (absl::Status s = ReadAvailable(fd_, &reader_, &closed); !s.ok()) return s;
  // One clock read for everything this read completed: those messages arrived together.
  const int64_t now_ns = MonotonicNanos();
  ReplySummary reply;
  while (true) {
    const ReadState state = reader_.Next(&reply);
    if (state == ReadState::kNeedMore) break;
    if (state == ReadState::kError) return reader_.error();
    last_progress_ns_ = now_ns;
    if (phase_ == Phase::kSubscribing) {
      if (absl::Status s = HandleHandshakeReply(reply); !s.ok()) return s;
      continue;
    }
    HandleMessage(reply, now_ns, stats);
  }
  if (closed) {
    return absl::UnavailableError(
        "the server closed a subscriber's connection (client-output-buffer-limit pubsub, if it could not keep up)");
  }
  return absl::OkStatus();
}

absl::Status SubscriberConnection::HandleHandshakeReply(const ReplySummary& reply) {
  const std::string command = handshake_pending_.front();
  if (reply.kind == ReplyKind::kError) {
    return absl::FailedPreconditionError(absl::StrCat(command, " refused: ", reply.text));
  }
  handshake_pending_.erase(handshake_pending_.begin());
  if (command != "SUBSCRIBE") return absl::OkStatus();
  if (!IsPubSubFrame(reply, "subscribe") || reply.elements[1] != plan_.pubsub_channel) {
    return absl::DataLossError(absl::StrCat("SUBSCRIBE ", plan_.pubsub_channel, " was answered with ", Describe(reply),
                                            ", not its confirmation"));
  }
  phase_ = Phase::kSubscribed;
  return absl::OkStatus();
}

void SubscriberConnection::HandleMessage(const ReplySummary& reply, int64_t now_ns, DeliveryStats* stats) {
  std::optional<PublishStamp> stamp;
  if (IsPubSubFrame(reply, "message") && reply.elements[1] == plan_.pubsub_channel) {
    stamp = ParsePublishStamp(reply.elements[2]);
  }
  if (!stamp.has_value() || stamp->publisher >= next_sequence_.size()) {
    ++stats->malformed;
    if (stats->first_malformed.empty()) stats->first_malformed = Describe(reply);
    return;
  }
  ++delivered_;
  ++stats->delivered;
  stats->latency.Record(MicrosBetween(stamp->send_ns, now_ns));
  uint64_t& expected = next_sequence_[stamp->publisher];
  if (stamp->sequence != expected) ++stats->out_of_order;
  expected = (stamp->sequence + 1) % kPublishSequenceModulus;
}

absl::Status SubscriberConnection::Flush() { return SendPending(fd_, &out_, &out_sent_); }

}  // namespace strata_bench
