#include "bench/strata_bench/client_connection.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace strata_bench {

namespace {

// How much one recv(2) asks for, and so the read buffer each connection keeps: a pipeline
// of 16 GET replies of 32 bytes is under 1 KiB; bigger replies take several reads (the
// buffer grows to hold one whole reply). Small, because a run may hold thousands of
// connections.
constexpr size_t kReadSize = 16 * 1024;

absl::Status SocketError(absl::string_view what, int error) {
  return absl::UnavailableError(absl::StrCat(what, ": ", strerror(error)));
}

}  // namespace

absl::StatusOr<ServerAddress> ResolveServer(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = absl::StrCat(port);
  if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  ServerAddress server;
  std::memcpy(&server.address, found->ai_addr, found->ai_addrlen);
  server.length = found->ai_addrlen;
  server.text = absl::StrCat(host, ":", port);
  freeaddrinfo(found);
  return server;
}

int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

uint64_t MicrosBetween(int64_t from_ns, int64_t to_ns) {
  return static_cast<uint64_t>(std::max<int64_t>(0, to_ns - from_ns) + 500) / 1000;
}

ClientConnection::ClientConnection(const BenchOptions& plan, const RequestEncoder& encoder,
                                   uint64_t client_index, uint64_t client_count, uint64_t request_budget)
    : plan_(plan),
      encoder_(encoder),
      client_index_(client_index),
      keys_(plan.key_pattern, plan.key_min, plan.key_max, plan.seed, client_index, client_count),
      schedule_(plan.ratio_sets, plan.ratio_gets),
      scan_keys_(plan.scan_start, client_index, client_count),
      scan_schedule_(static_cast<uint32_t>(plan.scan_share)),
      budget_(request_budget),
      in_flight_(static_cast<size_t>(plan.pipeline)) {}

ClientConnection::~ClientConnection() {
  if (fd_ >= 0) close(fd_);
}

bool ClientConnection::awaiting_server() const {
  return phase_ == Phase::kConnecting || phase_ == Phase::kHandshake || in_flight_count_ > 0;
}

absl::StatusOr<int> StartConnect(const ServerAddress& server) {
  const int fd = socket(server.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return SocketError("socket", errno);
  // Requests go out as soon as a batch is written; Nagle would hold a lone request back.
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&server.address), server.length) != 0 &&
      errno != EINPROGRESS) {
    const int error = errno;
    close(fd);
    return SocketError(absl::StrCat("cannot connect to ", server.text), error);
  }
  return fd;
}

absl::Status ConnectOutcome(int fd) {
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) return SocketError("cannot connect", error);
  return absl::OkStatus();
}

void AppendHandshake(const BenchOptions& plan, std::string* out, std::vector<std::string>* sent) {
  if (!plan.auth.empty()) {
    // memtier's convention: USER:PASSWORD authenticates an ACL user, anything else is the
    // password of the default user.
    if (const size_t colon = plan.auth.find(':'); colon != std::string::npos) {
      RequestEncoder::AppendCommand(
          {"AUTH", absl::string_view(plan.auth).substr(0, colon), absl::string_view(plan.auth).substr(colon + 1)},
          out);
    } else {
      RequestEncoder::AppendCommand({"AUTH", plan.auth}, out);
    }
    sent->push_back("AUTH");
  }
  if (plan.resp == 3) {
    // After AUTH: on a server with a password, HELLO without credentials is refused.
    RequestEncoder::AppendCommand({"HELLO", "3"}, out);
    sent->push_back("HELLO 3");
  }
  if (plan.tracking) {
    // After HELLO 3: the invalidations then come as pushes on this connection.
    RequestEncoder::AppendCommand({"CLIENT", "TRACKING", "on"}, out);
    sent->push_back("CLIENT TRACKING on");
  }
}

absl::Status SendPending(int fd, std::string* out, size_t* sent) {
  while (*sent < out->size()) {
    const ssize_t n = send(fd, out->data() + *sent, out->size() - *sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      *sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return absl::OkStatus();  // wait for EPOLLOUT
    return SocketError("cannot send to the server", n < 0 ? errno : EPIPE);
  }
  out->clear();
  *sent = 0;
  return absl::OkStatus();
}

absl::Status ReadAvailable(int fd, ReplyReader* reader, bool* closed) {
  *closed = false;
  while (true) {
    char* tail = reader->WritableTail(kReadSize);
    const ssize_t n = recv(fd, tail, kReadSize, MSG_DONTWAIT);
    if (n > 0) {
      reader->Commit(static_cast<size_t>(n));
      if (static_cast<size_t>(n) < kReadSize) return absl::OkStatus();  // drained the socket for now
      continue;
    }
    if (n == 0) {
      *closed = true;
      return absl::OkStatus();
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return absl::OkStatus();
    return SocketError("connection to the server failed", errno);
  }
}

absl::Status ClientConnection::Connect(const ServerAddress& server, int64_t now_ns) {
  last_progress_ns_ = now_ns;
  absl::StatusOr<int> fd = StartConnect(server);
  if (!fd.ok()) return fd.status();
  fd_ = *fd;
  phase_ = Phase::kConnecting;
  return absl::OkStatus();
}

absl::Status ClientConnection::OnConnectDone(int64_t now_ns) {
  if (absl::Status s = ConnectOutcome(fd_); !s.ok()) return s;
  last_progress_ns_ = now_ns;
  AppendHandshake(plan_, &out_, &handshake_pending_);
  if (handshake_pending_.empty()) {
    phase_ = Phase::kReady;
    return absl::OkStatus();
  }
  phase_ = Phase::kHandshake;
  return Flush();
}

absl::Status ClientConnection::Start(int64_t now_ns) {
  phase_ = Phase::kRunning;
  last_progress_ns_ = now_ns;
  absl::Status status = Refill();
  MaybeFinish();
  return status;
}

void ClientConnection::StopIssuing(int64_t now_ns) {
  issuing_ = false;
  // The drain starts now: a reply timeout counts from here, not from the last reply.
  last_progress_ns_ = std::max(last_progress_ns_, now_ns);
  MaybeFinish();
}

absl::Status ClientConnection::OnWritable() { return Flush(); }

absl::Status ClientConnection::OnReadable(RunStats* stats) {
  bool closed = false;
  if (absl::Status s = ReadAvailable(fd_, &reader_, &closed); !s.ok()) return s;
  // One clock read for everything this read completed: those replies arrived together.
  const int64_t now_ns = MonotonicNanos();
  ReplySummary reply;
  while (true) {
    const ReadState state = reader_.Next(&reply);
    if (state == ReadState::kNeedMore) break;
    if (state == ReadState::kError) return reader_.error();
    if (reply.kind == ReplyKind::kPush) {  // out-of-band, answers no request
      CountPush(reply, stats);
      continue;
    }
    last_progress_ns_ = now_ns;
    if (phase_ == Phase::kHandshake) {
      if (absl::Status s = HandleHandshakeReply(reply); !s.ok()) return s;
      continue;
    }
    if (in_flight_count_ == 0) {
      return absl::DataLossError("the server sent a reply to a request that was never sent");
    }
    HandleLoadReply(reply, now_ns, stats);
  }
  if (closed) {
    if (phase_ == Phase::kDone) return absl::OkStatus();
    return absl::UnavailableError("the server closed the connection");
  }
  if (phase_ == Phase::kRunning) {
    if (absl::Status s = Refill(); !s.ok()) return s;
    MaybeFinish();
  }
  return absl::OkStatus();
}

absl::Status ClientConnection::HandleHandshakeReply(const ReplySummary& reply) {
  const std::string command = handshake_pending_.front();
  handshake_pending_.erase(handshake_pending_.begin());
  if (reply.kind == ReplyKind::kError) {
    return absl::FailedPreconditionError(absl::StrCat(command, " refused: ", reply.text));
  }
  if (handshake_pending_.empty()) phase_ = Phase::kReady;
  return absl::OkStatus();
}

void ClientConnection::HandleLoadReply(const ReplySummary& reply, int64_t now_ns, RunStats* stats) {
  const InFlight request = in_flight_[in_flight_head_];
  in_flight_head_ = in_flight_head_ + 1 == in_flight_.size() ? 0 : in_flight_head_ + 1;
  --in_flight_count_;
  const uint64_t micros = MicrosBetween(request.sent_ns, now_ns);
  if (request.type == CommandType::kPublish) {
    HandlePublishReply(reply, micros, stats);
    return;
  }
  CommandStats& command = request.type == CommandType::kSet ? stats->set : stats->get;
  ++command.requests;
  command.latency.Record(micros);
  if (request.type == CommandType::kSet && request.cache_aside) ++stats->cache_aside_sets;

  bool error = reply.kind == ReplyKind::kError;
  // Whether this reply ends the lookup it belongs to (a GET of the load, or its cache-aside SET).
  bool lookup_done = false;
  if (!error && request.type == CommandType::kGet) {
    if (reply.kind == ReplyKind::kBulkString) {
      ++command.hits;
      lookup_done = true;
    } else if (reply.kind == ReplyKind::kNull) {
      ++command.misses;
      if (!plan_.cache_aside) {
        lookup_done = true;
      } else if (source_loader_) {
        ++pending_loads_;
        ++stats->source.queries;
        source_loader_(request.key_index, request.lookup_start_ns);
      } else {
        cache_aside_sets_.push_back({request.key_index, request.lookup_start_ns, false, {}});
      }
    } else {
      error = true;  // GET answers a string or nil; anything else is wrong
    }
  } else if (!error && reply.kind != ReplyKind::kSimpleString) {
    error = true;  // SET answers +OK; anything else belongs to another request
  } else if (!error) {
    lookup_done = request.cache_aside;  // a SET of the ratio is not a lookup
  }
  if (lookup_done) {
    ++stats->lookup.requests;
    stats->lookup.latency.Record(MicrosBetween(request.lookup_start_ns, now_ns));
  }
  if (error) {
    if (request.type == CommandType::kGet || request.cache_aside) ++stats->lookup.errors;
    ++command.errors;
    if (stats->first_error.empty()) {
      stats->first_error = reply.kind == ReplyKind::kError ? std::string(reply.text)
                           : request.type == CommandType::kGet
                               ? "unexpected reply type to GET (neither a string nor nil)"
                               : "unexpected reply type to SET (not a simple string)";
    }
  }
}

void ClientConnection::CountPush(const ReplySummary& push, RunStats* stats) {
  // An invalidation is ["invalidate", [key, ...]] (or null for a flush); Redis 7 pushes nothing
  // else to a client that does not subscribe, but a server may (e.g. tracking-redir-broken).
  if (push.element_count > 0 && push.elements[0] == "invalidate") {
    ++stats->invalidations;
  } else {
    ++stats->other_pushes;
  }
}

void ClientConnection::HandlePublishReply(const ReplySummary& reply, uint64_t micros, RunStats* stats) {
  ++stats->publish.requests;
  stats->publish.latency.Record(micros);
  if (reply.kind == ReplyKind::kInteger) {
    stats->publish_receivers += static_cast<uint64_t>(std::max<int64_t>(reply.integer, 0));
    return;
  }
  ++stats->publish.errors;
  if (stats->first_error.empty()) {
    stats->first_error = reply.kind == ReplyKind::kError ? std::string(reply.text)
                                                         : "unexpected reply type to PUBLISH (not an integer)";
  }
}

absl::Status ClientConnection::Refill() {
  const size_t capacity = in_flight_.size();
  // One clock read per batch, just before it is written: the whole batch leaves together.
  // Read here rather than passed in, so a client that refills after others in the same
  // event loop pass does not charge their send time to its requests.
  int64_t now_ns = 0;
  while (in_flight_count_ < capacity) {
    if (now_ns == 0) now_ns = MonotonicNanos();
    InFlight request{CommandType::kGet, false, 0, now_ns, now_ns};
    if (!cache_aside_sets_.empty()) {
      PendingSet& pending = cache_aside_sets_.front();
      request.type = CommandType::kSet;
      request.cache_aside = true;
      request.key_index = pending.key_index;
      request.lookup_start_ns = pending.lookup_start_ns;
      if (pending.has_value) {
        encoder_.AppendSetValue(request.key_index, pending.value, &out_);
      } else {
        encoder_.AppendSet(request.key_index, &out_);
      }
      cache_aside_sets_.pop_front();
    } else if (issuing_ && budget_ > 0 && in_flight_count_ + pending_loads_ < capacity) {
      // A source query in progress holds its lookup's slot: with --pipeline 1 the client waits
      // for the database and its SET before its next GET, as a thread-per-request application.
      --budget_;
      request.type = plan_.pubsub() ? CommandType::kPublish : schedule_.Next();
      if (request.type == CommandType::kPublish) {
        encoder_.AppendPublish(plan_.pubsub_channel, {now_ns, client_index_, publish_sequence_++}, &out_);
      } else if (request.type == CommandType::kSet) {
        request.key_index = keys_.Next();
        encoder_.AppendSet(request.key_index, &out_);
      } else {
        request.key_index = scan_schedule_.NextIsScan() ? scan_keys_.Next() : keys_.Next();
        encoder_.AppendGet(request.key_index, &out_);
      }
    } else {
      break;
    }
    size_t slot = in_flight_head_ + in_flight_count_;
    if (slot >= capacity) slot -= capacity;
    in_flight_[slot] = request;
    ++in_flight_count_;
  }
  return Flush();
}

absl::Status ClientConnection::Flush() { return SendPending(fd_, &out_, &out_sent_); }

absl::Status ClientConnection::OnSourceAnswer(uint64_t key_index, int64_t lookup_start_ns, int64_t query_start_ns,
                                              strata::loaders::LoadOutcome outcome, RunStats* stats) {
  const int64_t now_ns = MonotonicNanos();
  --pending_loads_;
  stats->source.latency.Record(MicrosBetween(query_start_ns, now_ns));
  // The database answered: the reply timeout counts from here, not from the GET's reply.
  last_progress_ns_ = std::max(last_progress_ns_, now_ns);
  switch (outcome.kind) {
    case strata::loaders::LoadOutcome::Kind::kFound:
      ++stats->source.found;
      cache_aside_sets_.push_back({key_index, lookup_start_ns, true, std::move(outcome.value)});
      break;
    case strata::loaders::LoadOutcome::Kind::kNotFound:
      // The application learns there is no such row; it has nothing to cache.
      ++stats->source.not_found;
      ++stats->lookup.requests;
      stats->lookup.latency.Record(MicrosBetween(lookup_start_ns, now_ns));
      break;
    case strata::loaders::LoadOutcome::Kind::kError:
      ++stats->source.errors;
      ++stats->lookup.errors;
      if (stats->source.first_error.empty()) {
        stats->source.first_error = absl::StrCat(encoder_.Key(key_index), ": ", outcome.error);
      }
      break;
  }
  if (phase_ != Phase::kRunning) return absl::OkStatus();
  absl::Status status = Refill();
  MaybeFinish();
  return status;
}

void ClientConnection::MaybeFinish() {
  if (phase_ != Phase::kRunning) return;
  if (in_flight_count_ == 0 && pending_loads_ == 0 && cache_aside_sets_.empty() && (budget_ == 0 || !issuing_)) {
    phase_ = Phase::kDone;
  }
}

}  // namespace strata_bench
