// The HTTP source: `source NAME http[s]://host:port[/base] [pool N] [header "K: V"]... [ca-file PATH]`
// with loaders whose query is `GET /path/{capture}/...`. https verifies the server's certificate
// and name, always: against the system's CAs, or against the CA certificates in ca-file (PEM).
//
// How it works. Every request of every loader runs on one thread of the source, which drives
// libcurl's multi interface: Load() (any thread) turns the batch into request URLs, appends them
// to a mutex-protected inbox and pokes the thread with curl_multi_wakeup; the thread moves them
// into its waiting line, keeps at most `pool` of them in flight, and sleeps in curl_multi_poll
// when there is nothing to do. Nothing else touches the multi handle or the easy handles, so the
// transfer state needs no lock.
//
// Why this shape:
//   - One multi handle holds one connection cache, so HTTP keep-alive works across loaders and
//     batches; easy handles are also recycled (curl_easy_reset) instead of being made per request.
//     CURLMOPT_MAX_TOTAL_CONNECTIONS and CURLMOPT_MAXCONNECTS are both `pool`: at most `pool`
//     sockets, and that many are kept open between bursts.
//   - The source itself caps the requests in flight at `pool` (rather than handing everything to
//     curl, which would queue the surplus internally): a request's CURLOPT_TIMEOUT_MS then counts
//     from when it really starts, not from when it joined a long queue behind a 1,000-key batch.
//   - Redirects are not followed: a source of truth that redirects is misconfigured, and following
//     a Location could leave the base URL. A 3xx is reported as an error ("HTTP 301").
//   - A capture is percent-escaped with curl_easy_escape (everything but A-Z a-z 0-9 - . _ ~), so
//     "/" "?" "#" "%" and spaces in a key cannot change the structure of the request. The one
//     structure escaping leaves alone is a dot segment: a capture "." or ".." making up a whole path
//     segment would be removed by URL normalisation (here by curl, or by the server) and step out
//     of the base, so those dots are sent as %2E.
//
// Outcomes: 2xx is found (string loaders: the body; hash loaders: the members of the body's JSON
// object, as JsonValue::ScalarText, null members and repeated names after the first skipped, so
// an empty object is not found, as a row with only NULL columns would be);
// 404/410 are not found; 400/422 are not found as well, because they mean the source rejected the
// capture as invalid input (DESIGN.md section 6); every other status is an error "HTTP <code>".
//
// libcurl's global state: each HttpSource holds one reference, taken with curl_global_init in
// MakeHttpSource and given back with curl_global_cleanup in the destructor. libcurl counts these
// calls itself and, when built "threadsafe" (7.84+, as Debian 12's 7.88 is), serialises them, so
// no global or static of ours is needed to call it exactly once.
#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "loaders/json.h"
#include "loaders/source.h"

namespace strata::loaders {
namespace {

constexpr int kDefaultPool = 8;
constexpr int kMaxPool = 1024;
// A connect that takes longer than this on the networks a cache talks to means lost SYNs; fail
// it (as a timeout) without waiting for the whole query timeout.
constexpr std::chrono::milliseconds kMaxConnectTimeout{3000};
// The largest body read, as Redis's default proto-max-bulk-len: a bigger value could not be
// stored anyway.
constexpr curl_off_t kMaxBodyBytes = curl_off_t{512} << 20;
// How long the transfer thread sleeps when idle; curl_multi_wakeup and curl's own timers end the
// sleep sooner, so this only bounds how long an idle thread goes unchecked.
constexpr int kIdlePollMs = 1000;
constexpr char kUserAgent[] = "strata";
constexpr char kStoppedReason[] = "source stopped";

// A loader's query, parsed by Prepare: the path as literal pieces and capture references.
struct HttpRequestTemplate {
  struct Piece {
    std::string literal;  // used when capture < 0
    int capture = -1;     // index into the key's capture values
  };
  std::vector<Piece> pieces;
  size_t capture_count = 0;  // captures per key (the key template's)
};

struct CurlUrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
using CurlUrl = std::unique_ptr<CURLU, CurlUrlDeleter>;

// One URL part as a string, or nullopt-like empty with `present` false.
bool GetUrlPart(CURLU* url, CURLUPart part, std::string& out) {
  char* text = nullptr;
  if (curl_url_get(url, part, &text, 0) != CURLUE_OK) return false;
  out = text;
  curl_free(text);
  return true;
}

// The base URL split into what requests are built from and what LOADER LIST may show.
struct HttpEndpoint {
  std::string base_url;     // "http://user:pw@host:port/base", no trailing '/'
  std::string description;  // the same without user and password
};

absl::StatusOr<HttpEndpoint> ParseEndpoint(const std::string& source_name, const std::string& url) {
  auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("source ", source_name, ": ", std::string(why)));
  };
  CurlUrl parsed(curl_url());
  if (parsed == nullptr) return absl::ResourceExhaustedError("out of memory parsing a URL");
  if (CURLUcode rc = curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0); rc != CURLUE_OK) {
    return invalid(absl::StrCat("invalid URL (", curl_url_strerror(rc), ")"));
  }
  std::string scheme, host, path, ignored;
  GetUrlPart(parsed.get(), CURLUPART_SCHEME, scheme);
  if (scheme != "http" && scheme != "https") return invalid("the URL must start with http:// or https://");
  if (scheme == "https" && (curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_SSL) == 0) {
    return invalid("https needs a libcurl built with TLS");
  }
  if (!GetUrlPart(parsed.get(), CURLUPART_HOST, host) || host.empty()) return invalid("the URL has no host");
  if (GetUrlPart(parsed.get(), CURLUPART_QUERY, ignored)) return invalid("the base URL takes no ?query");
  if (GetUrlPart(parsed.get(), CURLUPART_FRAGMENT, ignored)) return invalid("the base URL takes no #fragment");
  GetUrlPart(parsed.get(), CURLUPART_PATH, path);
  while (!path.empty() && path.back() == '/') path.pop_back();

  // Scheme, credentials, host and port as curl normalised them, then our base path.
  auto origin = [&](CURLU* from) -> absl::StatusOr<std::string> {
    std::string text;
    if (curl_url_set(from, CURLUPART_PATH, "/", 0) != CURLUE_OK || !GetUrlPart(from, CURLUPART_URL, text)) {
      return invalid("invalid URL");
    }
    while (!text.empty() && text.back() == '/') text.pop_back();
    return text + path;
  };
  HttpEndpoint endpoint;
  absl::StatusOr<std::string> base = origin(parsed.get());
  if (!base.ok()) return base.status();
  endpoint.base_url = *std::move(base);
  curl_url_set(parsed.get(), CURLUPART_USER, nullptr, 0);
  curl_url_set(parsed.get(), CURLUPART_PASSWORD, nullptr, 0);
  absl::StatusOr<std::string> description = origin(parsed.get());
  if (!description.ok()) return description.status();
  endpoint.description = *std::move(description);
  return endpoint;
}

bool IsCaptureNameChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Parses "GET /path/{name}" against the key template's capture names.
absl::StatusOr<HttpRequestTemplate> ParseQuery(const SourceQuery& query, std::vector<int>& bound_captures) {
  auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("http query '", query.text, "': ", std::string(why)));
  };
  std::string_view text = query.text;
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  size_t gap = text.find_first_of(" \t");
  if (gap == std::string_view::npos) return invalid("expected 'GET /path'");
  std::string method = absl::AsciiStrToUpper(std::string(text.substr(0, gap)));
  if (method != "GET") return invalid(absl::StrCat("method ", method, " is not supported (only GET)"));
  std::string_view path = text.substr(gap);
  while (!path.empty() && is_space(path.front())) path.remove_prefix(1);
  if (path.empty() || path.front() != '/') return invalid("the path must start with '/'");

  HttpRequestTemplate result;
  result.capture_count = query.capture_names.size();
  bound_captures.clear();
  std::string literal;
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '{') {
      size_t close = path.find('}', i);
      if (close == std::string_view::npos) return invalid("unclosed '{'");
      std::string name(path.substr(i + 1, close - i - 1));
      if (name.empty() || !std::all_of(name.begin(), name.end(), IsCaptureNameChar)) {
        return invalid("a {capture} name is letters, digits and '_'");
      }
      auto found = std::find(query.capture_names.begin(), query.capture_names.end(), name);
      if (found == query.capture_names.end()) {
        return absl::InvalidArgumentError(absl::StrCat("query uses {", name, "}, which the key template does not capture"));
      }
      int index = static_cast<int>(found - query.capture_names.begin());
      if (!literal.empty()) result.pieces.push_back({std::move(literal), -1});
      literal.clear();
      result.pieces.push_back({"", index});
      if (std::find(bound_captures.begin(), bound_captures.end(), index) == bound_captures.end()) {
        bound_captures.push_back(index);
      }
      i = close;
      continue;
    }
    if (c == '}') return invalid("unmatched '}'");
    if (c == '#') return invalid("a query takes no #fragment");
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F) {
      return invalid("the path must be one word of printable ASCII (percent-escape anything else)");
    }
    literal.push_back(c);
  }
  if (!literal.empty()) result.pieces.push_back({std::move(literal), -1});
  return result;
}

// The request path for one key: literals as written, captures percent-escaped (see the file
// comment for the dot-segment rule). An empty result means escaping failed (out of memory).
std::string ExpandPath(const HttpRequestTemplate& request, const std::vector<std::string>& captures) {
  std::string path;
  std::vector<bool> from_capture;  // per byte of `path`
  for (const HttpRequestTemplate::Piece& piece : request.pieces) {
    if (piece.capture < 0) {
      path += piece.literal;
      from_capture.resize(path.size(), false);
      continue;
    }
    const std::string& value = captures[static_cast<size_t>(piece.capture)];
    if (value.empty()) continue;  // curl_easy_escape would take length 0 as "use strlen"
    char* escaped = curl_easy_escape(nullptr, value.data(), static_cast<int>(value.size()));
    if (escaped == nullptr) return "";
    path += escaped;
    curl_free(escaped);
    from_capture.resize(path.size(), true);
  }
  // Dot segments made (partly) of capture text: "." and ".." before the query string.
  std::string result;
  size_t end_of_path = std::min(path.find('?'), path.size());
  size_t segment_start = 0;
  for (size_t i = 0; i <= end_of_path; ++i) {
    if (i < end_of_path && path[i] != '/') continue;
    std::string_view segment(path.data() + segment_start, i - segment_start);
    bool has_capture = std::any_of(from_capture.begin() + static_cast<std::ptrdiff_t>(segment_start),
                                   from_capture.begin() + static_cast<std::ptrdiff_t>(i), [](bool b) { return b; });
    if (has_capture && (segment == "." || segment == "..")) {
      for (size_t j = segment_start; j < i; ++j) result += from_capture[j] ? "%2E" : ".";
    } else {
      result += segment;
    }
    if (i < end_of_path) result.push_back('/');
    segment_start = i + 1;
  }
  result.append(path, end_of_path, std::string::npos);
  return result;
}

// The outcomes of one Load call, filled in as its requests finish (transfer thread only).
struct PendingBatch {
  Source::Done done;
  std::vector<LoadOutcome> outcomes;
  size_t remaining = 0;
};

// One HTTP request: one key of a batch.
struct Transfer {
  std::shared_ptr<PendingBatch> batch;
  size_t index = 0;  // in the batch
  std::string url;
  ValueShape shape = ValueShape::kString;
  long timeout_ms = 0;
  CURL* easy = nullptr;  // while in flight
  std::string body;
  bool body_too_large = false;
  char error[CURL_ERROR_SIZE] = {};
};

// What Load hands to the transfer thread.
struct LoadJob {
  std::shared_ptr<PendingBatch> batch;
  std::vector<std::unique_ptr<Transfer>> transfers;
};

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  Transfer* transfer = static_cast<Transfer*>(user);
  size_t bytes = size * count;
  if (transfer->body.size() + bytes > static_cast<size_t>(kMaxBodyBytes)) {
    transfer->body_too_large = true;
    return 0;  // makes curl abort the transfer with CURLE_WRITE_ERROR
  }
  transfer->body.append(data, bytes);
  return bytes;
}

LoadOutcome HashOutcome(const std::string& body) {
  absl::StatusOr<JsonValue> parsed = ParseJson(body);
  if (!parsed.ok()) return LoadOutcome::Error(absl::StrCat("response is not JSON: ", parsed.status().message()));
  if (parsed->type() != JsonValue::Type::kObject) return LoadOutcome::Error("expected a JSON object");
  std::vector<std::pair<std::string, std::string>> fields;
  absl::flat_hash_set<std::string> seen;
  for (const auto& [name, value] : parsed->object()) {
    if (value.type() == JsonValue::Type::kNull) continue;  // as a NULL column: no field
    if (!seen.insert(name).second) continue;
    fields.emplace_back(name, value.ScalarText());
  }
  return LoadOutcome::FoundHash(std::move(fields));
}

LoadOutcome OutcomeOf(Transfer& transfer, CURLcode result) {
  switch (result) {
    case CURLE_OK:
      break;
    case CURLE_OPERATION_TIMEDOUT:
      return LoadOutcome::Error(absl::StrCat("timed out after ", transfer.timeout_ms, " ms"), /*timed_out=*/true);
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
      if (transfer.body_too_large || result == CURLE_FILESIZE_EXCEEDED) {
        return LoadOutcome::Error(absl::StrCat("response body larger than ", kMaxBodyBytes >> 20, " MiB"));
      }
      [[fallthrough]];
    default:
      return LoadOutcome::Error(transfer.error[0] != '\0' ? std::string(transfer.error)
                                                          : std::string(curl_easy_strerror(result)));
  }
  long status = 0;
  curl_easy_getinfo(transfer.easy, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 200 && status <= 299) {
    if (transfer.shape == ValueShape::kHash) return HashOutcome(transfer.body);
    return LoadOutcome::Found(std::move(transfer.body));
  }
  if (status == 404 || status == 410 || status == 400 || status == 422) return LoadOutcome::NotFound();
  return LoadOutcome::Error(absl::StrCat("HTTP ", status));
}

class HttpSource final : public Source {
 public:
  // Takes over one reference to libcurl's global state (see the file comment).
  HttpSource(std::string name, HttpEndpoint endpoint, int pool, curl_slist* headers, std::string ca_file)
      : Source(std::move(name)), endpoint_(std::move(endpoint)), pool_(pool), headers_(headers),
        ca_file_(std::move(ca_file)) {}

  ~HttpSource() override {
    Stop();
    JoinTransferThread();
    curl_slist_free_all(headers_);
    curl_global_cleanup();
  }

  absl::Status Prepare(SourceQuery& query) override {
    if (!query.batch_text.empty()) {
      return absl::InvalidArgumentError("http sources take no batch-query (a batch runs as parallel requests)");
    }
    std::vector<int> bound;
    absl::StatusOr<HttpRequestTemplate> request = ParseQuery(query, bound);
    if (!request.ok()) return request.status();
    // Check that curl accepts the URL the template makes, so a bad template fails at start-up.
    std::string url = endpoint_.base_url + ExpandPath(*request, std::vector<std::string>(query.capture_names.size(), "x"));
    CurlUrl check(curl_url());
    if (check == nullptr || curl_url_set(check.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
      // Shown from the description: the base URL's user and password must not reach the log.
      const std::string shown =
          endpoint_.description + ExpandPath(*request, std::vector<std::string>(query.capture_names.size(), "x"));
      return absl::InvalidArgumentError(absl::StrCat("http query '", query.text, "' makes an invalid URL: ", shown));
    }
    query.bound_captures = std::move(bound);
    query.prepared = std::make_shared<HttpRequestTemplate>(*std::move(request));
    return absl::OkStatus();
  }

  absl::Status Start() override {
    if (thread_.joinable()) {
      absl::MutexLock lock(&mu_);
      if (accepting_) return absl::OkStatus();
    }
    JoinTransferThread();  // a Stop() from a done callback leaves the thread to join here
    multi_ = curl_multi_init();
    if (multi_ == nullptr) return absl::InternalError(absl::StrCat("source ", name(), ": curl_multi_init failed"));
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(pool_));
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(pool_));
    // Under mu_, which the thread takes first: a done callback calling Stop() then sees thread_.
    absl::MutexLock lock(&mu_);
    accepting_ = true;
    thread_ = std::thread([this] { RunTransfers(); });
    return absl::OkStatus();
  }

  void Stop() override {
    {
      absl::MutexLock lock(&mu_);
      if (!accepting_) return;
      accepting_ = false;
      curl_multi_wakeup(multi_);
    }
    // From a done callback (the transfer thread itself) the thread cannot be joined: it finishes
    // its loop on its own and the next Start() or the destructor joins it.
    if (std::this_thread::get_id() != thread_.get_id()) JoinTransferThread();
  }

  void Load(const SourceQuery& query, std::vector<std::vector<std::string>> batch, Done done) override {
    auto pending = std::make_shared<PendingBatch>();
    pending->done = std::move(done);
    pending->outcomes.resize(batch.size());
    LoadJob job;
    job.batch = pending;
    // query.prepared was made by this source's Prepare (the Source contract: a loader prepares its
    // query on the source it loads from).
    const auto* request = static_cast<const HttpRequestTemplate*>(query.prepared.get());
    for (size_t i = 0; i < batch.size(); ++i) {
      if (request == nullptr) {
        pending->outcomes[i] = LoadOutcome::Error("the query was not prepared by this source");
        continue;
      }
      if (batch[i].size() != request->capture_count) {
        pending->outcomes[i] = LoadOutcome::Error(
            absl::StrCat("a key with ", batch[i].size(), " captures for a query expecting ", request->capture_count));
        continue;
      }
      std::string path = ExpandPath(*request, batch[i]);
      if (path.empty()) {
        pending->outcomes[i] = LoadOutcome::Error("out of memory escaping a capture");
        continue;
      }
      auto transfer = std::make_unique<Transfer>();
      transfer->batch = pending;
      transfer->index = i;
      transfer->url = endpoint_.base_url + path;
      transfer->shape = query.shape;
      transfer->timeout_ms = std::max<long>(1, static_cast<long>(query.timeout.count()));
      job.transfers.push_back(std::move(transfer));
    }
    pending->remaining = job.transfers.size();
    {
      absl::MutexLock lock(&mu_);
      if (accepting_) {
        inbox_.push_back(std::move(job));
        curl_multi_wakeup(multi_);  // under mu_: Stop cannot free multi_ meanwhile
        return;
      }
    }
    // Not started, or stopped: there is no source thread to call `done` on, so it runs here.
    std::vector<LoadOutcome> outcomes(batch.size(), LoadOutcome::Error(kStoppedReason));
    pending->done(std::move(outcomes));
  }

  std::string Describe() const override { return endpoint_.description; }

 private:
  // The transfer thread: see the file comment.
  void RunTransfers() {
    std::vector<LoadJob> jobs;
    while (true) {
      bool stopping;
      {
        absl::MutexLock lock(&mu_);
        jobs.swap(inbox_);
        stopping = !accepting_;
      }
      for (LoadJob& job : jobs) Admit(job);
      jobs.clear();
      if (stopping) break;
      StartWaiting();
      int running = 0;
      curl_multi_perform(multi_, &running);
      bool freed_slots = CollectFinished();
      if (freed_slots && !waiting_.empty()) continue;  // start the next ones before sleeping
      curl_multi_poll(multi_, nullptr, 0, kIdlePollMs, nullptr);
    }
    FailEverything();
  }

  void Admit(LoadJob& job) {
    if (job.transfers.empty()) {
      Finish(*job.batch);
      return;
    }
    for (auto& transfer : job.transfers) waiting_.push_back(std::move(transfer));
  }

  void StartWaiting() {
    while (!waiting_.empty() && static_cast<int>(in_flight_.size()) < pool_) {
      std::unique_ptr<Transfer> transfer = std::move(waiting_.front());
      waiting_.pop_front();
      CURL* easy = TakeEasyHandle();
      if (easy == nullptr) {
        Complete(*transfer, LoadOutcome::Error("curl_easy_init failed"));
        continue;
      }
      transfer->easy = easy;
      ConfigureRequest(*transfer);
      if (CURLMcode rc = curl_multi_add_handle(multi_, easy); rc != CURLM_OK) {
        ReturnEasyHandle(easy, /*was_added=*/false);
        Complete(*transfer, LoadOutcome::Error(curl_multi_strerror(rc)));
        continue;
      }
      in_flight_.emplace(easy, std::move(transfer));
    }
  }

  void ConfigureRequest(Transfer& transfer) {
    CURL* easy = transfer.easy;
    long connect_timeout_ms = std::min<long>(transfer.timeout_ms, kMaxConnectTimeout.count());
    curl_easy_setopt(easy, CURLOPT_URL, transfer.url.c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, transfer.timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, kMaxBodyBytes);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, kUserAgent);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers_);
    // Verification stays on (libcurl's default, set again so a reset handle cannot lose it).
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!ca_file_.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file_.c_str());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, AppendBody);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer.error);
  }

  // Reads curl's finished transfers; true if any finished (its slot is free again).
  bool CollectFinished() {
    bool any = false;
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      auto it = in_flight_.find(message->easy_handle);
      if (it == in_flight_.end()) continue;
      std::unique_ptr<Transfer> transfer = std::move(it->second);
      in_flight_.erase(it);
      LoadOutcome outcome = OutcomeOf(*transfer, message->data.result);  // before `message` goes stale
      ReturnEasyHandle(transfer->easy, /*was_added=*/true);
      transfer->easy = nullptr;
      Complete(*transfer, std::move(outcome));
      any = true;
    }
    return any;
  }

  void Complete(Transfer& transfer, LoadOutcome outcome) {
    PendingBatch& batch = *transfer.batch;
    batch.outcomes[transfer.index] = std::move(outcome);
    if (--batch.remaining == 0) Finish(batch);
  }

  static void Finish(PendingBatch& batch) {
    Done done = std::move(batch.done);
    done(std::move(batch.outcomes));
  }

  // On the way out of the transfer thread: every load not yet answered gets "source stopped".
  void FailEverything() {
    for (auto& [easy, transfer] : in_flight_) {
      ReturnEasyHandle(easy, /*was_added=*/true);
      transfer->easy = nullptr;
    }
    // Collected first, completed after, so a done callback cannot see a half-torn-down source.
    std::vector<std::unique_ptr<Transfer>> unanswered;
    for (auto& [easy, transfer] : in_flight_) unanswered.push_back(std::move(transfer));
    in_flight_.clear();
    for (auto& transfer : waiting_) unanswered.push_back(std::move(transfer));
    waiting_.clear();
    for (auto& transfer : unanswered) Complete(*transfer, LoadOutcome::Error(kStoppedReason));
    for (CURL* easy : idle_easy_handles_) curl_easy_cleanup(easy);
    idle_easy_handles_.clear();
  }

  CURL* TakeEasyHandle() {
    if (idle_easy_handles_.empty()) return curl_easy_init();
    CURL* easy = idle_easy_handles_.back();
    idle_easy_handles_.pop_back();
    return easy;
  }

  // Detaches `easy` from the multi handle (its connection stays in the multi's cache) and keeps it
  // for the next request, up to `pool` idle handles.
  void ReturnEasyHandle(CURL* easy, bool was_added) {
    if (was_added) curl_multi_remove_handle(multi_, easy);
    if (static_cast<int>(idle_easy_handles_.size()) >= pool_) {
      curl_easy_cleanup(easy);
      return;
    }
    curl_easy_reset(easy);
    idle_easy_handles_.push_back(easy);
  }

  void JoinTransferThread() {
    if (!thread_.joinable()) return;
    thread_.join();
    curl_multi_cleanup(multi_);
    multi_ = nullptr;
  }

  const HttpEndpoint endpoint_;
  const int pool_;
  curl_slist* const headers_;  // owned; sent with every request
  const std::string ca_file_;  // https: the CAs to verify against (empty: the system's)

  absl::Mutex mu_;
  bool accepting_ ABSL_GUARDED_BY(mu_) = false;  // Start()ed and not Stop()ped
  std::vector<LoadJob> inbox_ ABSL_GUARDED_BY(mu_);

  // Made by Start(), freed after the transfer thread is joined; between the two only the
  // transfer thread uses it, except for curl_multi_wakeup (thread-safe, called under mu_).
  CURLM* multi_ = nullptr;
  std::thread thread_;

  // The transfer thread's own state.
  std::deque<std::unique_ptr<Transfer>> waiting_;
  absl::flat_hash_map<CURL*, std::unique_ptr<Transfer>> in_flight_;
  std::vector<CURL*> idle_easy_handles_;
};

struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// One reference to libcurl's global state, given back unless handed on to a source.
class CurlGlobalReference {
 public:
  CurlGlobalReference() : result_(curl_global_init(CURL_GLOBAL_DEFAULT)) {}
  ~CurlGlobalReference() {
    if (result_ == CURLE_OK && !handed_on_) curl_global_cleanup();
  }
  CurlGlobalReference(const CurlGlobalReference&) = delete;
  CurlGlobalReference& operator=(const CurlGlobalReference&) = delete;

  CURLcode result() const { return result_; }
  void HandOn() { handed_on_ = true; }

 private:
  CURLcode result_;
  bool handed_on_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Source>> MakeHttpSource(const std::string& name, const std::string& url,
                                                       const SourceOptions& options) {
  // Before anything else of curl's (see the file comment).
  CurlGlobalReference curl;
  if (curl.result() != CURLE_OK) {
    return absl::InternalError(absl::StrCat("source ", name, ": curl_global_init: ", curl_easy_strerror(curl.result())));
  }
  int pool = kDefaultPool;
  std::string ca_file;
  std::unique_ptr<curl_slist, CurlSlistDeleter> headers;
  for (const auto& [option, value] : options) {
    if (option == "pool") {
      if (!absl::SimpleAtoi(value, &pool) || pool < 1 || pool > kMaxPool) {
        return absl::InvalidArgumentError(
            absl::StrCat("source ", name, ": pool must be a number from 1 to ", kMaxPool, ", not '", value, "'"));
      }
    } else if (option == "ca-file") {
      // Absolute now: curl reads the file at each connection, after the server's chdir to `dir`.
      char* absolute = realpath(value.c_str(), nullptr);
      if (absolute == nullptr || access(absolute, R_OK) != 0) {
        free(absolute);
        return absl::InvalidArgumentError(absl::StrCat("source ", name, ": ca-file '", value, "' cannot be read"));
      }
      ca_file = absolute;
      free(absolute);
    } else if (option == "header") {
      size_t colon = value.find(':');
      bool has_name = colon != std::string::npos && colon > 0 &&
                      std::all_of(value.begin(), value.begin() + static_cast<std::ptrdiff_t>(colon),
                                  [](char c) { return c > 0x20 && c < 0x7F; });
      if (!has_name || value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("source ", name, ": header must be \"Name: value\" on one line (its value is not shown: it may be a credential)"));
      }
      curl_slist* appended = curl_slist_append(headers.get(), value.c_str());
      if (appended == nullptr) return absl::ResourceExhaustedError("out of memory adding a header");
      (void)headers.release();  // `appended` is the same list, or a new one if it was empty
      headers.reset(appended);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("source ", name, ": unknown option '", option, "' (an http source takes pool, header, ca-file)"));
    }
  }
  absl::StatusOr<HttpEndpoint> endpoint = ParseEndpoint(name, url);
  if (!endpoint.ok()) return endpoint.status();
  curl.HandOn();
  return std::unique_ptr<Source>(new HttpSource(name, *std::move(endpoint), pool, headers.release(), std::move(ca_file)));
}

}  // namespace strata::loaders
