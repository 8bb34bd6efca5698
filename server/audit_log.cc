#include "server/audit_log.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "loaders/json.h"
#include "server/absl_compat.h"

namespace strata::server {

AuditLog::~AuditLog() {
  absl::MutexLock lock(&mu_);
  if (file_ != nullptr) fclose(file_);
}

absl::Status AuditLog::Open(const std::string& path) {
  if (path.empty()) return absl::OkStatus();
  FILE* file = fopen(path.c_str(), "a");
  if (file == nullptr) return absl::InvalidArgumentError(absl::StrCat("audit-log ", path, ": ", strerror(errno)));
  absl::MutexLock lock(&mu_);
  file_ = file;
  return absl::OkStatus();
}

std::string AuditLog::Quote(std::string_view text) { return loaders::JsonQuote(text); }

void AuditLog::Record(const AuditActor& who, std::string_view event,
                      const std::vector<std::pair<std::string, std::string>>& details, std::optional<uint64_t> keys) {
  const absl::Time now = absl::Now();
  std::string line = absl::StrCat(
      "{\"time\":", Quote(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", now, absl::UTCTimeZone())),
      ",\"event\":", Quote(event), ",\"client\":{\"id\":", who.client_id, ",\"addr\":", Quote(who.address),
      ",\"user\":", Quote(who.user), ",\"name\":", Quote(who.name), "}");
  for (const auto& [name, json] : details) absl::StrAppend(&line, ",", Quote(name), ":", json);
  if (keys.has_value()) absl::StrAppend(&line, ",\"keys\":", *keys);
  line += "}";
  logger_.Notice(absl::StrCat("AUDIT ", line));
  absl::MutexLock lock(&mu_);
  if (file_ != nullptr) {
    line += '\n';
    fwrite(line.data(), 1, line.size(), file_);
    fflush(file_);
  }
}

}  // namespace strata::server
