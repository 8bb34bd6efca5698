// The HTTP source against a real HTTP server on 127.0.0.1: tests/http_harness/counting_server.py,
// started for each test and killed by its PID (it also exits when our end of its stdin closes,
// should this process die first). Every wait is bounded.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loaders/json.h"
#include "loaders/source.h"

extern char** environ;

namespace strata::loaders {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Generous bound on any wait in these tests: a hang fails the test instead of blocking ctest.
constexpr auto kWaitBound = std::chrono::seconds(20);

std::string HarnessPath() {
  if (const char* path = std::getenv("STRATA_HTTP_HARNESS")) return path;
  std::string here = __FILE__;  // .../tests/unit/http_source_test.cc
  std::string tests = here.substr(0, here.rfind('/'));
  tests = tests.substr(0, tests.rfind('/'));
  return tests + "/http_harness/counting_server.py";
}

// The harness process: spawned with pipes on its stdin and stdout, identified by its PID.
class HarnessServer {
 public:
  // Starts the server and reads the port it listens on; false (with a message) on failure.
  bool Start(std::string& error) {
    int out_pipe[2], in_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(in_pipe, O_CLOEXEC) != 0) {
      error = "pipe failed";
      return false;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
    std::string script = HarnessPath();
    std::string python = "/usr/bin/python3";
    std::string flag = "--exit-on-stdin-eof";
    char* argv[] = {python.data(), script.data(), flag.data(), nullptr};
    int rc = posix_spawn(&pid_, python.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out_pipe[1]);
    close(in_pipe[0]);
    stdin_fd_ = in_pipe[1];
    if (rc != 0) {
      close(out_pipe[0]);
      error = "posix_spawn " + python + " failed";
      pid_ = -1;
      return false;
    }
    std::string line;
    auto deadline = Clock::now() + kWaitBound;
    while (line.find('\n') == std::string::npos && Clock::now() < deadline) {
      pollfd fd{out_pipe[0], POLLIN, 0};
      if (poll(&fd, 1, 100) <= 0) continue;
      char buffer[256];
      ssize_t n = read(out_pipe[0], buffer, sizeof buffer);
      if (n <= 0) break;
      line.append(buffer, static_cast<size_t>(n));
    }
    close(out_pipe[0]);
    if (line.rfind("PORT ", 0) != 0) {
      error = "the harness (" + script + ") did not report its port: '" + line + "'";
      return false;
    }
    port_ = std::atoi(line.c_str() + 5);
    return port_ > 0;
  }

  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    if (stdin_fd_ >= 0) close(stdin_fd_);
    stdin_fd_ = -1;
  }

  int port() const { return port_; }
  std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(port_) + "/base"; }

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int port_ = 0;
};

size_t AppendToString(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// A plain blocking GET, for the harness's control routes.
std::string FetchControl(int port, const std::string& path) {
  std::string body;
  CURL* easy = curl_easy_init();
  std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, AppendToString);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
  CURLcode rc = curl_easy_perform(easy);
  curl_easy_cleanup(easy);
  EXPECT_EQ(rc, CURLE_OK) << curl_easy_strerror(rc);
  return body;
}

struct HarnessCounts {
  int requests = 0;
  int max_concurrent = 0;
  int client_ports = 0;
  JsonValue paths;
};

HarnessCounts ReadCounts(int port) {
  HarnessCounts counts;
  absl::StatusOr<JsonValue> json = ParseJson(FetchControl(port, "/__count"));
  EXPECT_TRUE(json.ok()) << json.status();
  if (!json.ok()) return counts;
  counts.requests = std::atoi(json->Find("requests")->text().c_str());
  counts.max_concurrent = std::atoi(json->Find("max_concurrent")->text().c_str());
  counts.client_ports = std::atoi(json->Find("client_ports")->text().c_str());
  counts.paths = *json->Find("paths");
  return counts;
}

// Waits (bounded) until the harness has received `n` requests.
void WaitForRequests(int port, int n) {
  auto deadline = Clock::now() + kWaitBound;
  while (ReadCounts(port).requests < n && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(10));
}

// A port on 127.0.0.1 that nothing listens on (bound for a moment, then closed).
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

SourceQuery MakeQuery(std::string text, ValueShape shape = ValueShape::kString, milliseconds timeout = milliseconds(5000),
                      std::vector<std::string> capture_names = {"id"}) {
  SourceQuery query;
  query.text = std::move(text);
  query.shape = shape;
  query.timeout = timeout;
  query.capture_names = std::move(capture_names);
  return query;
}

// Calls Load and waits (bounded) for `done`; also reports on which thread `done` ran.
struct LoadResult {
  std::vector<LoadOutcome> outcomes;
  bool completed = false;
  std::thread::id done_thread;
};

class PendingLoad {
 public:
  PendingLoad(Source& source, const SourceQuery& query, std::vector<std::vector<std::string>> batch)
      : promise_(std::make_shared<std::promise<LoadResult>>()), future_(promise_->get_future()) {
    source.Load(query, std::move(batch), [promise = promise_](std::vector<LoadOutcome> outcomes) {
      LoadResult result;
      result.outcomes = std::move(outcomes);
      result.completed = true;
      result.done_thread = std::this_thread::get_id();
      promise->set_value(std::move(result));
    });
  }

  LoadResult Wait() {
    if (future_.wait_for(kWaitBound) != std::future_status::ready) return LoadResult();
    return future_.get();
  }

 private:
  std::shared_ptr<std::promise<LoadResult>> promise_;
  std::future<LoadResult> future_;
};

LoadResult LoadAndWait(Source& source, const SourceQuery& query, std::vector<std::vector<std::string>> batch) {
  return PendingLoad(source, query, std::move(batch)).Wait();
}

LoadOutcome LoadOne(Source& source, const SourceQuery& query, std::vector<std::string> key) {
  LoadResult result = LoadAndWait(source, query, {std::move(key)});
  EXPECT_TRUE(result.completed);
  EXPECT_EQ(result.outcomes.size(), 1u);
  return result.outcomes.empty() ? LoadOutcome::Error("no outcome") : result.outcomes[0];
}

std::vector<std::string> Key(std::string id) { return {std::move(id)}; }

// Each test gets its own harness process (fresh counters, nothing shared between tests).
class HttpSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    curl_global_init(CURL_GLOBAL_DEFAULT);  // for FetchControl; libcurl counts the references
    std::string error;
    ASSERT_TRUE(harness_.Start(error)) << error;
  }

  void TearDown() override {
    source_.reset();
    harness_.Stop();
    curl_global_cleanup();
  }

  // Makes and starts the source under test (owned by the fixture).
  Source& StartSource(SourceOptions options = {}, std::string url = "") {
    if (url.empty()) url = harness_.BaseUrl();
    absl::StatusOr<std::unique_ptr<Source>> made = MakeHttpSource("api", url, options);
    EXPECT_TRUE(made.ok()) << made.status();
    source_ = *std::move(made);
    EXPECT_TRUE(source_->Start().ok());
    return *source_;
  }

  SourceQuery Prepared(Source& source, SourceQuery query) {
    absl::Status status = source.Prepare(query);
    EXPECT_TRUE(status.ok()) << status;
    return query;
  }

  int port() const { return harness_.port(); }

  HarnessServer harness_;
  std::unique_ptr<Source> source_;
};

TEST_F(HttpSourceTest, StringLoaderGetsTheBody) {
  Source& source = StartSource();
  SourceQuery query = Prepared(source, MakeQuery("GET /text/{id}"));
  LoadResult result = LoadAndWait(source, query, {Key("42")});
  ASSERT_TRUE(result.completed);
  ASSERT_EQ(result.outcomes.size(), 1u);
  EXPECT_EQ(result.outcomes[0].kind, LoadOutcome::Kind::kFound);
  EXPECT_EQ(result.outcomes[0].value, "value-of-42");
  EXPECT_NE(result.done_thread, std::this_thread::get_id());  // done runs on the source's thread
}

TEST_F(HttpSourceTest, HashLoaderMapsObjectMembersToFields) {
  Source& source = StartSource();
  SourceQuery query = Prepared(source, MakeQuery("GET /json/{id}", ValueShape::kHash));
  LoadOutcome outcome = LoadOne(source, query, Key("7"));
  ASSERT_EQ(outcome.kind, LoadOutcome::Kind::kFound) << outcome.error;
  // Numbers as written, booleans as text, arrays as compact JSON, null members left out.
  EXPECT_THAT(outcome.fields, ElementsAre(Pair("id", "7"), Pair("price", "12.50"), Pair("in_stock", "true"),
                                          Pair("tags", R"(["a","b"])")));
}

TEST_F(HttpSourceTest, HashLoaderNeedsAJsonObject) {
  Source& source = StartSource();
  SourceQuery array_query = Prepared(source, MakeQuery("GET /array/{id}", ValueShape::kHash));
  LoadOutcome array = LoadOne(source, array_query, Key("1"));
  EXPECT_EQ(array.kind, LoadOutcome::Kind::kError);
  EXPECT_EQ(array.error, "expected a JSON object");

  SourceQuery text_query = Prepared(source, MakeQuery("GET /text/{id}", ValueShape::kHash));
  LoadOutcome text = LoadOne(source, text_query, Key("1"));
  EXPECT_EQ(text.kind, LoadOutcome::Kind::kError);
  EXPECT_THAT(text.error, HasSubstr("not JSON"));
}

TEST_F(HttpSourceTest, MissingAndRejectedKeysAreNotFound) {
  Source& source = StartSource();
  SourceQuery query = Prepared(source, MakeQuery("GET /status/{code}/x", ValueShape::kString, milliseconds(5000), {"code"}));
  for (const char* code : {"404", "410", "400", "422"}) {
    LoadOutcome outcome = LoadOne(source, query, Key(code));
    EXPECT_EQ(outcome.kind, LoadOutcome::Kind::kNotFound) << code << ": " << outcome.error;
  }
}

TEST_F(HttpSourceTest, OtherStatusesAreErrorsNamingTheCode) {
  Source& source = StartSource();
  SourceQuery query = Prepared(source, MakeQuery("GET /status/{code}/x", ValueShape::kString, milliseconds(5000), {"code"}));
  for (const char* code : {"500", "503", "301", "403"}) {
    LoadOutcome outcome = LoadOne(source, query, Key(code));
    EXPECT_EQ(outcome.kind, LoadOutcome::Kind::kError) << code;
    EXPECT_EQ(outcome.error, std::string("HTTP ") + code);
    EXPECT_FALSE(outcome.timed_out);
  }
}

TEST_F(HttpSourceTest, SlowResponseTimesOut) {
  Source& source = StartSource();
  SourceQuery query = Prepared(source, MakeQuery("GET /sleep/3000/{id}", ValueShape::kString, milliseconds(300)));
  auto start = Clock::now();
  LoadOutcome outcome = LoadOne(source, query, Key("slow"));
  auto elapsed = Clock::now() - start;
  EXPECT_EQ(outcome.kind, LoadOutcome::Kind::kError);
  EXPECT_TRUE(outcome.timed_out);
  EXPECT_THAT(outcome.error, HasSubstr("timed out"));
  EXPECT_LT(elapsed, milliseconds(300 + 2000));  // the timeout plus slack, well before the 3 s reply
}

TEST_F(HttpSourceTest, RefusedConnectionFailsAtOnce) {
  std::string url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/base";
  Source& source = StartSource({}, url);
  SourceQuery query = Prepared(source, MakeQuery("GET /text/{id}", ValueShape::kString, milliseconds(10000)));
  auto start = Clock::now();
  LoadOutcome outcome = LoadOne(source, query, Key("1"));
  auto elapsed = Clock::now() - start;
  EXPECT_EQ(outcome.kind, LoadOutcome::Kind::kError);
  EXPECT_FALSE(outcome.timed_out);
  EXPECT_FALSE(outcome.error.empty());
  EXPECT_LT(elapsed, milliseconds(3000));  // far under the 10 s timeout
}

TEST_F(HttpSourceTest, CapturesAreUrlEscaped) {
  Source& source = StartSource();
  SourceQuery query = Prepared(source, MakeQuery("GET /echo/{id}"));
  auto echoed = [&](std::string id) { return LoadOne(source, query, Key(std::move(id))).value; };
  EXPECT_EQ(echoed("../../admin"), "/base/echo/..%2F..%2Fadmin");
  EXPECT_EQ(echoed("a b?c#d%e/f&g"), "/base/echo/a%20b%3Fc%23d%25e%2Ff%26g");
  EXPECT_EQ(echoed("caf\xC3\xA9"), "/base/echo/caf%C3%A9");
  EXPECT_EQ(echoed("1.5_x-y~z"), "/base/echo/1.5_x-y~z");
  // A capture that is a whole dot segment would be normalised away: its dots are escaped.
  EXPECT_EQ(echoed(".."), "/base/echo/%2E%2E");
  EXPECT_EQ(echoed("."), "/base/echo/%2E");
  EXPECT_EQ(echoed("..."), "/base/echo/...");
}

TEST_F(HttpSourceTest, CapturesCannotLeaveTheBase) {
  Source& source = StartSource();
  // The harness answers 404 "outside base" to anything not under /base/.
  SourceQuery query = Prepared(source, MakeQuery("GET /text/{id}"));
  for (const char* id : {"../../admin", "..", ".", "../x", "%2e%2e"}) {
    LoadOutcome outcome = LoadOne(source, query, Key(id));
    EXPECT_EQ(outcome.kind, LoadOutcome::Kind::kFound) << id;
    EXPECT_EQ(outcome.value, std::string("value-of-") + id);
  }
  SourceQuery suffix = Prepared(source, MakeQuery("GET /echo/{id}."));
  EXPECT_EQ(LoadOne(source, suffix, Key(".")).value, "/base/echo/%2E.");
  SourceQuery parameter = Prepared(source, MakeQuery("GET /echo/q?id={id}"));
  EXPECT_EQ(LoadOne(source, parameter, Key("a&b=c")).value, "/base/echo/q?id=a%26b%3Dc");
}

TEST_F(HttpSourceTest, HeaderOptionsAreSentWithEveryRequest) {
  Source& source = StartSource({{"header", "X-Api-Key: secret"}, {"header", "X-Tenant: acme"}});
  SourceQuery query = Prepared(source, MakeQuery("GET /headers/{id}", ValueShape::kHash));
  for (int i = 0; i < 2; ++i) {
    LoadOutcome outcome = LoadOne(source, query, Key("1"));
    ASSERT_EQ(outcome.kind, LoadOutcome::Kind::kFound) << outcome.error;
    EXPECT_THAT(outcome.fields, testing::Contains(Pair("x-api-key", "secret")));
    EXPECT_THAT(outcome.fields, testing::Contains(Pair("x-tenant", "acme")));
    EXPECT_THAT(outcome.fields, testing::Contains(Pair("user-agent", "strata")));
  }
}

TEST_F(HttpSourceTest, BatchRunsAtMostPoolRequestsAtOnceAndKeepsOrder) {
  constexpr int kPool = 4;
  constexpr int kKeys = 50;
  Source& source = StartSource({{"pool", std::to_string(kPool)}});
  SourceQuery query = Prepared(source, MakeQuery("GET /sleep/40/{id}"));
  std::vector<std::vector<std::string>> batch;
  for (int i = 0; i < kKeys; ++i) batch.push_back(Key("k" + std::to_string(i)));
  LoadResult result = LoadAndWait(source, query, batch);
  ASSERT_TRUE(result.completed);
  ASSERT_EQ(result.outcomes.size(), static_cast<size_t>(kKeys));
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(result.outcomes[i].kind, LoadOutcome::Kind::kFound) << result.outcomes[i].error;
    EXPECT_EQ(result.outcomes[i].value, "value-of-k" + std::to_string(i));
  }
  HarnessCounts counts = ReadCounts(port());
  EXPECT_EQ(counts.requests, kKeys);
  EXPECT_LE(counts.max_concurrent, kPool);
  EXPECT_GT(counts.max_concurrent, 1);  // the batch did run in parallel
  EXPECT_LE(counts.client_ports, kPool);
}

TEST_F(HttpSourceTest, MixedBatchKeepsOutcomesInOrder) {
  Source& source = StartSource({{"pool", "3"}});
  SourceQuery query = Prepared(source, MakeQuery("GET /{route}/{id}", ValueShape::kString, milliseconds(5000), {"route", "id"}));
  EXPECT_THAT(query.bound_captures, ElementsAre(0, 1));
  LoadResult result = LoadAndWait(source, query, {{"text", "a"}, {"status", "404"}, {"status", "500"}, {"array", "x"}, {"text", "b"}});
  ASSERT_TRUE(result.completed);
  ASSERT_EQ(result.outcomes.size(), 5u);
  EXPECT_EQ(result.outcomes[0].value, "value-of-a");
  EXPECT_EQ(result.outcomes[1].kind, LoadOutcome::Kind::kNotFound);
  EXPECT_EQ(result.outcomes[2].error, "HTTP 500");
  EXPECT_EQ(result.outcomes[3].value, "[1,2,3]");
  EXPECT_EQ(result.outcomes[4].value, "value-of-b");
}

TEST_F(HttpSourceTest, SequentialLoadsReuseConnections) {
  Source& source = StartSource({{"pool", "4"}});
  SourceQuery query = Prepared(source, MakeQuery("GET /text/{id}"));
  constexpr int kLoads = 30;
  for (int i = 0; i < kLoads; ++i) EXPECT_EQ(LoadOne(source, query, Key(std::to_string(i))).value, "value-of-" + std::to_string(i));
  HarnessCounts counts = ReadCounts(port());
  EXPECT_EQ(counts.requests, kLoads);
  EXPECT_LE(counts.client_ports, 2);  // keep-alive: one connection, or two if the server closed one
}

TEST_F(HttpSourceTest, StopCompletesLoadsInFlight) {
  Source& source = StartSource({{"pool", "2"}});
  SourceQuery query = Prepared(source, MakeQuery("GET /sleep/5000/{id}", ValueShape::kString, milliseconds(15000)));
  PendingLoad load(source, query, {Key("a"), Key("b"), Key("c"), Key("d"), Key("e")});
  WaitForRequests(port(), 2);  // both pool slots at the server: the stop interrupts transfers
  auto start = Clock::now();
  source.Stop();
  auto stop_took = Clock::now() - start;
  LoadResult result = load.Wait();
  ASSERT_TRUE(result.completed);
  ASSERT_EQ(result.outcomes.size(), 5u);
  for (const LoadOutcome& outcome : result.outcomes) {
    EXPECT_EQ(outcome.kind, LoadOutcome::Kind::kError);
    EXPECT_EQ(outcome.error, "source stopped");
  }
  EXPECT_LT(stop_took, milliseconds(4000));  // did not wait for the 5 s replies

  // After Stop, a load fails at once (on the caller's thread: the source has no thread left).
  LoadResult late = LoadAndWait(source, query, {Key("f")});
  ASSERT_TRUE(late.completed);
  EXPECT_EQ(late.outcomes[0].error, "source stopped");
  // And the source can be started again.
  ASSERT_TRUE(source.Start().ok());
  SourceQuery text = Prepared(source, MakeQuery("GET /text/{id}"));
  EXPECT_EQ(LoadOne(source, text, Key("again")).value, "value-of-again");
}

TEST_F(HttpSourceTest, DestroyingARunningSourceCompletesItsLoads) {
  Source& source = StartSource();
  SourceQuery query = Prepared(source, MakeQuery("GET /sleep/5000/{id}", ValueShape::kString, milliseconds(15000)));
  PendingLoad load(source, query, {Key("a")});
  WaitForRequests(port(), 1);
  source_.reset();
  LoadResult result = load.Wait();
  ASSERT_TRUE(result.completed);
  EXPECT_EQ(result.outcomes[0].error, "source stopped");
}

TEST_F(HttpSourceTest, EmptyBatchCompletes) {
  Source& source = StartSource();
  SourceQuery query = Prepared(source, MakeQuery("GET /text/{id}"));
  LoadResult result = LoadAndWait(source, query, {});
  EXPECT_TRUE(result.completed);
  EXPECT_TRUE(result.outcomes.empty());
}

TEST_F(HttpSourceTest, LoadBeforeStartFails) {
  absl::StatusOr<std::unique_ptr<Source>> source = MakeHttpSource("api", harness_.BaseUrl(), {});
  ASSERT_TRUE(source.ok());
  SourceQuery query = Prepared(**source, MakeQuery("GET /text/{id}"));
  LoadResult result = LoadAndWait(**source, query, {Key("1")});
  ASSERT_TRUE(result.completed);
  EXPECT_EQ(result.outcomes[0].error, "source stopped");
}

TEST(HttpSource, PrepareBindsTheCapturesTheQueryUses) {
  absl::StatusOr<std::unique_ptr<Source>> source = MakeHttpSource("api", "http://127.0.0.1:1/v1", {});
  ASSERT_TRUE(source.ok()) << source.status();
  SourceQuery query = MakeQuery("GET /tenants/{t}/users/{id}?again={t}", ValueShape::kHash, milliseconds(100), {"id", "t", "unused"});
  ASSERT_TRUE((*source)->Prepare(query).ok());
  EXPECT_THAT(query.bound_captures, ElementsAre(1, 0));
  EXPECT_NE(query.prepared, nullptr);
}

TEST(HttpSource, PrepareRejectsBadQueries) {
  absl::StatusOr<std::unique_ptr<Source>> made = MakeHttpSource("api", "http://127.0.0.1:1", {});
  ASSERT_TRUE(made.ok()) << made.status();
  Source& source = **made;
  auto error = [&](std::string text) {
    SourceQuery query = MakeQuery(std::move(text));
    absl::Status status = source.Prepare(query);
    return std::string(status.message());
  };
  EXPECT_EQ(error("GET /users/{x}"), "query uses {x}, which the key template does not capture");
  EXPECT_THAT(error("POST /users/{id}"), HasSubstr("only GET"));
  EXPECT_THAT(error("GET"), HasSubstr("expected 'GET /path'"));
  EXPECT_THAT(error("GET users/{id}"), HasSubstr("must start with '/'"));
  EXPECT_THAT(error("GET /users/{id"), HasSubstr("unclosed"));
  EXPECT_THAT(error("GET /users/id}"), HasSubstr("unmatched"));
  EXPECT_THAT(error("GET /users/{}"), HasSubstr("capture"));
  EXPECT_THAT(error("GET /users/{id} extra"), HasSubstr("one word"));
  EXPECT_THAT(error("GET /users/{id}#top"), HasSubstr("fragment"));
  EXPECT_EQ(error("get /users/{id}"), "");  // the method is case-insensitive

  SourceQuery batched = MakeQuery("GET /users/{id}");
  batched.batch_text = "GET /users?ids={id}";
  EXPECT_THAT(std::string(source.Prepare(batched).message()), HasSubstr("batch-query"));
}

TEST(HttpSource, OptionsAreChecked) {
  auto error = [](std::string url, SourceOptions options) {
    absl::StatusOr<std::unique_ptr<Source>> made = MakeHttpSource("api", url, options);
    return made.ok() ? std::string() : std::string(made.status().message());
  };
  EXPECT_EQ(error("http://127.0.0.1:1", {{"pool", "16"}, {"header", "Accept: application/json"}}), "");
  EXPECT_THAT(error("http://127.0.0.1:1", {{"notify-channel", "x"}}), HasSubstr("unknown option 'notify-channel'"));
  EXPECT_THAT(error("http://127.0.0.1:1", {{"pool", "0"}}), HasSubstr("pool"));
  EXPECT_THAT(error("http://127.0.0.1:1", {{"pool", "many"}}), HasSubstr("pool"));
  EXPECT_THAT(error("http://127.0.0.1:1", {{"header", "no colon"}}), HasSubstr("header"));
  EXPECT_THAT(error("http://127.0.0.1:1", {{"header", "X: a\r\nInjected: b"}}), HasSubstr("header"));
  EXPECT_THAT(error("http://127.0.0.1:1", {{"header", ": empty name"}}), HasSubstr("header"));
  EXPECT_THAT(error("ftp://127.0.0.1/", {}), HasSubstr("http://"));
  EXPECT_THAT(error("http://", {}), HasSubstr("URL"));
  EXPECT_THAT(error("http://127.0.0.1:1/base?x=1", {}), HasSubstr("query"));
}

TEST(HttpSource, DescribeShowsTheUrlWithoutCredentials) {
  absl::StatusOr<std::unique_ptr<Source>> source = MakeHttpSource("api", "http://user:secret@127.0.0.1:8080/api/v1/", {});
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->Describe(), "http://127.0.0.1:8080/api/v1");
  EXPECT_EQ((*source)->name(), "api");
  absl::StatusOr<std::unique_ptr<Source>> plain = MakeHttpSource("api", "http://example.invalid", {});
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ((*plain)->Describe(), "http://example.invalid");
}

}  // namespace
}  // namespace strata::loaders
