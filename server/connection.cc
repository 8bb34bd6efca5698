#include "server/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/absl_compat.h"
#include "server/blocking.h"
#include "server/errors.h"
#include "server/io_thread.h"
#include "server/server.h"

namespace strata::server {

namespace {

// Past this much unsent output a connection stops reading and executing until the client
// has taken its replies: a client that pipelines without reading cannot grow our memory.
constexpr size_t kMaxPendingOutput = 1024 * 1024;
// Read buffer for a connection that holds a partial command.
constexpr size_t kMinPendingCapacity = 16 * 1024;
// How far ahead of the bytes received the input buffer may grow for a large bulk.
constexpr size_t kPendingGrowthStep = 1024 * 1024;

std::string FormatAddress(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    uv_ip4_name(in, host, sizeof(host));
    port = ntohs(in->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    uv_ip6_name(in6, host, sizeof(host));
    port = ntohs(in6->sin6_port);
  }
  return absl::StrCat(host, ":", port);
}

// True when a command inside EXEC needs every shard held: it reaches the whole keyspace, may
// name keys its arguments do not (SORT BY/GET), or is a script allowed undeclared keys.
bool CommandNeedsAllShards(Server& server, const CommandSpec& spec, std::span<const std::string_view> args) {
  if (spec.flags & flags::kKeyspace) return true;
  if ((spec.name == "sort" || spec.name == "sort_ro") && args.size() > 2) return true;
  return (spec.flags & flags::kLocksOwnKeys) && server.config().lua_allow_undeclared_keys.load();
}

}  // namespace

Connection::Connection(IoThread& thread, uint64_t id, int64_t now_ms)
    : thread_(thread), server_(thread.server()), id_(id), created_ms_(now_ms), reply_(&output_),
      last_interaction_ms_(now_ms) {
  ResetUser();
  reply_.set_error_observer(&server_.error_stats());
}

void Connection::SetUser(std::shared_ptr<const AclUser> user) {
  acl_checks_ = !user->unrestricted;
  {
    absl::MutexLock lock(&info_mu_);
    if (user_name_ != user->name) user_name_ = user->name;
  }
  user_ = std::move(user);
}

void Connection::AuthenticateAs(std::shared_ptr<const AclUser> user) {
  // The snapshot was taken before now: a change since (SETUSER, DELUSER) must still reach this
  // connection, so its next command takes the user's current snapshot (generations start at 1).
  acl_generation_ = 0;
  SetUser(std::move(user));
  set_authenticated(true);
}

void Connection::ResetUser() {
  // The generation before the snapshot: a change between the two is seen at the next command.
  acl_generation_ = server_.acl().generation();
  SetUser(server_.acl().default_user());
  set_authenticated(user_->enabled && user_->nopass);
}

std::string Connection::user_name() const {
  absl::MutexLock lock(&info_mu_);
  return user_name_;
}

bool Connection::RefreshUser() {
  const uint64_t generation = server_.acl().generation();
  std::shared_ptr<const AclUser> current = server_.acl().Find(user_->name);
  if (current == nullptr || current->incarnation != user_->incarnation) {
    Close();
    return false;
  }
  acl_generation_ = generation;
  SetUser(std::move(current));
  return true;
}

AclDenial Connection::CheckAcl(const CommandSpec& spec, std::span<const std::string_view> args,
                               std::string_view context) {
  const AclDenial denial = server_.acl().Check(*user_, spec, args);
  if (denial.reason == AclDenial::kNone) return denial;
  AclLog::Entry entry;
  entry.reason = denial.reason;
  entry.context = std::string(context);
  entry.object = denial.reason == AclDenial::kCommand ? std::string(spec.name) : std::string(args[denial.arg_index]);
  entry.username = user_->name;
  entry.time_ms = NowMs();
  entry.client_info = DescribeForClientList(entry.time_ms);
  server_.acl_log().Add(std::move(entry), static_cast<size_t>(server_.config().acllog_max_len.load()));
  return denial;
}

void Connection::set_authenticated(bool on) {
  authenticated_ = on;
  protocol::ParserLimits limits;
  limits.max_bulk_len = server_.config().proto_max_bulk_len.load();
  limits.unauthenticated = !on;
  parser_.set_limits(limits);
}

bool Connection::Open(int fd, bool tls) {
  uv_tcp_init(thread_.loop(), &handle_);
  handle_.data = this;
  SSL* session = tls ? server_.tls().NewSession() : nullptr;
  if (session != nullptr) tls_ = std::make_unique<TlsSession>(session);
  if ((tls && session == nullptr) || uv_tcp_open(&handle_, fd) != 0) {
    // Not opened: nothing registered yet, so the close callback just frees us.
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&handle_), OnClose);
    return false;
  }
  fd_ = fd;
  uv_tcp_nodelay(&handle_, 1);
  int64_t keepalive = server_.config().tcp_keepalive.load();
  if (keepalive > 0) uv_tcp_keepalive(&handle_, 1, static_cast<unsigned>(keepalive));
  sockaddr_storage addr;
  int len = sizeof(addr);
  if (uv_tcp_getpeername(&handle_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    peer_address_ = FormatAddress(addr);
    peer_is_local_ = IsLoopback(addr);
  }
  len = sizeof(addr);
  if (uv_tcp_getsockname(&handle_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) local_address_ = FormatAddress(addr);
  server_.clients().Add(this);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&handle_), OnAlloc, OnRead);
  return true;
}

void Connection::OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(handle->data);
  if (self->tls_ != nullptr) {
    // Ciphertext: the session copies it in at once, so one per-thread buffer serves all.
    buf->base = self->thread_.tls_read_buffer();
    buf->len = IoThread::kTlsReadBufferSize;
    return;
  }
  if (self->pending_size_ == 0) {
    // Most reads hold whole commands: read into the thread's scratch buffer and keep only a
    // trailing partial command, so an idle connection holds no buffer at all.
    self->reading_into_pending_ = false;
    buf->base = self->thread_.shared_read_buffer();
    buf->len = IoThread::kSharedReadBufferSize;
    return;
  }
  if (!self->ReservePending(self->pending_size_ + kMinPendingCapacity)) {
    *buf = uv_buf_init(nullptr, 0);  // libuv reports UV_ENOBUFS to OnRead, which closes
    return;
  }
  self->reading_into_pending_ = true;
  buf->base = self->pending_input_.get() + self->pending_size_;
  buf->len = self->pending_capacity_ - self->pending_size_;
}

bool Connection::ReservePending(size_t minimum) {
  // Grow towards what the pending bulk still needs, but never more than about twice what the
  // client has actually sent (plus a step): an 18-byte "$536870000" header must not commit
  // 512 MB. A large value arrives in O(log n) growths.
  size_t target = minimum;
  const size_t missing = parser_.pending_bulk_bytes();
  if (missing > 0) target = std::max(target, pending_size_ + std::min(missing, pending_size_ + kPendingGrowthStep));
  if (target <= pending_capacity_) return true;
  target = std::max(target, pending_capacity_ + pending_capacity_ / 2);
  try {
    // new char[] leaves the bytes unwritten, so pages are committed only as data arrives.
    std::unique_ptr<char[]> grown(new char[target]);
    if (pending_size_ > 0) std::memcpy(grown.get(), pending_input_.get(), pending_size_);
    pending_input_ = std::move(grown);
    pending_capacity_ = target;
    return true;
  } catch (const std::bad_alloc&) {
    server_.logger().Warning(absl::StrCat("Out of memory for the input of client id=", id_, ": closing it"));
    return false;
  }
}

void Connection::ReleasePendingIfIdle() {
  if (pending_size_ == 0 && pending_capacity_ > 4 * kMinPendingCapacity) {
    pending_input_.reset();
    pending_capacity_ = 0;
  }
}

void Connection::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(stream->data);
  if (nread < 0) {
    self->Close();
    return;
  }
  if (nread == 0 || self->closing_) return;
  IoThreadStats::Bump(self->thread_.stats().net_input_bytes, static_cast<uint64_t>(nread));
  IoThreadStats::Bump(self->thread_.stats().reads_processed, 1);
  self->last_interaction_ms_.store(NowMs(), std::memory_order_relaxed);
  if (self->tls_ != nullptr) {
    if (!self->ReceiveTls(buf->base, static_cast<size_t>(nread), self->thread_.shared_read_buffer(),
                          IoThread::kSharedReadBufferSize)) {
      self->Close();
      return;
    }
  } else if (self->reading_into_pending_) {
    self->pending_size_ += static_cast<size_t>(nread);
    self->RunPendingInput();
  } else {
    size_t used = self->ProcessInput(buf->base, static_cast<size_t>(nread));
    if (!self->KeepPartialInput(buf->base + used, static_cast<size_t>(nread) - used)) {
      self->Close();
      return;
    }
  }
  self->query_buffer_bytes_.store(self->pending_size_, std::memory_order_relaxed);
  self->query_buffer_capacity_.store(self->pending_capacity_, std::memory_order_relaxed);
  self->server_.memory_meter().Publish();
  // The buffer's capacity counts, not just the bytes in it: that is the memory it holds.
  if (!self->closing_ &&
      self->pending_capacity_ > static_cast<size_t>(self->server_.config().client_query_buffer_limit.load())) {
    self->server_.logger().Warning(
        absl::StrCat("Closing client that reached max query buffer length: id=", self->id_, " addr=", self->peer_address_));
    self->Close();
    return;
  }
  self->Flush();
}

void Connection::ReadWhileBusy() {
  if (closing_ || parked_ != Parked::kNo || reading_paused_ || fd_ < 0) return;
  // Not the thread's shared read buffer: the busy script's own command may still point into it.
  char buffer[16 * 1024];
  const ssize_t n = recv(fd_, buffer, sizeof(buffer), MSG_DONTWAIT);
  if (n <= 0) return;  // nothing yet, or end of stream (the loop will see it too once it runs)
  last_interaction_ms_.store(NowMs(), std::memory_order_relaxed);
  if (tls_ != nullptr) {
    // The session copies the ciphertext in, so `buffer` can take the plaintext after it.
    if (!ReceiveTls(buffer, static_cast<size_t>(n), buffer, sizeof(buffer))) {
      Close();
      return;
    }
  } else if (pending_size_ == 0) {
    const size_t used = ProcessInput(buffer, static_cast<size_t>(n));
    if (!KeepPartialInput(buffer + used, static_cast<size_t>(n) - used)) {
      Close();
      return;
    }
  } else {
    if (!ReservePending(pending_size_ + static_cast<size_t>(n))) {
      Close();
      return;
    }
    std::memcpy(pending_input_.get() + pending_size_, buffer, static_cast<size_t>(n));
    pending_size_ += static_cast<size_t>(n);
    RunPendingInput();
  }
  Flush();
}

bool Connection::KeepPartialInput(const char* data, size_t len) {
  if (len == 0) return true;
  // pending_size_ is 0 here: this read went to the shared buffer.
  if (!ReservePending(len + kMinPendingCapacity)) return false;
  std::memcpy(pending_input_.get(), data, len);
  pending_size_ = len;
  return true;
}

size_t Connection::ProcessInput(const char* data, size_t len) {
  size_t offset = 0;
  command_clock_ns_ = 0;
  while (offset < len && !close_after_reply_ && !closing_ && !close_asap_ && parked_ == Parked::kNo) {
    if (output_.size() + in_flight_.size() + tls_plaintext_.size() > kMaxPendingOutput) {
      // Let the client drain its replies before running more of its pipeline.
      if (!reading_paused_) {
        uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle_));
        reading_paused_ = true;
      }
      break;
    }
    auto result = parser_.Parse(data + offset, len - offset);
    if (result == protocol::RequestParser::Result::kNeedMore) break;
    if (result == protocol::RequestParser::Result::kError) {
      reply_.Error(absl::StrCat("ERR ", parser_.error()));
      server_.logger().Verbose(absl::StrCat("Protocol error (", parser_.error(), ") from client: id=", id_,
                                            " addr=", peer_address_, ". Closing."));
      close_after_reply_ = true;
      return len;
    }
    const auto& args = parser_.args();
    if (!args.empty()) Execute(args);
    offset += parser_.consumed();
  }
  command_clock_ns_ = 0;
  return offset;
}

// The command path (DESIGN.md section 4a), in order: find the command, refuse what this
// connection's mode forbids, queue it inside MULTI, or run it under its keys' shard locks.
// While a command of this client runs, pushes to it wait (see PushBuilder); at its end they go
// around its reply.
// Only a client that can receive pushes needs it: one that subscribes or tracks, or any RESP3
// client (another client's REDIRECT may name it); a plain RESP2 client pays one test.
class Connection::CommandScope {
 public:
  explicit CommandScope(Connection& c)
      : c_((c.modes_ & (kModeSubscribed | kModeTracking | kModeResp3)) && !c.executing_ ? &c : nullptr) {
    if (c_ == nullptr) return;
    c_->executing_ = true;
    c_->command_output_start_ = c_->output_.size();
  }
  ~CommandScope() {
    if (c_ == nullptr) return;
    c_->executing_ = false;
    // Inline: most commands of a RESP3 client meet no push.
    if (!c_->pushes_before_reply_.empty() || !c_->pushes_after_reply_.empty()) c_->EndCommandPushes();
  }

 private:
  Connection* c_;
};

void Connection::EndCommandPushes() {
  // Messages to itself (a RESP3 client that publishes, or reads, what it subscribes to) come
  // before the reply, as Redis 7.0 sends them; invalidations of its own writes after it.
  const size_t start = std::min(command_output_start_, output_.size());
  output_.insert(start, pushes_before_reply_);
  output_.append(pushes_after_reply_);
  pushes_before_reply_.clear();
  pushes_after_reply_.clear();
}

void Connection::Execute(std::span<const std::string_view> args) {
  if (!replaying_loaded_command_) IoThreadStats::Bump(thread_.stats().commands_processed, 1);
  const int64_t start_ns = command_clock_ns_ != 0 ? command_clock_ns_ : MonotonicNs();
  command_clock_ns_ = 0;  // until this command ends normally
  const CommandScope command_scope(*this);
  const CommandSpec* spec = server_.commands().Find(args[0]);
  // The usual command passes these checks in a few instructions; anything else (subcommands,
  // errors) takes the full lookup, which words the error.
  if (spec == nullptr || !spec->subcommands.empty() || !CommandTable::ArityOk(*spec, args.size()) ||
      (spec->flags & flags::kProtected) || (!authenticated_ && !(spec->flags & flags::kNoAuth))) {
    std::string error;
    const CommandSpec* known = nullptr;
    spec = FindCheckedCommand(args, &error, &known);
    if (spec == nullptr) {
      if (known == nullptr && (EqualsIgnoreCase(args[0], "post") || EqualsIgnoreCase(args[0], "host:"))) {
        RefuseCrossProtocol();
        return;
      }
      if (known != nullptr) thread_.command_stats().Reject(known->id);
      Reject(args, error);
      return;
    }
  }
  last_command_.store(spec, std::memory_order_relaxed);
  // The ACL step: a user's change reaches the connection at its next command; the default user,
  // allowed everything, costs the two tests.
  if (server_.acl().generation() != acl_generation_ && !RefreshUser()) [[unlikely]] return;
  if (acl_checks_ && !server_.acl().QuickAllows(*user_, *spec, args)) [[unlikely]] {
    if (const AclDenial denial = CheckAcl(*spec, args, multi_ != nullptr ? "multi" : "toplevel");
        denial.reason != AclDenial::kNone) {
      thread_.command_stats().Reject(spec->id);
      Reject(args, errors::NoPermission(denial, spec->name));
      return;
    }
  }
  if (server_.pause_may_hold() && ParkIfPaused(*spec, args)) [[unlikely]] return;
  if (ModeMayRefuse() && RefusedInThisMode(*spec)) {
    thread_.command_stats().Reject(spec->id);
    return;
  }
  if (MayGrowMemory(*spec) && !server_.evictor().MakeRoom()) {
    thread_.command_stats().Reject(spec->id);
    Reject(args, errors::kOom);
    return;
  }
  if (multi_ != nullptr && !(spec->flags & flags::kNotQueued)) {
    multi_->deny_oom |= (spec->flags & flags::kDenyOom) != 0;
    multi_->commands.push_back({spec, std::vector<std::string>(args.begin(), args.end())});
    multi_queued_.store(static_cast<int>(multi_->commands.size()), std::memory_order_relaxed);
    reply_.SimpleString("QUEUED");
    return;
  }
  const uint64_t errors_before = reply_.errors_written() - nested_errors_;
  // As Redis shows them: a script's line comes before the lines of the commands it runs.
  const bool monitored_before =
      (spec->flags & flags::kLocksOwnKeys) && server_.monitors().active() && !replaying_loaded_command_;
  if (monitored_before) [[unlikely]] FeedMonitors(*spec, args, /*from_script=*/false);
  Run(*spec, args, server_.wall_clock().MsAt(start_ns));
  const int64_t end_ns = MonotonicNs();
  // The next command of this read starts here; a command that parked ends nothing yet (it may run
  // again much later, outside this read).
  command_clock_ns_ = parked_ == Parked::kNo ? end_ns : 0;
  // The statistics step. A command parked for a load or a spill read is counted when it runs again.
  if (parked_ != Parked::kOnLoads) [[likely]] {
    const int64_t nanos = end_ns - start_ns;
    // Errors of the commands an EXEC ran are theirs, not the EXEC's (as Redis counts them).
    thread_.command_stats().Record(spec->id, nanos, reply_.errors_written() - nested_errors_ != errors_before,
                                   server_.config().latency_tracking.load(std::memory_order_relaxed));
    if (server_.monitors().active() && !(spec->flags & flags::kLocksOwnKeys)) [[unlikely]] {
      FeedMonitors(*spec, args, /*from_script=*/false);
    }
    if (nanos >= server_.notable_command_ns()) [[unlikely]] {
      // As Redis: a command that blocked goes into the slow log when it is served (and never when
      // it times out), with the time it ran.
      if (parked_ == Parked::kBlocked) {
        blocked_run_nanos_ = nanos;
      } else {
        NoteSlowCommand(*spec, args, nanos);
      }
    }
  }
  // As Redis: CLIENT CACHING's choice holds for the next command (a whole transaction, and the
  // CLIENT commands in between do not use it up; a command that parked for a load uses it when
  // it runs again).
  if (tracking_ != nullptr && tracking_->caching_given && multi_ == nullptr && parked_ == Parked::kNo &&
      !spec->name.starts_with("client|")) {
    tracking_->caching_given = false;
  }
}

bool Connection::ParkIfPaused(const CommandSpec& spec, std::span<const std::string_view> args) {
  int64_t until_ms;
  const int64_t now_ms = NowMs();
  const Server::PauseMode mode = server_.PausedAt(now_ms, &until_ms);
  if (mode == Server::PauseMode::kNone) {
    server_.ClearExpiredPause(now_ms);  // so the next command pays one branch again
    return false;
  }
  // CLIENT UNPAUSE is never held, or an ALL pause could only end by its timeout; QUIT is
  // answered at once, as in Redis.
  if (spec.name == "client|unpause" || spec.name == "quit") return false;
  if (mode == Server::PauseMode::kWrite) {
    // As Redis: writes, "may replicate" commands (EVAL, FCALL, PUBLISH, PFCOUNT; not EVAL_RO, nor
    // a script or function that declares no-writes), and an EXEC that queued either.
    constexpr uint32_t kHeld = flags::kWrite | flags::kMayReplicate;
    const bool writes =
        ((spec.flags & kHeld) && !((spec.flags & flags::kLocksOwnKeys) && ScriptDeclaresNoWrites(server_, spec, args))) ||
        (spec.name == "exec" && multi_ != nullptr &&
         std::any_of(multi_->commands.begin(), multi_->commands.end(),
                     [](const QueuedCommand& q) { return (q.spec->flags & kHeld) != 0; }));
    if (!writes) return false;
  }
  parked_ = Parked::kPaused;
  server_.NotePausedClient(+1);
  waiting_command_.assign(args.begin(), args.end());
  pause_wake_ms_ = until_ms;
  thread_.WakeAt(until_ms, id_);
  return true;
}

void Connection::ResumeAfterPause() {
  if (parked_ != Parked::kPaused) return;
  thread_.ForgetWake(pause_wake_ms_, id_);
  parked_ = Parked::kNo;
  server_.NotePausedClient(-1);
  if (closing_) return;
  std::vector<std::string> command = std::move(waiting_command_);
  waiting_command_.clear();
  std::vector<std::string_view> args(command.begin(), command.end());
  // Counted in total_commands_processed when it arrived: Execute's count is taken back.
  IoThreadStats::Bump(thread_.stats().commands_processed, ~uint64_t{0});
  Execute(args);
  if (parked_ != Parked::kNo) {  // paused again (the pause was extended), or parked for a load
    Flush();
    return;
  }
  Unpark();
}

void Connection::FeedMonitors(const CommandSpec& spec, std::span<const std::string_view> args, bool from_script) {
  // As Redis: administrative commands are not shown, and passwords are redacted.
  if (spec.flags & flags::kAdmin) return;
  std::vector<std::string_view> shown(args.begin(), args.end());
  RedactSecrets(spec, &shown);
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  const int64_t micros = static_cast<int64_t>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
  thread_.AppendMonitorLine(MonitorLine(micros, db(), from_script ? std::string_view("lua") : std::string_view(peer_address_), shown));
}

void Connection::StartMonitoring() {
  SetMode(kModeMonitor, true);
  monitoring_for_info_.store(true, std::memory_order_relaxed);
  server_.monitors().Add(&thread_, id_);
}

void Connection::StopMonitoring() {
  if (!monitoring()) return;
  SetMode(kModeMonitor, false);
  monitoring_for_info_.store(false, std::memory_order_relaxed);
  server_.monitors().Remove(id_);
}

void Connection::RefuseCrossProtocol() {
  // As Redis (securityWarningCommand): an HTTP request sent to the port, as a browser tricked by
  // a web page sends one, is cut off without a reply; the log says so at most once a minute.
  if (server_.ShouldLogSecurityWarning(NowMs())) {
    server_.logger().Warning(absl::StrCat(
        "Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to strata. "
        "This is likely due to an attacker attempting to use Cross Protocol Scripting to compromise your strata "
        "instance. Connection aborted. (client id=", id_, " addr=", peer_address_, ")"));
  }
  output_.clear();
  Close();
}

void Connection::NoteSlowCommand(const CommandSpec& spec, std::span<const std::string_view> args, int64_t nanos) {
  const int64_t slower_than_us = server_.config().slowlog_log_slower_than.load(std::memory_order_relaxed);
  if (slower_than_us >= 0 && nanos / 1000 >= slower_than_us) LogSlow(spec, args, nanos / 1000);
  server_.NoteLatency((spec.flags & flags::kFast) ? "fast-command" : "command", nanos);
}

void Connection::LogSlow(const CommandSpec& spec, std::span<const std::string_view> args, int64_t micros) {
  // As Redis: EXEC is not logged (the commands it ran are, each on its own), and passwords are
  // never written into the log.
  if (spec.flags & flags::kSkipSlowlog) return;
  AddToSlowLog(spec, args, micros, peer_address_, name());
}

void Connection::LogSlowFromScript(const CommandSpec& spec, std::span<const std::string_view> args, int64_t micros) {
  // As Redis: a script's own commands are logged as the script's client, which has no address.
  AddToSlowLog(spec, args, micros, "?:0", "");
}

void Connection::AddToSlowLog(const CommandSpec& spec, std::span<const std::string_view> args, int64_t micros,
                              std::string peer, std::string client_name) {
  std::vector<std::string_view> logged(args.begin(), args.end());
  RedactSecrets(spec, &logged);
  server_.slowlog().Add(logged, NowMs() / 1000, micros, std::move(peer), std::move(client_name),
                        static_cast<size_t>(server_.config().slowlog_max_len.load(std::memory_order_relaxed)));
}

void Connection::RedactSecrets(const CommandSpec& spec, std::vector<std::string_view>* args) {
  std::vector<std::string_view>& logged = *args;
  if (spec.name == "auth") {
    for (size_t i = 1; i < logged.size(); ++i) logged[i] = "(redacted)";
  } else if (spec.name == "hello") {
    for (size_t i = 1; i < logged.size(); ++i) {
      if (EqualsIgnoreCase(logged[i], "auth")) {
        for (size_t j = i + 1; j < std::min(logged.size(), i + 3); ++j) logged[j] = "(redacted)";
        break;
      }
    }
  } else if (spec.name == "acl|setuser") {
    // As Redis: the user and every rule (a rule may be a password).
    for (size_t i = 2; i < logged.size(); ++i) logged[i] = "(redacted)";
  } else if (spec.name == "config|set") {
    // Redis's sensitive parameters: their values never reach the log.
    for (size_t i = 2; i + 1 < logged.size(); i += 2) {
      for (std::string_view secret : {"requirepass", "masterauth", "tls-key-file-pass", "tls-client-key-file-pass"}) {
        if (EqualsIgnoreCase(logged[i], secret)) logged[i + 1] = "(redacted)";
      }
    }
  }
}

bool Connection::ProtectedCommandAllowed(const CommandSpec& spec, std::string* error) const {
  const bool debug = spec.name == "debug";
  const int access = (debug ? server_.config().enable_debug_command : server_.config().enable_monitor_command).load();
  if (access == Config::kProtectedYes || (access == Config::kProtectedLocal && peer_is_local_)) return true;
  // Redis's words (processCommand), for MONITOR as for DEBUG.
  *error = absl::StrCat("ERR ", debug ? "DEBUG" : "MONITOR", " command not allowed. If the ",
                        debug ? "enable-debug-command" : "enable-monitor-command",
                        " option is set to \"local\", you can run it from a local connection, otherwise you need to set "
                        "this option in the configuration file, and then restart the server.");
  return false;
}

const CommandSpec* Connection::FindCheckedCommand(std::span<const std::string_view> args, std::string* error,
                                                  const CommandSpec** known) {
  bool unknown_subcommand = false;
  const CommandSpec* spec = server_.commands().FindWithSubcommand(args, &unknown_subcommand);
  if (spec == nullptr) {
    *error = unknown_subcommand
                 ? errors::UnknownSubcommand(args[1], absl::AsciiStrToUpper(Absl(server_.commands().Find(args[0])->name)))
                 : errors::UnknownCommand(args[0], args.data() + 1, args.size() - 1);
    return nullptr;
  }
  if (!CommandTable::ArityOk(*spec, args.size())) {
    *error = errors::WrongArity(spec->name);
    *known = spec;
    return nullptr;
  }
  if ((spec->flags & flags::kProtected) && !ProtectedCommandAllowed(*spec, error)) {
    *known = spec;
    return nullptr;
  }
  if (!authenticated_ && !(spec->flags & flags::kNoAuth)) {
    *error = errors::kNoAuth;
    *known = spec;
    return nullptr;
  }
  return spec;
}

void Connection::Reject(std::span<const std::string_view> args, std::string_view error) {
  if (EqualsIgnoreCase(args[0], "exec")) {
    // As Redis: a refused EXEC ends the transaction (and the watch), MULTI or not.
    if (error.starts_with("ERR ")) error.remove_prefix(4);
    reply_.Error(absl::StrCat("EXECABORT Transaction discarded because of: ", Absl(error)));
    DiscardMulti();
    return;
  }
  if (multi_ != nullptr) multi_->aborted = true;  // EXEC answers EXECABORT, as in Redis
  reply_.Error(error);
}

bool Connection::MayGrowMemory(const CommandSpec& spec) const {
  if (spec.flags & flags::kDenyOom) return true;
  // EXEC of a transaction that queued one (Redis checks it before EXEC as one command).
  return multi_ != nullptr && multi_->deny_oom && spec.name == "exec";
}

bool Connection::ModeMayRefuse() const {
  return (modes_ & (kModeMulti | kModeSubscribed | kModeMonitor)) || thread_.serving_while_busy() ||
         server_.keyspace().busy_scripts().load(std::memory_order_relaxed) != 0;
}

bool Connection::RefusedInThisMode(const CommandSpec& spec) {
  // As Redis, whose monitors are replicas: a monitor may not read or write keys.
  if (monitoring() && (spec.flags & (flags::kWrite | flags::kReadOnly | flags::kLocksOwnKeys))) {
    reply_.Error("ERR Replica can't interact with the keyspace");
    return true;
  }
  if (in_subscribed_mode() && !(spec.flags & flags::kSubscribedMode)) {
    // (MULTI is among the refused, so no transaction is open to abort.)
    reply_.Error(absl::StrCat("ERR Can't execute '", Absl(spec.name),
                              "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"));
    return true;
  }
  if (thread_.serving_while_busy() || ((spec.flags & flags::kKeyspace) && server_.keyspace().busy_scripts() > 0)) {
    // A script on this thread is past busy-reply-threshold, or (for a whole-keyspace command) one
    // anywhere is: it holds some of the shards the command would wait for.
    if (!(spec.flags & flags::kAllowBusy)) {
      reply_.Error(server_.scripts().BusyError());
      if (multi_ != nullptr) multi_->aborted = true;
      return true;
    }
  }
  if (multi_ != nullptr && (spec.flags & flags::kNoMulti)) {
    reply_.Error("ERR Command not allowed inside a transaction");
    multi_->aborted = true;
    return true;
  }
  return false;
}

void Connection::Run(const CommandSpec& spec, std::span<const std::string_view> args, int64_t now_ms) {
  if (spec.first_key == 0 || (spec.flags & flags::kLocksOwnKeys)) {
    CommandContext ctx{args, reply_, *this, server_, nullptr, spec, now_ms};
    spec.handler(ctx);
    return;
  }
  CommandTable::KeyIndexes(spec, args, &key_indexes_);
  keys_.clear();
  for (size_t index : key_indexes_) keys_.push_back(args[index]);
  loaders::LoaderManager& loaders = server_.loaders();
  const bool read_through = !loaders.empty() && (spec.flags & flags::kLoads) && !replaying_loaded_command_;
  AfterRun after;
  std::vector<std::string> more_keys;  // owns the keys a handler asked for, which keys_ views
  const size_t argument_keys = keys_.size();
  for (;;) {
    RunUnderKeyLocks(spec, args, now_ms, read_through, BlockingMode::kMayBlock, &after);
    if (more_keys_.empty()) break;
    // The handler found that its data names keys it had not locked: lock them too and run it
    // again (it replied nothing). SORT asks for every key it needs, so the second round runs.
    more_keys = std::move(more_keys_);
    more_keys_.clear();
    keys_.resize(argument_keys);
    for (const std::string& key : more_keys) keys_.push_back(key);
  }
  if (!after.pending.empty() || !after.ready_for_waiters.empty()) FinishAfterLocks(&after);
}

void Connection::FinishAfterLocks(AfterRun* after) {
  // Outside the shard locks: a load may complete (and store) before this returns, and waiters'
  // commands take their own locks.
  if (!after->pending.empty()) server_.loaders().Start(&after->pending);
  if (!after->ready_for_waiters.empty()) {
    server_.blocking().ServeReadyKeys(server_, *this, std::move(after->ready_for_waiters));
  }
}

void Connection::RunUnderKeyLocks(const CommandSpec& spec, std::span<const std::string_view> args, int64_t now_ms,
                                  bool read_through, BlockingMode blocking, AfterRun* after,
                                  protocol::ReplyBuilder* reply) {
  if (reply == nullptr) reply = &reply_;
  storage::Transaction txn(server_.keyspace(), db(), keys_, now_ms);
  if (txn.refused()) {
    reply->Error(server_.scripts().BusyError());
    return;
  }
  // Under the shard locks: a key found missing here and the load this command joins are one
  // decision; and a key this command really changed is told to the loaders before any load in
  // flight could store over it.
  // Memory, then the spill, then the source (DESIGN section 1): a spilled key is read back first.
  if (server_.spill_enabled() && storage::HeldShards::Current() == nullptr && ParkIfSpilled(txn, keys_, args)) {
    return;
  }
  if (read_through && ParkIfLoading(txn, keys_, args, now_ms, &after->pending)) return;
  // Asked under the locks: a client that blocked (or watched) before them is seen here, one
  // that comes after them sees this write.
  if (replaying_loaded_command_) txn.set_count_families(false);
  // CLIENT NO-TOUCH, as Redis: every command but TOUCH leaves the keys' access data alone.
  if (no_touch() && spec.name != "touch") [[unlikely]] txn.set_no_touch(true);
  const bool observed = (spec.flags & flags::kWrite) && server_.WritesObserved();
  // key-family / loader max-ttl: no write leaves a capped key living longer than its cap.
  const bool capped = (spec.flags & flags::kWrite) && server_.keyspace().has_ttl_caps();
  if (observed || capped) txn.RecordModifications();
  txn.set_writer(id_);
  CommandContext ctx{args, *reply, *this, server_, &txn, spec, now_ms, blocking};
  const bool remembers = tracking_ != nullptr && RemembersReadKeys(spec);
  if (remembers) {
    // The table's slots are on their way while the command finds its keys.
    for (size_t i = 0; i < keys_.size(); ++i) server_.tracking().Prefetch(txn.KeyHash(i, keys_[i]));
  }
  spec.handler(ctx);
  if (capped) [[unlikely]] txn.CapModifiedTtls();
  if (observed) server_.AfterWrites(txn, &after->ready_for_waiters);
  if (remembers) RememberReadKeys(txn);
}

void Connection::BeginMulti() {
  multi_ = std::make_unique<Multi>();
  SetMode(kModeMulti, true);
  multi_queued_.store(0, std::memory_order_relaxed);
}

void Connection::DiscardMulti() {
  multi_.reset();
  SetMode(kModeMulti, false);
  multi_queued_.store(-1, std::memory_order_relaxed);
  Unwatch();
}

void Connection::Watch(storage::Transaction& txn, std::span<const std::string_view> keys) {
  for (std::string_view key : keys) server_.watches().Watch(&watched_, db(), key, txn.Peek(key) != nullptr);
}

void Connection::Unwatch() { server_.watches().Unwatch(&watched_); }

bool Connection::WatchedKeysChanged(int64_t now_ms) {
  if (watched_.keys.empty()) return false;
  if (watched_.dirty.load(std::memory_order_relaxed)) return true;
  // Writes mark the client dirty; expiry does not, so it is found here: a key that was there at
  // WATCH and is gone now expired (any other removal would have marked it).
  for (const WatchedKeys::Key& watched : watched_.keys) {
    if (!watched.existed) continue;
    const std::string_view key = watched.key;
    storage::Transaction txn(server_.keyspace(), watched.db, {&key, 1}, now_ms);
    if (txn.Peek(key) == nullptr) return true;
  }
  return false;
}

void Connection::ExecMulti(std::span<const std::string_view> exec_args) {
  if (multi_->aborted) {
    reply_.Error("EXECABORT Transaction discarded because of previous errors.");
    DiscardMulti();
    return;
  }
  // Every key of every queued command, and the watched keys, locked together. A command that
  // reaches the whole keyspace (FLUSHALL, KEYS...) or keys its arguments do not name (SORT BY)
  // needs every shard.
  std::vector<std::vector<std::string_view>> argvs;
  std::vector<std::string_view> keys, load_keys;
  bool all_shards = false;
  for (const QueuedCommand& queued : multi_->commands) {
    std::vector<std::string_view>& argv = argvs.emplace_back(queued.args.begin(), queued.args.end());
    all_shards |= CommandNeedsAllShards(server_, *queued.spec, argv);
    if (queued.spec->first_key == 0) continue;
    CommandTable::KeyIndexes(*queued.spec, argv, &key_indexes_);
    for (size_t index : key_indexes_) {
      keys.push_back(argv[index]);
      if (queued.spec->flags & flags::kLoads) load_keys.push_back(argv[index]);
    }
  }
  for (const WatchedKeys::Key& watched : watched_.keys) keys.push_back(watched.key);
  const int64_t now_ms = NowMs();
  AfterRun after;
  {
    storage::HeldShards held(server_.keyspace(), keys, all_shards);
    if (held.refused()) {
      reply_.Error(server_.scripts().BusyError());
      DiscardMulti();
      return;
    }
    if (WatchedKeysChanged(now_ms)) {
      reply_.NullArray();
      DiscardMulti();
      return;
    }
    if (server_.spill_enabled()) {
      // Every key of the transaction is read back from the spill before any command runs.
      storage::Transaction txn(server_.keyspace(), db(), keys, now_ms);
      ParkIfSpilled(txn, keys, exec_args);
    }
    if (parked_ == Parked::kNo && !load_keys.empty() && !server_.loaders().empty() && !replaying_loaded_command_) {
      storage::Transaction txn(server_.keyspace(), db(), load_keys, now_ms);
      // Parked: EXEC runs again, whole, once its keys are loaded; the queue stays.
      ParkIfLoading(txn, load_keys, exec_args, now_ms, &after.pending);
    }
    if (parked_ == Parked::kNo) {
      AfterRun* outer = held_after_;
      held_after_ = &after;
      reply_.ArrayHeader(argvs.size());
      const int64_t slower_than_us = server_.config().slowlog_log_slower_than.load(std::memory_order_relaxed);
      for (size_t i = 0; i < argvs.size(); ++i) {
        const CommandSpec& spec = *multi_->commands[i].spec;
        // As Redis: rules changed since the command was queued are applied at EXEC.
        if (acl_checks_) [[unlikely]] {
          if (const AclDenial denial = CheckAcl(spec, argvs[i], "multi"); denial.reason != AclDenial::kNone) {
            reply_.Error(errors::NoPermissionAtExec(denial));
            continue;
          }
        }
        const int64_t micros = RunHeld(spec, argvs[i], now_ms, reply_) / 1000;
        if (slower_than_us >= 0 && micros >= slower_than_us) LogSlow(spec, argvs[i], micros);
      }
      held_after_ = outer;
    }
  }
  if (parked_ == Parked::kNo) DiscardMulti();
  FinishAfterLocks(&after);
}

int64_t Connection::RunHeld(const CommandSpec& spec, std::span<const std::string_view> args, int64_t now_ms,
                            protocol::ReplyBuilder& reply) {
  const int64_t start_ns = MonotonicNs();
  const uint64_t errors_before = reply.errors_written();
  RunHeldCommand(spec, args, now_ms, reply);
  const int64_t nanos = MonotonicNs() - start_ns;
  const uint64_t errors = reply.errors_written() - errors_before;
  // EXEC's commands reply into reply_; a script's into its own builder.
  const bool from_script = &reply != &reply_;
  if (!from_script) nested_errors_ += errors;
  if (server_.monitors().active()) [[unlikely]] FeedMonitors(spec, args, from_script);
  thread_.command_stats().Record(spec.id, nanos, errors != 0,
                                 server_.config().latency_tracking.load(std::memory_order_relaxed));
  return nanos;
}

void Connection::RunHeldCommand(const CommandSpec& spec, std::span<const std::string_view> args, int64_t now_ms,
                                protocol::ReplyBuilder& reply) {
  if (spec.first_key == 0 || (spec.flags & flags::kLocksOwnKeys)) {
    CommandContext ctx{args, reply, *this, server_, nullptr, spec, now_ms, BlockingMode::kNever};
    spec.handler(ctx);
    return;
  }
  CommandTable::KeyIndexes(spec, args, &key_indexes_);
  keys_.clear();
  for (size_t index : key_indexes_) keys_.push_back(args[index]);
  AfterRun local;
  RunUnderKeyLocks(spec, args, now_ms, false, BlockingMode::kNever, held_after_ != nullptr ? held_after_ : &local,
                   &reply);
  if (!more_keys_.empty()) {
    // SORT ... BY/GET naming keys outside the held shards (only a script can get here: EXEC
    // holds every shard for SORT).
    more_keys_.clear();
    reply.Error("ERR SORT BY/GET patterns in a script must name keys the script declared");
  }
  FinishAfterLocks(&local);
}

bool Connection::WithHeldShards(std::span<const std::string_view> keys, bool all,
                                absl::FunctionRef<void(storage::HeldShards& held)> fn) {
  if (storage::HeldShards* outer = storage::HeldShards::Current()) {
    fn(*outer);
    return true;
  }
  AfterRun after;
  {
    storage::HeldShards held(server_.keyspace(), keys, all);
    if (held.refused()) {
      reply_.Error(server_.scripts().BusyError());
      return false;
    }
    AfterRun* outer_after = held_after_;
    held_after_ = &after;
    fn(held);
    held_after_ = outer_after;
  }
  FinishAfterLocks(&after);
  return true;
}

bool Connection::ParkForKeysToLoad(std::span<const std::string_view> keys, std::span<const std::string_view> args,
                                   int64_t now_ms) {
  // Inside an EXEC the loads (and spill reads) were done before it ran.
  if (keys.empty() || storage::HeldShards::Current() != nullptr) return false;
  const bool loads = !server_.loaders().empty() && !replaying_loaded_command_;
  if (!loads && !server_.spill_enabled()) return false;
  AfterRun after;
  bool parked = false;
  {
    storage::Transaction txn(server_.keyspace(), db(), keys, now_ms);
    // A busy script holds one of the shards: nothing may be read; the caller replies BUSY.
    if (txn.refused()) return false;
    if (server_.spill_enabled()) parked = ParkIfSpilled(txn, keys, args);
    if (!parked && loads) parked = ParkIfLoading(txn, keys, args, now_ms, &after.pending);
  }
  FinishAfterLocks(&after);
  return parked;
}

bool Connection::ParkIfSpilled(storage::Transaction& txn, std::span<const std::string_view> keys,
                               std::span<const std::string_view> args) {
  std::vector<SpillPromoter::SpilledKey> spilled;
  for (std::string_view key : keys) {
    if (std::optional<uint64_t> generation = txn.SpillGeneration(db(), key)) {
      spilled.push_back({std::string(key), *generation});
    }
  }
  if (spilled.empty()) return false;
  server_.spill_promoter().Promote(db(), std::move(spilled), ParkForLoads(args, &Connection::ResumeAfterSpill));
  return true;
}

bool Connection::ParkIfLoading(storage::Transaction& txn, std::span<const std::string_view> keys,
                               std::span<const std::string_view> args, int64_t now_ms,
                               loaders::LoaderManager::PendingLoads* pending) {
  loaders::LoaderManager& loaders = server_.loaders();
  std::vector<std::string> missing;
  for (std::string_view key : keys) {
    loaders::Loader* loader = loaders.Match(key);
    if (loader == nullptr) continue;
    storage::Entry* e = txn.Peek(key);
    if (e != nullptr) {
      // In memory: answer now; a stale or nearly expired value also starts a refresh.
      if (loaders.OnHit(*loader, e->fresh_until_ms(), now_ms) != loaders::LoaderManager::Freshness::kFresh) {
        loaders.EnqueueRefresh(db(), key, pending);
      }
    } else if (!loaders.IsNegative(*loader, db(), key, now_ms)) {
      missing.emplace_back(key);
    }
  }
  if (missing.empty()) return false;
  // The command's reads count for the key families now, as they are (a load is a miss); its run
  // once the loads are done counts none.
  for (std::string_view key : keys) txn.CountFamilyLookup(key, txn.Peek(key) != nullptr);
  loaders.Enqueue(db(), missing, ParkForLoads(args), pending);
  return true;
}

std::function<void(absl::Status)> Connection::ParkForLoads(std::span<const std::string_view> args,
                                                           void (Connection::*resume)(const absl::Status&)) {
  // The arguments may point into a read buffer that is reused before the loads finish, or into
  // waiting_command_ itself (a command parked again as it is resumed): copy, then swap in.
  std::vector<std::string> copy(args.begin(), args.end());
  waiting_command_.swap(copy);
  parked_ = Parked::kOnLoads;
  IoThread* thread = &thread_;
  const uint64_t id = id_;
  return [thread, id, resume](absl::Status status) {
    thread->Post([thread, id, resume, status = std::move(status)] {
      // A client that disconnected meanwhile is simply not found.
      if (Connection* c = thread->FindConnection(id)) (c->*resume)(status);
    });
  };
}

void Connection::ResumeAfterSpill(const absl::Status& status) {
  if (parked_ != Parked::kOnLoads) return;
  parked_ = Parked::kNo;
  if (closing_) return;
  std::vector<std::string> command = std::move(waiting_command_);
  waiting_command_.clear();
  if (!status.ok()) {
    reply_.Error(Std(status.message()));
    if (multi_ != nullptr && !command.empty() && EqualsIgnoreCase(command[0], "exec")) DiscardMulti();
  } else {
    // Its keys are in memory now (unless evicted again meanwhile: then it parks again).
    std::vector<std::string_view> args(command.begin(), command.end());
    Execute(args);
    if (parked_ != Parked::kNo) {
      Flush();
      return;
    }
  }
  Unpark();
}

void Connection::WaitForLoads(std::span<const std::string_view> args, const std::vector<std::string>& keys) {
  server_.loaders().Load(db(), keys, ParkForLoads(args));
}

void Connection::ResumeAfterLoad(const absl::Status& status) {
  if (parked_ != Parked::kOnLoads) return;
  parked_ = Parked::kNo;
  if (closing_) return;
  if (loaders::IsSuperseded(status) && !rerun_after_write_) {
    // A write changed a key while it loaded: run the command as if it had just arrived (once;
    // if writes keep overtaking its loads, the next time it reads what is there).
    rerun_after_write_ = true;
    std::vector<std::string> command = std::move(waiting_command_);
    std::vector<std::string_view> args(command.begin(), command.end());
    Execute(args);
    if (parked_ != Parked::kNo) {  // parked again (the write was a DEL): the new load resumes it
      Flush();
      return;
    }
  } else if (!status.ok() && !loaders::IsSuperseded(status)) {
    reply_.Error(Std(status.message()));
    // An EXEC whose loads failed ran nothing; like every EXEC it ends the transaction.
    if (multi_ != nullptr && !waiting_command_.empty() && EqualsIgnoreCase(waiting_command_[0], "exec")) DiscardMulti();
  } else {
    std::vector<std::string> command = std::move(waiting_command_);
    waiting_command_.clear();
    std::vector<std::string_view> args(command.begin(), command.end());
    replaying_loaded_command_ = true;
    Execute(args);
    replaying_loaded_command_ = false;
    if (parked_ != Parked::kNo) {  // parked again (a key it needs is in the spill): resumed later
      Flush();
      return;
    }
  }
  waiting_command_.clear();
  rerun_after_write_ = false;
  Unpark();
}

void Connection::Unpark() {
  // The command that parked may have parked again (a replayed BLPOP now waits for a push).
  if (parked_ == Parked::kNo) RunPendingInput();
  Flush();
}

void Connection::ParkBlocked(std::shared_ptr<BlockedClient> waiter) {
  parked_ = Parked::kBlocked;
  blocked_for_info_.store(true, std::memory_order_relaxed);
  if (waiter->deadline_ms != 0) thread_.WakeAt(waiter->deadline_ms, id_);
  blocked_ = std::move(waiter);
}

void Connection::ResumeBlocked(std::string_view reply, bool served) {
  if (parked_ != Parked::kBlocked || closing_) return;
  if (served && blocked_run_nanos_ >= 0 && blocked_->spec != nullptr) {
    const std::vector<std::string_view> args(blocked_->command.begin(), blocked_->command.end());
    NoteSlowCommand(*blocked_->spec, args, blocked_run_nanos_);
  }
  blocked_run_nanos_ = -1;
  LeaveBlockedWait();
  reply_.Raw(reply);
  Unpark();
}

void Connection::LeaveBlockedWait() {
  if (blocked_->deadline_ms != 0) thread_.ForgetWake(blocked_->deadline_ms, id_);
  blocked_.reset();
  parked_ = Parked::kNo;
  blocked_for_info_.store(false, std::memory_order_relaxed);
}

void Connection::OnBlockDeadline(int64_t now_ms) {
  if (parked_ == Parked::kPaused) {
    if (now_ms >= pause_wake_ms_) ResumeAfterPause();
    return;
  }
  if (parked_ == Parked::kBlocked && blocked_->deadline_ms != 0 && blocked_->deadline_ms <= now_ms) {
    server_.blocking().CancelWait(id_, BlockingRegistry::Cancel::kTimeout);
  }
}

void Connection::RunPendingInput() {
  if (pending_size_ == 0) return;
  const size_t used = ProcessInput(pending_input_.get(), pending_size_);
  if (used > 0) {
    std::memmove(pending_input_.get(), pending_input_.get() + used, pending_size_ - used);
    pending_size_ -= used;
  }
  ReleasePendingIfIdle();
}

bool Connection::SealTlsSlice() {
  // The usual batch of replies is sealed where it is.
  if (tls_plaintext_.empty() && output_.size() <= kTlsSealSlice) return tls_->Seal(&output_);
  // A large output is sealed a slice at a time, oldest bytes first, each slice once the one
  // before it is written: one huge reply neither holds the thread in one long encryption nor
  // sits in memory twice over (plaintext and ciphertext) at once.
  if (!output_.empty()) {
    if (tls_plaintext_.empty()) {
      tls_plaintext_.swap(output_);
      tls_plaintext_sent_ = 0;
    } else {
      tls_plaintext_.append(output_);
    }
    output_.clear();
  }
  const size_t slice = std::min(kTlsSealSlice, tls_plaintext_.size() - tls_plaintext_sent_);
  output_.assign(tls_plaintext_, tls_plaintext_sent_, slice);
  tls_plaintext_sent_ += slice;
  if (tls_plaintext_sent_ == tls_plaintext_.size()) {
    tls_plaintext_.clear();
    if (tls_plaintext_.capacity() > kMaxPendingOutput) tls_plaintext_.shrink_to_fit();
    tls_plaintext_sent_ = 0;
  }
  return tls_->Seal(&output_);
}

bool Connection::ReceiveTls(const char* ciphertext, size_t length, char* scratch, size_t scratch_size) {
  tls_->Feed(ciphertext, length);
  while (!closing_) {
    // As a plain read: into the scratch buffer when no partial command waits, else after it.
    const bool into_pending = pending_size_ > 0;
    if (into_pending && !ReservePending(pending_size_ + kMinPendingCapacity)) return false;
    char* destination = into_pending ? pending_input_.get() + pending_size_ : scratch;
    const size_t room = into_pending ? pending_capacity_ - pending_size_ : scratch_size;
    const long got = tls_->Read(destination, room);
    if (got == TlsSession::kNeedMore) {
      // Records OpenSSL answers by itself (key updates) pile up while a write is in flight: a
      // peer that sends them without reading is cut off, as one past its output limit.
      if (tls_->pending_ciphertext() > kMaxPendingOutput) {
        server_.logger().Verbose(absl::StrCat("Closing TLS client id=", id_, ": too much TLS output it does not read"));
        return false;
      }
      return true;
    }
    if (got == TlsSession::kClosed) {
      // close_notify: the replies to what came before it still go out, then the connection closes.
      close_after_reply_ = true;
      return true;
    }
    if (got < 0) {
      if (got == TlsSession::kFailed) {
        // A plain-text client on the TLS port, a bad certificate: Redis logs these at verbose.
        server_.logger().Verbose(absl::StrCat("Error accepting a client connection: ", tls_->error(), " (addr=",
                                              peer_address_, ")"));
        // The alert OpenSSL queued tells the client why (unknown CA, no certificate): one try
        // to send it before the close.
        std::string alert;
        if (tls_->Seal(&alert) && !alert.empty()) {
          uv_buf_t buf = uv_buf_init(alert.data(), static_cast<unsigned>(alert.size()));
          (void)uv_try_write(reinterpret_cast<uv_stream_t*>(&handle_), &buf, 1);
        }
      }
      return false;
    }
    if (into_pending) {
      pending_size_ += static_cast<size_t>(got);
      RunPendingInput();
    } else {
      const size_t used = ProcessInput(scratch, static_cast<size_t>(got));
      if (!KeepPartialInput(scratch + used, static_cast<size_t>(got) - used)) return false;
    }
  }
  return true;
}

void Connection::Flush() {
  // Loop: when the socket takes all our output at once and commands were held back for output
  // pressure, run them now (no write callback will come to do it). A client past its output
  // limit gets nothing more: it is closed at the next flush check.
  while (!writing_ && !closing_ && !close_asap_) {
    // TLS: the replies become ciphertext only now, as they go out (with handshake records the
    // session queued, which may be all there is to send).
    if (tls_ != nullptr && !SealTlsSlice()) {
      server_.logger().Verbose(absl::StrCat("Error writing to TLS client id=", id_, ": ", tls_->error()));
      Close();
      return;
    }
    if (output_.empty()) {
      if (close_after_reply_) Close();
      return;
    }
    std::vector<uv_buf_t> bufs;
    SliceForWrite(output_, 0, &bufs);
    IoThreadStats::Bump(thread_.stats().writes_processed, 1);
    int written = uv_try_write(reinterpret_cast<uv_stream_t*>(&handle_), bufs.data(), static_cast<unsigned>(bufs.size()));
    if (written < 0 && written != UV_EAGAIN) {
      Close();
      return;
    }
    const size_t sent = written > 0 ? static_cast<size_t>(written) : 0;
    IoThreadStats::Bump(thread_.stats().net_output_bytes, sent);
    if (sent < output_.size()) {
      // The rest goes out with uv_write from in_flight_ (swapped, not copied), which stays
      // untouched until OnWrite; new replies meanwhile go to output_.
      in_flight_.swap(output_);
      output_.clear();
      output_bytes_.store(in_flight_.size() - sent, std::memory_order_relaxed);
      bufs.clear();
      SliceForWrite(in_flight_, sent, &bufs);
      in_flight_sent_ = sent;
      writing_ = true;
      write_req_.data = this;
      if (uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&handle_), bufs.data(), static_cast<unsigned>(bufs.size()),
                   OnWrite) != 0) {
        writing_ = false;
        Close();
        return;
      }
      WithinOutputLimit();
      return;
    }
    output_.clear();
    if (output_.capacity() > kMaxPendingOutput) output_.shrink_to_fit();
    output_bytes_.store(PendingOutputBytes(), std::memory_order_relaxed);
    if (!tls_plaintext_.empty()) continue;  // the next slice of a large TLS output
    if (close_after_reply_) {
      Close();
      return;
    }
    if (!reading_paused_) return;
    ResumeReading();
  }
}

void Connection::SliceForWrite(std::string& bytes, size_t from, std::vector<uv_buf_t>* bufs) {
  // libuv buffer lengths are 32-bit: a reply over 4 GiB (KEYS * on a huge keyspace) goes out
  // in several buffers of one write.
  constexpr size_t kMaxBufferBytes = size_t{1} << 30;
  for (size_t offset = from; offset < bytes.size(); offset += kMaxBufferBytes) {
    const size_t length = std::min(kMaxBufferBytes, bytes.size() - offset);
    bufs->push_back(uv_buf_init(bytes.data() + offset, static_cast<unsigned>(length)));
  }
}

void Connection::OnWrite(uv_write_t* req, int status) {
  auto* self = static_cast<Connection*>(req->data);
  self->writing_ = false;
  if (self->closing_) return;
  if (status < 0) {
    self->Close();
    return;
  }
  IoThreadStats::Bump(self->thread_.stats().net_output_bytes, self->in_flight_.size() - self->in_flight_sent_);
  self->in_flight_.clear();
  if (self->in_flight_.capacity() > kMaxPendingOutput) self->in_flight_.shrink_to_fit();
  if (self->reading_paused_) self->ResumeReading();
  self->Flush();
}

void Connection::ResumeReading() {
  // Run the commands that waited for the client to drain its replies; they may fill the
  // output again, in which case reading stays paused.
  RunPendingInput();
  if (reading_paused_ && output_.size() + in_flight_.size() + tls_plaintext_.size() <= kMaxPendingOutput && !closing_ &&
      parked_ == Parked::kNo) {
    reading_paused_ = false;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&handle_), OnAlloc, OnRead);
  }
}

namespace {

// One (un)subscribe confirmation: [word, name or null, count], a push in RESP3 (Redis 7).
void ReplySubscriptionChange(protocol::ReplyBuilder& reply, std::string_view word, const std::string_view* name,
                             size_t count) {
  if (reply.resp3()) {
    reply.PushHeader(3);
  } else {
    reply.ArrayHeader(3);
  }
  reply.Bulk(word);
  if (name != nullptr) {
    reply.Bulk(*name);
  } else {
    reply.Null();
  }
  reply.Integer(static_cast<int64_t>(count));
}

}  // namespace

size_t Connection::SubscriptionCount(SubscriptionKind kind) const {
  if (subscriptions_ == nullptr) return 0;
  // As Redis: shard channels count apart; channels and patterns count together.
  return kind == SubscriptionKind::kShardChannel ? subscriptions_->shard_channels.size()
                                                  : subscriptions_->channels.size() + subscriptions_->patterns.size();
}

void Connection::PublishSubscriptionCounts() {
  SetMode(kModeSubscribed, subscriptions_ != nullptr);
  channel_count_.store(subscriptions_ ? static_cast<int>(subscriptions_->channels.size()) : 0, std::memory_order_relaxed);
  pattern_count_.store(subscriptions_ ? static_cast<int>(subscriptions_->patterns.size()) : 0, std::memory_order_relaxed);
  shard_channel_count_.store(subscriptions_ ? static_cast<int>(subscriptions_->shard_channels.size()) : 0,
                             std::memory_order_relaxed);
}

void Connection::Subscribe(SubscriptionKind kind, std::span<const std::string_view> names, protocol::ReplyBuilder& reply) {
  if (subscriptions_ == nullptr) subscriptions_ = std::make_unique<Subscriptions>();
  for (const std::string_view& name : names) {
    if (subscriptions_->Of(kind).emplace(Absl(name)).second) server_.pubsub().Subscribe(kind, name, {&thread_, id_});
    ReplySubscriptionChange(reply, WordsFor(kind).subscribe, &name, SubscriptionCount(kind));
  }
  PublishSubscriptionCounts();
}

void Connection::Unsubscribe(SubscriptionKind kind, std::span<const std::string_view> names,
                             protocol::ReplyBuilder& reply) {
  const std::string_view word = WordsFor(kind).unsubscribe;
  auto remove_and_confirm = [&](const std::string_view& name) {
    if (subscriptions_ != nullptr && subscriptions_->Of(kind).erase(Absl(name)) > 0) {
      server_.pubsub().Unsubscribe(kind, name, id_);
    }
    ReplySubscriptionChange(reply, word, &name, SubscriptionCount(kind));
  };
  if (!names.empty()) {
    for (const std::string_view& name : names) remove_and_confirm(name);
  } else {
    // Every subscription of the kind, each confirmed; none at all is confirmed with a null name.
    std::vector<std::string> all;
    if (subscriptions_ != nullptr) all.assign(subscriptions_->Of(kind).begin(), subscriptions_->Of(kind).end());
    if (all.empty()) ReplySubscriptionChange(reply, word, nullptr, SubscriptionCount(kind));
    for (const std::string& name : all) remove_and_confirm(name);
  }
  if (subscriptions_ != nullptr && subscriptions_->empty()) subscriptions_.reset();
  PublishSubscriptionCounts();
}

void Connection::UnsubscribeAll() {
  if (subscriptions_ == nullptr) return;
  for (SubscriptionKind kind : {SubscriptionKind::kChannel, SubscriptionKind::kPattern, SubscriptionKind::kShardChannel}) {
    for (const std::string& name : subscriptions_->Of(kind)) server_.pubsub().Unsubscribe(kind, name, id_);
  }
  subscriptions_.reset();
  PublishSubscriptionCounts();
}

protocol::ReplyBuilder Connection::PushBuilder(PushPlace place) {
  std::string* out = !executing_ ? &output_ : place == PushPlace::kBeforeReply ? &pushes_before_reply_ : &pushes_after_reply_;
  protocol::ReplyBuilder builder(out);
  builder.set_resp3(resp3());
  return builder;
}

void Connection::AfterPush() {
  output_bytes_.store(PendingOutputBytes(), std::memory_order_relaxed);
  if (WithinOutputLimit()) thread_.FlushSoon(this);
}

void Connection::DeliverMessage(const PublishedMessage& message, const std::string* pattern) {
  if (closing_ || close_asap_) return;
  protocol::ReplyBuilder push = PushBuilder(PushPlace::kBeforeReply);
  WriteMessage(push, message, pattern);
  AfterPush();
}

void Connection::DeliverWrittenMessage(std::string_view bytes) {
  if (closing_ || close_asap_) return;
  PushBuilder(PushPlace::kBeforeReply).Raw(bytes);
  AfterPush();
}

bool Connection::WithinOutputLimit() {
  if (closing_ || close_asap_) return false;
  // (A monitor is a normal client here, as in Redis.)
  const Config::ClientClass client_class =
      subscriptions_ != nullptr ? Config::ClientClass::kPubSub : Config::ClientClass::kNormal;
  const Config::OutputLimit& limit = server_.config().output_limits[static_cast<int>(client_class)];
  const int64_t hard = limit.hard.load(std::memory_order_relaxed);
  const int64_t soft = limit.soft.load(std::memory_order_relaxed);
  if (hard == 0 && soft == 0) return true;
  const auto pending = static_cast<int64_t>(PendingOutputBytes());
  bool over = hard > 0 && pending >= hard;
  if (!over && soft > 0 && pending >= soft) {
    // As Redis: the first time over the soft limit starts its clock; over it for longer than
    // soft_seconds, the client goes.
    const int64_t now_ms = NowMs();
    if (output_soft_limit_since_ms_ == 0) {
      output_soft_limit_since_ms_ = now_ms;
    } else {
      over = now_ms - output_soft_limit_since_ms_ > limit.soft_seconds.load(std::memory_order_relaxed) * 1000;
    }
  } else if (!over) {
    output_soft_limit_since_ms_ = 0;
  }
  if (!over) return true;
  server_.logger().Warning(absl::StrCat("Client id=", id_, " addr=", peer_address_,
                                        " scheduled to be closed ASAP for overcoming of output buffer limits."));
  // Closed from the loop, not here: a message may be delivered under a publisher's shard locks.
  close_asap_ = true;
  output_.clear();
  pushes_before_reply_.clear();
  pushes_after_reply_.clear();
  output_bytes_.store(0, std::memory_order_relaxed);
  thread_.FlushSoon(this);
  return false;
}

void Connection::EnableTracking(TrackingState state) {
  std::vector<std::string> added;
  if (state.bcast) {
    // As Redis: turning BCAST on again adds prefixes to those it had; none means every key.
    if (state.prefixes.empty()) state.prefixes.emplace_back();
    const std::vector<std::string> had = tracking_ != nullptr ? tracking_->prefixes : std::vector<std::string>();
    for (const std::string& prefix : state.prefixes) {
      if (std::find(had.begin(), had.end(), prefix) == had.end()) added.push_back(prefix);
    }
    state.prefixes = had;
    state.prefixes.insert(state.prefixes.end(), added.begin(), added.end());
  }
  if (tracking_ == nullptr) {
    state.slot = server_.tracking().Enable({&thread_, id_}, state.bcast, added);
  } else {
    // On again with new options: the same slot (its remembered keys stay), CLIENT CACHING's
    // choice kept, as Redis keeps its flag.
    state.slot = tracking_->slot;
    state.caching_given = tracking_->caching_given;
    server_.tracking().AddPrefixes({&thread_, id_}, added);
  }
  tracking_redirect_.store(static_cast<int64_t>(state.redirect), std::memory_order_relaxed);
  tracking_ = std::make_unique<TrackingState>(std::move(state));
  SetMode(kModeTracking, true);
}

void Connection::DisableTracking() {
  if (tracking_ == nullptr) return;
  server_.tracking().Disable(tracking_->slot, id_, tracking_->prefixes);
  tracking_.reset();
  SetMode(kModeTracking, false);
  tracking_redirect_.store(-1, std::memory_order_relaxed);
}

bool Connection::RemembersReadKeys(const CommandSpec& spec) const {
  if (tracking_->bcast || !(spec.flags & flags::kReadOnly) || (spec.flags & flags::kPubSub) || keys_.empty()) {
    return false;
  }
  // OPTIN tracks only after CLIENT CACHING yes; OPTOUT all but after CLIENT CACHING no.
  return !((tracking_->optin && !tracking_->caching_given) || (tracking_->optout && tracking_->caching_given));
}

void Connection::RememberReadKeys(const storage::Transaction& txn) {
  // Under the command's shard locks, which guard the table (server/tracking.h).
  Tracking& tracking = server_.tracking();
  for (size_t i = 0; i < keys_.size(); ++i) tracking.Remember(tracking_->slot, keys_[i], txn.KeyHash(i, keys_[i]));
}

void Connection::DeliverInvalidation(const InvalidatedKeys& keys, uint64_t writer) {
  if (tracking_ == nullptr || closing_) return;
  if (tracking_->noloop && keys != nullptr && writer == id_) return;
  const uint64_t target = tracking_->redirect;
  if (target == 0) {
    if (resp3()) SendInvalidation(keys);  // RESP2 has no way to tell a client out of band
    return;
  }
  IoThread* thread = server_.clients().ThreadOf(target);
  if (thread == nullptr) {
    // As Redis: the redirect client is gone; a RESP3 client is told so, instead.
    tracking_->redirect_broken = true;
    if (resp3()) {
      protocol::ReplyBuilder push = PushBuilder(PushPlace::kAfterReply);
      push.PushHeader(2);
      push.Bulk("tracking-redir-broken");
      push.Integer(static_cast<int64_t>(target));
      AfterPush();
    }
    return;
  }
  thread->Deliver([thread, target, keys] {
    if (Connection* c = thread->FindConnection(target)) c->SendInvalidation(keys);
  });
}

void Connection::SendInvalidation(const InvalidatedKeys& keys) {
  if (closing_ || close_asap_) return;
  protocol::ReplyBuilder out = PushBuilder(PushPlace::kAfterReply);
  if (resp3()) {
    out.PushHeader(2);
    out.Bulk("invalidate");
  } else if (subscriptions_ != nullptr) {
    out.ArrayHeader(3);
    out.Bulk("message");
    out.Bulk("__redis__:invalidate");
  } else {
    return;  // a RESP2 redirect target that subscribes to nothing cannot be told
  }
  if (keys == nullptr) {
    out.Null();
  } else {
    out.ArrayHeader(keys->size());
    for (const std::string& key : *keys) out.Bulk(key);
  }
  AfterPush();
}

void Connection::Close() {
  if (closing_) return;
  closing_ = true;
  if (parked_ == Parked::kBlocked) {
    server_.blocking().CancelWait(id_, BlockingRegistry::Cancel::kGone);
    LeaveBlockedWait();
  }
  if (parked_ == Parked::kPaused) server_.NotePausedClient(-1);
  Unwatch();
  UnsubscribeAll();
  DisableTracking();
  StopMonitoring();
  server_.clients().Remove(this);
  thread_.Forget(this);
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), OnClose);
}

void Connection::OnClose(uv_handle_t* handle) { delete static_cast<Connection*>(handle->data); }

std::string Connection::name() const {
  absl::MutexLock lock(&info_mu_);
  return name_;
}

void Connection::set_name(std::string name) {
  absl::MutexLock lock(&info_mu_);
  name_ = std::move(name);
}

void Connection::set_lib_info(std::string_view field, std::string value) {
  absl::MutexLock lock(&info_mu_);
  (field == "lib-name" ? lib_name_ : lib_version_) = std::move(value);
}

std::string Connection::DescribeForClientList(int64_t now_ms) const {
  // Redis's letters: b blocked, e no-evict, x in MULTI, N none.
  std::string flags;
  const int multi_queued = multi_queued_.load(std::memory_order_relaxed);
  if (blocked_for_info_.load(std::memory_order_relaxed)) flags += 'b';
  if (multi_queued >= 0) flags += 'x';
  if (no_evict_.load(std::memory_order_relaxed)) flags += 'e';
  const int channels = channel_count_.load(std::memory_order_relaxed);
  const int patterns = pattern_count_.load(std::memory_order_relaxed);
  const int shard_channels = shard_channel_count_.load(std::memory_order_relaxed);
  if (channels + patterns + shard_channels > 0) flags += 'P';
  const int64_t redirect = tracking_redirect_.load(std::memory_order_relaxed);
  if (redirect >= 0) flags += 't';
  if (no_touch()) flags += 'T';
  if (monitoring_for_info_.load(std::memory_order_relaxed)) flags += 'O';
  if (flags.empty()) flags = "N";
  const CommandSpec* last = last_command_.load(std::memory_order_relaxed);
  std::string name, lib_name, lib_version, user;
  {
    absl::MutexLock lock(&info_mu_);
    name = name_;
    user = user_name_;
    lib_name = lib_name_;
    lib_version = lib_version_;
  }
  const size_t qbuf = query_buffer_bytes_.load(std::memory_order_relaxed);
  const size_t qbuf_capacity = std::max(qbuf, query_buffer_capacity_.load(std::memory_order_relaxed));
  const size_t omem = output_bytes_.load(std::memory_order_relaxed);
  return absl::StrCat("id=", id_, " addr=", peer_address_, " laddr=", local_address_, " fd=", fd_, " name=", name,
                      " age=", (now_ms - created_ms_) / 1000, " idle=", idle_ms(now_ms) / 1000,
                      " flags=", flags, " db=", db(), " sub=", channels, " psub=", patterns, " ssub=", shard_channels, " multi=", multi_queued, " qbuf=", qbuf, " qbuf-free=", qbuf_capacity - qbuf,
                      " argv-mem=0 multi-mem=0 rbs=", qbuf_capacity, " rbp=0 obl=0 oll=0 omem=", omem,
                      " tot-mem=", qbuf_capacity + omem, " events=r cmd=", last ? std::string(last->name) : "NULL",
                      " user=", user, " redir=", redirect, " resp=", resp_.load(std::memory_order_relaxed), " lib-name=", lib_name,
                      " lib-ver=", lib_version);
}

}  // namespace strata::server
