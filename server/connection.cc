#include "server/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

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

}  // namespace

Connection::Connection(IoThread& thread, uint64_t id, int64_t now_ms)
    : thread_(thread), server_(thread.server()), id_(id), created_ms_(now_ms), reply_(&output_),
      last_interaction_ms_(now_ms) {
  set_authenticated(server_.config().requirepass().empty());
}

void Connection::set_authenticated(bool on) {
  authenticated_ = on;
  protocol::ParserLimits limits;
  limits.max_bulk_len = server_.config().proto_max_bulk_len.load();
  limits.unauthenticated = !on;
  parser_.set_limits(limits);
}

bool Connection::Open(int fd) {
  uv_tcp_init(thread_.loop(), &handle_);
  handle_.data = this;
  if (uv_tcp_open(&handle_, fd) != 0) {
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
  if (uv_tcp_getpeername(&handle_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) peer_address_ = FormatAddress(addr);
  len = sizeof(addr);
  if (uv_tcp_getsockname(&handle_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) local_address_ = FormatAddress(addr);
  server_.clients().Add(this);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&handle_), OnAlloc, OnRead);
  return true;
}

void Connection::OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(handle->data);
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
  self->last_interaction_ms_.store(NowMs(), std::memory_order_relaxed);
  if (self->reading_into_pending_) {
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
  while (offset < len && !close_after_reply_ && !closing_ && parked_ == Parked::kNo) {
    if (output_.size() + in_flight_.size() > kMaxPendingOutput) {
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
  return offset;
}

void Connection::Execute(std::span<const std::string_view> args) {
  const CommandTable& table = server_.commands();
  const CommandSpec* spec = table.Find(args[0]);
  if (!replaying_loaded_command_) IoThreadStats::Bump(thread_.stats().commands_processed, 1);
  if (spec == nullptr) {
    reply_.Error(errors::UnknownCommand(args[0], args.data() + 1, args.size() - 1));
    return;
  }
  if (!spec->subcommands.empty() && !(args.size() == 1 && spec->handler != nullptr)) {
    if (args.size() < 2) {
      reply_.Error(errors::WrongArity(spec->name));
      return;
    }
    const CommandSpec* sub = nullptr;
    for (const CommandSpec& candidate : spec->subcommands) {
      std::string_view short_name = candidate.name.substr(candidate.name.find('|') + 1);
      if (EqualsIgnoreCase(short_name, args[1])) sub = &candidate;
    }
    if (sub == nullptr) {
      reply_.Error(errors::UnknownSubcommand(args[1], absl::AsciiStrToUpper(Absl(spec->name))));
      return;
    }
    spec = sub;
  }
  const int argc = static_cast<int>(args.size());
  if ((spec->arity > 0 && argc != spec->arity) || (spec->arity < 0 && argc < -spec->arity)) {
    reply_.Error(errors::WrongArity(spec->name));
    return;
  }
  if (!authenticated_ && !(spec->flags & flags::kNoAuth)) {
    reply_.Error(errors::kNoAuth);
    return;
  }
  last_command_.store(spec, std::memory_order_relaxed);
  const int64_t now_ms = NowMs();
  if (spec->first_key > 0) {
    CommandTable::KeyIndexes(*spec, args, &key_indexes_);
    keys_.clear();
    for (size_t index : key_indexes_) keys_.push_back(args[index]);
    loaders::LoaderManager& loaders = server_.loaders();
    const bool with_loaders = !loaders.empty();
    const bool read_through = with_loaders && (spec->flags & flags::kLoads) && !replaying_loaded_command_;
    loaders::LoaderManager::PendingLoads pending;
    std::vector<std::pair<int, std::string>> ready_for_waiters;
    std::vector<std::string> more_keys;  // owns the keys a handler asked for, which keys_ views
    const size_t argument_keys = keys_.size();
    for (;;) {
      RunUnderKeyLocks(*spec, args, now_ms, read_through, with_loaders, &pending, &ready_for_waiters);
      if (more_keys_.empty()) break;
      // The handler found that its data names keys it had not locked: lock them too and run it
      // again (it replied nothing). SORT asks for every key it needs, so the second round runs.
      more_keys = std::move(more_keys_);
      more_keys_.clear();
      keys_.resize(argument_keys);
      for (const std::string& key : more_keys) keys_.push_back(key);
    }
    // Outside the shard locks: a load may complete (and store) before this returns, and waiters'
    // commands take their own locks.
    if (!pending.empty()) loaders.Start(&pending);
    if (!ready_for_waiters.empty()) server_.blocking().ServeReadyKeys(server_, *this, std::move(ready_for_waiters));
  } else {
    CommandContext ctx{args, reply_, *this, server_, nullptr, *spec, now_ms};
    spec->handler(ctx);
  }
}

void Connection::RunUnderKeyLocks(const CommandSpec& spec, std::span<const std::string_view> args, int64_t now_ms,
                                  bool read_through, bool with_loaders, loaders::LoaderManager::PendingLoads* pending,
                                  std::vector<std::pair<int, std::string>>* ready_for_waiters) {
  storage::Transaction txn(server_.keyspace(), db(), keys_, now_ms);
  // Under the shard locks: a key found missing here and the load this command joins are one
  // decision; and a key this command really changed is told to the loaders before any load in
  // flight could store over it.
  if (read_through && ParkIfLoading(txn, args, now_ms, pending)) return;
  const bool is_write = spec.flags & flags::kWrite;
  const bool note_writes = with_loaders && is_write;
  // Asked under the locks: a client that blocked on these keys before them is seen here, one
  // that blocks after them sees this write.
  const bool wake_waiters = is_write && server_.blocking().any();
  if (note_writes || wake_waiters) txn.RecordModifications();
  CommandContext ctx{args, reply_, *this, server_, &txn, spec, now_ms};
  spec.handler(ctx);
  if (note_writes) server_.NoteWritesToLoaders(txn);
  if (wake_waiters) {
    *ready_for_waiters = txn.modified();
    server_.blocking().KeepWaitedKeys(ready_for_waiters);
  }
}

bool Connection::ParkIfLoading(storage::Transaction& txn, std::span<const std::string_view> args, int64_t now_ms,
                               loaders::LoaderManager::PendingLoads* pending) {
  loaders::LoaderManager& loaders = server_.loaders();
  std::vector<std::string> missing;
  for (std::string_view key : keys_) {
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
  loaders.Enqueue(db(), missing, ParkForLoads(args), pending);
  return true;
}

std::function<void(absl::Status)> Connection::ParkForLoads(std::span<const std::string_view> args) {
  // The arguments may point into a read buffer that is reused before the loads finish.
  waiting_command_.assign(args.begin(), args.end());
  parked_ = Parked::kOnLoads;
  IoThread* thread = &thread_;
  const uint64_t id = id_;
  return [thread, id](absl::Status status) {
    thread->Post([thread, id, status = std::move(status)] {
      // A client that disconnected meanwhile is simply not found.
      if (Connection* c = thread->FindConnection(id)) c->ResumeAfterLoad(status);
    });
  };
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
  } else {
    std::vector<std::string_view> args(waiting_command_.begin(), waiting_command_.end());
    replaying_loaded_command_ = true;
    Execute(args);
    replaying_loaded_command_ = false;
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

void Connection::ResumeBlocked(std::string_view reply) {
  if (parked_ != Parked::kBlocked || closing_) return;
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

void Connection::Flush() {
  // Loop: when the socket takes all our output at once and commands were held back for output
  // pressure, run them now (no write callback will come to do it).
  while (!writing_ && !closing_) {
    if (output_.empty()) {
      if (close_after_reply_) Close();
      return;
    }
    std::vector<uv_buf_t> bufs;
    SliceForWrite(output_, 0, &bufs);
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
      }
      return;
    }
    output_.clear();
    if (output_.capacity() > kMaxPendingOutput) output_.shrink_to_fit();
    output_bytes_.store(0, std::memory_order_relaxed);
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
  if (reading_paused_ && output_.size() + in_flight_.size() <= kMaxPendingOutput && !closing_ &&
      parked_ == Parked::kNo) {
    reading_paused_ = false;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&handle_), OnAlloc, OnRead);
  }
}

void Connection::Close() {
  if (closing_) return;
  closing_ = true;
  if (parked_ == Parked::kBlocked) {
    server_.blocking().CancelWait(id_, BlockingRegistry::Cancel::kGone);
    LeaveBlockedWait();
  }
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
  // Redis's letters: b blocked, e no-evict, N none.
  std::string flags;
  if (blocked_for_info_.load(std::memory_order_relaxed)) flags += 'b';
  if (no_evict_.load(std::memory_order_relaxed)) flags += 'e';
  if (flags.empty()) flags = "N";
  const CommandSpec* last = last_command_.load(std::memory_order_relaxed);
  std::string name, lib_name, lib_version;
  {
    absl::MutexLock lock(&info_mu_);
    name = name_;
    lib_name = lib_name_;
    lib_version = lib_version_;
  }
  const size_t qbuf = query_buffer_bytes_.load(std::memory_order_relaxed);
  const size_t qbuf_capacity = std::max(qbuf, query_buffer_capacity_.load(std::memory_order_relaxed));
  const size_t omem = output_bytes_.load(std::memory_order_relaxed);
  return absl::StrCat("id=", id_, " addr=", peer_address_, " laddr=", local_address_, " fd=", fd_, " name=", name,
                      " age=", (now_ms - created_ms_) / 1000, " idle=", idle_ms(now_ms) / 1000,
                      " flags=", flags, " db=", db(), " sub=0 psub=0 ssub=0 multi=-1 qbuf=", qbuf, " qbuf-free=", qbuf_capacity - qbuf,
                      " argv-mem=0 multi-mem=0 rbs=", qbuf_capacity, " rbp=0 obl=0 oll=0 omem=", omem,
                      " tot-mem=", qbuf_capacity + omem, " events=r cmd=", last ? std::string(last->name) : "NULL",
                      " user=default redir=-1 resp=", resp_.load(std::memory_order_relaxed), " lib-name=", lib_name,
                      " lib-ver=", lib_version);
}

}  // namespace strata::server
