// Connection: one client socket, its parser, its replies and its session state (db, RESP
// version, auth, name).
//
// Contract: lives on one IoThread and is only touched there, except the fields in ClientInfo,
// which CLIENT LIST / INFO on other threads read under info_mu_ or as atomics. It frees itself
// in its close callback, after unregistering, so no other thread can still reach it.
// Replies to one read are answered with one write: uv_try_write first, uv_write for the rest
// from a buffer that lives until the write callback.
#pragma once

#include <uv.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "protocol/reply_builder.h"
#include "protocol/request_parser.h"
#include "server/acl.h"
#include "server/audit_log.h"
#include "loaders/loader_manager.h"
#include "server/command.h"
#include "server/pubsub.h"
#include "server/tls.h"
#include "server/tracking.h"
#include "server/watch.h"

namespace strata::server {

class IoThread;
class Server;
struct BlockedClient;

class Connection {
 public:
  Connection(IoThread& thread, uint64_t id, int64_t now_ms);
  // Takes the accepted socket; false if libuv refused it (the caller closes the fd). A `tls`
  // socket (from tls-port) speaks TLS: its bytes pass through a TlsSession (server/tls.h).
  bool Open(int fd, bool tls);

  uint64_t id() const { return id_; }
  // CLIENT KILL and ACL's kills, from any thread: true for the first caller only.
  bool RequestKill() { return !kill_requested_.exchange(true, std::memory_order_acq_rel); }
  IoThread& thread() { return thread_; }

  // Session state used by commands (loop thread).
  int db() const { return db_.load(std::memory_order_relaxed); }
  void set_db(int db) { db_.store(db, std::memory_order_relaxed); }
  bool resp3() const { return reply_.resp3(); }
  void set_resp3(bool on) {
    reply_.set_resp3(on);
    resp_.store(on ? 3 : 2, std::memory_order_relaxed);
    SetMode(kModeResp3, on);
  }
  bool authenticated() const { return authenticated_; }
  // Also applies Redis's limits on what an unauthenticated client may send.
  void set_authenticated(bool on);
  // The ACL user this client runs as (loop thread): AUTH / HELLO AUTH make it `user`,
  // authenticated; RESET makes it the default user, authenticated if that needs no password.
  void AuthenticateAs(std::shared_ptr<const AclUser> user);
  void ResetUser();
  const AclUser& user() const { return *user_; }
  // Any thread: the user's name (CLIENT LIST, CLIENT KILL USER, ACL DELUSER).
  std::string user_name() const;
  // Any thread: subscribed to some channel, pattern or shard channel (ACL SETUSER's check).
  bool has_subscriptions() const {
    return channel_count_.load(std::memory_order_relaxed) + pattern_count_.load(std::memory_order_relaxed) +
               shard_channel_count_.load(std::memory_order_relaxed) > 0;
  }
  // The ACL step for a command run on this client's behalf (a script's calls, EXEC's queue):
  // whether its user may run it; a refusal is written to the ACL log under `context`.
  AclDenial CheckAcl(const CommandSpec& spec, std::span<const std::string_view> args, std::string_view context);
  // Whether the user is restricted at all (the default user is not): CheckAcl is needed.
  bool acl_restricted() const { return acl_checks_; }
  void set_no_evict(bool on) { no_evict_.store(on, std::memory_order_relaxed); }

  std::string name() const;
  void set_name(std::string name);
  void set_lib_info(std::string_view field, std::string value);

  // Read-through: parks the command until `keys` are loaded, then runs it again (as a replay,
  // which reads what was loaded and never loads twice) and resumes the pipeline behind it.
  void WaitForLoads(std::span<const std::string_view> args, const std::vector<std::string>& keys);
  // True while a command runs again after its loads.
  bool replaying_loaded_command() const { return replaying_loaded_command_; }

  // Blocking commands (see server/blocking.h): parks the connection on its registered wait;
  // ResumeBlocked delivers the reply the wait ended with (served, timed out, unblocked) and
  // resumes the pipeline behind it; OnBlockDeadline ends the wait if its time is up.
  void ParkBlocked(std::shared_ptr<BlockedClient> waiter);
  // `served`: the command ran (not a timeout or CLIENT UNBLOCK).
  void ResumeBlocked(std::string_view reply, bool served);
  void OnBlockDeadline(int64_t now_ms);
  // Waiting for another client (a blocking pop, or a pause): exempt from the idle timeout.
  bool blocked() const { return parked_ == Parked::kBlocked || parked_ == Parked::kPaused; }

  // For a command whose data names more keys than its arguments (SORT ... BY/GET): it has not
  // replied; it runs again from the top with `keys` locked as well.
  void LockMoreKeysAndRunAgain(std::vector<std::string> keys) { more_keys_ = std::move(keys); }

  // MULTI / EXEC / DISCARD / WATCH (server/commands/transactions.cc).
  bool in_multi() const { return multi_ != nullptr; }
  void BeginMulti();
  // Forgets the queued commands and the watched keys (DISCARD, EXEC's end, RESET).
  void DiscardMulti();
  // EXEC: the queued commands, run with the shards of all their keys (and of the watched keys)
  // locked together, after their read-through loads; replies their replies as one array.
  void ExecMulti(std::span<const std::string_view> exec_args);
  // WATCH, under the shard locks of `keys`; UNWATCH.
  void Watch(storage::Transaction& txn, std::span<const std::string_view> keys);
  void Unwatch();

  // Runs one command inside an EXEC or a script, whose HeldShards covers its keys (the caller
  // checked), with `reply` taking its reply. Never parks: loads were done before, and blocking
  // commands answer as if they timed out.
  // Counted in the command statistics as a call of its own; returns how long it took (ns).
  int64_t RunHeld(const CommandSpec& spec, std::span<const std::string_view> args, int64_t now_ms,
                  protocol::ReplyBuilder& reply);
  // The slow log's entry for a command a script ran (RunHeld) that was slow enough.
  void LogSlowFromScript(const CommandSpec& spec, std::span<const std::string_view> args, int64_t micros);
  // Runs fn with the shards of `keys` (every shard when `all`) held, so the commands fn runs
  // (RunHeld) form one atomic step; their after-run work (serving blocked clients, loads) waits
  // until the shards are released. Inside an EXEC, the EXEC's shards serve. False when a busy
  // script holds a shard (-BUSY was replied).
  bool WithHeldShards(std::span<const std::string_view> keys, bool all,
                      absl::FunctionRef<void(storage::HeldShards& held)> fn);
  // Parks the current command (EVAL, FCALL, EXEC) until `keys`' loads finish, if a loader must
  // fetch any of them; true when it parked. Under the caller's locks of those keys.
  bool ParkForKeysToLoad(std::span<const std::string_view> keys, std::span<const std::string_view> args,
                         int64_t now_ms);

  // Pub/sub (server/pubsub.h; the commands are in server/commands/pubsub.cc). Subscribe adds
  // each name and replies Redis's confirmation for it; Unsubscribe removes each name, or every
  // subscription of the kind when `names` is empty, and confirms each.
  void Subscribe(SubscriptionKind kind, std::span<const std::string_view> names, protocol::ReplyBuilder& reply);
  void Unsubscribe(SubscriptionKind kind, std::span<const std::string_view> names, protocol::ReplyBuilder& reply);
  // Drops every subscription without replying (RESET, close).
  void UnsubscribeAll();
  // RESP2 with any subscription: only the commands flagged kSubscribedMode run (as in Redis).
  bool in_subscribed_mode() const { return subscriptions_ != nullptr && !resp3(); }
  // Its I/O thread: writes one published message (`pattern`: the pattern it matched, or null)
  // and applies client-output-buffer-limit, which may close the connection.
  void DeliverMessage(const PublishedMessage& message, const std::string* pattern);
  // The same for a message already written (WriteMessage) in this client's protocol.
  void DeliverWrittenMessage(std::string_view bytes);
  // Its I/O thread: sends output written outside this client's own commands (IoThread::FlushSoon).
  void SendPendingOutput() { close_asap_ ? Close() : Flush(); }
  bool flush_scheduled() const { return flush_scheduled_; }
  void set_flush_scheduled(bool on) { flush_scheduled_ = on; }

  // Client-side caching (server/tracking.h; CLIENT TRACKING in server/commands/connection.cc).
  struct TrackingState {
    bool bcast = false, optin = false, optout = false, noloop = false;
    uint64_t redirect = 0;  // 0: invalidations come to this client itself (RESP3 only)
    bool redirect_broken = false;
    // CLIENT CACHING yes/no for the next command (OPTIN: track it; OPTOUT: do not).
    bool caching_given = false;
    std::vector<std::string> prefixes;
    uint32_t slot = 0;  // its number in the tracking table (Tracking::Enable)
  };
  const TrackingState* tracking() const { return tracking_.get(); }
  // Turns tracking on with `state` (after CLIENT TRACKING checked the options), or off.
  void EnableTracking(TrackingState state);
  void DisableTracking();
  void set_tracking_caching(bool given) {
    if (tracking_ != nullptr) tracking_->caching_given = given;
  }
  // Its I/O thread: an invalidation of `keys` (null: everything) for this tracking client,
  // caused by client `writer` (0: no client); sent to itself or to its REDIRECT client.
  void DeliverInvalidation(const InvalidatedKeys& keys, uint64_t writer);
  // Its I/O thread: this client is the REDIRECT target of a tracking client: send it the
  // invalidation (RESP3 push, or a __redis__:invalidate message when it is a RESP2 subscriber).
  void SendInvalidation(const InvalidatedKeys& keys);

  // While a script on this thread is busy (IoThread::ServeWhileBusy): reads what the client sent
  // straight from its socket and answers it, without the loop.
  void ReadWhileBusy();

  // Finish the current replies, then close (QUIT, protocol errors, CLIENT KILL of self).
  void CloseAfterReply() { close_after_reply_ = true; }
  // CLIENT PAUSE: whether this client's command waits for the pause to end; ResumeAfterPause
  // runs it (again: a pause extended meanwhile parks it again).
  bool paused() const { return parked_ == Parked::kPaused; }
  void ResumeAfterPause();
  // CLIENT NO-TOUCH.
  void set_no_touch(bool on) { no_touch_.store(on, std::memory_order_relaxed); }
  bool no_touch() const { return no_touch_.load(std::memory_order_relaxed); }
  int64_t created_ms() const { return created_ms_; }
  // Passwords (AUTH, HELLO AUTH, CONFIG SET requirepass...) replaced by "(redacted)": what the
  // slow log, MONITOR and the audit log show of a command.
  static void RedactSecrets(const CommandSpec& spec, std::vector<std::string_view>* args);
  // Who this client is, for the audit log.
  AuditActor AuditIdentity() const { return AuditActor{id_, peer_address_, user_name(), name()}; }
  // MONITOR: this client receives every command's line until it leaves (or RESET).
  void StartMonitoring();
  void StopMonitoring();
  bool monitoring() const { return (modes_ & kModeMonitor) != 0; }
  // Close now (any pending output is dropped).
  void Close();

  // Any thread: one line of CLIENT LIST for this client.
  std::string DescribeForClientList(int64_t now_ms) const;
  // Bytes of this client's query buffer and pending output (INFO's mem_clients_normal; any thread).
  size_t MemoryBytes() const {
    return query_buffer_capacity_.load(std::memory_order_relaxed) + output_bytes_.load(std::memory_order_relaxed);
  }
  // The query buffer's bytes and the pending output's (INFO client_recent_max_*; any thread).
  size_t QueryBufferBytes() const { return query_buffer_bytes_.load(std::memory_order_relaxed); }
  size_t OutputBufferBytes() const { return output_bytes_.load(std::memory_order_relaxed); }
  std::string peer_address() const { return peer_address_; }
  std::string local_address() const { return local_address_; }
  int64_t idle_ms(int64_t now_ms) const { return now_ms - last_interaction_ms_.load(std::memory_order_relaxed); }

 private:
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnClose(uv_handle_t* handle);

  // Parses and runs every complete command in [data, data+len); returns bytes consumed.
  size_t ProcessInput(const char* data, size_t len);
  void Execute(std::span<const std::string_view> args);
  // Takes the user's current snapshot; false when the user is gone (deleted, or the ACL reloaded
  // without it): the connection is closed, as Redis kills such clients.
  bool RefreshUser();
  void SetUser(std::shared_ptr<const AclUser> user);
  // The steps of Execute. FindCheckedCommand: the command or subcommand, with its arity and the
  // client's authentication checked (nullptr: *error says why; Reject replies it, ending or
  // aborting a transaction as Redis does). RefusedInThisMode: a busy script, or a command MULTI
  // does not queue (true: an error was replied).
  // *known: the command, when it exists but its arity or the client's authentication is wrong.
  const CommandSpec* FindCheckedCommand(std::span<const std::string_view> args, std::string* error,
                                        const CommandSpec** known);
  // False for a plain connection (no MULTI, no busy script anywhere): then RefusedInThisMode
  // has nothing to check, and the common path pays one test.
  bool ModeMayRefuse() const;
  // The command may grow memory (Redis's deny-oom): it makes room under maxmemory first, and is
  // refused with -OOM when nothing can be evicted.
  bool MayGrowMemory(const CommandSpec& spec) const;
  void Reject(std::span<const std::string_view> args, std::string_view error);
  bool RefusedInThisMode(const CommandSpec& spec);
  // What a command leaves to do once its locks are released.
  struct AfterRun {
    loaders::LoaderManager::PendingLoads pending;
    std::vector<std::pair<int, std::string>> ready_for_waiters;
  };
  void Run(const CommandSpec& spec, std::span<const std::string_view> args, int64_t now_ms);
  void FinishAfterLocks(AfterRun* after);
  // A command that took at least Server::notable_command_ns: into the slow log and the latency
  // monitor, as their own thresholds say.
  void NoteSlowCommand(const CommandSpec& spec, std::span<const std::string_view> args, int64_t nanos);
  void LogSlow(const CommandSpec& spec, std::span<const std::string_view> args, int64_t micros);
  void AddToSlowLog(const CommandSpec& spec, std::span<const std::string_view> args, int64_t micros, std::string peer,
                    std::string client_name);
  // MONITOR's line for a command this client ran (or its script ran).
  void FeedMonitors(const CommandSpec& spec, std::span<const std::string_view> args, bool from_script);
  // CLIENT PAUSE's step of the command path: true when the command must wait (it is parked).
  bool ParkIfPaused(const CommandSpec& spec, std::span<const std::string_view> args);
  // A request that is HTTP (POST, Host:): the connection is closed without a reply.
  void RefuseCrossProtocol();

  void RunHeldCommand(const CommandSpec& spec, std::span<const std::string_view> args, int64_t now_ms,
                      protocol::ReplyBuilder& reply);
  // True when a watched key changed (or expired) since WATCH; under the EXEC's locks.
  bool WatchedKeysChanged(int64_t now_ms);
  void Flush();
  // client-output-buffer-limit for this client's class (pubsub when subscribed, else normal):
  // past the hard limit, or past the soft one for longer than its seconds, the client is closed
  // (false). Redis's rule, with its log line.
  bool WithinOutputLimit();
  // What a (un)subscribe confirmation counts for `kind`.
  size_t SubscriptionCount(SubscriptionKind kind) const;
  // Updates the counts CLIENT LIST reads from other threads.
  void PublishSubscriptionCounts();
  size_t PendingOutputBytes() const {
    return output_.size() + (writing_ ? in_flight_.size() - in_flight_sent_ : 0) + pushes_before_reply_.size() +
           pushes_after_reply_.size() + (tls_plaintext_.size() - tls_plaintext_sent_);
  }
  static void SliceForWrite(std::string& bytes, size_t from, std::vector<uv_buf_t>* bufs);
  bool KeepPartialInput(const char* data, size_t len);
  // Makes pending_input_ hold at least `minimum` bytes; false if memory ran out.
  bool ReservePending(size_t minimum);
  void ReleasePendingIfIdle();
  void ResumeReading();
  void ResumeAfterLoad(const absl::Status& status);
  // Ends any parking: runs the commands that arrived meanwhile and sends the replies.
  void Unpark();
  // The bookkeeping of a blocked wait that ended (its deadline, its state for CLIENT LIST).
  void LeaveBlockedWait();
  // Locks the shards of keys_ and runs the command under them (after read-through parking, and
  // noting its writes for loaders and blocked clients).
  void RunUnderKeyLocks(const CommandSpec& spec, std::span<const std::string_view> args, int64_t now_ms,
                        bool read_through, BlockingMode blocking, AfterRun* after,
                        protocol::ReplyBuilder* reply = nullptr);
  // Parks the command when some of `keys` are in the spill tier, and has them read back into
  // memory (server/spill_promoter.h); it runs again, as if it had just arrived, when they are.
  // Under the keys' shard locks.
  bool ParkIfSpilled(storage::Transaction& txn, std::span<const std::string_view> keys,
                     std::span<const std::string_view> args);
  void ResumeAfterSpill(const absl::Status& status);
  // Read-through, under the command's shard locks: if a loader must fetch some of its keys,
  // parks the command on those loads (added to `pending`) and returns true. Keys that are
  // stale or due for refresh-ahead get a background load in `pending` too.
  bool ParkIfLoading(storage::Transaction& txn, std::span<const std::string_view> keys,
                     std::span<const std::string_view> args, int64_t now_ms,
                     loaders::LoaderManager::PendingLoads* pending);
  // Keeps a copy of the command and returns the callback that resumes it on this thread (by
  // `resume`: ResumeAfterLoad or ResumeAfterSpill).
  std::function<void(absl::Status)> ParkForLoads(std::span<const std::string_view> args,
                                                 void (Connection::*resume)(const absl::Status&) =
                                                     &Connection::ResumeAfterLoad);
  void RunPendingInput();
  // A kProtected command (DEBUG, MONITOR) as enable-debug-command / enable-monitor-command allow
  // for this client; else false with Redis's refusal in `error`.
  bool ProtectedCommandAllowed(const CommandSpec& spec, std::string* error) const;
  // TLS: feeds ciphertext to the session and runs the plaintext it yields, decrypted into
  // `scratch` (or straight into pending_input_ when a partial command waits there). False when
  // the session failed or the peer closed it (the caller closes the connection).
  bool ReceiveTls(const char* ciphertext, size_t length, char* scratch, size_t scratch_size);
  // TLS, in Flush: seals the next at most kTlsSealSlice bytes of plaintext (output_, after any
  // left in tls_plaintext_) into output_ as ciphertext. False on a TLS error.
  bool SealTlsSlice();
  static constexpr size_t kTlsSealSlice = 256 * 1024;

  IoThread& thread_;
  Server& server_;
  const uint64_t id_;
  uv_tcp_t handle_;
  uv_write_t write_req_;
  const int64_t created_ms_;

  // Input: a partial command waits in pending_input_ (read directly into it when present).
  std::unique_ptr<char[]> pending_input_;
  size_t pending_capacity_ = 0;
  size_t pending_size_ = 0;
  bool reading_into_pending_ = false;
  bool reading_paused_ = false;
  protocol::RequestParser parser_;

  // Output: replies of the current batch, and the bytes of a uv_write in flight.
  std::string output_;
  std::string in_flight_;
  size_t in_flight_sent_ = 0;  // bytes of in_flight_ that uv_try_write had already sent
  bool writing_ = false;
  protocol::ReplyBuilder reply_;

  std::vector<size_t> key_indexes_;
  std::vector<std::string_view> keys_;
  std::vector<std::string> more_keys_;  // see LockMoreKeysAndRunAgain

  // Parking: one command at a time waits, for loads or (blocking commands) for a key to fill;
  // the pipeline behind it waits too.
  enum class Parked { kNo, kOnLoads, kBlocked, kPaused };
  Parked parked_ = Parked::kNo;
  std::shared_ptr<BlockedClient> blocked_;
  bool replaying_loaded_command_ = false;
  bool rerun_after_write_ = false;  // the parked command already ran again once after a write
  std::vector<std::string> waiting_command_;

  // MULTI: the queued commands; null outside a transaction.
  struct QueuedCommand {
    const CommandSpec* spec;
    std::vector<std::string> args;
  };
  struct Multi {
    std::vector<QueuedCommand> commands;
    bool aborted = false;  // a command was refused while queueing: EXEC answers EXECABORT
    bool deny_oom = false;  // a queued command may grow memory: EXEC makes room first
  };
  std::unique_ptr<Multi> multi_;
  WatchedKeys watched_;
  // Shared with the deferred-after-run steps of an EXEC or script (see RunHeld).
  AfterRun* held_after_ = nullptr;

  // Whether this tracking client's command has keys to remember for client-side caching (a
  // read-only command, in a mode that remembers now), and remembering them.
  bool RemembersReadKeys(const CommandSpec& spec) const;
  void RememberReadKeys(const storage::Transaction& txn);
  std::unique_ptr<TrackingState> tracking_;
  // Pub/sub: null until the first subscription, and again after the last goes.
  std::unique_ptr<Subscriptions> subscriptions_;
  bool flush_scheduled_ = false;
  // Pushes (pub/sub messages, invalidations) to this client while its own command runs wait
  // here, so none lands inside the command's reply (an MGET's array, an EXEC's); CommandScope
  // puts them around the reply when the command ends.
  class CommandScope;
  // Puts the pushes held during a command around its reply (CommandScope ends it).
  void EndCommandPushes();
  enum class PushPlace { kBeforeReply, kAfterReply };
  protocol::ReplyBuilder PushBuilder(PushPlace place);
  // After a push: output accounting, client-output-buffer-limit, and a flush soon.
  void AfterPush();
  bool executing_ = false;
  // What sets this client apart from a plain RESP2 one, in one byte: a plain client's command
  // pays one test for all of them (CommandScope, ModeMayRefuse).
  enum Mode : uint8_t { kModeMulti = 1, kModeSubscribed = 2, kModeTracking = 4, kModeResp3 = 8, kModeMonitor = 16 };
  uint8_t modes_ = 0;
  void SetMode(Mode mode, bool on) { modes_ = on ? (modes_ | mode) : (modes_ & ~mode); }
  size_t command_output_start_ = 0;
  // Inside ProcessInput: when the previous command of this read ended (monotonic ns), which is
  // when the next one starts, so a pipelined command costs one clock reading; 0 elsewhere.
  int64_t command_clock_ns_ = 0;
  // Error replies commands run by RunHeld wrote into reply_ (an EXEC's), which are not the
  // running command's own failure.
  uint64_t nested_errors_ = 0;
  // A blocked command slow enough for the slow log: its run's time, logged when it is served.
  int64_t blocked_run_nanos_ = -1;
  int64_t pause_wake_ms_ = 0;  // the wake-up a paused command waits for
  std::string pushes_before_reply_, pushes_after_reply_;
  int64_t output_soft_limit_since_ms_ = 0;  // 0: under the soft limit
  bool close_asap_ = false;  // past its output limit: closed at the next flush (SendPendingOutput)

  bool authenticated_ = true;
  // The ACL user's snapshot and the Acl generation it was taken at (server/acl.h); acl_checks_:
  // the user is restricted, so every command passes Acl::Check.
  std::shared_ptr<const AclUser> user_;
  uint64_t acl_generation_ = 0;
  bool acl_checks_ = false;
  bool close_after_reply_ = false;
  bool closing_ = false;

  // Read by other threads (CLIENT LIST/INFO).
  std::atomic<int> db_{0};
  std::atomic<bool> no_evict_{false};
  std::atomic<bool> no_touch_{false};             // CLIENT NO-TOUCH; CLIENT LIST's 'T'
  std::atomic<bool> monitoring_for_info_{false};  // CLIENT LIST's 'O'
  std::atomic<bool> blocked_for_info_{false};
  std::atomic<int> resp_{2};
  std::atomic<int> multi_queued_{-1};  // CLIENT LIST's multi=
  std::atomic<int64_t> last_interaction_ms_;
  std::atomic<const CommandSpec*> last_command_{nullptr};
  std::atomic<size_t> query_buffer_bytes_{0};
  std::atomic<size_t> query_buffer_capacity_{0};
  std::atomic<size_t> output_bytes_{0};
  std::atomic<int> channel_count_{0}, pattern_count_{0}, shard_channel_count_{0};  // CLIENT LIST sub= psub= ssub=
  std::atomic<int64_t> tracking_redirect_{-1};  // CLIENT LIST redir= (-1: not tracking)
  std::string peer_address_;
  std::string local_address_;
  int fd_ = -1;
  bool peer_is_local_ = false;  // see IsLoopback (io_thread.h)
  std::atomic<bool> kill_requested_{false};  // RequestKill
  // Set for a tls-port connection: output_ holds plaintext until Flush seals it.
  std::unique_ptr<TlsSession> tls_;
  // Plaintext of a large output not sealed yet (SealTlsSlice), from tls_plaintext_sent_ on.
  std::string tls_plaintext_;
  size_t tls_plaintext_sent_ = 0;
  mutable absl::Mutex info_mu_;
  std::string name_;
  std::string user_name_ = "default";
  std::string lib_name_;
  std::string lib_version_;
};

}  // namespace strata::server
