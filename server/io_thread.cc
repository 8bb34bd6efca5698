#include "server/io_thread.h"

#include <pthread.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "server/absl_compat.h"
#include "server/connection.h"
#include "server/errors.h"
#include "server/scripting/lua_engine.h"
#include "server/server.h"

namespace strata::server {

namespace {
thread_local IoThread* current_io_thread = nullptr;
// How often each loop checks its clients for `timeout`.
constexpr uint64_t kTimerPeriodMs = 1000;
}  // namespace

bool IsLoopback(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) {
    return (ntohl(reinterpret_cast<const sockaddr_in&>(addr).sin_addr.s_addr) >> 24) == 127;
  }
  if (addr.ss_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&a)) return true;
    // An IPv4 client on a dual-stack socket: ::ffff:127.x.x.x.
    return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
  }
  return addr.ss_family == AF_UNIX;
}

IoThread::IoThread(Server& server, int index)
    : server_(server),
      index_(index),
      shared_read_buffer_(std::make_unique<char[]>(kSharedReadBufferSize)),
      command_stats_(server.commands().by_id().size()) {
  uv_loop_init(&loop_);
  uv_loop_set_data(&loop_, &server_);
  uv_async_init(&loop_, &mailbox_, OnMailbox);
  mailbox_.data = this;
  uv_timer_init(&loop_, &timer_);
  timer_.data = this;
  uv_timer_init(&loop_, &wake_timer_);
  wake_timer_.data = this;
  uv_check_init(&loop_, &flush_check_);
  flush_check_.data = this;
  uv_idle_init(&loop_, &flush_idle_);
  flush_idle_.data = this;
}

IoThread::~IoThread() {
  Join();
  uv_loop_close(&loop_);
}

void IoThread::Start() {
  uv_timer_start(&timer_, OnTimer, kTimerPeriodMs, kTimerPeriodMs);
  thread_ = std::thread([this] {
    current_io_thread = this;
    // Named for top -H, perf and /proc (at most 15 characters).
    pthread_setname_np(pthread_self(), ("strata-io-" + std::to_string(index_)).c_str());
    // The memory meter follows this thread's allocations from its first one on.
    server_.memory_meter().Used();
    uv_run(&loop_, UV_RUN_DEFAULT);
  });
}

IoThread* IoThread::Current() { return current_io_thread; }

void IoThread::Post(std::function<void()> task) {
  {
    absl::MutexLock lock(&mailbox_mu_);
    if (stopping_) return;
    mailbox_tasks_.push_back(std::move(task));
  }
  uv_async_send(&mailbox_);
}

void IoThread::Stop() {
  {
    absl::MutexLock lock(&mailbox_mu_);
    if (stopping_) return;
    mailbox_tasks_.push_back([this] { CloseEverything(); });
    stopping_ = true;
  }
  uv_async_send(&mailbox_);
}

void IoThread::Join() {
  if (thread_.joinable()) thread_.join();
}

void IoThread::OnMailbox(uv_async_t* handle) { static_cast<IoThread*>(handle->data)->RunMailbox(); }

void IoThread::RunMailbox() {
  std::vector<std::function<void()>> tasks;
  {
    absl::MutexLock lock(&mailbox_mu_);
    tasks.swap(mailbox_tasks_);
  }
  for (auto& task : tasks) task();
  // Mailbox work allocates and frees too (a delivered message frees the publisher's copy): the
  // meter must see it, as it sees a read's (memory.h: publish when a thread has moved).
  server_.memory_meter().Publish();
}

void IoThread::CloseEverything() {
  {
    absl::MutexLock lock(&mailbox_mu_);  // sockets handed over but not adopted yet
    for (const AcceptedSocket& socket : handed_sockets_) close(socket.fd);
    handed_sockets_.clear();
  }
  std::vector<Connection*> open;
  for (auto& [id, c] : connections_) open.push_back(c);
  for (Connection* c : open) c->Close();
  for (auto& listener : listeners_) {
    uv_poll_stop(&listener->poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&listener->poll),
             [](uv_handle_t* h) { close(static_cast<Listener*>(h->data)->socket.fd); });
  }
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  uv_timer_stop(&wake_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&wake_timer_), nullptr);
  uv_check_stop(&flush_check_);
  uv_close(reinterpret_cast<uv_handle_t*>(&flush_check_), nullptr);
  uv_idle_stop(&flush_idle_);
  uv_close(reinterpret_cast<uv_handle_t*>(&flush_idle_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&mailbox_), nullptr);
  // The loop ends by itself once every handle above has finished closing.
}

void IoThread::AddListener(ListeningSocket socket) {
  auto listener = std::make_unique<Listener>();
  listener->socket = socket;
  uv_poll_init(&loop_, &listener->poll, socket.fd);
  listener->poll.data = listener.get();
  uv_poll_start(&listener->poll, UV_READABLE, OnListenerReadable);
  listeners_.push_back(std::move(listener));
}

void IoThread::OnListenerReadable(uv_poll_t* handle, int status, int) {
  if (status < 0) return;
  const ListeningSocket listener = static_cast<Listener*>(handle->data)->socket;
  Server& server = *static_cast<Server*>(uv_loop_get_data(handle->loop));
  server.io_thread(0).AcceptPending(listener);
}

void IoThread::AcceptPending(ListeningSocket listener) {
  // Accept everything pending; deal sockets round-robin over the I/O threads.
  IoThread& self = *this;
  Server& server = server_;
  for (int accepted = 0; accepted < 1000; ++accepted) {
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof(peer);
    int fd = accept4(listener.fd, reinterpret_cast<sockaddr*>(&peer), &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
        server.logger().Warning(absl::StrCat("Accepting client connection: ", strerror(errno)));
      }
      return;
    }
    server.total_connections_received.fetch_add(1, std::memory_order_relaxed);
    if (server.config().protected_mode.load() && !IsLoopback(peer) && server.acl().default_user_nopass()) {
      // Redis's protected mode: without a password, only this host may talk to the server.
      std::string denied = absl::StrCat("-", Absl(errors::kProtectedMode), "\r\n");
      // A TLS client could not read plain text: it only sees the connection close.
      if (!listener.tls) {
        ssize_t ignored = write(fd, denied.data(), denied.size());
        (void)ignored;
      }
      close(fd);
      server.rejected_connections.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (server.clients().size() >= static_cast<size_t>(server.config().maxclients.load())) {
      // Redis answers the error before closing, so the client knows why.
      std::string error = absl::StrCat("-", Absl(errors::kMaxClients), "\r\n");
      if (!listener.tls) {
        ssize_t ignored = write(fd, error.data(), error.size());
        (void)ignored;
      }
      close(fd);
      server.rejected_connections.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    IoThread& target = server.io_thread(self.next_thread_++ % server.io_thread_count());
    if (&target == &self) {
      self.AdoptSocket(AcceptedSocket{fd, listener.tls});
    } else {
      target.HandOver(AcceptedSocket{fd, listener.tls});
    }
  }
}

void IoThread::HandOver(AcceptedSocket socket) {
  {
    absl::MutexLock lock(&mailbox_mu_);
    handed_sockets_.push_back(socket);
  }
  Post([this] { AdoptHandedSockets(); });
}

void IoThread::AdoptHandedSockets() {
  std::vector<AcceptedSocket> sockets;
  {
    absl::MutexLock lock(&mailbox_mu_);
    sockets.swap(handed_sockets_);
  }
  for (const AcceptedSocket& socket : sockets) AdoptSocket(socket);
}

void IoThread::AdoptSocket(AcceptedSocket socket) {
  auto* connection = new Connection(*this, server_.NextClientId(), NowMs());
  if (!connection->Open(socket.fd, socket.tls)) {
    close(socket.fd);
    return;
  }
  connections_[connection->id()] = connection;
}

char* IoThread::tls_read_buffer() {
  if (tls_read_buffer_ == nullptr) tls_read_buffer_.reset(new char[kTlsReadBufferSize]);
  return tls_read_buffer_.get();
}

void IoThread::DeliverMessage(const PublishedMessage& message, std::span<const MessageReceiver> receivers) {
  // The channel's subscribers all get the same bytes: written once per protocol, copied to each.
  std::string written[2];  // RESP2, RESP3
  for (const MessageReceiver& receiver : receivers) {
    Connection* c = FindConnection(receiver.connection_id);
    if (c == nullptr) continue;
    if (receiver.pattern) {
      c->DeliverMessage(message, &*receiver.pattern);
      continue;
    }
    std::string& bytes = written[c->resp3() ? 1 : 0];
    if (bytes.empty()) {
      protocol::ReplyBuilder out(&bytes);
      out.set_resp3(c->resp3());
      WriteMessage(out, message, nullptr);
    }
    c->DeliverWrittenMessage(bytes);
  }
}

void IoThread::DeliverLater(std::function<void()> delivery) {
  posted_deliveries_.fetch_add(1, std::memory_order_acq_rel);
  Post([this, delivery = std::move(delivery)] {
    delivery();
    posted_deliveries_.fetch_sub(1, std::memory_order_acq_rel);
  });
}

void IoThread::FlushSoon(Connection* connection) {
  if (connection->flush_scheduled()) return;
  connection->set_flush_scheduled(true);
  if (flush_soon_.empty() && monitor_lines_.empty()) {
    uv_check_start(&flush_check_, OnFlushCheck);
    uv_idle_start(&flush_idle_, OnFlushIdle);
  }
  flush_soon_.push_back(connection->id());
}

void IoThread::AppendMonitorLine(std::string_view line) {
  if (monitor_lines_.empty() && flush_soon_.empty()) {
    uv_check_start(&flush_check_, OnFlushCheck);
    uv_idle_start(&flush_idle_, OnFlushIdle);
  }
  monitor_lines_.append(line);
}

void IoThread::OnFlushCheck(uv_check_t* handle) {
  auto* self = static_cast<IoThread*>(handle->data);
  std::vector<uint64_t> ids;
  ids.swap(self->flush_soon_);
  uv_check_stop(&self->flush_check_);
  uv_idle_stop(&self->flush_idle_);
  if (!self->monitor_lines_.empty()) {
    std::string lines;
    lines.swap(self->monitor_lines_);
    self->server_.monitors().Deliver(std::move(lines));
  }
  for (uint64_t id : ids) {
    if (Connection* c = self->FindConnection(id)) {
      c->set_flush_scheduled(false);
      c->SendPendingOutput();
    }
  }
  self->server_.memory_meter().Publish();
}

void IoThread::Forget(Connection* connection) { connections_.erase(connection->id()); }

Connection* IoThread::FindConnection(uint64_t id) {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second;
}

void IoThread::OnTimer(uv_timer_t* handle) {
  auto* self = static_cast<IoThread*>(handle->data);
  const int64_t timeout_ms = self->server_.config().timeout_seconds.load() * 1000;
  if (timeout_ms <= 0) return;
  const int64_t now = NowMs();
  std::vector<Connection*> idle;
  for (auto& [id, c] : self->connections_) {
    // A blocked client waits as long as its command says, as in Redis.
    if (c->idle_ms(now) > timeout_ms && !c->blocked()) idle.push_back(c);
  }
  for (Connection* c : idle) {
    self->server_.logger().Verbose("Closing idle client");
    c->Close();
  }
}

void IoThread::WakeAt(int64_t at_ms, uint64_t connection_id) {
  const bool earliest = wakes_.empty() || at_ms < wakes_.begin()->first;
  wakes_.emplace(at_ms, connection_id);
  if (earliest) ArmWakeTimer();
}

void IoThread::ResumePausedClients() {
  std::vector<uint64_t> ids;
  for (const auto& [id, connection] : connections_) {
    if (connection->paused()) ids.push_back(id);
  }
  // By id: a resumed command may close connections (CLIENT KILL).
  for (uint64_t id : ids) {
    if (Connection* c = FindConnection(id)) c->ResumeAfterPause();
  }
}

void IoThread::ForgetWake(int64_t at_ms, uint64_t connection_id) { wakes_.erase({at_ms, connection_id}); }

void IoThread::ArmWakeTimer() {
  if (wakes_.empty()) {
    uv_timer_stop(&wake_timer_);
    return;
  }
  const int64_t delay = std::max<int64_t>(0, wakes_.begin()->first - NowMs());
  uv_timer_start(&wake_timer_, OnWakeTimer, static_cast<uint64_t>(delay), 0);
}

void IoThread::OnWakeTimer(uv_timer_t* handle) {
  auto* self = static_cast<IoThread*>(handle->data);
  const int64_t now = NowMs();
  while (!self->wakes_.empty() && self->wakes_.begin()->first <= now) {
    const uint64_t id = self->wakes_.begin()->second;
    self->wakes_.erase(self->wakes_.begin());
    if (Connection* c = self->FindConnection(id)) c->OnBlockDeadline(now);
  }
  self->ArmWakeTimer();
}

scripting::LuaEngine& IoThread::lua() {
  if (lua_ == nullptr) lua_ = std::make_unique<scripting::LuaEngine>(server_, *this);
  return *lua_;
}

void IoThread::ServeWhileBusy(Connection* running) {
  // Every few milliseconds is enough to answer -BUSY and SCRIPT KILL promptly.
  const int64_t now_ns = MonotonicNs();
  if (now_ns - last_busy_serve_ns_ < 5 * 1000 * 1000) return;
  last_busy_serve_ns_ = now_ns;
  if (index_ == 0) {
    for (const auto& listener : listeners_) AcceptPending(listener->socket);
  }
  // Clients thread 0 dealt to this thread meanwhile: their mailbox task would wait for the script.
  AdoptHandedSockets();
  std::vector<Connection*> others;
  for (const auto& [id, connection] : connections_) {
    if (connection != running) others.push_back(connection);
  }
  for (Connection* connection : others) connection->ReadWhileBusy();
}

}  // namespace strata::server
