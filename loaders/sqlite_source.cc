// The SQLite source: the embedded default (`source NAME sqlite:PATH [pool N]`).
//
// SQLite is in-process, so "asynchronous" means a small pool of worker threads, each with its
// own read-only connection (SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX) and prepared-statement
// cache. A batch runs on one worker as N executions of the single-key statement inside one read
// transaction (DESIGN.md section 6): one snapshot, one lock acquisition, no query rewriting.
// A load's timeout interrupts SQLite through its progress handler. A database file that is
// missing at start is opened again on the next load, so the source recovers by itself.
#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "loaders/source.h"
#include "loaders/sql_params.h"

namespace strata::loaders {

namespace {

constexpr int kDefaultPool = 4;
// How many SQLite virtual-machine steps run between two checks of the deadline.
constexpr int kProgressCheckInterval = 1000;

// What Prepare() keeps for a query: the text with ?N placeholders.
struct SqlitePrepared {
  std::string text;
};

struct SqliteTask {
  const SourceQuery* query;
  std::vector<std::vector<std::string>> batch;
  Source::Done done;
};

class SqliteSource final : public Source {
 public:
  SqliteSource(std::string name, std::string path, int pool) : Source(std::move(name)), path_(std::move(path)), pool_(pool) {}
  ~SqliteSource() override { Stop(); }

  absl::Status Prepare(SourceQuery& query) override {
    PositionalQuery positional = RewriteNamedParameters(query.text, PlaceholderStyle::kQuestion);
    query.bound_captures.clear();
    for (const std::string& name : positional.names) {
      auto it = std::find(query.capture_names.begin(), query.capture_names.end(), name);
      if (it == query.capture_names.end()) {
        return absl::InvalidArgumentError(absl::StrCat("query uses :", name, ", which the key template does not capture"));
      }
      query.bound_captures.push_back(static_cast<int>(it - query.capture_names.begin()));
    }
    if (!query.batch_text.empty()) {
      return absl::InvalidArgumentError("batch-query is not used by sqlite sources (a batch runs in one transaction)");
    }
    auto prepared = std::make_shared<SqlitePrepared>();
    prepared->text = std::move(positional.text);
    query.prepared = prepared;
    return absl::OkStatus();
  }

  absl::Status Start() override {
    for (int i = 0; i < pool_; ++i) workers_.emplace_back([this] { WorkerLoop(); });
    return absl::OkStatus();
  }

  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
    workers_.clear();
    // Anything still queued gets an answer: a caller may be waiting on it.
    for (SqliteTask& task : queue_) {
      task.done(std::vector<LoadOutcome>(task.batch.size(), LoadOutcome::Error("source stopped")));
    }
    queue_.clear();
  }

  void Load(const SourceQuery& query, std::vector<std::vector<std::string>> batch, Done done) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stopping_) {
        queue_.push_back(SqliteTask{&query, std::move(batch), std::move(done)});
        wake_.notify_one();
        return;
      }
    }
    done(std::vector<LoadOutcome>(batch.size(), LoadOutcome::Error("source stopped")));
  }

  std::string Describe() const override { return absl::StrCat("sqlite:", path_); }

 private:
  // One worker's connection and statements.
  struct Connection {
    sqlite3* db = nullptr;
    absl::flat_hash_map<const SourceQuery*, sqlite3_stmt*> statements;
    std::chrono::steady_clock::time_point deadline;

    ~Connection() { Close(); }
    void Close() {
      for (auto& [query, statement] : statements) sqlite3_finalize(statement);
      statements.clear();
      if (db != nullptr) sqlite3_close_v2(db);
      db = nullptr;
    }
  };

  static int OnProgress(void* arg) {
    auto* connection = static_cast<Connection*>(arg);
    return std::chrono::steady_clock::now() > connection->deadline ? 1 : 0;  // non-zero interrupts
  }

  void WorkerLoop() {
    Connection connection;
    while (true) {
      SqliteTask task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task.done(Run(connection, *task.query, task.batch));
    }
  }

  // Opens the connection if needed; returns an error text or "".
  std::string Open(Connection& connection, int timeout_ms) {
    if (connection.db != nullptr) return "";
    int rc = sqlite3_open_v2(path_.c_str(), &connection.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string error = connection.db ? sqlite3_errmsg(connection.db) : sqlite3_errstr(rc);
      connection.Close();
      return error;
    }
    sqlite3_busy_timeout(connection.db, timeout_ms);
    sqlite3_progress_handler(connection.db, kProgressCheckInterval, OnProgress, &connection);
    return "";
  }

  std::vector<LoadOutcome> Run(Connection& connection, const SourceQuery& query,
                               const std::vector<std::vector<std::string>>& batch) {
    const auto timeout = query.timeout;
    connection.deadline = std::chrono::steady_clock::now() + timeout;
    if (std::string error = Open(connection, static_cast<int>(timeout.count())); !error.empty()) {
      return std::vector<LoadOutcome>(batch.size(), LoadOutcome::Error(error));
    }
    sqlite3_stmt*& statement = connection.statements[&query];
    if (statement == nullptr) {
      const auto* prepared = static_cast<const SqlitePrepared*>(query.prepared.get());
      if (sqlite3_prepare_v3(connection.db, prepared->text.c_str(), static_cast<int>(prepared->text.size()),
                             SQLITE_PREPARE_PERSISTENT, &statement, nullptr) != SQLITE_OK) {
        std::string error = sqlite3_errmsg(connection.db);
        statement = nullptr;
        connection.statements.erase(&query);
        // A schema that changed under us, or a file that was replaced: start afresh next time.
        connection.Close();
        return std::vector<LoadOutcome>(batch.size(), LoadOutcome::Error(error));
      }
    }
    const bool in_transaction = batch.size() > 1;
    if (in_transaction) sqlite3_exec(connection.db, "BEGIN", nullptr, nullptr, nullptr);
    std::vector<LoadOutcome> outcomes;
    outcomes.reserve(batch.size());
    for (const auto& captures : batch) outcomes.push_back(RunOne(connection, statement, query, captures));
    if (in_transaction) sqlite3_exec(connection.db, "COMMIT", nullptr, nullptr, nullptr);
    return outcomes;
  }

  LoadOutcome RunOne(Connection& connection, sqlite3_stmt* statement, const SourceQuery& query,
                     const std::vector<std::string>& captures) {
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    for (size_t i = 0; i < query.bound_captures.size(); ++i) {
      const std::string& value = captures[static_cast<size_t>(query.bound_captures[i])];
      sqlite3_bind_text(statement, static_cast<int>(i + 1), value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    }
    int rc = sqlite3_step(statement);
    LoadOutcome outcome;
    if (rc == SQLITE_ROW) {
      if (query.shape == ValueShape::kString) {
        if (sqlite3_column_type(statement, 0) == SQLITE_NULL) {
          outcome = LoadOutcome::NotFound();
        } else {
          outcome = LoadOutcome::Found(ColumnText(statement, 0));
        }
      } else {
        std::vector<std::pair<std::string, std::string>> fields;
        for (int c = 0; c < sqlite3_column_count(statement); ++c) {
          if (sqlite3_column_type(statement, c) == SQLITE_NULL) continue;
          fields.emplace_back(sqlite3_column_name(statement, c), ColumnText(statement, c));
        }
        outcome = LoadOutcome::FoundHash(std::move(fields));
      }
    } else if (rc == SQLITE_DONE) {
      outcome = LoadOutcome::NotFound();
    } else if (rc == SQLITE_INTERRUPT) {
      outcome = LoadOutcome::Error(absl::StrCat("timed out after ", query.timeout.count(), " ms"), true);
    } else {
      outcome = LoadOutcome::Error(sqlite3_errmsg(connection.db));
    }
    sqlite3_reset(statement);
    return outcome;
  }

  static std::string ColumnText(sqlite3_stmt* statement, int column) {
    const void* bytes = sqlite3_column_blob(statement, column);
    int size = sqlite3_column_bytes(statement, column);
    if (sqlite3_column_type(statement, column) != SQLITE_BLOB) {
      bytes = sqlite3_column_text(statement, column);
      size = sqlite3_column_bytes(statement, column);
    }
    return std::string(static_cast<const char*>(bytes), static_cast<size_t>(size));
  }

  const std::string path_;
  const int pool_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<SqliteTask> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Source>> MakeSqliteSource(const std::string& name, const std::string& path,
                                                         const SourceOptions& options) {
  int pool = kDefaultPool;
  for (const auto& [option, value] : options) {
    if (option == "pool") {
      if (!absl::SimpleAtoi(value, &pool) || pool < 1 || pool > 64) {
        return absl::InvalidArgumentError(absl::StrCat("source ", name, ": pool must be 1..64"));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("source ", name, ": unknown option '", option, "' for sqlite"));
    }
  }
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat("source ", name, ": sqlite: needs a path"));
  return std::unique_ptr<Source>(std::make_unique<SqliteSource>(name, path, pool));
}

}  // namespace strata::loaders
