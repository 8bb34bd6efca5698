#include "bench/strata_bench/source_lookup.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>

#include "absl/strings/str_cat.h"

namespace strata_bench {

namespace loaders = strata::loaders;

absl::StatusOr<std::unique_ptr<SourceLookup>> SourceLookup::Make(const std::string& url, const std::string& query,
                                                                 int pool, int timeout_ms) {
  loaders::SourceOptions options;
  if (pool > 0) options.emplace("pool", absl::StrCat(pool));
  absl::StatusOr<std::unique_ptr<loaders::Source>> source = loaders::MakeSource("bench", url, options);
  if (!source.ok()) return absl::InvalidArgumentError(absl::StrCat("--source: ", source.status().message()));
  loaders::SourceQuery source_query;
  source_query.text = query;
  source_query.shape = loaders::ValueShape::kString;
  source_query.timeout = std::chrono::milliseconds(timeout_ms);
  // The key PREFIX<index> read as the template PREFIX{id}: the one capture is the index.
  source_query.capture_names = {"id"};
  if (absl::Status s = (*source)->Prepare(source_query); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--source-query: ", s.message()));
  }
  return std::unique_ptr<SourceLookup>(new SourceLookup(std::move(*source), std::move(source_query)));
}

SourceLookup::~SourceLookup() { Stop(); }

absl::Status SourceLookup::Start() {
  absl::Status status = source_->Start();
  started_ = status.ok();
  return status;
}

void SourceLookup::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  source_->Stop();
}

void SourceLookup::Load(uint64_t id, std::function<void(loaders::LoadOutcome)> done) {
  std::vector<std::vector<std::string>> batch = {{absl::StrCat(id)}};
  source_->Load(query_, std::move(batch), [done = std::move(done)](std::vector<loaders::LoadOutcome> outcomes) {
    done(outcomes.size() == 1 ? std::move(outcomes[0])
                              : loaders::LoadOutcome::Error("source returned a wrong number of results"));
  });
}

SourceMailbox::SourceMailbox() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

SourceMailbox::~SourceMailbox() {
  if (fd_ >= 0) close(fd_);
}

void SourceMailbox::Post(SourceAnswer answer) {
  bool was_empty;
  {
    absl::MutexLock lock(&mu_);
    was_empty = answers_.empty();
    answers_.push_back(std::move(answer));
  }
  // One wake-up per batch: the worker takes everything queued when it wakes.
  if (was_empty && fd_ >= 0) {
    const uint64_t one = 1;
    while (write(fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
  }
}

std::vector<SourceAnswer> SourceMailbox::Take() {
  if (fd_ >= 0) {
    uint64_t count = 0;
    while (read(fd_, &count, sizeof(count)) < 0 && errno == EINTR) {
    }
  }
  std::vector<SourceAnswer> answers;
  absl::MutexLock lock(&mu_);
  answers.swap(answers_);
  return answers;
}

}  // namespace strata_bench
