// BenchWorker: one load-generator thread: an epoll loop over its own ClientConnections.
//
// Contract: Run() is the thread body. It connects every client, waits at the RunControl's
// start line, drives the load until every client is done (request budget spent, or the time
// is up and the replies in flight are in), then returns. Any connection failure is reported
// to the RunControl, which stops every worker. stats() and the timestamps may be read only
// after the thread is joined; progress() may be read from any thread at any time.
//
// With --pubsub-subscribers, the worker also owns its share of the subscribers (subscriber s
// of N belongs to worker s mod threads) in the same epoll set: it arrives at the start line
// only once they are subscribed, and after its clients are done publishing it keeps reading
// until each of its subscribers has every message of the run (RunControl::AllPublished), or
// until --reply-timeout passes without a delivery; what is still missing then is reported,
// not an error of the worker.
//
// With a SourceLookup (--cache-aside --source), a client's GET miss starts a query on the
// source's threads; the answer comes back through the worker's SourceMailbox, whose eventfd
// sits in the same epoll set as the sockets, so one client waiting for the database stalls only
// itself. The worker does not finish while a query of its clients is unanswered.
#ifndef STRATA_BENCH_BENCH_WORKER_H_
#define STRATA_BENCH_BENCH_WORKER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "bench/strata_bench/bench_options.h"
#include "bench/strata_bench/bench_stats.h"
#include "bench/strata_bench/client_connection.h"
#include "bench/strata_bench/run_control.h"
#include "bench/strata_bench/source_lookup.h"
#include "bench/strata_bench/subscriber_connection.h"
#include "bench/strata_bench/workload.h"

namespace strata_bench {

// Counters a worker publishes while it runs, for the progress line.
struct WorkerProgress {
  uint64_t requests = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t errors = 0;
  uint64_t delivered = 0;  // pub/sub: messages the worker's subscribers received
};

class BenchWorker {
 public:
  // `lookup` (may be null: no --source) must outlive Run().
  BenchWorker(int worker_index, const BenchOptions& plan, const RequestEncoder& encoder,
              const ServerAddress& server, RunControl* control, SourceLookup* lookup = nullptr);

  void Run();

  const RunStats& stats() const { return stats_; }
  // When this worker started sending the load and when its last client finished.
  int64_t start_ns() const { return start_ns_; }
  int64_t end_ns() const { return end_ns_; }
  // Pub/sub: when its subscribers last received a message (0: never).
  int64_t last_delivery_ns() const { return last_delivery_ns_; }
  bool started() const { return start_ns_ != 0; }
  WorkerProgress progress() const;

 private:
  absl::Status ConnectAll();
  absl::Status DriveLoad();
  // Pub/sub, once this worker's clients are done: wait for the deliveries still on their way.
  absl::Status AwaitDeliveries();
  bool AllDelivered() const;
  absl::Status WaitAndHandleEvents(int timeout_ms);
  absl::Status HandleEvent(size_t index, uint32_t events);
  absl::Status HandleSubscriberEvent(size_t index, uint32_t events);
  // Hands every answer of the source mailbox to its client.
  absl::Status HandleSourceAnswers();
  // Makes the epoll registration of client `index` match what it waits for: readable
  // always, writable while connecting or while a batch is partly sent, nothing once done.
  absl::Status UpdateInterest(size_t index);
  absl::Status UpdateSubscriberInterest(size_t index);
  absl::Status CheckTimeouts(int64_t now_ns) const;
  void PublishProgress();

  enum class Interest : uint8_t { kNone, kRead, kReadWrite };
  // Registers, changes or removes the epoll interest of `fd` under `token`.
  absl::Status SetInterest(int fd, uint64_t token, Interest current, Interest wanted);

  const BenchOptions& plan_;
  const ServerAddress& server_;
  RunControl* control_;
  SourceLookup* lookup_;
  // Shared with the callbacks of queries in flight, which may outlive the worker's loop.
  std::shared_ptr<SourceMailbox> mailbox_;
  std::vector<std::unique_ptr<ClientConnection>> clients_;
  std::vector<Interest> interest_;  // per client: what epoll watches
  size_t done_count_ = 0;
  std::vector<std::unique_ptr<SubscriberConnection>> subscribers_;
  std::vector<Interest> subscriber_interest_;
  int epoll_fd_ = -1;
  RunStats stats_;
  int64_t start_ns_ = 0;
  int64_t end_ns_ = 0;
  int64_t last_delivery_ns_ = 0;
  std::atomic<uint64_t> progress_requests_{0};
  std::atomic<uint64_t> progress_delivered_{0};
  std::atomic<uint64_t> progress_hits_{0};
  std::atomic<uint64_t> progress_misses_{0};
  std::atomic<uint64_t> progress_errors_{0};
};

}  // namespace strata_bench

#endif  // STRATA_BENCH_BENCH_WORKER_H_
