#include "bench/strata_bench/bench_worker.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace strata_bench {

namespace {

constexpr int kMaxEventsPerWait = 256;
// The loop wakes at least this often to notice the deadline, timeouts and a stop request.
constexpr int kTickMillis = 100;
constexpr int64_t kNanosPerMilli = 1000000;
// The epoll token of the source mailbox's eventfd (clients use their index, subscribers theirs
// with this bit set).
constexpr uint64_t kMailboxToken = UINT64_MAX;
constexpr uint64_t kSubscriberTag = uint64_t{1} << 62;

}  // namespace

BenchWorker::BenchWorker(int worker_index, const BenchOptions& plan, const RequestEncoder& encoder,
                         const ServerAddress& server, RunControl* control, SourceLookup* lookup)
    : plan_(plan), server_(server), control_(control), lookup_(lookup) {
  if (lookup_ != nullptr) mailbox_ = std::make_shared<SourceMailbox>();
  const uint64_t client_count = static_cast<uint64_t>(plan.total_clients());
  for (int c = 0; c < plan.clients_per_thread; ++c) {
    const uint64_t client_index = static_cast<uint64_t>(worker_index) * plan.clients_per_thread + c;
    const uint64_t budget =
        plan.timed() ? UINT64_MAX : ClientRequestBudget(plan.requests, client_index, client_count);
    clients_.push_back(std::make_unique<ClientConnection>(plan, encoder, client_index, client_count, budget));
    if (lookup_ != nullptr) {
      const size_t local = clients_.size() - 1;
      clients_.back()->set_source_loader([lookup = lookup_, mailbox = mailbox_, local](uint64_t key_index,
                                                                                      int64_t lookup_start_ns) {
        const int64_t query_start_ns = MonotonicNanos();
        lookup->Load(key_index, [mailbox, local, key_index, lookup_start_ns,
                                 query_start_ns](strata::loaders::LoadOutcome outcome) {
          mailbox->Post({local, key_index, lookup_start_ns, query_start_ns, std::move(outcome)});
        });
      });
    }
  }
  interest_.assign(clients_.size(), Interest::kNone);
  for (int s = worker_index; s < plan.pubsub_subscribers; s += plan.threads) {
    subscribers_.push_back(std::make_unique<SubscriberConnection>(plan, client_count));
  }
  subscriber_interest_.assign(subscribers_.size(), Interest::kNone);
}

void BenchWorker::Run() {
  absl::Status status = ConnectAll();
  if (!status.ok()) {
    control_->Fail(status);
    control_->ArriveReady();
  } else {
    control_->ArriveReadyAndWait();
    if (!control_->stopped()) status = DriveLoad();
    if (!status.ok()) control_->Fail(status);
  }
  PublishProgress();
  clients_.clear();  // closes the sockets now rather than when main exits
  subscribers_.clear();
  if (epoll_fd_ >= 0) close(epoll_fd_);
  epoll_fd_ = -1;
  control_->WorkerFinished();
}

absl::Status BenchWorker::ConnectAll() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return absl::InternalError(absl::StrCat("epoll_create1: ", strerror(errno)));
  if (mailbox_ != nullptr) {
    if (mailbox_->fd() < 0) return absl::InternalError("eventfd for the source answers could not be made");
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = kMailboxToken;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, mailbox_->fd(), &event) != 0) {
      return absl::InternalError(absl::StrCat("epoll_ctl: ", strerror(errno)));
    }
  }
  const int64_t now_ns = MonotonicNanos();
  for (size_t i = 0; i < clients_.size(); ++i) {
    if (absl::Status s = clients_[i]->Connect(server_, now_ns); !s.ok()) return s;
    if (absl::Status s = UpdateInterest(i); !s.ok()) return s;
  }
  for (size_t i = 0; i < subscribers_.size(); ++i) {
    if (absl::Status s = subscribers_[i]->Connect(server_, now_ns); !s.ok()) return s;
    if (absl::Status s = UpdateSubscriberInterest(i); !s.ok()) return s;
  }
  while (!control_->stopped()) {
    const bool all_ready = std::all_of(clients_.begin(), clients_.end(), [](const auto& client) {
      return client->phase() == ClientConnection::Phase::kReady;
    });
    // A message published before the server confirmed a subscription need not reach it.
    const bool all_subscribed = std::all_of(subscribers_.begin(), subscribers_.end(),
                                            [](const auto& subscriber) { return subscriber->subscribed(); });
    if (all_ready && all_subscribed) break;
    if (absl::Status s = WaitAndHandleEvents(kTickMillis); !s.ok()) return s;
    if (absl::Status s = CheckTimeouts(MonotonicNanos()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status BenchWorker::DriveLoad() {
  start_ns_ = MonotonicNanos();
  const int64_t deadline_ns =
      plan_.timed() ? start_ns_ + static_cast<int64_t>(plan_.test_time_sec * 1e9) : INT64_MAX;
  bool issuing = true;
  for (size_t i = 0; i < clients_.size(); ++i) {
    if (absl::Status s = clients_[i]->Start(start_ns_); !s.ok()) return s;
    if (absl::Status s = UpdateInterest(i); !s.ok()) return s;
  }
  int64_t next_check_ns = start_ns_ + kTickMillis * kNanosPerMilli;
  while (done_count_ < clients_.size() && !control_->stopped()) {
    int timeout_ms = kTickMillis;
    if (issuing) {
      const int64_t to_deadline_ms = (deadline_ns - MonotonicNanos()) / kNanosPerMilli + 1;
      timeout_ms = static_cast<int>(std::clamp<int64_t>(to_deadline_ms, 0, kTickMillis));
    }
    if (absl::Status s = WaitAndHandleEvents(timeout_ms); !s.ok()) return s;
    const int64_t now_ns = MonotonicNanos();
    if (issuing && now_ns >= deadline_ns) {
      issuing = false;
      for (size_t i = 0; i < clients_.size(); ++i) {
        clients_[i]->StopIssuing(now_ns);
        if (absl::Status s = UpdateInterest(i); !s.ok()) return s;
      }
    }
    PublishProgress();
    if (now_ns >= next_check_ns) {
      next_check_ns = now_ns + kTickMillis * kNanosPerMilli;
      if (absl::Status s = CheckTimeouts(now_ns); !s.ok()) return s;
    }
  }
  end_ns_ = MonotonicNanos();
  if (!plan_.pubsub() || control_->stopped()) return absl::OkStatus();
  control_->PublishersDone(stats_.publishes());
  return AwaitDeliveries();
}

absl::Status BenchWorker::AwaitDeliveries() {
  const int64_t limit_ns = static_cast<int64_t>(plan_.reply_timeout_sec * 1e9);
  int64_t progress_ns = MonotonicNanos();
  uint64_t seen = stats_.delivery.delivered;
  while (!subscribers_.empty() && !control_->stopped() && !AllDelivered()) {
    if (absl::Status s = WaitAndHandleEvents(kTickMillis); !s.ok()) return s;
    PublishProgress();
    const int64_t now_ns = MonotonicNanos();
    if (stats_.delivery.delivered != seen) {
      seen = stats_.delivery.delivered;
      progress_ns = now_ns;
    } else if (now_ns - progress_ns >= limit_ns) {
      break;  // no delivery for --reply-timeout: main reports what is missing
    }
  }
  return absl::OkStatus();
}

bool BenchWorker::AllDelivered() const {
  uint64_t published = 0;
  if (!control_->AllPublished(&published)) return false;
  return std::all_of(subscribers_.begin(), subscribers_.end(),
                     [published](const auto& subscriber) { return subscriber->delivered() >= published; });
}

absl::Status BenchWorker::WaitAndHandleEvents(int timeout_ms) {
  epoll_event events[kMaxEventsPerWait];
  const int n = epoll_wait(epoll_fd_, events, kMaxEventsPerWait, timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("epoll_wait: ", strerror(errno)));
  }
  for (int e = 0; e < n; ++e) {
    if (events[e].data.u64 == kMailboxToken) {
      if (absl::Status s = HandleSourceAnswers(); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat(server_.text, ": ", s.message()));
      }
      continue;
    }
    const uint64_t token = events[e].data.u64;
    absl::Status s = (token & kSubscriberTag) != 0
                         ? HandleSubscriberEvent(static_cast<size_t>(token & ~kSubscriberTag), events[e].events)
                         : HandleEvent(static_cast<size_t>(token), events[e].events);
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat(server_.text, ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status BenchWorker::HandleEvent(size_t index, uint32_t events) {
  ClientConnection& client = *clients_[index];
  if (client.phase() == ClientConnection::Phase::kDone) return absl::OkStatus();
  if (client.phase() == ClientConnection::Phase::kConnecting) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
      if (absl::Status s = client.OnConnectDone(MonotonicNanos()); !s.ok()) return s;
    }
  } else {
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
      if (absl::Status s = client.OnReadable(&stats_); !s.ok()) return s;
    }
    if ((events & EPOLLOUT) && client.wants_write()) {
      if (absl::Status s = client.OnWritable(); !s.ok()) return s;
    }
  }
  return UpdateInterest(index);
}

absl::Status BenchWorker::HandleSubscriberEvent(size_t index, uint32_t events) {
  SubscriberConnection& subscriber = *subscribers_[index];
  if (subscriber.phase() == SubscriberConnection::Phase::kConnecting) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
      if (absl::Status s = subscriber.OnConnectDone(MonotonicNanos()); !s.ok()) return s;
    }
  } else {
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
      const uint64_t before = stats_.delivery.delivered;
      if (absl::Status s = subscriber.OnReadable(&stats_.delivery); !s.ok()) return s;
      if (stats_.delivery.delivered != before) last_delivery_ns_ = subscriber.last_progress_ns();
    }
    if ((events & EPOLLOUT) && subscriber.wants_write()) {
      if (absl::Status s = subscriber.OnWritable(); !s.ok()) return s;
    }
  }
  return UpdateSubscriberInterest(index);
}

absl::Status BenchWorker::HandleSourceAnswers() {
  for (SourceAnswer& answer : mailbox_->Take()) {
    ClientConnection& client = *clients_[answer.client];
    if (absl::Status s = client.OnSourceAnswer(answer.key_index, answer.lookup_start_ns, answer.query_start_ns,
                                               std::move(answer.outcome), &stats_);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = UpdateInterest(answer.client); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status BenchWorker::UpdateInterest(size_t index) {
  const ClientConnection& client = *clients_[index];
  Interest wanted = Interest::kRead;
  if (client.phase() == ClientConnection::Phase::kDone) {
    wanted = Interest::kNone;
  } else if (client.wants_write()) {
    wanted = Interest::kReadWrite;
  }
  const Interest current = interest_[index];
  if (wanted == current) return absl::OkStatus();
  if (absl::Status s = SetInterest(client.fd(), index, current, wanted); !s.ok()) return s;
  interest_[index] = wanted;
  if (wanted == Interest::kNone) ++done_count_;
  return absl::OkStatus();
}

absl::Status BenchWorker::UpdateSubscriberInterest(size_t index) {
  // A subscriber reads until the worker ends: its interest is never kNone.
  const Interest wanted = subscribers_[index]->wants_write() ? Interest::kReadWrite : Interest::kRead;
  const Interest current = subscriber_interest_[index];
  if (wanted == current) return absl::OkStatus();
  if (absl::Status s = SetInterest(subscribers_[index]->fd(), kSubscriberTag | index, current, wanted); !s.ok()) {
    return s;
  }
  subscriber_interest_[index] = wanted;
  return absl::OkStatus();
}

absl::Status BenchWorker::SetInterest(int fd, uint64_t token, Interest current, Interest wanted) {
  epoll_event event{};
  event.events = wanted == Interest::kReadWrite ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
  event.data.u64 = token;
  const int op = current == Interest::kNone ? EPOLL_CTL_ADD : wanted == Interest::kNone ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  if (epoll_ctl(epoll_fd_, op, fd, &event) != 0) {
    return absl::InternalError(absl::StrCat("epoll_ctl: ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status BenchWorker::CheckTimeouts(int64_t now_ns) const {
  const int64_t limit_ns = static_cast<int64_t>(plan_.reply_timeout_sec * 1e9);
  for (const auto& client : clients_) {
    if (!client->awaiting_server() || now_ns - client->last_progress_ns() < limit_ns) continue;
    const char* what = client->phase() == ClientConnection::Phase::kConnecting ? "could not connect"
                                                                               : "no reply from the server";
    return absl::DeadlineExceededError(
        absl::StrFormat("%s: %s within %gs (--reply-timeout)", server_.text, what, plan_.reply_timeout_sec));
  }
  for (const auto& subscriber : subscribers_) {
    if (subscriber->subscribed() || now_ns - subscriber->last_progress_ns() < limit_ns) continue;
    const char* what = subscriber->phase() == SubscriberConnection::Phase::kConnecting
                           ? "a subscriber could not connect"
                           : "no confirmation of a subscriber's SUBSCRIBE";
    return absl::DeadlineExceededError(
        absl::StrFormat("%s: %s within %gs (--reply-timeout)", server_.text, what, plan_.reply_timeout_sec));
  }
  return absl::OkStatus();
}

void BenchWorker::PublishProgress() {
  progress_requests_.store(stats_.requests(), std::memory_order_relaxed);
  progress_hits_.store(stats_.hits(), std::memory_order_relaxed);
  progress_misses_.store(stats_.misses(), std::memory_order_relaxed);
  progress_errors_.store(stats_.errors(), std::memory_order_relaxed);
  progress_delivered_.store(stats_.delivery.delivered, std::memory_order_relaxed);
}

WorkerProgress BenchWorker::progress() const {
  return {progress_requests_.load(std::memory_order_relaxed), progress_hits_.load(std::memory_order_relaxed),
          progress_misses_.load(std::memory_order_relaxed), progress_errors_.load(std::memory_order_relaxed),
          progress_delivered_.load(std::memory_order_relaxed)};
}

}  // namespace strata_bench
