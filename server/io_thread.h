// IoThread: one libuv loop on its own thread, owning the connections handed to it.
//
// Contract: everything a connection does runs on its IoThread. Other threads reach a loop only
// through Post(), whose task runs on the loop thread (the mailbox is a uv_async_t). Thread 0
// also owns the listening sockets and deals accepted sockets round-robin to all threads.
#pragma once

#include <uv.h>

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include <span>

#include "server/command_stats.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "server/pubsub.h"

namespace strata::server {

class Server;
class Connection;
namespace scripting {
class LuaEngine;
}

// Counters an IoThread writes alone and anyone may read.
struct IoThreadStats {
  std::atomic<uint64_t> commands_processed{0};
  std::atomic<uint64_t> net_input_bytes{0};
  std::atomic<uint64_t> net_output_bytes{0};
  // Socket reads that brought bytes, and writes (tries and queued) of replies.
  std::atomic<uint64_t> reads_processed{0};
  std::atomic<uint64_t> writes_processed{0};
  // Bytes this thread's Lua state holds, as of its last script run (INFO used_memory_vm_eval).
  std::atomic<uint64_t> lua_vm_bytes{0};

  static void Bump(std::atomic<uint64_t>& counter, uint64_t n) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

// A peer on this host (127.0.0.0/8, ::1, an IPv4-mapped 127.x, a Unix socket): protected mode
// and the "local" setting of enable-debug-command trust it.
bool IsLoopback(const sockaddr_storage& addr);

// A listening socket, and whether what it accepts speaks TLS (tls-port) or plain text (port).
struct ListeningSocket {
  int fd;
  bool tls;
};

// An accepted socket on its way to the thread that will serve it.
struct AcceptedSocket {
  int fd;
  bool tls;
};

class IoThread {
 public:
  IoThread(Server& server, int index);
  ~IoThread();

  int index() const { return index_; }
  // The IoThread running the calling thread's loop; nullptr on any other thread.
  static IoThread* Current();
  uv_loop_t* loop() { return &loop_; }
  Server& server() { return server_; }
  IoThreadStats& stats() { return stats_; }
  // MONITOR (server/monitor.h): a line for the monitors, shipped to them once this loop
  // iteration's work is done. This thread only.
  void AppendMonitorLine(std::string_view line);
  // The commands this thread ran (server/command_stats.h); only this thread writes it.
  CommandStats& command_stats() { return command_stats_; }

  // Starts the loop thread.
  void Start();
  // Runs `task` on the loop thread. Safe from any thread; dropped after Stop().
  void Post(std::function<void()> task);
  // Asks the loop to close every connection and exit; Join() waits for it.
  void Stop();
  void Join();

  // Loop thread only: watch a listening socket (thread 0).
  void AddListener(ListeningSocket socket);
  // Loop thread only: start serving an accepted socket.
  void AdoptSocket(AcceptedSocket socket);
  // Any thread: gives this thread an accepted socket to serve. It is adopted from the mailbox, or
  // sooner by ServeWhileBusy when a script keeps the loop from running its mailbox.
  void HandOver(AcceptedSocket socket);

  // Loop thread only: connection bookkeeping.
  void Forget(Connection* connection);
  Connection* FindConnection(uint64_t id);

  // Loop thread only: calls the connection's OnBlockDeadline at (or just after) at_ms, unless
  // ForgetWake(at_ms, id) comes first.
  void WakeAt(int64_t at_ms, uint64_t connection_id);
  // CLIENT UNPAUSE: runs the held command of every client of this thread that a pause parked.
  void ResumePausedClients();
  void ForgetWake(int64_t at_ms, uint64_t connection_id);

  // Loop thread only: writes a published message to those of `receivers` still connected here.
  void DeliverMessage(const PublishedMessage& message, std::span<const MessageReceiver> receivers);
  // Any thread: runs a delivery (a message, an invalidation) to this thread's clients. At once
  // when CanDeliverNow (the caller is this thread and no earlier delivery waits in the mailbox);
  // else posted (DeliverLater), so deliveries reach each client in the order they were made.
  void Deliver(std::function<void()> delivery) {
    CanDeliverNow() ? delivery() : DeliverLater(std::move(delivery));
  }
  bool CanDeliverNow() const {
    return this == Current() && posted_deliveries_.load(std::memory_order_acquire) == 0;
  }
  void DeliverLater(std::function<void()> delivery);
  // Loop thread only: `connection` has output written outside its own commands (a message); it
  // is sent at the end of this loop iteration (the poll does not block meanwhile), so a burst of
  // messages to one client goes out in one write.
  void FlushSoon(Connection* connection);

  // Scripting: this thread's Lua engine, made on first use.
  scripting::LuaEngine& lua();
  // While a script on this thread is past busy-reply-threshold, the loop is not running: the
  // script's hook calls ServeWhileBusy, which accepts new clients (thread 0) and reads and
  // answers this thread's other clients; serving_while_busy() makes their commands -BUSY, all
  // but SCRIPT KILL and the few Redis allows.
  bool serving_while_busy() const { return serving_while_busy_; }
  void set_serving_while_busy(bool on) { serving_while_busy_ = on; }
  void ServeWhileBusy(Connection* running);

  // A scratch buffer for reads of connections that hold no partial command (loop thread only).
  char* shared_read_buffer() { return shared_read_buffer_.get(); }
  static constexpr size_t kSharedReadBufferSize = 64 * 1024;
  // The same for ciphertext read from TLS connections, made on first use (loop thread only).
  char* tls_read_buffer();
  static constexpr size_t kTlsReadBufferSize = 64 * 1024;

 private:
  static void OnMailbox(uv_async_t* handle);
  static void OnListenerReadable(uv_poll_t* handle, int status, int events);
  void AcceptPending(ListeningSocket listener);
  void AdoptHandedSockets();
  static void OnTimer(uv_timer_t* handle);
  static void OnFlushCheck(uv_check_t* handle);
  static void OnFlushIdle(uv_idle_t*) {}
  static void OnWakeTimer(uv_timer_t* handle);
  void ArmWakeTimer();
  void RunMailbox();
  void CloseEverything();

  Server& server_;
  const int index_;
  uv_loop_t loop_;
  uv_async_t mailbox_;
  uv_timer_t timer_;
  uv_timer_t wake_timer_;
  uv_check_t flush_check_;
  // Active while flushes wait: an active idle handle makes the loop poll without blocking, so
  // the check runs at once even when nothing else would wake the loop (libuv's idiom).
  uv_idle_t flush_idle_;
  std::atomic<int64_t> posted_deliveries_{0};  // deliveries in the mailbox, not yet run
  std::vector<uint64_t> flush_soon_;  // connection ids, each once (see FlushSoon)
  std::set<std::pair<int64_t, uint64_t>> wakes_;  // (at ms, connection id)
  std::thread thread_;
  absl::Mutex mailbox_mu_;
  std::vector<std::function<void()>> mailbox_tasks_;
  std::vector<AcceptedSocket> handed_sockets_;  // under mailbox_mu_
  bool stopping_ = false;
  struct Listener {
    uv_poll_t poll;
    ListeningSocket socket;
  };
  std::vector<std::unique_ptr<Listener>> listeners_;
  absl::flat_hash_map<uint64_t, Connection*> connections_;
  std::unique_ptr<char[]> shared_read_buffer_;
  std::unique_ptr<char[]> tls_read_buffer_;
  IoThreadStats stats_;
  CommandStats command_stats_;
  std::string monitor_lines_;  // for MonitorRegistry::Deliver at the next flush check
  size_t next_thread_ = 0;  // round-robin target for accepted sockets
  std::unique_ptr<scripting::LuaEngine> lua_;
  bool serving_while_busy_ = false;
  int64_t last_busy_serve_ns_ = 0;
};

}  // namespace strata::server
