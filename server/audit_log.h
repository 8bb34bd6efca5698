// AuditLog: who purged what (DESIGN section 5, `audit-log FILE`). Administrative purges and
// configuration changes (FLUSHALL, FLUSHDB, LOADER INVALIDATE, invalidation messages with a
// pattern, CONFIG SET, SHUTDOWN, CLIENT KILL) are each recorded with who asked (client id,
// address, user, name, or the source whose notification it was), what, how many keys, and when:
// a line at notice level in the log, and one JSON object per line appended to FILE when set.
//
// Contract: any thread. One mutex, taken only by these rare events; the file is written and
// flushed line by line, so a crash loses no recorded event.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/logger.h"

namespace strata::server {

struct AuditActor {
  uint64_t client_id = 0;  // 0: not a client (e.g. a source's notification)
  std::string address;     // "ip:port", or "source:NAME"
  std::string user;
  std::string name;
};

class AuditLog {
 public:
  explicit AuditLog(Logger& logger) : logger_(logger) {}
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Opens (appends to) FILE; an empty path: the log's notice lines only.
  absl::Status Open(const std::string& path);
  // `details`: (name, JSON value already encoded) pairs; `keys`: how many keys the event
  // removed, when it removes keys.
  void Record(const AuditActor& who, std::string_view event, const std::vector<std::pair<std::string, std::string>>& details,
              std::optional<uint64_t> keys);

  // `text` as a JSON string literal.
  static std::string Quote(std::string_view text);

 private:
  Logger& logger_;
  absl::Mutex mu_;
  FILE* file_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace strata::server
