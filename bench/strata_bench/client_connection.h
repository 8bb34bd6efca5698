// ClientConnection: one non-blocking connection of the load generator and its share of the
// load.
//
// Contract: owned and driven by one BenchWorker thread, which calls it when epoll reports its
// socket ready. It keeps up to `pipeline` requests in flight, appends each batch of new
// requests to one buffer and sends it with one send(2), matches replies to requests in
// order, and accounts every reply into the worker's RunStats. Socket failures, protocol
// errors and refused AUTH/HELLO come back as a non-OK Status; error replies to the load are
// counted, not returned.
//
// With --pubsub-subscribers, the load is PUBLISH commands whose payload carries a PublishStamp
// (this client's index as the publisher, its own sequence); a reply must be an integer.
//
// With --tracking, the handshake ends with CLIENT TRACKING on, and the invalidation pushes that
// arrive between (or within a batch of) replies are counted into RunStats, never matched to a
// request.
//
// With --cache-aside --source, a GET miss starts a database query through the starter the
// worker set, and the query holds one pipeline slot until the worker hands its answer to
// OnSourceAnswer: then the SET of the value goes out (the "classic" loop: GET, nil, query, SET).
#ifndef STRATA_BENCH_CLIENT_CONNECTION_H_
#define STRATA_BENCH_CLIENT_CONNECTION_H_

#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/strata_bench/bench_options.h"
#include "bench/strata_bench/bench_stats.h"
#include "bench/strata_bench/key_generator.h"
#include "bench/strata_bench/reply_reader.h"
#include "bench/strata_bench/workload.h"
#include "loaders/source.h"

namespace strata_bench {

struct ServerAddress {
  sockaddr_storage address{};
  socklen_t length = 0;
  std::string text;  // host:port, for messages
};

// Resolves host (a name or a literal address) to the first TCP address getaddrinfo offers.
absl::StatusOr<ServerAddress> ResolveServer(const std::string& host, int port);

// CLOCK_MONOTONIC in nanoseconds: the clock of every latency and deadline.
int64_t MonotonicNanos();
// to_ns - from_ns rounded to the nearest microsecond, the histograms' unit (0 if negative).
uint64_t MicrosBetween(int64_t from_ns, int64_t to_ns);

// The socket work every connection of the load generator shares (ClientConnection and
// SubscriberConnection). Errors name what failed; none of them closes the socket.
//
// A non-blocking TCP socket to `server` (TCP_NODELAY: a batch leaves as soon as it is
// written) with its connect started; the caller owns the descriptor.
absl::StatusOr<int> StartConnect(const ServerAddress& server);
// The outcome of the connect once the socket became writable (or reported an error).
absl::Status ConnectOutcome(int fd);
// Appends what a connection sends before anything else: AUTH when --auth is given, then
// HELLO 3 when --resp 3, then CLIENT TRACKING on when --tracking (never with subscribers);
// the name of each goes to `sent`, in order.
void AppendHandshake(const BenchOptions& plan, std::string* out, std::vector<std::string>* sent);
// Sends out[*sent..] until done or the socket is full; once all is sent, clears both.
absl::Status SendPending(int fd, std::string* out, size_t* sent);
// Reads what the socket holds into `reader`; *closed when the server closed the connection.
absl::Status ReadAvailable(int fd, ReplyReader* reader, bool* closed);

class ClientConnection {
 public:
  enum class Phase {
    kConnecting,  // connect(2) in progress
    kHandshake,   // AUTH / HELLO sent, replies pending
    kReady,       // connected, waiting for the start of the load
    kRunning,     // sending the load
    kDone,        // its share is sent and answered (or the time is up and it drained)
  };

  // `request_budget` is this client's share of --requests; UINT64_MAX for a timed run.
  ClientConnection(const BenchOptions& plan, const RequestEncoder& encoder, uint64_t client_index,
                   uint64_t client_count, uint64_t request_budget);
  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  // Starts a non-blocking connect; the socket becomes writable when it completes.
  absl::Status Connect(const ServerAddress& server, int64_t now_ns);
  // The socket became writable (or reported an error) while connecting: check the outcome,
  // then send AUTH/HELLO or go straight to kReady.
  absl::Status OnConnectDone(int64_t now_ns);
  // Starts the load (kReady -> kRunning) by sending the first batch.
  absl::Status Start(int64_t now_ns);
  // The socket is readable: read, handle every whole reply, refill the pipeline.
  absl::Status OnReadable(RunStats* stats);
  // The socket is writable again after a partial send.
  absl::Status OnWritable();
  // Called on a GET miss with --source: query the database for key_index, on behalf of the
  // lookup that started (its GET was sent) at lookup_start_ns. Must not call back into this
  // connection; the answer comes through OnSourceAnswer.
  using SourceLoadStarter = std::function<void(uint64_t key_index, int64_t lookup_start_ns)>;
  void set_source_loader(SourceLoadStarter starter) { source_loader_ = std::move(starter); }
  // The answer to a query this connection started (handed to the source at query_start_ns):
  // SET a found value, then refill.
  absl::Status OnSourceAnswer(uint64_t key_index, int64_t lookup_start_ns, int64_t query_start_ns,
                              strata::loaders::LoadOutcome outcome, RunStats* stats);
  // The time is up: send no new requests (answers to GET misses still get their cache-aside
  // SET), finish once the replies in flight are in.
  void StopIssuing(int64_t now_ns);

  int fd() const { return fd_; }
  Phase phase() const { return phase_; }
  bool wants_write() const { return phase_ == Phase::kConnecting || out_sent_ < out_.size(); }
  // Waiting on the server: connecting, or requests in flight.
  bool awaiting_server() const;
  // When this connection last made progress (connected, got a reply).
  int64_t last_progress_ns() const { return last_progress_ns_; }

 private:
  struct InFlight {
    CommandType type;
    bool cache_aside;
    uint64_t key_index;
    int64_t sent_ns;
    int64_t lookup_start_ns;  // GETs and cache-aside SETs: when the lookup's GET was sent
  };
  // A missed GET whose cache-aside SET is not sent yet.
  struct PendingSet {
    uint64_t key_index;
    int64_t lookup_start_ns;
    bool has_value;     // the value from --source; else the --data-size filler
    std::string value;
  };

  absl::Status HandleHandshakeReply(const ReplySummary& reply);
  void HandleLoadReply(const ReplySummary& reply, int64_t now_ns, RunStats* stats);
  void HandlePublishReply(const ReplySummary& reply, uint64_t micros, RunStats* stats);
  void CountPush(const ReplySummary& push, RunStats* stats);
  absl::Status Refill();
  absl::Status Flush();
  void MaybeFinish();

  const BenchOptions& plan_;
  const RequestEncoder& encoder_;
  const uint64_t client_index_;
  uint64_t publish_sequence_ = 0;  // the next PUBLISH's PublishStamp::sequence
  int fd_ = -1;
  Phase phase_ = Phase::kConnecting;
  KeyGenerator keys_;
  RatioSchedule schedule_;
  ScanKeys scan_keys_;          // the one-time keys of --scan-share
  ScanSchedule scan_schedule_;  // which GETs ask them
  uint64_t budget_;
  bool issuing_ = true;
  std::vector<std::string> handshake_pending_;  // names of handshake commands sent
  std::vector<InFlight> in_flight_;             // ring of `pipeline` slots
  size_t in_flight_head_ = 0;
  size_t in_flight_count_ = 0;
  std::deque<PendingSet> cache_aside_sets_;
  SourceLoadStarter source_loader_;  // set with --source
  size_t pending_loads_ = 0;         // source queries started and not answered yet
  ReplyReader reader_;
  std::string out_;
  size_t out_sent_ = 0;
  int64_t last_progress_ns_ = 0;
};

}  // namespace strata_bench

#endif  // STRATA_BENCH_CLIENT_CONNECTION_H_
