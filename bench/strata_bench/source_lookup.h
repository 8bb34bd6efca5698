// The database behind a cache-aside run (--source URL --source-query SQL): what an application
// queries when its cache says nil. It reuses the server's own sources (loaders/source.h), so the
// client-side loop and strata's loaders read the database through the same code, the same pool
// size and the same prepared statement.
//
// Contract:
//   - SourceLookup::Make checks the URL and the query (which may use only :id) and does not touch
//     the database; Start() starts the source's threads (loads queue while it connects).
//   - Load(id, done) never blocks: the query runs on the source's threads and `done` is called
//     exactly once, on one of them (or at once on the caller's thread once stopped), with the
//     outcome for that one id. Thread-safe.
//   - Stop() completes pending loads with an error; call it after the workers are joined and
//     before the SourceLookup is destroyed.
//
// SourceMailbox carries outcomes from the source's threads back to one worker's epoll loop: Post()
// (any thread) queues an answer and makes the eventfd readable; the worker drains it with Take().
#ifndef STRATA_BENCH_SOURCE_LOOKUP_H_
#define STRATA_BENCH_SOURCE_LOOKUP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "loaders/source.h"

namespace strata_bench {

class SourceLookup {
 public:
  // `pool` 0 keeps the source's own default (the same a `source` line without `pool` gets).
  static absl::StatusOr<std::unique_ptr<SourceLookup>> Make(const std::string& url, const std::string& query,
                                                            int pool, int timeout_ms);
  ~SourceLookup();
  SourceLookup(const SourceLookup&) = delete;
  SourceLookup& operator=(const SourceLookup&) = delete;

  absl::Status Start();
  void Stop();
  // Runs the query with :id bound to the decimal `id`.
  void Load(uint64_t id, std::function<void(strata::loaders::LoadOutcome)> done);
  // The URL without its password.
  std::string Describe() const { return source_->Describe(); }

 private:
  SourceLookup(std::unique_ptr<strata::loaders::Source> source, strata::loaders::SourceQuery query)
      : source_(std::move(source)), query_(std::move(query)) {}

  std::unique_ptr<strata::loaders::Source> source_;
  strata::loaders::SourceQuery query_;  // the source keeps a reference while it runs
  bool started_ = false;
  bool stopped_ = false;
};

// One finished database query, addressed to a client of a worker.
struct SourceAnswer {
  size_t client = 0;  // index of the client within its worker
  uint64_t key_index = 0;
  int64_t lookup_start_ns = 0;  // when the GET that missed was sent
  int64_t query_start_ns = 0;   // when the query was handed to the source
  strata::loaders::LoadOutcome outcome;
};

class SourceMailbox {
 public:
  SourceMailbox();
  ~SourceMailbox();
  SourceMailbox(const SourceMailbox&) = delete;
  SourceMailbox& operator=(const SourceMailbox&) = delete;

  // -1 if the eventfd could not be made (then Post still queues, but nobody is woken).
  int fd() const { return fd_; }
  void Post(SourceAnswer answer);
  // Resets the eventfd and returns every queued answer, oldest first.
  std::vector<SourceAnswer> Take();

 private:
  int fd_ = -1;
  absl::Mutex mu_;
  std::vector<SourceAnswer> answers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata_bench

#endif  // STRATA_BENCH_SOURCE_LOOKUP_H_
