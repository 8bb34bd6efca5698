// Logger: Redis-style log lines ("PID:M 22 Nov 2026 09:32:36.123 * Ready to accept
// connections") to a file or stdout. Thread-safe; owned by main and passed down.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "absl/synchronization/mutex.h"
#include "server/config.h"

namespace strata::server {

class Logger {
 public:
  explicit Logger(const Config& config);
  ~Logger();
  // Opens the configured logfile (stdout when empty). Returns false with errno set on failure.
  bool Open();

  void Log(LogLevel level, std::string_view message);
  void Warning(std::string_view m) { Log(LogLevel::kWarning, m); }
  void Notice(std::string_view m) { Log(LogLevel::kNotice, m); }
  void Verbose(std::string_view m) { Log(LogLevel::kVerbose, m); }

 private:
  const Config& config_;
  absl::Mutex mu_;
  FILE* out_ = stdout;
  bool owns_file_ = false;
};

}  // namespace strata::server
