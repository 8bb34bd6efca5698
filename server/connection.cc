#include "server/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/absl_compat.h"
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
  protocol::ParserLimits limits;
  limits.max_bulk_len = server_.config().proto_max_bulk_len.load();
  parser_.set_limits(limits);
  authenticated_ = server_.config().requirepass().empty();
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
  size_t want = self->pending_size_ + std::max<size_t>(kMinPendingCapacity, self->parser_.pending_bulk_bytes());
  if (want > self->pending_capacity_) {
    size_t capacity = std::max(want, self->pending_capacity_ * 2);
    auto grown = std::make_unique<char[]>(capacity);
    std::memcpy(grown.get(), self->pending_input_.get(), self->pending_size_);
    self->pending_input_ = std::move(grown);
    self->pending_capacity_ = capacity;
  }
  self->reading_into_pending_ = true;
  buf->base = self->pending_input_.get() + self->pending_size_;
  buf->len = self->pending_capacity_ - self->pending_size_;
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
    size_t used = self->ProcessInput(self->pending_input_.get(), self->pending_size_);
    std::memmove(self->pending_input_.get(), self->pending_input_.get() + used, self->pending_size_ - used);
    self->pending_size_ -= used;
    if (self->pending_size_ == 0 && self->pending_capacity_ > 4 * kMinPendingCapacity) {
      self->pending_input_.reset();
      self->pending_capacity_ = 0;
    }
  } else {
    size_t used = self->ProcessInput(buf->base, static_cast<size_t>(nread));
    self->KeepPartialInput(buf->base + used, static_cast<size_t>(nread) - used);
  }
  self->query_buffer_bytes_.store(self->pending_size_, std::memory_order_relaxed);
  if (!self->closing_ &&
      self->pending_size_ > static_cast<size_t>(self->server_.config().client_query_buffer_limit.load())) {
    self->server_.logger().Warning(
        absl::StrCat("Closing client that reached max query buffer length: id=", self->id_, " addr=", self->peer_address_));
    self->Close();
    return;
  }
  self->Flush();
}

void Connection::KeepPartialInput(const char* data, size_t len) {
  if (len == 0) return;
  size_t capacity = std::max(len + kMinPendingCapacity, parser_.pending_bulk_bytes() + len);
  if (capacity > pending_capacity_) {
    pending_input_ = std::make_unique<char[]>(capacity);
    pending_capacity_ = capacity;
  }
  std::memcpy(pending_input_.get(), data, len);
  pending_size_ = len;
}

size_t Connection::ProcessInput(const char* data, size_t len) {
  size_t offset = 0;
  while (offset < len && !close_after_reply_ && !closing_ && !waiting_for_load_) {
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
    CommandTable::KeyIndexes(*spec, args.size(), &key_indexes_);
    keys_.clear();
    for (size_t index : key_indexes_) keys_.push_back(args[index]);
    const bool read_through =
        (spec->flags & flags::kLoads) && !replaying_loaded_command_ && !server_.loaders().empty();
    std::vector<std::string> missing, refresh;
    {
      storage::Transaction txn(server_.keyspace(), db(), keys_, now_ms);
      if (read_through) FindKeysToLoad(txn, now_ms, &missing, &refresh);
      if (missing.empty()) {
        CommandContext ctx{args, reply_, *this, server_, &txn, *spec, now_ms};
        spec->handler(ctx);
      }
    }
    // Outside the shard locks: a load may complete (and store) before these calls return.
    for (const std::string& key : refresh) server_.loaders().Refresh(db(), key);
    if (!missing.empty()) WaitForLoads(args, missing);
  } else {
    CommandContext ctx{args, reply_, *this, server_, nullptr, *spec, now_ms};
    spec->handler(ctx);
  }
}

void Connection::FindKeysToLoad(storage::Transaction& txn, int64_t now_ms, std::vector<std::string>* missing,
                                std::vector<std::string>* refresh) {
  loaders::LoaderManager& loaders = server_.loaders();
  for (std::string_view key : keys_) {
    loaders::Loader* loader = loaders.Match(key);
    if (loader == nullptr) continue;
    storage::Entry* e = txn.Peek(key);
    if (e != nullptr) {
      if (loaders.OnHit(*loader, e->fresh_until_ms(), now_ms) != loaders::LoaderManager::Freshness::kFresh) {
        refresh->emplace_back(key);
      }
    } else if (!loaders.IsNegative(*loader, db(), key, now_ms)) {
      missing->emplace_back(key);
    }
  }
}

void Connection::WaitForLoads(std::span<const std::string_view> args, const std::vector<std::string>& keys) {
  // The arguments may point into a read buffer that is reused before the loads finish.
  waiting_command_.assign(args.begin(), args.end());
  waiting_for_load_ = true;
  IoThread* thread = &thread_;
  const uint64_t id = id_;
  server_.loaders().Load(db(), keys, [thread, id](absl::Status status) {
    thread->Post([thread, id, status = std::move(status)] {
      // A client that disconnected meanwhile is simply not found.
      if (Connection* c = thread->FindConnection(id)) c->ResumeAfterLoad(status);
    });
  });
}

void Connection::ResumeAfterLoad(const absl::Status& status) {
  waiting_for_load_ = false;
  if (closing_) return;
  if (!status.ok()) {
    reply_.Error(Std(status.message()));
  } else {
    std::vector<std::string_view> args(waiting_command_.begin(), waiting_command_.end());
    replaying_loaded_command_ = true;
    Execute(args);
    replaying_loaded_command_ = false;
  }
  waiting_command_.clear();
  RunPendingInput();
  Flush();
}

void Connection::RunPendingInput() {
  if (pending_size_ == 0) return;
  size_t used = ProcessInput(pending_input_.get(), pending_size_);
  std::memmove(pending_input_.get(), pending_input_.get() + used, pending_size_ - used);
  pending_size_ -= used;
}

void Connection::Flush() {
  // Loop: when the socket takes all our output at once and commands were held back for output
  // pressure, run them now (no write callback will come to do it).
  while (!writing_ && !closing_) {
    if (output_.empty()) {
      if (close_after_reply_) Close();
      return;
    }
    uv_buf_t buf = uv_buf_init(output_.data(), static_cast<unsigned>(output_.size()));
    int written = uv_try_write(reinterpret_cast<uv_stream_t*>(&handle_), &buf, 1);
    if (written < 0 && written != UV_EAGAIN) {
      Close();
      return;
    }
    size_t sent = written > 0 ? static_cast<size_t>(written) : 0;
    IoThreadStats::Bump(thread_.stats().net_output_bytes, sent);
    if (sent < output_.size()) {
      // The rest goes out with uv_write, from in_flight_, which stays untouched until OnWrite.
      in_flight_.assign(output_, sent, std::string::npos);
      output_.clear();
      output_bytes_.store(in_flight_.size(), std::memory_order_relaxed);
      writing_ = true;
      write_req_.data = this;
      uv_buf_t rest = uv_buf_init(in_flight_.data(), static_cast<unsigned>(in_flight_.size()));
      if (uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&handle_), &rest, 1, OnWrite) != 0) {
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

void Connection::OnWrite(uv_write_t* req, int status) {
  auto* self = static_cast<Connection*>(req->data);
  self->writing_ = false;
  if (self->closing_) return;
  if (status < 0) {
    self->Close();
    return;
  }
  IoThreadStats::Bump(self->thread_.stats().net_output_bytes, self->in_flight_.size());
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
      !waiting_for_load_) {
    reading_paused_ = false;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&handle_), OnAlloc, OnRead);
  }
}

void Connection::Close() {
  if (closing_) return;
  closing_ = true;
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
  const CommandSpec* last = last_command_.load(std::memory_order_relaxed);
  std::string name, lib_name, lib_version;
  {
    absl::MutexLock lock(&info_mu_);
    name = name_;
    lib_name = lib_name_;
    lib_version = lib_version_;
  }
  const size_t qbuf = query_buffer_bytes_.load(std::memory_order_relaxed);
  const size_t omem = output_bytes_.load(std::memory_order_relaxed);
  return absl::StrCat("id=", id_, " addr=", peer_address_, " laddr=", local_address_, " fd=", fd_, " name=", name,
                      " age=", (now_ms - created_ms_) / 1000, " idle=", idle_ms(now_ms) / 1000,
                      " flags=N db=", db(), " sub=0 psub=0 ssub=0 multi=-1 qbuf=", qbuf, " qbuf-free=0",
                      " argv-mem=0 multi-mem=0 rbs=", qbuf, " rbp=0 obl=0 oll=0 omem=", omem,
                      " tot-mem=", qbuf + omem, " events=r cmd=", last ? std::string(last->name) : "NULL",
                      " user=default redir=-1 resp=", resp_.load(std::memory_order_relaxed), " lib-name=", lib_name,
                      " lib-ver=", lib_version);
}

}  // namespace strata::server
