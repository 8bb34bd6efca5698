// Source: a source of truth a loader reads from (SQLite, PostgreSQL, HTTP).
//
// Contract:
//   - Load() never blocks its caller (an I/O thread may call it): the work runs on the source's
//     own threads, and `done` is called exactly once, on one of those threads, with one
//     LoadOutcome per element of the batch, in the same order.
//   - A capture the backend rejects as invalid input (e.g. "abc" for an integer column) is
//     kNotFound, not kError. kError carries a short reason for the client: no stack traces, no
//     passwords from the URL.
//   - Each load honours its query's timeout; a refused connection fails at once.
//   - Start() succeeds even if the backend is down: loads fail clearly until it is back, and
//     reconnection is automatic.
//   - Invalidation messages coming from the backend (PostgreSQL NOTIFY) are passed, as their
//     payload text, to the handler set with set_invalidation_handler (on a source thread).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "loaders/latency_histogram.h"

namespace strata::loaders {

enum class ValueShape { kString, kHash };

struct LoadOutcome {
  enum class Kind { kFound, kNotFound, kError };
  Kind kind = Kind::kNotFound;
  std::string value;                                        // kFound, string loaders
  std::vector<std::pair<std::string, std::string>> fields;  // kFound, hash loaders
  std::string error;                                        // kError
  bool timed_out = false;                                   // kError because of the timeout

  static LoadOutcome Found(std::string value);
  static LoadOutcome FoundHash(std::vector<std::pair<std::string, std::string>> fields);
  static LoadOutcome NotFound();
  static LoadOutcome Error(std::string reason, bool timed_out = false);
};

// What one loader asks of its source. Made at configuration time; lives as long as the source.
struct SourceQuery {
  std::string text;                       // as configured: SQL with :name, or "GET /path/{name}"
  std::string batch_text;                 // the loader's batch-query option, or empty
  ValueShape shape = ValueShape::kString;
  std::chrono::milliseconds timeout{2000};
  std::vector<std::string> capture_names;  // the key template's captures, in template order
  // Set by Source::Prepare: which captures the query binds, in bind order (indexes into
  // capture_names). A batch element holds one value per capture, in template order.
  std::vector<int> bound_captures;
  // Free for the source to keep its own prepared form (rewritten text and so on).
  std::shared_ptr<void> prepared;
};

// Options given on a `source` line after the URL, as name -> values (repeatable, e.g. header).
using SourceOptions = std::multimap<std::string, std::string>;

class Source {
 public:
  using Done = std::function<void(std::vector<LoadOutcome>)>;

  explicit Source(std::string name) : name_(std::move(name)) {}
  virtual ~Source() = default;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  const std::string& name() const { return name_; }
  // How long this source's calls took (microseconds), over every loader that uses it.
  LatencyHistogram& query_latency_us() const { return query_latency_us_; }

  // Checks a loader's query at configuration time (unknown parameters, bad syntax that can be
  // seen without the backend) and fills query.bound_captures / query.prepared.
  virtual absl::Status Prepare(SourceQuery& query) = 0;
  virtual absl::Status Start() = 0;
  // Stops the source's threads; pending loads complete with an error first.
  virtual void Stop() = 0;
  // Loads the keys of `batch` (each element: the capture values of one key, template order).
  virtual void Load(const SourceQuery& query, std::vector<std::vector<std::string>> batch, Done done) = 0;
  // A description for LOADER LIST (the URL without its password).
  virtual std::string Describe() const = 0;

  void set_invalidation_handler(std::function<void(std::string)> handler) {
    invalidation_handler_ = std::move(handler);
  }

 protected:
  const std::function<void(std::string)>& invalidation_handler() const { return invalidation_handler_; }

 private:
  std::string name_;
  mutable LatencyHistogram query_latency_us_;
  std::function<void(std::string)> invalidation_handler_;
};

// Makes a source from its URL ("sqlite:PATH", "postgresql://...", "http://...") and options.
absl::StatusOr<std::unique_ptr<Source>> MakeSource(const std::string& name, const std::string& url,
                                                   const SourceOptions& options);

// Factories of the individual sources (each in its own file).
absl::StatusOr<std::unique_ptr<Source>> MakeSqliteSource(const std::string& name, const std::string& path,
                                                         const SourceOptions& options);
absl::StatusOr<std::unique_ptr<Source>> MakePostgresSource(const std::string& name, const std::string& url,
                                                           const SourceOptions& options);
absl::StatusOr<std::unique_ptr<Source>> MakeHttpSource(const std::string& name, const std::string& url,
                                                       const SourceOptions& options);

}  // namespace strata::loaders
