// The PostgreSQL source: one libuv loop thread drives libpq's asynchronous API.
//
// Life of a load. Load() (any thread) turns the batch into a LoadRequest with its deadline and
// posts it to the mailbox. On the loop thread the request is admitted: failed at once if no
// connection is up, else queued. An idle pool connection takes the oldest queued request and
// advances it step by step, one round trip each: prepare the single-key statement and describe it
// (once per connection), then either run it for each key, or (several keys) look up the parameter
// type names, prepare the batch statement (once per connection) and run it once for all keys.
// Results are read when the socket is readable; each finished step calls Advance() again.
//
// Deadlines of queued and running requests sit in one ordered set behind one timer. A request
// that times out while running takes its connection with it: the query is cancelled from the
// canceller thread and the connection replaced, so no late result can be mistaken for the next
// request's.
//
// Connections: kConnecting (PQconnectPoll, bounded by kConnectTimeout) -> kReady; a failed attempt
// waits in kWaitingToReconnect for its backoff; a ready connection that breaks reconnects at once.
// While libpq connects it may switch sockets, so each connecting step watches the socket through a
// fresh uv_poll_t (libuv must never see one fd number stand for two sockets).
#include "loaders/postgres_source.h"

#include <libpq-fe.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "loaders/source.h"
#include "loaders/sql_params.h"

namespace strata::loaders {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kDefaultPoolSize = 4;
constexpr int kMaxPoolSize = 256;
// A failed connection attempt is retried after kFirstReconnectDelay, doubling up to
// kMaxReconnectDelay, so a database that is down is not hammered but is found soon once it is up.
constexpr std::chrono::milliseconds kFirstReconnectDelay{100};
constexpr std::chrono::milliseconds kMaxReconnectDelay{5000};
// PQconnectPoll has no time limit of its own (libpq honours connect_timeout only when it blocks).
constexpr std::chrono::milliseconds kConnectTimeout{5000};
constexpr char kStoppedReason[] = "source stopped";

// Debian's abseil has its own string_view (see server/absl_compat.h); loaders may not use server/.
absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

struct PgResultFree {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultFree>;

struct PgCancelFree {
  void operator()(PGcancel* cancel) const { PQfreeCancel(cancel); }
};
using PgCancel = std::unique_ptr<PGcancel, PgCancelFree>;

// libpq's messages run over several lines ("...failed: Connection refused\n\tIs the server
// running..."); a client gets the first.
std::string FirstLine(const char* message) {
  std::string_view text = message != nullptr ? message : "";
  text = text.substr(0, text.find('\n'));
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  return text.empty() ? std::string("unknown PostgreSQL error") : std::string(text);
}

bool Succeeded(const PGresult* result) {
  const ExecStatusType status = PQresultStatus(result);
  return status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK;
}

// SQLSTATE class 22 is "data exception": the value itself is wrong ('abc' for an integer, an
// out-of-range number, bad UTF-8), which for a cache means "no such key", not a failing source.
bool IsDataException(const PGresult* result) {
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  return state != nullptr && state[0] == '2' && state[1] == '2';
}

// After DDL changes what a prepared statement returns, the server refuses to run it ("cached
// plan must not change result type", 0A000) for as long as it exists.
bool IsStalePlan(const PGresult* result) {
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  return state != nullptr && std::string_view(state) == "0A000";
}

// The server's primary message only: DETAIL and the statement can carry bound values.
std::string ErrorReason(const PGresult* result) {
  if (result == nullptr) return "no result from the server";
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  if (primary != nullptr && *primary != '\0') return primary;
  return FirstLine(PQresultErrorMessage(result));
}

// A row as the loader's shape wants it, reading columns from first_column on.
LoadOutcome RowOutcome(const PGresult* result, int row, int first_column, ValueShape shape) {
  if (row >= PQntuples(result) || first_column >= PQnfields(result)) return LoadOutcome::NotFound();
  if (shape == ValueShape::kString) {
    if (PQgetisnull(result, row, first_column)) return LoadOutcome::NotFound();
    return LoadOutcome::Found(
        std::string(PQgetvalue(result, row, first_column), PQgetlength(result, row, first_column)));
  }
  std::vector<std::pair<std::string, std::string>> fields;
  for (int column = first_column; column < PQnfields(result); ++column) {
    if (PQgetisnull(result, row, column)) continue;
    fields.emplace_back(PQfname(result, column),
                        std::string(PQgetvalue(result, row, column), PQgetlength(result, row, column)));
  }
  return LoadOutcome::FoundHash(std::move(fields));  // no non-NULL column reads as not found
}

// Maps parameter names to capture indexes, refusing names the key template does not capture.
absl::StatusOr<std::vector<int>> BindCaptures(const std::vector<std::string>& parameter_names,
                                              const std::vector<std::string>& capture_names, std::string_view what) {
  std::vector<int> bound;
  for (const std::string& name : parameter_names) {
    auto it = std::find(capture_names.begin(), capture_names.end(), name);
    if (it == capture_names.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(AsAbsl(what), " uses :", name, ", which the key template does not capture"));
    }
    bound.push_back(static_cast<int>(it - capture_names.begin()));
  }
  return bound;
}

// A trailing ';' is fine for a statement of its own but not inside the batch query's subselect.
std::string TrimQuery(std::string_view text) {
  while (!text.empty() && (text.back() == ';' || std::isspace(static_cast<unsigned char>(text.back())))) {
    text.remove_suffix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  return std::string(text);
}

// What Prepare() leaves in SourceQuery::prepared. Immutable once made.
struct PreparedQuery {
  uint64_t id = 0;                // names the statements on each connection
  std::string named_text;         // the configured text, trimmed, for DeriveBatchQuery
  std::string single_text;        // with $n placeholders
  std::vector<int> single_bound;  // capture index bound at $1, $2, ...
  bool has_batch_text = false;    // the loader gave batch-query text
  std::string batch_text;         // that text with $n placeholders
  std::vector<int> batch_bound;
  size_t capture_count = 0;
};

// Sends cancel requests on its own thread: PQcancel connects to the server and waits for it to
// hang up, which must never stall the loop (an unreachable server is exactly when it would).
class QueryCanceller {
 public:
  void Start() {
    thread_ = std::thread([this] { Run(); });
  }

  // Sends what is still queued, then joins the thread.
  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }

  void Cancel(PgCancel cancel) {
    absl::MutexLock lock(&mu_);
    pending_.push_back(std::move(cancel));
  }

 private:
  bool HasWork() const ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || !pending_.empty(); }

  void Run() {
    for (;;) {
      PgCancel cancel;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(this, &QueryCanceller::HasWork));
        if (pending_.empty()) return;
        cancel = std::move(pending_.front());
        pending_.pop_front();
      }
      // Best effort: the query may have finished meanwhile, and then there is nothing to cancel.
      char error[256];
      PQcancel(cancel.get(), error, sizeof error);
    }
  }

  absl::Mutex mu_;
  std::deque<PgCancel> pending_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

std::vector<std::string> SecretPieces(std::string_view url);  // below, with PasswordSpans

class PostgresSource final : public Source {
 public:
  PostgresSource(std::string name, std::string url, int pool_size, std::string notify_channel)
      : Source(std::move(name)),
        url_(std::move(url)),
        redacted_url_(RedactPostgresUrl(url_)),
        secret_pieces_(SecretPieces(url_)),
        pool_size_(pool_size),
        notify_channel_(std::move(notify_channel)) {}

  ~PostgresSource() override { Stop(); }

  absl::Status Prepare(SourceQuery& query) override;
  absl::Status Start() override;
  void Stop() override;
  void Load(const SourceQuery& query, std::vector<std::vector<std::string>> batch, Done done) override;
  std::string Describe() const override { return redacted_url_; }

 private:
  struct LoadRequest {
    uint64_t id = 0;
    std::shared_ptr<const PreparedQuery> query;
    ValueShape shape = ValueShape::kString;
    std::chrono::milliseconds timeout{0};
    Clock::time_point deadline;
    std::vector<std::vector<std::string>> batch;
    Done done;
    std::vector<LoadOutcome> outcomes;  // one per batch element
    std::vector<size_t> pending;        // the elements the database must answer
    bool batched = false;               // one batch query; else key by key
    size_t next = 0;                    // key by key: the next index into `pending`
    bool replanned = false;             // the statements were prepared again after a schema change
  };

  // One connection's prepared statements for one query.
  struct Statement {
    std::string name;
    bool prepared = false;
    bool described = false;
    std::vector<Oid> parameter_type_oids;           // from the describe
    std::vector<std::string> parameter_type_names;  // their format_type names, for the derived batch query
    bool parameter_type_names_known = false;
    bool batch_prepared = false;
    bool batch_unavailable = false;  // the derived batch query cannot serve this query
  };

  enum class ConnectionState { kWaitingToReconnect, kConnecting, kReady, kClosed };
  enum class Step { kNone, kPrepare, kDescribe, kParameterTypes, kPrepareBatch, kExecuteBatch, kExecuteOne, kListen };

  struct Connection {
    PostgresSource* source = nullptr;
    bool listener = false;  // the notify-channel connection; else a pool connection
    PGconn* pg = nullptr;
    uv_poll_t* poll = nullptr;  // heap: replaced while connecting, freed in its close callback
    int watched_events = 0;
    uv_timer_t timer;  // connect timeout, or the wait before reconnecting
    ConnectionState state = ConnectionState::kWaitingToReconnect;
    std::chrono::milliseconds reconnect_delay = kFirstReconnectDelay;
    Step step = Step::kNone;
    PgResult result;                                      // of the current step
    std::unique_ptr<LoadRequest> request;                 // pool connection: the load it runs
    absl::flat_hash_map<uint64_t, Statement> statements;  // by PreparedQuery::id
    uint64_t statements_made = 0;
  };

  enum class Lifecycle { kCreated, kRunning, kStopping, kStopped };

  // Loop thread.
  static void OnMailbox(uv_async_t* handle);
  static void OnDeadlineTimer(uv_timer_t* handle);
  static void OnConnectionTimer(uv_timer_t* handle);
  static void OnSocket(uv_poll_t* handle, int status, int events);
  void RunMailbox();
  void Admit(std::unique_ptr<LoadRequest> request);
  void Dispatch();
  void Advance(Connection& connection);
  bool AdvanceBatch(Connection& connection, Statement& statement);
  void Send(Connection& connection, Step step, int sent);
  void Flush(Connection& connection);
  void Watch(Connection& connection, int events);
  void WatchNewSocket(Connection& connection, int events);
  void ExecuteBatch(Connection& connection, const Statement& statement);
  void ExecuteOne(Connection& connection, const Statement& statement);
  void OnSocketEvent(Connection& connection, int status, int events);
  void ReadResults(Connection& connection);
  void DeliverNotifications(Connection& connection);
  void OnStepDone(Connection& connection, Step step, PgResult result);
  void FinishRequest(Connection& connection);
  void FinishWithError(Connection& connection, const std::string& reason);
  void CompleteRequest(std::unique_ptr<LoadRequest> request);
  void ExpireDeadlines();
  void ArmDeadlineTimer();
  void Connect(Connection& connection);
  void ContinueConnecting(Connection& connection);
  void Connected(Connection& connection);
  void ConnectFailed(Connection& connection, const std::string& reason);
  void ConnectionLost(Connection& connection, const std::string& reason);
  void CancelAndReplace(Connection& connection);
  void Disconnect(Connection& connection);
  bool AnyPoolConnectionReady() const;
  void FailQueued(const std::string& reason, bool timed_out);
  void ShutDown();

  static bool IsIdle(const Connection& connection) {
    return connection.state == ConnectionState::kReady && connection.request == nullptr &&
           connection.step == Step::kNone;
  }
  Statement& StatementFor(Connection& connection, const PreparedQuery& query);
  static void FailRemaining(LoadRequest& request, const std::string& reason, bool timed_out);

  const std::string url_;
  const std::string redacted_url_;
  // Bits of the URL's passwords that libpq's connection errors may quote (SecretPieces).
  const std::vector<std::string> secret_pieces_;
  // `text` with every secret piece replaced by "***": connection errors reach replies and logs.
  std::string Scrub(std::string text) const;
  const int pool_size_;
  const std::string notify_channel_;
  std::atomic<uint64_t> next_query_id_{1};

  absl::Mutex mailbox_mu_;
  Lifecycle lifecycle_ ABSL_GUARDED_BY(mailbox_mu_) = Lifecycle::kCreated;
  std::vector<std::unique_ptr<LoadRequest>> mailbox_ ABSL_GUARDED_BY(mailbox_mu_);

  QueryCanceller canceller_;
  std::thread loop_thread_;

  // Loop thread only (and Start/Stop around the thread's life).
  uv_loop_t loop_;
  uv_async_t mailbox_async_;
  uv_timer_t deadline_timer_;
  std::vector<std::unique_ptr<Connection>> pool_;
  std::unique_ptr<Connection> listener_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<LoadRequest>> queued_;
  std::deque<uint64_t> queue_order_;  // ids of queued_ (and of requests since gone), oldest first
  absl::flat_hash_map<uint64_t, Connection*> running_;
  std::set<std::pair<Clock::time_point, uint64_t>> deadlines_;  // queued and running requests
  std::string down_reason_;  // non-empty while no pool connection is up after a failed attempt
  uint64_t next_request_id_ = 1;
  bool shutting_down_ = false;
};

// ---------------------------------------------------------------------------------------------
// Configuration and the caller's side.

absl::Status PostgresSource::Prepare(SourceQuery& query) {
  auto prepared = std::make_shared<PreparedQuery>();
  prepared->id = next_query_id_.fetch_add(1);
  prepared->named_text = TrimQuery(query.text);
  if (prepared->named_text.empty()) return absl::InvalidArgumentError("the query is empty");
  PositionalQuery single = RewriteNamedParameters(prepared->named_text, PlaceholderStyle::kDollar);
  absl::StatusOr<std::vector<int>> single_bound = BindCaptures(single.names, query.capture_names, "query");
  if (!single_bound.ok()) return single_bound.status();
  prepared->single_text = std::move(single.text);
  prepared->single_bound = *std::move(single_bound);
  if (!TrimQuery(query.batch_text).empty()) {
    PositionalQuery batch = RewriteNamedParameters(TrimQuery(query.batch_text), PlaceholderStyle::kDollar);
    absl::StatusOr<std::vector<int>> batch_bound = BindCaptures(batch.names, query.capture_names, "batch-query");
    if (!batch_bound.ok()) return batch_bound.status();
    prepared->has_batch_text = true;
    prepared->batch_text = std::move(batch.text);
    prepared->batch_bound = *std::move(batch_bound);
  }
  prepared->capture_count = query.capture_names.size();
  query.bound_captures = prepared->single_bound;
  query.prepared = std::move(prepared);
  return absl::OkStatus();
}

absl::Status PostgresSource::Start() {
  {
    absl::MutexLock lock(&mailbox_mu_);
    if (lifecycle_ != Lifecycle::kCreated) return absl::FailedPreconditionError("source already started");
  }
  if (int rc = uv_loop_init(&loop_); rc != 0) {
    return absl::InternalError(absl::StrCat("source ", name(), ": uv_loop_init: ", uv_strerror(rc)));
  }
  uv_async_init(&loop_, &mailbox_async_, OnMailbox);
  mailbox_async_.data = this;
  uv_timer_init(&loop_, &deadline_timer_);
  deadline_timer_.data = this;
  auto make_connection = [this](bool listener) {
    auto connection = std::make_unique<Connection>();
    connection->source = this;
    connection->listener = listener;
    uv_timer_init(&loop_, &connection->timer);
    connection->timer.data = connection.get();
    return connection;
  };
  for (int i = 0; i < pool_size_; ++i) pool_.push_back(make_connection(false));
  if (!notify_channel_.empty()) listener_ = make_connection(true);
  canceller_.Start();
  {
    // Handles exist before Load() may signal them; loads posted before Start() are picked up now.
    absl::MutexLock lock(&mailbox_mu_);
    lifecycle_ = Lifecycle::kRunning;
    uv_async_send(&mailbox_async_);
  }
  loop_thread_ = std::thread([this] {
    for (auto& connection : pool_) Connect(*connection);
    if (listener_ != nullptr) Connect(*listener_);
    uv_run(&loop_, UV_RUN_DEFAULT);
  });
  return absl::OkStatus();
}

void PostgresSource::Stop() {
  std::vector<std::unique_ptr<LoadRequest>> never_started;
  {
    absl::MutexLock lock(&mailbox_mu_);
    switch (lifecycle_) {
      case Lifecycle::kCreated:
        lifecycle_ = Lifecycle::kStopped;
        never_started.swap(mailbox_);
        break;
      case Lifecycle::kRunning:
        lifecycle_ = Lifecycle::kStopping;
        uv_async_send(&mailbox_async_);
        break;
      case Lifecycle::kStopping:
      case Lifecycle::kStopped:
        return;
    }
  }
  for (auto& request : never_started) {
    FailRemaining(*request, kStoppedReason, false);
    request->done(std::move(request->outcomes));
  }
  if (!loop_thread_.joinable()) return;
  loop_thread_.join();
  canceller_.Stop();
  uv_loop_close(&loop_);
  pool_.clear();
  listener_.reset();
  absl::MutexLock lock(&mailbox_mu_);
  lifecycle_ = Lifecycle::kStopped;
}

void PostgresSource::Load(const SourceQuery& query, std::vector<std::vector<std::string>> batch, Done done) {
  auto request = std::make_unique<LoadRequest>();
  request->query = std::static_pointer_cast<const PreparedQuery>(query.prepared);
  request->shape = query.shape;
  request->timeout = query.timeout;
  request->deadline = Clock::now() + query.timeout;
  request->batch = std::move(batch);
  request->done = std::move(done);
  request->outcomes.resize(request->batch.size());
  if (request->query == nullptr) {
    // Nothing pending: the request completes with these outcomes as soon as it is admitted.
    for (LoadOutcome& outcome : request->outcomes)
      outcome = LoadOutcome::Error("the query was not prepared by this source");
  } else {
    const PreparedQuery& prepared = *request->query;
    for (size_t i = 0; i < request->batch.size(); ++i) {
      const std::vector<std::string>& captures = request->batch[i];
      if (captures.size() != prepared.capture_count) {
        request->outcomes[i] = LoadOutcome::Error("wrong number of captures for the query");
        continue;
      }
      // A text parameter cannot hold a NUL byte, and no PostgreSQL text value can either: the key
      // cannot exist.
      auto has_nul = [&captures](int index) { return captures[index].find('\0') != std::string::npos; };
      if (std::any_of(prepared.single_bound.begin(), prepared.single_bound.end(), has_nul) ||
          std::any_of(prepared.batch_bound.begin(), prepared.batch_bound.end(), has_nul)) {
        continue;  // stays NotFound
      }
      request->pending.push_back(i);
    }
  }
  {
    absl::MutexLock lock(&mailbox_mu_);
    if (lifecycle_ == Lifecycle::kCreated || lifecycle_ == Lifecycle::kRunning) {
      mailbox_.push_back(std::move(request));
      if (lifecycle_ == Lifecycle::kRunning) uv_async_send(&mailbox_async_);
      return;
    }
  }
  FailRemaining(*request, kStoppedReason, false);
  request->done(std::move(request->outcomes));
}

// ---------------------------------------------------------------------------------------------
// Requests, on the loop thread.

void PostgresSource::OnMailbox(uv_async_t* handle) { static_cast<PostgresSource*>(handle->data)->RunMailbox(); }

void PostgresSource::RunMailbox() {
  std::vector<std::unique_ptr<LoadRequest>> arrivals;
  bool stopping = false;
  {
    absl::MutexLock lock(&mailbox_mu_);
    arrivals.swap(mailbox_);
    stopping = lifecycle_ == Lifecycle::kStopping;
  }
  for (auto& request : arrivals) {
    if (stopping || shutting_down_) {
      FailRemaining(*request, kStoppedReason, false);
      CompleteRequest(std::move(request));
    } else {
      Admit(std::move(request));
    }
  }
  if (stopping && !shutting_down_) ShutDown();
}

void PostgresSource::Admit(std::unique_ptr<LoadRequest> request) {
  request->id = next_request_id_++;
  if (request->pending.empty()) {
    CompleteRequest(std::move(request));
    return;
  }
  if (!down_reason_.empty()) {
    // Nothing is connected and the last attempt failed: say so now rather than at the timeout.
    FailRemaining(*request, down_reason_, false);
    CompleteRequest(std::move(request));
    return;
  }
  const PreparedQuery& query = *request->query;
  request->batched = request->pending.size() > 1 && (query.has_batch_text || !query.single_bound.empty());
  deadlines_.emplace(request->deadline, request->id);
  queue_order_.push_back(request->id);
  queued_.emplace(request->id, std::move(request));
  ArmDeadlineTimer();
  Dispatch();
}

void PostgresSource::Dispatch() {
  if (shutting_down_) return;
  for (auto& connection : pool_) {
    if (!IsIdle(*connection)) continue;
    std::unique_ptr<LoadRequest> request;
    while (request == nullptr && !queue_order_.empty()) {
      auto it = queued_.find(queue_order_.front());
      queue_order_.pop_front();
      if (it == queued_.end()) continue;  // timed out or failed while queued
      request = std::move(it->second);
      queued_.erase(it);
    }
    if (request == nullptr) return;
    running_[request->id] = connection.get();
    connection->request = std::move(request);
    Advance(*connection);
  }
}

PostgresSource::Statement& PostgresSource::StatementFor(Connection& connection, const PreparedQuery& query) {
  Statement& statement = connection.statements[query.id];
  if (statement.name.empty()) statement.name = absl::StrCat("strata_", ++connection.statements_made);
  return statement;
}

// Sends the request's next command, or completes it. Each command is one round trip; its result
// comes back through OnStepDone, which calls Advance again.
void PostgresSource::Advance(Connection& connection) {
  LoadRequest& request = *connection.request;
  const PreparedQuery& query = *request.query;
  Statement& statement = StatementFor(connection, query);
  if (!statement.prepared) {
    Send(connection, Step::kPrepare,
         PQsendPrepare(connection.pg, statement.name.c_str(), query.single_text.c_str(), 0, nullptr));
    return;
  }
  if (!statement.described) {
    Send(connection, Step::kDescribe, PQsendDescribePrepared(connection.pg, statement.name.c_str()));
    return;
  }
  if (request.batched && AdvanceBatch(connection, statement)) return;
  if (request.next < request.pending.size()) {
    ExecuteOne(connection, statement);
    return;
  }
  FinishRequest(connection);
}

// Sends the next command of a batched request. False when the query cannot be batched on this
// connection: the request then goes key by key.
bool PostgresSource::AdvanceBatch(Connection& connection, Statement& statement) {
  LoadRequest& request = *connection.request;
  const PreparedQuery& query = *request.query;
  if (statement.batch_prepared) {
    ExecuteBatch(connection, statement);
    return true;
  }
  std::string batch_text;
  if (query.has_batch_text) {
    batch_text = query.batch_text;
  } else if (statement.batch_unavailable) {
    request.batched = false;
    return false;
  } else if (!statement.parameter_type_names_known) {
    // The describe gave type OIDs; the batch query's casts need the types' names.
    std::string oids = "{";
    for (size_t i = 0; i < statement.parameter_type_oids.size(); ++i) {
      absl::StrAppend(&oids, i == 0 ? "" : ",", statement.parameter_type_oids[i]);
    }
    oids += "}";
    const char* values[] = {oids.c_str()};
    Send(connection, Step::kParameterTypes,
         PQsendQueryParams(connection.pg,
                           "SELECT format_type(t, -1) FROM unnest($1::oid[]) WITH ORDINALITY AS u(t, n) ORDER BY n", 1,
                           nullptr, values, nullptr, nullptr, 0));
    return true;
  } else {
    absl::StatusOr<std::string> derived = DeriveBatchQuery(query.named_text, statement.parameter_type_names);
    if (!derived.ok()) {
      statement.batch_unavailable = true;
      request.batched = false;
      return false;
    }
    batch_text = *std::move(derived);
  }
  const std::string batch_name = statement.name + "_batch";
  Send(connection, Step::kPrepareBatch,
       PQsendPrepare(connection.pg, batch_name.c_str(), batch_text.c_str(), 0, nullptr));
  return true;
}

void PostgresSource::ExecuteOne(Connection& connection, const Statement& statement) {
  const LoadRequest& request = *connection.request;
  const std::vector<std::string>& captures = request.batch[request.pending[request.next]];
  std::vector<const char*> values;
  for (int index : request.query->single_bound) values.push_back(captures[index].c_str());
  Send(connection, Step::kExecuteOne,
       PQsendQueryPrepared(connection.pg, statement.name.c_str(), static_cast<int>(values.size()), values.data(),
                           nullptr, nullptr, 0));
}

void PostgresSource::ExecuteBatch(Connection& connection, const Statement& statement) {
  const LoadRequest& request = *connection.request;
  const std::vector<int>& bound =
      request.query->has_batch_text ? request.query->batch_bound : request.query->single_bound;
  std::vector<std::string> arrays;
  for (int index : bound) {
    std::vector<std::string_view> column;
    for (size_t element : request.pending) column.push_back(request.batch[element][index]);
    arrays.push_back(PostgresTextArray(column));
  }
  std::vector<const char*> values;
  for (const std::string& array : arrays) values.push_back(array.c_str());
  const std::string batch_name = statement.name + "_batch";
  Send(connection, Step::kExecuteBatch,
       PQsendQueryPrepared(connection.pg, batch_name.c_str(), static_cast<int>(values.size()), values.data(), nullptr,
                           nullptr, 0));
}

void PostgresSource::Send(Connection& connection, Step step, int sent) {
  if (sent == 0) {
    ConnectionLost(connection, FirstLine(PQerrorMessage(connection.pg)));
    return;
  }
  connection.step = step;
  Flush(connection);
}

// In non-blocking mode libpq may keep part of a command; it goes out when the socket is writable.
void PostgresSource::Flush(Connection& connection) {
  const int unsent = PQflush(connection.pg);
  if (unsent < 0) {
    ConnectionLost(connection, FirstLine(PQerrorMessage(connection.pg)));
    return;
  }
  Watch(connection, UV_READABLE | (unsent == 1 ? UV_WRITABLE : 0));
}

void PostgresSource::OnStepDone(Connection& connection, Step step, PgResult result) {
  const bool ok = result != nullptr && Succeeded(result.get());
  if (connection.listener) {
    if (!ok) ConnectFailed(connection, absl::StrCat("LISTEN failed: ", ErrorReason(result.get())));
    return;
  }
  if (connection.request == nullptr) return;  // steps are only sent for a request
  LoadRequest& request = *connection.request;
  const PreparedQuery& query = *request.query;
  Statement& statement = StatementFor(connection, query);
  switch (step) {
    case Step::kPrepare:
      if (!ok) return FinishWithError(connection, ErrorReason(result.get()));
      statement.prepared = true;
      break;
    case Step::kDescribe: {
      if (!ok) return FinishWithError(connection, ErrorReason(result.get()));
      const int parameters = PQnparams(result.get());
      if (parameters != static_cast<int>(query.single_bound.size())) {
        // Positional $n written into the query: nothing would bind them.
        return FinishWithError(connection,
                               absl::StrCat("the query has ", parameters, " parameters; write them as :name captures"));
      }
      statement.parameter_type_oids.clear();
      for (int i = 0; i < parameters; ++i) statement.parameter_type_oids.push_back(PQparamtype(result.get(), i));
      statement.described = true;
      break;
    }
    case Step::kParameterTypes:
      if (!ok || PQntuples(result.get()) != static_cast<int>(statement.parameter_type_oids.size())) {
        statement.batch_unavailable = true;
        break;
      }
      statement.parameter_type_names.clear();
      for (int i = 0; i < PQntuples(result.get()); ++i)
        statement.parameter_type_names.push_back(PQgetvalue(result.get(), i, 0));
      statement.parameter_type_names_known = true;
      break;
    case Step::kPrepareBatch:
      if (!ok) {
        if (query.has_batch_text)
          return FinishWithError(connection, absl::StrCat("batch-query: ", ErrorReason(result.get())));
        statement.batch_unavailable = true;  // a query the derivation cannot wrap: go key by key
        break;
      }
      statement.batch_prepared = true;
      break;
    case Step::kExecuteBatch: {
      if (!ok) {
        if (IsStalePlan(result.get()) && !request.replanned) {
          request.replanned = true;
          connection.statements.erase(query.id);  // Advance prepares it again, under a new name
          break;
        }
        if (IsDataException(result.get())) {
          request.batched = false;  // some key is not valid input: find out which, key by key
          request.next = 0;
          break;
        }
        return FinishWithError(connection, ErrorReason(result.get()));
      }
      const PGresult* rows = result.get();
      std::vector<bool> answered(request.pending.size(), false);
      for (int row = 0; row < PQntuples(rows); ++row) {
        int64_t position = 0;
        if (PQnfields(rows) < 1 || PQgetisnull(rows, row, 0) ||
            !absl::SimpleAtoi(absl::string_view(PQgetvalue(rows, row, 0)), &position)) {
          continue;
        }
        if (position < 1 || position > static_cast<int64_t>(request.pending.size()) || answered[position - 1]) continue;
        answered[position - 1] = true;
        request.outcomes[request.pending[position - 1]] = RowOutcome(rows, row, 1, request.shape);
      }
      return FinishRequest(connection);
    }
    case Step::kExecuteOne: {
      LoadOutcome outcome;
      if (ok) {
        outcome = RowOutcome(result.get(), 0, 0, request.shape);
      } else if (IsStalePlan(result.get()) && !request.replanned) {
        request.replanned = true;
        connection.statements.erase(query.id);  // Advance prepares it again, under a new name
        break;
      } else if (!IsDataException(result.get())) {
        return FinishWithError(connection, ErrorReason(result.get()));
      }
      if (query.single_bound.empty()) {
        // The query binds no capture: one answer serves every key of the batch.
        for (size_t element : request.pending) request.outcomes[element] = outcome;
        request.next = request.pending.size();
      } else {
        request.outcomes[request.pending[request.next++]] = std::move(outcome);
      }
      break;
    }
    case Step::kNone:
    case Step::kListen:
      break;
  }
  Advance(connection);
}

void PostgresSource::FailRemaining(LoadRequest& request, const std::string& reason, bool timed_out) {
  for (size_t k = request.batched ? 0 : request.next; k < request.pending.size(); ++k) {
    request.outcomes[request.pending[k]] = LoadOutcome::Error(reason, timed_out);
  }
}

void PostgresSource::FinishWithError(Connection& connection, const std::string& reason) {
  FailRemaining(*connection.request, reason, false);
  FinishRequest(connection);
}

void PostgresSource::FinishRequest(Connection& connection) {
  std::unique_ptr<LoadRequest> request = std::move(connection.request);
  connection.step = Step::kNone;
  CompleteRequest(std::move(request));
  if (connection.state != ConnectionState::kReady) return;
  if (PQstatus(connection.pg) == CONNECTION_BAD) {
    ConnectionLost(connection, FirstLine(PQerrorMessage(connection.pg)));
    return;
  }
  Dispatch();
}

void PostgresSource::CompleteRequest(std::unique_ptr<LoadRequest> request) {
  deadlines_.erase({request->deadline, request->id});
  running_.erase(request->id);
  Done done = std::move(request->done);
  std::vector<LoadOutcome> outcomes = std::move(request->outcomes);
  request.reset();
  done(std::move(outcomes));
}

void PostgresSource::FailQueued(const std::string& reason, bool timed_out) {
  while (!queue_order_.empty()) {
    auto it = queued_.find(queue_order_.front());
    queue_order_.pop_front();
    if (it == queued_.end()) continue;
    std::unique_ptr<LoadRequest> request = std::move(it->second);
    queued_.erase(it);
    FailRemaining(*request, reason, timed_out);
    CompleteRequest(std::move(request));
  }
}

// ---------------------------------------------------------------------------------------------
// Deadlines.

void PostgresSource::OnDeadlineTimer(uv_timer_t* handle) {
  static_cast<PostgresSource*>(handle->data)->ExpireDeadlines();
}

void PostgresSource::ExpireDeadlines() {
  const Clock::time_point now = Clock::now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const uint64_t id = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    std::unique_ptr<LoadRequest> request;
    Connection* connection = nullptr;
    if (auto it = queued_.find(id); it != queued_.end()) {
      request = std::move(it->second);
      queued_.erase(it);
    } else if (auto running = running_.find(id); running != running_.end()) {
      connection = running->second;
      request = std::move(connection->request);
    } else {
      continue;
    }
    FailRemaining(*request, absl::StrCat("timed out after ", request->timeout.count(), " ms"), true);
    CompleteRequest(std::move(request));
    if (connection != nullptr) CancelAndReplace(*connection);
  }
  ArmDeadlineTimer();
}

void PostgresSource::ArmDeadlineTimer() {
  if (shutting_down_) return;
  if (deadlines_.empty()) {
    uv_timer_stop(&deadline_timer_);
    return;
  }
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadlines_.begin()->first - Clock::now());
  uv_timer_start(&deadline_timer_, OnDeadlineTimer, static_cast<uint64_t>(std::max<int64_t>(wait.count(), 0)), 0);
}

// ---------------------------------------------------------------------------------------------
// Sockets.

void PostgresSource::OnSocket(uv_poll_t* handle, int status, int events) {
  auto* connection = static_cast<Connection*>(handle->data);
  connection->source->OnSocketEvent(*connection, status, events);
}

void PostgresSource::Watch(Connection& connection, int events) {
  if (connection.poll == nullptr || connection.watched_events == events) return;
  uv_poll_start(connection.poll, events, OnSocket);
  connection.watched_events = events;
}

void PostgresSource::WatchNewSocket(Connection& connection, int events) {
  if (connection.poll != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(connection.poll),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
    connection.poll = nullptr;
  }
  const int fd = PQsocket(connection.pg);
  if (fd < 0) {
    ConnectFailed(connection, FirstLine(PQerrorMessage(connection.pg)));
    return;
  }
  auto* poll = new uv_poll_t;
  if (int rc = uv_poll_init(&loop_, poll, fd); rc != 0) {
    delete poll;
    ConnectFailed(connection, absl::StrCat("cannot watch the connection's socket: ", uv_strerror(rc)));
    return;
  }
  poll->data = &connection;
  connection.poll = poll;
  connection.watched_events = 0;
  Watch(connection, events);
}

void PostgresSource::OnSocketEvent(Connection& connection, int status, int events) {
  // libuv reports a socket error (POLLERR, e.g. a refused connect) as UV_EBADF; libpq reads the
  // real reason from the socket, so it is asked in every case.
  if (connection.state == ConnectionState::kConnecting) {
    ContinueConnecting(connection);
    return;
  }
  if (connection.state != ConnectionState::kReady) return;
  if (status < 0) {
    ConnectionLost(connection, PQconsumeInput(connection.pg) == 0 ? FirstLine(PQerrorMessage(connection.pg))
                                                                  : std::string(uv_strerror(status)));
    return;
  }
  if (events & UV_READABLE) {
    if (PQconsumeInput(connection.pg) == 0) {
      ConnectionLost(connection, FirstLine(PQerrorMessage(connection.pg)));
      return;
    }
  }
  if (connection.watched_events & UV_WRITABLE) {
    Flush(connection);
    if (connection.state != ConnectionState::kReady) return;
  }
  if (connection.listener) DeliverNotifications(connection);
  ReadResults(connection);
  if (connection.state != ConnectionState::kReady) return;
  if (connection.listener) DeliverNotifications(connection);
  if (connection.step == Step::kNone && PQstatus(connection.pg) == CONNECTION_BAD) {
    ConnectionLost(connection, FirstLine(PQerrorMessage(connection.pg)));
  }
}

void PostgresSource::ReadResults(Connection& connection) {
  while (connection.state == ConnectionState::kReady && connection.step != Step::kNone && !PQisBusy(connection.pg)) {
    PgResult result(PQgetResult(connection.pg));
    if (result != nullptr) {
      // One command gives one result; keep an error over a success should there be more.
      if (connection.result == nullptr || (Succeeded(connection.result.get()) && !Succeeded(result.get()))) {
        connection.result = std::move(result);
      }
      continue;
    }
    const Step step = connection.step;
    connection.step = Step::kNone;
    OnStepDone(connection, step, std::move(connection.result));
  }
}

void PostgresSource::DeliverNotifications(Connection& connection) {
  while (PGnotify* notification = PQnotifies(connection.pg)) {
    std::string payload = notification->extra != nullptr ? notification->extra : "";
    PQfreemem(notification);
    if (invalidation_handler()) invalidation_handler()(std::move(payload));
  }
}

// ---------------------------------------------------------------------------------------------
// Connections.

void PostgresSource::OnConnectionTimer(uv_timer_t* handle) {
  auto* connection = static_cast<Connection*>(handle->data);
  PostgresSource& source = *connection->source;
  if (connection->state == ConnectionState::kConnecting) {
    source.ConnectFailed(*connection, "timed out connecting to the server");
  } else if (connection->state == ConnectionState::kWaitingToReconnect) {
    source.Connect(*connection);
  }
}

void PostgresSource::Connect(Connection& connection) {
  if (shutting_down_) return;
  connection.state = ConnectionState::kConnecting;
  // fallback_application_name names us in pg_stat_activity unless the URL says otherwise.
  const char* const keywords[] = {"fallback_application_name", "dbname", nullptr};
  const char* const values[] = {"strata", url_.c_str(), nullptr};
  connection.pg = PQconnectStartParams(keywords, values, /*expand_dbname=*/1);
  if (connection.pg == nullptr) {
    ConnectFailed(connection, "out of memory");
    return;
  }
  if (PQstatus(connection.pg) == CONNECTION_BAD) {
    ConnectFailed(connection, FirstLine(PQerrorMessage(connection.pg)));
    return;
  }
  // The server's NOTICEs would otherwise be printed on our stderr.
  PQsetNoticeProcessor(
      connection.pg, [](void*, const char*) {}, nullptr);
  uv_timer_start(&connection.timer, OnConnectionTimer, kConnectTimeout.count(), 0);
  // libpq's rule: begin as if PQconnectPoll had returned PGRES_POLLING_WRITING.
  WatchNewSocket(connection, UV_WRITABLE);
}

void PostgresSource::ContinueConnecting(Connection& connection) {
  switch (PQconnectPoll(connection.pg)) {
    case PGRES_POLLING_READING:
      WatchNewSocket(connection, UV_READABLE);
      return;
    case PGRES_POLLING_WRITING:
      WatchNewSocket(connection, UV_WRITABLE);
      return;
    case PGRES_POLLING_OK:
      Connected(connection);
      return;
    default:
      ConnectFailed(connection, FirstLine(PQerrorMessage(connection.pg)));
      return;
  }
}

void PostgresSource::Connected(Connection& connection) {
  uv_timer_stop(&connection.timer);
  connection.reconnect_delay = kFirstReconnectDelay;
  if (PQsetnonblocking(connection.pg, 1) != 0) {
    ConnectFailed(connection, FirstLine(PQerrorMessage(connection.pg)));
    return;
  }
  connection.state = ConnectionState::kReady;
  Watch(connection, UV_READABLE);  // also to notice the server going away while idle
  if (connection.listener) {
    char* channel = PQescapeIdentifier(connection.pg, notify_channel_.data(), notify_channel_.size());
    if (channel == nullptr) {
      ConnectFailed(connection, FirstLine(PQerrorMessage(connection.pg)));
      return;
    }
    const std::string listen = absl::StrCat("LISTEN ", channel);
    PQfreemem(channel);
    Send(connection, Step::kListen, PQsendQuery(connection.pg, listen.c_str()));
    return;
  }
  down_reason_.clear();
  Dispatch();
}

void PostgresSource::ConnectFailed(Connection& connection, const std::string& unscrubbed_reason) {
  const std::string reason = Scrub(unscrubbed_reason);
  Disconnect(connection);
  if (shutting_down_) return;
  connection.state = ConnectionState::kWaitingToReconnect;
  uv_timer_start(&connection.timer, OnConnectionTimer, connection.reconnect_delay.count(), 0);
  connection.reconnect_delay = std::min(connection.reconnect_delay * 2, kMaxReconnectDelay);
  if (!connection.listener && !AnyPoolConnectionReady()) {
    down_reason_ = reason;
    FailQueued(reason, false);
  }
}

void PostgresSource::ConnectionLost(Connection& connection, const std::string& unscrubbed_reason) {
  const std::string reason = Scrub(unscrubbed_reason);
  if (connection.request != nullptr) {
    std::unique_ptr<LoadRequest> request = std::move(connection.request);
    FailRemaining(*request, reason, false);
    CompleteRequest(std::move(request));
  }
  Disconnect(connection);
  // The server was there a moment ago: try again at once; a failure then starts the backoff.
  Connect(connection);
}

void PostgresSource::CancelAndReplace(Connection& connection) {
  if (connection.pg != nullptr && connection.step != Step::kNone) {
    if (PgCancel cancel(PQgetCancel(connection.pg)); cancel != nullptr) canceller_.Cancel(std::move(cancel));
  }
  Disconnect(connection);
  Connect(connection);
}

void PostgresSource::Disconnect(Connection& connection) {
  // The poll handle goes first: libuv must stop watching the fd before PQfinish closes it.
  if (connection.poll != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(connection.poll),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
    connection.poll = nullptr;
  }
  connection.watched_events = 0;
  uv_timer_stop(&connection.timer);
  if (connection.pg != nullptr) PQfinish(connection.pg);
  connection.pg = nullptr;
  connection.step = Step::kNone;
  connection.result.reset();
  connection.statements.clear();
  connection.state = ConnectionState::kClosed;
}

bool PostgresSource::AnyPoolConnectionReady() const {
  return std::any_of(pool_.begin(), pool_.end(),
                     [](const auto& connection) { return connection->state == ConnectionState::kReady; });
}

void PostgresSource::ShutDown() {
  shutting_down_ = true;
  FailQueued(kStoppedReason, false);
  for (auto& connection : pool_) {
    if (connection->request == nullptr) continue;
    // Leave no query of ours running on the server.
    if (connection->pg != nullptr && connection->step != Step::kNone) {
      if (PgCancel cancel(PQgetCancel(connection->pg)); cancel != nullptr) canceller_.Cancel(std::move(cancel));
    }
    std::unique_ptr<LoadRequest> request = std::move(connection->request);
    FailRemaining(*request, kStoppedReason, false);
    CompleteRequest(std::move(request));
  }
  auto close = [this](Connection& connection) {
    Disconnect(connection);
    uv_close(reinterpret_cast<uv_handle_t*>(&connection.timer), nullptr);
  };
  for (auto& connection : pool_) close(*connection);
  if (listener_ != nullptr) close(*listener_);
  uv_close(reinterpret_cast<uv_handle_t*>(&deadline_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&mailbox_async_), nullptr);
}

// Where a URL holds passwords, as [begin, end) spans: the user info's (user:PASSWORD@host) and
// any password= query parameter's. The user info ends at the URL's last '@', wherever it is: a
// password holding a raw '@', '/', '?' or '#' (which libpq reads in ways of its own) is still
// covered, at the price of hiding a host in the rare URL whose query holds an '@'.
std::vector<std::pair<size_t, size_t>> PasswordSpans(std::string_view url) {
  std::vector<std::pair<size_t, size_t>> spans;
  const size_t scheme = url.find("://");
  if (scheme != std::string_view::npos) {
    const size_t authority = scheme + 3;
    const size_t at = url.rfind('@');
    const size_t colon = url.find(':', authority);
    if (at != std::string_view::npos && at > authority && colon != std::string_view::npos && colon < at) {
      spans.emplace_back(colon + 1, at);
    }
  }
  const size_t query = url.find('?');
  if (query != std::string_view::npos) {
    constexpr std::string_view kPasswordParameter = "password=";
    for (size_t start = query + 1; start < url.size();) {
      size_t end = url.find('&', start);
      if (end == std::string_view::npos) end = url.size();
      if (url.substr(start, end - start).starts_with(kPasswordParameter)) {
        spans.emplace_back(start + kPasswordParameter.size(), end);
      }
      start = end + 1;
    }
  }
  return spans;
}

// What of a URL's passwords could show in libpq's error texts: each password span as written and
// percent-decoded, and its pieces between '@', '/', ':', '?' and '#' (libpq may have split a
// password holding them into user, host, port or database), longest first.
std::vector<std::string> SecretPieces(std::string_view url) {
  std::vector<std::string> pieces;
  auto add = [&](std::string_view piece) {
    if (piece.size() >= 3) pieces.emplace_back(piece);
  };
  for (const auto& [begin, end] : PasswordSpans(url)) {
    const std::string_view span = url.substr(begin, end - begin);
    add(span);
    auto hex = [](char c) {
      return c >= '0' && c <= '9' ? c - '0' : (c >= 'a' && c <= 'f' ? c - 'a' + 10 : (c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1));
    };
    std::string decoded;
    for (size_t i = 0; i < span.size(); ++i) {
      int high, low;
      if (span[i] == '%' && i + 2 < span.size() && (high = hex(span[i + 1])) >= 0 && (low = hex(span[i + 2])) >= 0) {
        decoded += static_cast<char>(high * 16 + low);
        i += 2;
      } else {
        decoded += span[i];
      }
    }
    add(decoded);
    for (absl::string_view piece : absl::StrSplit(absl::string_view(span.data(), span.size()), absl::ByAnyChar("@/:?#"))) {
      add(std::string_view(piece.data(), piece.size()));
    }
  }
  std::sort(pieces.begin(), pieces.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return pieces;
}

}  // namespace

std::string PostgresSource::Scrub(std::string text) const {
  for (const std::string& piece : secret_pieces_) {
    if (text.find(piece) != std::string::npos) text = absl::StrReplaceAll(text, {{piece, "***"}});
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Helpers in the header.

std::string RedactPostgresUrl(std::string_view url) {
  std::string out(url);
  std::vector<std::pair<size_t, size_t>> spans = PasswordSpans(url);
  // From the last span back, so the earlier positions stay valid.
  for (auto span = spans.rbegin(); span != spans.rend(); ++span) {
    out.replace(span->first, span->second - span->first, "***");
  }
  return out;
}

std::string PostgresTextArray(const std::vector<std::string_view>& elements) {
  std::string out = "{";
  for (size_t i = 0; i < elements.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : elements[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

absl::StatusOr<std::string> DeriveBatchQuery(std::string_view query, const std::vector<std::string>& parameter_types) {
  // RewriteNamedParameters knows where the parameters are (not in quotes, comments or casts). Both
  // placeholder styles give texts of equal length that differ exactly at the placeholders, so the
  // two side by side say which "$n" are parameters without a second SQL scanner here.
  const std::string trimmed = TrimQuery(query);
  const PositionalQuery dollar = RewriteNamedParameters(trimmed, PlaceholderStyle::kDollar);
  const PositionalQuery question = RewriteNamedParameters(trimmed, PlaceholderStyle::kQuestion);
  if (dollar.names.empty()) return absl::InvalidArgumentError("the query has no parameter to batch over");
  if (dollar.text.size() != question.text.size() || parameter_types.size() != dollar.names.size()) {
    return absl::InternalError("parameter types do not match the query");
  }
  for (const std::string& type : parameter_types) {
    if (type.empty() || type.ends_with("]")) {
      return absl::InvalidArgumentError("an array parameter cannot be batched with unnest");
    }
  }
  std::string lateral;
  for (size_t i = 0; i < dollar.text.size();) {
    if (dollar.text[i] == '$' && question.text[i] == '?') {
      size_t end = i + 1;
      while (end < dollar.text.size() && std::isdigit(static_cast<unsigned char>(dollar.text[end]))) ++end;
      absl::StrAppend(&lateral, "strata_keys.p", absl::string_view(dollar.text).substr(i + 1, end - i - 1));
      i = end;
    } else {
      lateral += dollar.text[i++];
    }
  }
  std::string arrays;
  std::string columns;
  for (size_t i = 0; i < parameter_types.size(); ++i) {
    absl::StrAppend(&arrays, i == 0 ? "" : ", ", "$", i + 1, "::", parameter_types[i], "[]");
    absl::StrAppend(&columns, "p", i + 1, ", ");
  }
  // LIMIT 1 keeps the single-key query's first row per key, in the order its ORDER BY gives; the
  // line breaks keep a trailing -- comment in the query from swallowing the rest.
  return absl::StrCat("SELECT strata_keys.ord, strata_row.* FROM unnest(", arrays, ") WITH ORDINALITY AS strata_keys(",
                      columns, "ord) LEFT JOIN LATERAL (SELECT * FROM (\n", lateral,
                      "\n) AS strata_single LIMIT 1) AS strata_row ON true ORDER BY strata_keys.ord");
}

absl::StatusOr<std::unique_ptr<Source>> MakePostgresSource(const std::string& name, const std::string& url,
                                                           const SourceOptions& options) {
  int pool_size = kDefaultPoolSize;
  std::string notify_channel;
  for (const auto& [option, value] : options) {
    if (option == "pool") {
      if (!absl::SimpleAtoi(value, &pool_size) || pool_size < 1 || pool_size > kMaxPoolSize) {
        return absl::InvalidArgumentError(
            absl::StrCat("source ", name, ": pool must be a number from 1 to ", kMaxPoolSize, ", not '", value, "'"));
      }
    } else if (option == "notify-channel") {
      if (value.empty()) return absl::InvalidArgumentError(absl::StrCat("source ", name, ": notify-channel is empty"));
      notify_channel = value;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("source ", name, ": unknown option '", option,
                                                     "' for a postgresql source (options: pool, notify-channel)"));
    }
  }
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string reason = parse_error != nullptr ? FirstLine(parse_error) : "out of memory";
    if (parse_error != nullptr) PQfreemem(parse_error);
    // libpq may quote the offending part of the URL, which can be the password.
    for (const std::string& piece : SecretPieces(url)) reason = absl::StrReplaceAll(reason, {{piece, "***"}});
    return absl::InvalidArgumentError(
        absl::StrCat("source ", name, ": invalid URL ", RedactPostgresUrl(url), ": ", reason));
  }
  PQconninfoFree(parsed);
  return std::make_unique<PostgresSource>(name, url, pool_size, std::move(notify_channel));
}

}  // namespace strata::loaders
