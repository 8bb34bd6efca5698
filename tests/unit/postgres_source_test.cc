// The PostgreSQL source, specified against a real PostgreSQL: the suite starts a throwaway server
// with tests/pg_harness/pg-harness.sh (set STRATA_PG_HARNESS to use another copy) and stops it at
// the end. Without PostgreSQL's server binaries the database tests are skipped.
#include "loaders/postgres_source.h"

#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loaders/source.h"

namespace strata::loaders {

std::string DescribeOutcome(const LoadOutcome& outcome);

// GoogleTest prints a LoadOutcome in failure messages through this (found by ADL).
void PrintTo(const LoadOutcome& outcome, std::ostream* out) { *out << DescribeOutcome(outcome); }

namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Batch = std::vector<std::vector<std::string>>;
using Kind = LoadOutcome::Kind;

// A port nothing listens on at the moment of asking.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    return 0;
  }
  close(fd);
  return ntohs(address.sin_port);
}

std::string HarnessScript() {
  if (const char* script = std::getenv("STRATA_PG_HARNESS")) return script;
  return (std::filesystem::path(__FILE__).parent_path().parent_path() / "pg_harness" / "pg-harness.sh").string();
}

SourceQuery MakeQuery(std::string text, std::vector<std::string> captures = {"id"},
                      ValueShape shape = ValueShape::kString, std::chrono::milliseconds timeout = 5000ms) {
  SourceQuery query;
  query.text = std::move(text);
  query.shape = shape;
  query.timeout = timeout;
  query.capture_names = std::move(captures);
  return query;
}

// Runs a load and waits for its outcomes (failing the test, not hanging, if done never comes).
std::vector<LoadOutcome> LoadNow(Source& source, const SourceQuery& query, Batch batch) {
  auto promise = std::make_shared<std::promise<std::vector<LoadOutcome>>>();
  std::future<std::vector<LoadOutcome>> future = promise->get_future();
  source.Load(query, std::move(batch),
              [promise](std::vector<LoadOutcome> outcomes) { promise->set_value(std::move(outcomes)); });
  if (future.wait_for(30s) != std::future_status::ready) {
    ADD_FAILURE() << "the load never completed";
    return {};
  }
  return future.get();
}

LoadOutcome LoadOne(Source& source, const SourceQuery& query, std::string key) {
  std::vector<LoadOutcome> outcomes = LoadNow(source, query, {{std::move(key)}});
  return outcomes.size() == 1 ? outcomes[0] : LoadOutcome::Error("no outcome");
}

}  // namespace

std::string DescribeOutcome(const LoadOutcome& outcome) {
  switch (outcome.kind) {
    case Kind::kFound: {
      if (outcome.fields.empty()) return absl::StrCat("found '", outcome.value, "'");
      std::string text = "found {";
      for (const auto& [field, value] : outcome.fields) absl::StrAppend(&text, field, "=", value, " ");
      return text + "}";
    }
    case Kind::kNotFound:
      return "not found";
    case Kind::kError:
      return absl::StrCat("error '", outcome.error, "'", outcome.timed_out ? " (timed out)" : "");
  }
  return "?";
}

namespace {

std::string Describe(const LoadOutcome& outcome) { return DescribeOutcome(outcome); }

MATCHER_P(FoundValue, value, "") {
  *result_listener << Describe(arg);
  return arg.kind == Kind::kFound && arg.value == value;
}
MATCHER(IsNotFound, "") {
  *result_listener << Describe(arg);
  return arg.kind == Kind::kNotFound;
}
MATCHER_P(IsErrorWith, text, "") {
  *result_listener << Describe(arg);
  return arg.kind == Kind::kError && !arg.timed_out && arg.error.find(text) != std::string::npos;
}
MATCHER(IsTimeout, "") {
  *result_listener << Describe(arg);
  return arg.kind == Kind::kError && arg.timed_out;
}

// Collects invalidation payloads from the source thread.
class PayloadInbox {
 public:
  void Add(std::string payload) {
    absl::MutexLock lock(&mu_);
    payloads_.push_back(std::move(payload));
  }
  bool WaitFor(const std::string& payload, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto seen = [this, &payload]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return std::find(payloads_.begin(), payloads_.end(), payload) != payloads_.end();
    };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> payloads_ ABSL_GUARDED_BY(mu_);
};

// ---------------------------------------------------------------------------------------------
// Configuration and helpers: no database needed.

TEST(PostgresSourceConfig, UnknownOptionIsRejectedByName) {
  auto source = MakePostgresSource("pg", "postgresql://u@127.0.0.1:5432/db", {{"pol", "4"}});
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("'pol'"));
}

TEST(PostgresSourceConfig, PoolMustBeAPositiveNumber) {
  EXPECT_FALSE(MakePostgresSource("pg", "postgresql://u@h/db", {{"pool", "0"}}).ok());
  EXPECT_FALSE(MakePostgresSource("pg", "postgresql://u@h/db", {{"pool", "four"}}).ok());
  EXPECT_TRUE(MakePostgresSource("pg", "postgresql://u@h/db", {{"pool", "8"}, {"notify-channel", "c"}}).ok());
}

TEST(PostgresSourceConfig, InvalidUrlIsRejectedWithoutItsPassword) {
  auto source = MakePostgresSource("pg", "postgresql://u:sekrit@h/db?bogus_parameter=1", {});
  ASSERT_FALSE(source.ok());
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("bogus_parameter"));
  EXPECT_THAT(std::string(source.status().message()), Not(HasSubstr("sekrit")));
}

TEST(PostgresSourceConfig, DescribeHidesThePassword) {
  auto source = MakePostgresSource("pg", "postgresql://shop:s3cr@t@db.example:5432/shop", {});
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->Describe(), "postgresql://shop:***@db.example:5432/shop");
  EXPECT_EQ(RedactPostgresUrl("postgresql://shop@db/shop?sslmode=require&password=p4ss"),
            "postgresql://shop@db/shop?sslmode=require&password=***");
  EXPECT_EQ(RedactPostgresUrl("postgresql://db:5432/shop"), "postgresql://db:5432/shop");
}

TEST(PostgresSourceConfig, PrepareRejectsParametersTheTemplateDoesNotCapture) {
  auto source = MakePostgresSource("pg", "postgresql://u@h/db", {});
  ASSERT_TRUE(source.ok());
  SourceQuery query = MakeQuery("SELECT name FROM products WHERE id = :product_id");
  absl::Status status = (*source)->Prepare(query);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("query uses :product_id, which the key template does not capture"));
}

TEST(PostgresSourceConfig, PrepareBindsCapturesInParameterOrder) {
  auto source = MakePostgresSource("pg", "postgresql://u@h/db", {});
  ASSERT_TRUE(source.ok());
  SourceQuery query =
      MakeQuery("SELECT v FROM t WHERE id = :id AND t = :tenant AND x::text <> ':id' AND i = :id", {"tenant", "id"});
  ASSERT_TRUE((*source)->Prepare(query).ok());
  EXPECT_EQ(query.bound_captures, (std::vector<int>{1, 0}));
  EXPECT_NE(query.prepared, nullptr);
}

TEST(PostgresSourceHelpers, TextArrayQuotesEveryElement) {
  EXPECT_EQ(PostgresTextArray({}), "{}");
  EXPECT_EQ(PostgresTextArray({"1", "NULL", "", "a\"b", "c\\d", "{x,y}"}), R"({"1","NULL","","a\"b","c\\d","{x,y}"})");
}

TEST(PostgresSourceHelpers, DerivedBatchQueryReplacesOnlyParameters) {
  absl::StatusOr<std::string> batch = DeriveBatchQuery(
      "SELECT name FROM t WHERE id = :id AND note <> ':id $1' AND sku = :sku::text;", {"integer", "text"});
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(*batch,
            "SELECT strata_keys.ord, strata_row.* FROM unnest($1::integer[], $2::text[]) WITH ORDINALITY AS "
            "strata_keys(p1, p2, ord) LEFT JOIN LATERAL (SELECT * FROM (\n"
            "SELECT name FROM t WHERE id = strata_keys.p1 AND note <> ':id $1' AND sku = strata_keys.p2::text\n"
            ") AS strata_single LIMIT 1) AS strata_row ON true ORDER BY strata_keys.ord");
  EXPECT_FALSE(DeriveBatchQuery("SELECT 1", {}).ok());
  EXPECT_FALSE(DeriveBatchQuery("SELECT v FROM t WHERE id = ANY(:ids)", {"integer[]"}).ok());
}

TEST(PostgresSourceConfig, LoadAfterStopFailsAtOnce) {
  auto source = MakePostgresSource("pg", "postgresql://u@127.0.0.1:1/db", {});
  ASSERT_TRUE(source.ok());
  SourceQuery query = MakeQuery("SELECT :id");
  ASSERT_TRUE((*source)->Prepare(query).ok());
  (*source)->Stop();
  EXPECT_THAT(LoadOne(**source, query, "1"), IsErrorWith("source stopped"));
}

// ---------------------------------------------------------------------------------------------
// Against PostgreSQL.

class PostgresSourceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char dir_template[] = "/tmp/strata-pg-XXXXXX";
    if (mkdtemp(dir_template) == nullptr) {
      setup_error_ = "mkdtemp failed";
      return;
    }
    dir_ = dir_template;
    port_ = FreePort();
    const int status = Harness(absl::StrCat("start ", dir_, " ", port_));
    if (status == 3) {
      skip_reason_ = "PostgreSQL server binaries are not installed";
      return;
    }
    if (status != 0) {
      setup_error_ = absl::StrCat("pg-harness.sh start failed (status ", status, "), see ", dir_, "/postgres.log");
      return;
    }
    const std::string setup_error = Exec(R"sql(
      CREATE ROLE strata LOGIN PASSWORD 'sekrit';
      CREATE EXTENSION pg_stat_statements;
      CREATE TABLE products (id integer PRIMARY KEY, sku text UNIQUE NOT NULL, name text NOT NULL,
                             price numeric(10, 2), description text);
      INSERT INTO products VALUES (1, 'A-1', 'apple', 1.50, 'crisp'), (2, 'B"2', 'banana', 0.25, NULL),
        (3, 'C\3', 'cherry', 4.00, 'sweet'), (4, 'NULL', 'null sku', 1.00, NULL),
        (5, '{x,y}', 'braces', 1.00, NULL), (6, ' spaced ', 'spaces', 1.00, NULL), (7, 'a,b', 'comma', 1.00, NULL);
      CREATE TABLE batch_items (id integer PRIMARY KEY, label text NOT NULL);
      INSERT INTO batch_items SELECT i, 'item-' || i FROM generate_series(1, 90) AS i;
      GRANT SELECT ON products, batch_items TO strata;
    )sql");
    if (!setup_error.empty()) {
      setup_error_ = "setting up the database: " + setup_error;
      return;
    }
    ready_ = true;
  }

  static void TearDownTestSuite() {
    if (!dir_.empty()) Harness(absl::StrCat("destroy ", dir_));
  }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(ready_) << setup_error_;
  }

  static int Harness(const std::string& arguments) {
    const int status = std::system(absl::StrCat(HarnessScript(), " ", arguments, " >/dev/null").c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  static void StopDatabase() { ASSERT_EQ(Harness(absl::StrCat("stop ", dir_)), 0); }
  static void StartDatabase() { ASSERT_EQ(Harness(absl::StrCat("start ", dir_, " ", port_)), 0); }

  // Runs SQL as the superuser on a fresh connection; returns the first value of the last result,
  // or the error as "ERROR: ...".
  static std::string Exec(const std::string& sql) {
    PGconn* admin = PQconnectdb(absl::StrCat("host=127.0.0.1 port=", port_, " user=postgres dbname=postgres").c_str());
    std::string answer;
    if (PQstatus(admin) != CONNECTION_OK) {
      answer = absl::StrCat("ERROR: ", PQerrorMessage(admin));
    } else {
      PGresult* result = PQexec(admin, sql.c_str());
      const ExecStatusType status = PQresultStatus(result);
      if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        answer = absl::StrCat("ERROR: ", PQresultErrorMessage(result));
      } else if (PQntuples(result) > 0 && PQnfields(result) > 0) {
        answer = PQgetvalue(result, 0, 0);
      }
      PQclear(result);
    }
    PQfinish(admin);
    return answer;
  }

  static std::string Url(int port) { return absl::StrCat("postgresql://strata:sekrit@127.0.0.1:", port, "/postgres"); }

  std::unique_ptr<Source> StartSource(SourceOptions options = {}, int port = 0) {
    auto source = MakePostgresSource("pg", Url(port != 0 ? port : port_), options);
    EXPECT_TRUE(source.ok()) << source.status();
    if (!source.ok()) return nullptr;
    EXPECT_TRUE((*source)->Start().ok());
    return *std::move(source);
  }

  SourceQuery Prepared(Source& source, SourceQuery query) {
    EXPECT_TRUE(source.Prepare(query).ok()) << query.text;
    return query;
  }

  // Our running queries on the server whose text contains `marker`.
  static int RunningQueries(const std::string& marker) {
    return std::stoi(Exec(absl::StrCat("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> ",
                                       "pg_backend_pid() AND query LIKE '%", marker, "%'")));
  }
  static bool EventuallyNoRunningQueries(const std::string& marker) {
    for (Clock::time_point give_up = Clock::now() + 5s; Clock::now() < give_up; std::this_thread::sleep_for(50ms)) {
      if (RunningQueries(marker) == 0) return true;
    }
    return false;
  }

  static inline std::string dir_;
  static inline int port_ = 0;
  static inline bool ready_ = false;
  static inline std::string skip_reason_;
  static inline std::string setup_error_;
};

TEST_F(PostgresSourceTest, StringShapeIsTheFirstColumnOfTheFirstRow) {
  auto source = StartSource();
  SourceQuery query = Prepared(*source, MakeQuery("SELECT name, sku FROM products WHERE id = :id"));
  EXPECT_THAT(LoadOne(*source, query, "1"), FoundValue("apple"));
  SourceQuery price = Prepared(*source, MakeQuery("SELECT price FROM products WHERE id = :id"));
  EXPECT_THAT(LoadOne(*source, price, "2"), FoundValue("0.25"));
}

TEST_F(PostgresSourceTest, HashShapeIsTheFirstRowsNonNullColumns) {
  auto source = StartSource();
  SourceQuery query = Prepared(
      *source, MakeQuery("SELECT name, price, description FROM products WHERE id = :id", {"id"}, ValueShape::kHash));
  LoadOutcome apple = LoadOne(*source, query, "1");
  ASSERT_EQ(apple.kind, Kind::kFound) << Describe(apple);
  EXPECT_EQ(apple.fields, (std::vector<std::pair<std::string, std::string>>{
                              {"name", "apple"}, {"price", "1.50"}, {"description", "crisp"}}));
  LoadOutcome banana = LoadOne(*source, query, "2");
  EXPECT_EQ(banana.fields, (std::vector<std::pair<std::string, std::string>>{{"name", "banana"}, {"price", "0.25"}}));
  EXPECT_THAT(LoadOne(*source, query, "404"), IsNotFound());
}

TEST_F(PostgresSourceTest, MissingRowIsNotFound) {
  auto source = StartSource();
  SourceQuery query = Prepared(*source, MakeQuery("SELECT name FROM products WHERE id = :id"));
  EXPECT_THAT(LoadOne(*source, query, "404"), IsNotFound());
}

TEST_F(PostgresSourceTest, NullValueIsNotFound) {
  auto source = StartSource();
  SourceQuery query = Prepared(*source, MakeQuery("SELECT description FROM products WHERE id = :id"));
  EXPECT_THAT(LoadOne(*source, query, "2"), IsNotFound());
  EXPECT_THAT(LoadOne(*source, query, "3"), FoundValue("sweet"));
}

TEST_F(PostgresSourceTest, LoadsPostedBeforeStartRunOnceStarted) {
  auto made = MakePostgresSource("pg", Url(port_), {});
  ASSERT_TRUE(made.ok());
  std::unique_ptr<Source> source = *std::move(made);
  SourceQuery query = Prepared(*source, MakeQuery("SELECT name FROM products WHERE id = :id"));
  std::promise<std::vector<LoadOutcome>> promise;
  source->Load(query, {{"1"}},
               [&promise](std::vector<LoadOutcome> outcomes) { promise.set_value(std::move(outcomes)); });
  ASSERT_TRUE(source->Start().ok());
  std::future<std::vector<LoadOutcome>> future = promise.get_future();
  ASSERT_EQ(future.wait_for(30s), std::future_status::ready);
  std::vector<LoadOutcome> outcomes = future.get();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_THAT(outcomes[0], FoundValue("apple"));
}

TEST_F(PostgresSourceTest, BatchOfHundredKeysCostsOneQueryAndKeepsOrder) {
  auto source = StartSource();
  SourceQuery query = Prepared(*source, MakeQuery("SELECT label FROM batch_items WHERE id = :id"));
  ASSERT_EQ(Exec("SELECT pg_stat_statements_reset()").rfind("ERROR", 0), std::string::npos);
  Batch batch;
  for (int id = 100; id >= 1; --id) batch.push_back({std::to_string(id)});  // ids above 90 do not exist
  std::vector<LoadOutcome> outcomes = LoadNow(*source, query, batch);
  ASSERT_EQ(outcomes.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    const int id = 100 - i;
    if (id > 90) {
      EXPECT_THAT(outcomes[i], IsNotFound()) << "id " << id;
    } else {
      EXPECT_THAT(outcomes[i], FoundValue(absl::StrCat("item-", id))) << "id " << id;
    }
  }
  EXPECT_EQ(Exec("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE '%batch_items%' "
                 "AND query NOT LIKE '%pg_stat_statements%'"),
            "1");
}

TEST_F(PostgresSourceTest, BatchOfHashesTakesEachKeysFirstRow) {
  auto source = StartSource();
  SourceQuery query = Prepared(*source, MakeQuery("SELECT name, description FROM products WHERE id >= :id ORDER BY id",
                                                  {"id"}, ValueShape::kHash));
  std::vector<LoadOutcome> outcomes = LoadNow(*source, query, {{"2"}, {"404"}, {"1"}});
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_EQ(outcomes[0].fields, (std::vector<std::pair<std::string, std::string>>{{"name", "banana"}}));
  EXPECT_THAT(outcomes[1], IsNotFound());
  EXPECT_EQ(outcomes[2].fields,
            (std::vector<std::pair<std::string, std::string>>{{"name", "apple"}, {"description", "crisp"}}));
}

TEST_F(PostgresSourceTest, BatchPassesTextValuesVerbatim) {
  auto source = StartSource();
  SourceQuery query = Prepared(*source, MakeQuery("SELECT name FROM products WHERE sku = :sku", {"sku"}));
  std::vector<LoadOutcome> outcomes =
      LoadNow(*source, query, {{"B\"2"}, {"C\\3"}, {"NULL"}, {"{x,y}"}, {" spaced "}, {"a,b"}, {"spaced"}, {""}});
  ASSERT_EQ(outcomes.size(), 8u);
  EXPECT_THAT(outcomes[0], FoundValue("banana"));
  EXPECT_THAT(outcomes[1], FoundValue("cherry"));
  EXPECT_THAT(outcomes[2], FoundValue("null sku"));
  EXPECT_THAT(outcomes[3], FoundValue("braces"));
  EXPECT_THAT(outcomes[4], FoundValue("spaces"));
  EXPECT_THAT(outcomes[5], FoundValue("comma"));
  EXPECT_THAT(outcomes[6], IsNotFound());
  EXPECT_THAT(outcomes[7], IsNotFound());
}

TEST_F(PostgresSourceTest, BatchBindsEachCaptureWhereTheQueryNamesIt) {
  auto source = StartSource();
  // The template captures sku first; the query binds id first.
  SourceQuery query =
      Prepared(*source, MakeQuery("SELECT name FROM products WHERE id = :id AND sku = :sku", {"sku", "id"}));
  std::vector<LoadOutcome> outcomes = LoadNow(*source, query, {{"A-1", "1"}, {"B\"2", "2"}, {"A-1", "2"}});
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_THAT(outcomes[0], FoundValue("apple"));
  EXPECT_THAT(outcomes[1], FoundValue("banana"));
  EXPECT_THAT(outcomes[2], IsNotFound());
}

TEST_F(PostgresSourceTest, QueryBindingNoCaptureAnswersEveryKey) {
  auto source = StartSource();
  SourceQuery query = Prepared(*source, MakeQuery("SELECT 'constant'"));
  std::vector<LoadOutcome> outcomes = LoadNow(*source, query, {{"a"}, {"b"}, {"c"}});
  ASSERT_EQ(outcomes.size(), 3u);
  for (const LoadOutcome& outcome : outcomes) EXPECT_THAT(outcome, FoundValue("constant"));
}

TEST_F(PostgresSourceTest, ExplicitBatchQueryServesBatches) {
  auto source = StartSource();
  SourceQuery query = MakeQuery("SELECT name FROM products WHERE id = :id");
  query.batch_text =
      "SELECT k.ord, p.name FROM unnest(:id::int[]) WITH ORDINALITY AS k(id, ord) JOIN products p ON p.id = k.id";
  query = Prepared(*source, query);
  ASSERT_EQ(Exec("SELECT pg_stat_statements_reset()").rfind("ERROR", 0), std::string::npos);
  std::vector<LoadOutcome> outcomes = LoadNow(*source, query, {{"3"}, {"99"}, {"1"}});
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_THAT(outcomes[0], FoundValue("cherry"));
  EXPECT_THAT(outcomes[1], IsNotFound());
  EXPECT_THAT(outcomes[2], FoundValue("apple"));
  EXPECT_EQ(Exec("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE '%k(id, ord)%' "
                 "AND query NOT LIKE '%pg_stat_statements%'"),
            "1");
}

TEST_F(PostgresSourceTest, InvalidInputIsNotFound) {
  auto source = StartSource();
  SourceQuery query = Prepared(*source, MakeQuery("SELECT name FROM products WHERE id = :id"));
  EXPECT_THAT(LoadOne(*source, query, "abc"), IsNotFound());
  EXPECT_THAT(LoadOne(*source, query, "99999999999999999999"), IsNotFound());
  EXPECT_THAT(LoadOne(*source, query, std::string("1\0", 2)), IsNotFound());
  EXPECT_THAT(LoadOne(*source, query, "1"), FoundValue("apple"));
}

TEST_F(PostgresSourceTest, BatchWithAnInvalidKeyStillAnswersTheOthers) {
  auto source = StartSource();
  SourceQuery query = Prepared(*source, MakeQuery("SELECT name FROM products WHERE id = :id"));
  std::vector<LoadOutcome> outcomes = LoadNow(*source, query, {{"1"}, {"abc"}, {"404"}, {"3"}});
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_THAT(outcomes[0], FoundValue("apple"));
  EXPECT_THAT(outcomes[1], IsNotFound());
  EXPECT_THAT(outcomes[2], IsNotFound());
  EXPECT_THAT(outcomes[3], FoundValue("cherry"));
}

TEST_F(PostgresSourceTest, InjectionAttemptsReachTheDatabaseOnlyAsValues) {
  auto source = StartSource();
  SourceQuery by_id = Prepared(*source, MakeQuery("SELECT name FROM products WHERE id = :id"));
  SourceQuery by_sku = Prepared(*source, MakeQuery("SELECT name FROM products WHERE sku = :sku", {"sku"}));
  const std::vector<std::string> attacks = {"1' OR '1'='1", "1; DROP TABLE products", "'; DROP TABLE products; --",
                                            "1) OR (1=1"};
  for (const std::string& attack : attacks) {
    EXPECT_THAT(LoadOne(*source, by_id, attack), IsNotFound()) << attack;
    EXPECT_THAT(LoadOne(*source, by_sku, attack), IsNotFound()) << attack;
  }
  std::vector<LoadOutcome> batch = LoadNow(*source, by_id, {{attacks[0]}, {attacks[1]}, {"2"}});
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_THAT(batch[0], IsNotFound());
  EXPECT_THAT(batch[1], IsNotFound());
  EXPECT_THAT(batch[2], FoundValue("banana"));
  std::vector<LoadOutcome> texts = LoadNow(*source, by_sku, {{attacks[2]}, {"A-1"}});
  ASSERT_EQ(texts.size(), 2u);
  EXPECT_THAT(texts[0], IsNotFound());
  EXPECT_THAT(texts[1], FoundValue("apple"));
  EXPECT_EQ(Exec("SELECT count(*) FROM products"), "7");
}

TEST_F(PostgresSourceTest, ServerErrorIsAnErrorWithTheServersMessage) {
  auto source = StartSource();
  SourceQuery query = Prepared(*source, MakeQuery("SELECT name FROM no_such_table WHERE id = :id"));
  EXPECT_THAT(LoadOne(*source, query, "1"), IsErrorWith("relation \"no_such_table\" does not exist"));
  std::vector<LoadOutcome> outcomes = LoadNow(*source, query, {{"1"}, {"2"}});
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_THAT(outcomes[0], IsErrorWith("does not exist"));
  EXPECT_THAT(outcomes[1], IsErrorWith("does not exist"));
}

TEST_F(PostgresSourceTest, SchemaChangeIsPickedUpByPreparedStatements) {
  ASSERT_EQ(Exec("CREATE TABLE gadgets (id integer PRIMARY KEY, weight integer); INSERT INTO gadgets VALUES (1, 7); "
                 "GRANT SELECT ON gadgets TO strata"),
            "");
  auto source = StartSource({{"pool", "1"}});
  SourceQuery query = Prepared(*source, MakeQuery("SELECT weight FROM gadgets WHERE id = :id"));
  EXPECT_THAT(LoadOne(*source, query, "1"), FoundValue("7"));
  EXPECT_THAT(LoadNow(*source, query, {{"1"}, {"2"}}), ::testing::ElementsAre(FoundValue("7"), IsNotFound()));
  ASSERT_EQ(Exec("ALTER TABLE gadgets ALTER COLUMN weight TYPE numeric(6, 2)"), "");
  EXPECT_THAT(LoadOne(*source, query, "1"), FoundValue("7.00"));
  EXPECT_THAT(LoadNow(*source, query, {{"1"}, {"2"}}), ::testing::ElementsAre(FoundValue("7.00"), IsNotFound()));
}

TEST_F(PostgresSourceTest, ConnectionsTheServerTerminatesAreReplaced) {
  auto source = StartSource({{"pool", "2"}});
  SourceQuery query = Prepared(*source, MakeQuery("SELECT name FROM products WHERE id = :id"));
  EXPECT_THAT(LoadOne(*source, query, "1"), FoundValue("apple"));
  ASSERT_NE(Exec("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'strata' "
                 "AND application_name = 'strata'"),
            "0");
  // A load racing the termination may fail; the source must heal without help.
  LoadOutcome outcome;
  for (Clock::time_point give_up = Clock::now() + 10s; Clock::now() < give_up; std::this_thread::sleep_for(50ms)) {
    outcome = LoadOne(*source, query, "3");
    if (outcome.kind == Kind::kFound) break;
  }
  EXPECT_THAT(outcome, FoundValue("cherry"));
}

TEST_F(PostgresSourceTest, SlowQueryTimesOutAndIsCancelled) {
  auto source = StartSource({{"pool", "1"}});
  SourceQuery slow = Prepared(
      *source, MakeQuery("SELECT :id::text FROM (SELECT pg_sleep(5.01)) AS slow", {"id"}, ValueShape::kString, 300ms));
  const Clock::time_point start = Clock::now();
  EXPECT_THAT(LoadOne(*source, slow, "1"), IsTimeout());
  EXPECT_LT(Clock::now() - start, 300ms + 2s);
  EXPECT_TRUE(EventuallyNoRunningQueries("pg_sleep(5.01)")) << "the timed-out query still runs on the server";
  SourceQuery fast = Prepared(*source, MakeQuery("SELECT name FROM products WHERE id = :id"));
  EXPECT_THAT(LoadOne(*source, fast, "1"), FoundValue("apple"));
}

TEST_F(PostgresSourceTest, QueuedLoadsTimeOutToo) {
  auto source = StartSource({{"pool", "1"}});
  SourceQuery slow = Prepared(
      *source, MakeQuery("SELECT :id::text FROM (SELECT pg_sleep(1.5)) AS slow", {"id"}, ValueShape::kString, 10s));
  SourceQuery fast =
      Prepared(*source, MakeQuery("SELECT name FROM products WHERE id = :id", {"id"}, ValueShape::kString, 300ms));
  auto slow_done = std::async(std::launch::async, [&] { return LoadOne(*source, slow, "7"); });
  std::this_thread::sleep_for(100ms);  // the slow load holds the only connection
  const Clock::time_point start = Clock::now();
  EXPECT_THAT(LoadOne(*source, fast, "1"), IsTimeout());
  EXPECT_LT(Clock::now() - start, 1200ms);
  EXPECT_THAT(slow_done.get(), FoundValue("7"));
}

TEST_F(PostgresSourceTest, RefusedConnectionFailsAtOnce) {
  auto source = StartSource({}, FreePort());
  SourceQuery query =
      Prepared(*source, MakeQuery("SELECT name FROM products WHERE id = :id", {"id"}, ValueShape::kString, 10s));
  for (int attempt = 0; attempt < 2; ++attempt) {
    const Clock::time_point start = Clock::now();
    LoadOutcome outcome = LoadOne(*source, query, "1");
    EXPECT_LT(Clock::now() - start, 3s);
    EXPECT_THAT(outcome, IsErrorWith("refused"));
    EXPECT_THAT(outcome.error, Not(HasSubstr("sekrit")));
  }
}

TEST_F(PostgresSourceTest, ManyConcurrentLoadsShareThePool) {
  auto source = StartSource({{"pool", "3"}});
  SourceQuery query = Prepared(*source, MakeQuery("SELECT label FROM batch_items WHERE id = :id"));
  std::atomic<int> wrong{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 1; i <= 40; ++i) {
        const int id = (t * 40 + i) % 90 + 1;
        Batch batch = {{std::to_string(id)}};
        if (i % 4 == 0) batch.push_back({std::to_string(id % 90 + 1)});
        std::vector<LoadOutcome> outcomes = LoadNow(*source, query, batch);
        if (outcomes.empty() || outcomes[0].kind != Kind::kFound || outcomes[0].value != absl::StrCat("item-", id)) {
          ++wrong;
        }
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(PostgresSourceTest, StopCompletesLoadsInFlight) {
  auto source = StartSource({{"pool", "2"}});
  SourceQuery slow = Prepared(
      *source, MakeQuery("SELECT :id::text FROM (SELECT pg_sleep(5.02)) AS slow", {"id"}, ValueShape::kString, 20s));
  std::vector<std::future<std::vector<LoadOutcome>>> futures;
  for (int i = 0; i < 3; ++i) {
    auto promise = std::make_shared<std::promise<std::vector<LoadOutcome>>>();
    futures.push_back(promise->get_future());
    source->Load(slow, {{std::to_string(i)}},
                 [promise](std::vector<LoadOutcome> outcomes) { promise->set_value(std::move(outcomes)); });
  }
  std::this_thread::sleep_for(300ms);  // two run, one waits for a connection
  const Clock::time_point start = Clock::now();
  source->Stop();
  EXPECT_LT(Clock::now() - start, 3s);
  for (auto& future : futures) {
    ASSERT_EQ(future.wait_for(0s), std::future_status::ready);
    std::vector<LoadOutcome> outcomes = future.get();
    ASSERT_EQ(outcomes.size(), 1u);
    EXPECT_THAT(outcomes[0], IsErrorWith("source stopped"));
  }
  EXPECT_TRUE(EventuallyNoRunningQueries("pg_sleep(5.02)")) << "Stop left queries running on the server";
}

TEST_F(PostgresSourceTest, NotifyReachesTheInvalidationHandlerAlsoAfterARestart) {
  auto made = MakePostgresSource("pg", Url(port_), {{"notify-channel", "Strata-Invalidate"}});
  ASSERT_TRUE(made.ok());
  std::unique_ptr<Source> source = *std::move(made);
  PayloadInbox inbox;
  source->set_invalidation_handler([&inbox](std::string payload) { inbox.Add(std::move(payload)); });
  ASSERT_TRUE(source->Start().ok());
  // A NOTIFY sent before LISTEN is in place is lost, so keep sending until one arrives.
  auto notify_until_received = [&inbox](const std::string& payload) {
    for (Clock::time_point give_up = Clock::now() + 20s; Clock::now() < give_up;) {
      Exec(absl::StrCat("SELECT pg_notify('Strata-Invalidate', '", payload, "')"));
      if (inbox.WaitFor(payload, absl::Milliseconds(200))) return true;
    }
    return false;
  };
  EXPECT_TRUE(notify_until_received(R"({"key": "product:1"})"));
  StopDatabase();
  StartDatabase();
  EXPECT_TRUE(notify_until_received("product:2")) << "no LISTEN after the database restarted";
}

TEST_F(PostgresSourceTest, SourceStartedWhileTheDatabaseIsDownRecoversWhenItComesUp) {
  StopDatabase();
  auto source = StartSource({{"pool", "2"}});
  SourceQuery query =
      Prepared(*source, MakeQuery("SELECT name FROM products WHERE id = :id", {"id"}, ValueShape::kString, 10s));
  const Clock::time_point start = Clock::now();
  LoadOutcome while_down = LoadOne(*source, query, "1");
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_THAT(while_down, IsErrorWith("refused"));
  StartDatabase();
  LoadOutcome outcome;
  for (Clock::time_point give_up = Clock::now() + 20s; Clock::now() < give_up; std::this_thread::sleep_for(100ms)) {
    outcome = LoadOne(*source, query, "1");
    if (outcome.kind == Kind::kFound) break;
  }
  EXPECT_THAT(outcome, FoundValue("apple"));
}

}  // namespace
}  // namespace strata::loaders
