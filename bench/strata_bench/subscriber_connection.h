// SubscriberConnection: one --pubsub-subscribers connection: it SUBSCRIBEs to the run's channel,
// then reads every message published on it.
//
// Contract: owned and driven by one BenchWorker thread, like a ClientConnection. After the
// connect it sends AUTH / HELLO 3 (as the options ask) and SUBSCRIBE in one write, and is
// subscribed() once the server has confirmed the subscription: only then may the load start,
// or a message could be published before the server knew of this subscriber. Each message is
// accounted into the worker's DeliveryStats: its delivery latency (from the PublishStamp's
// send time to the read that received it), and whether it is the next of its publisher's
// sequence. Socket failures, protocol errors, a refused handshake or SUBSCRIBE, and a server
// closing the connection (e.g. for client-output-buffer-limit pubsub) come back as a non-OK Status.
#ifndef STRATA_BENCH_SUBSCRIBER_CONNECTION_H_
#define STRATA_BENCH_SUBSCRIBER_CONNECTION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/strata_bench/bench_options.h"
#include "bench/strata_bench/bench_stats.h"
#include "bench/strata_bench/client_connection.h"
#include "bench/strata_bench/reply_reader.h"

namespace strata_bench {

class SubscriberConnection {
 public:
  enum class Phase {
    kConnecting,   // connect(2) in progress
    kSubscribing,  // AUTH / HELLO / SUBSCRIBE sent, replies pending
    kSubscribed,   // the server confirmed the subscription; messages count from here
  };

  // `publisher_count` is how many clients publish (their indices are 0 .. count - 1).
  SubscriberConnection(const BenchOptions& plan, uint64_t publisher_count);
  ~SubscriberConnection();
  SubscriberConnection(const SubscriberConnection&) = delete;
  SubscriberConnection& operator=(const SubscriberConnection&) = delete;

  // Starts a non-blocking connect; the socket becomes writable when it completes.
  absl::Status Connect(const ServerAddress& server, int64_t now_ns);
  // The connect completed (or failed): send the handshake and SUBSCRIBE.
  absl::Status OnConnectDone(int64_t now_ns);
  // The socket is readable: read, account every message into `stats`.
  absl::Status OnReadable(DeliveryStats* stats);
  // The socket is writable again after a partial send.
  absl::Status OnWritable() { return Flush(); }

  int fd() const { return fd_; }
  Phase phase() const { return phase_; }
  bool subscribed() const { return phase_ == Phase::kSubscribed; }
  bool wants_write() const { return phase_ == Phase::kConnecting || out_sent_ < out_.size(); }
  // Messages of this run this connection has received (delivered or out of order).
  uint64_t delivered() const { return delivered_; }
  // When this connection last made progress (connected, got a reply or a message).
  int64_t last_progress_ns() const { return last_progress_ns_; }

 private:
  absl::Status HandleHandshakeReply(const ReplySummary& reply);
  void HandleMessage(const ReplySummary& reply, int64_t now_ns, DeliveryStats* stats);
  absl::Status Flush();

  const BenchOptions& plan_;
  int fd_ = -1;
  Phase phase_ = Phase::kConnecting;
  std::vector<std::string> handshake_pending_;  // names of the commands sent, in order
  // Per publisher: the sequence its next message should carry.
  std::vector<uint64_t> next_sequence_;
  uint64_t delivered_ = 0;
  ReplyReader reader_;
  std::string out_;
  size_t out_sent_ = 0;
  int64_t last_progress_ns_ = 0;
};

}  // namespace strata_bench

#endif  // STRATA_BENCH_SUBSCRIBER_CONNECTION_H_
