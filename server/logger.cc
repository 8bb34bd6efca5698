#include "server/logger.h"

#include <sys/time.h>
#include <time.h>
#include <unistd.h>

namespace strata::server {

Logger::Logger(const Config& config) : config_(config) {}

Logger::~Logger() {
  if (owns_file_) fclose(out_);
}

bool Logger::Open() {
  std::string path = config_.logfile();
  if (path.empty()) return true;
  FILE* f = fopen(path.c_str(), "a");
  if (f == nullptr) return false;
  absl::MutexLock lock(&mu_);
  out_ = f;
  owns_file_ = true;
  return true;
}

void Logger::Log(LogLevel level, std::string_view message) {
  if (static_cast<int>(level) < config_.loglevel.load(std::memory_order_relaxed)) return;
  static constexpr char kMarks[] = {'.', '-', '*', '#'};
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm local;
  localtime_r(&tv.tv_sec, &local);
  char stamp[64];
  size_t n = strftime(stamp, sizeof(stamp), "%d %b %Y %H:%M:%S.", &local);
  snprintf(stamp + n, sizeof(stamp) - n, "%03d", static_cast<int>(tv.tv_usec / 1000));
  absl::MutexLock lock(&mu_);
  fprintf(out_, "%d:M %s %c %.*s\n", static_cast<int>(getpid()), stamp, kMarks[static_cast<int>(level) & 3],
          static_cast<int>(message.size()), message.data());
  fflush(out_);
}

}  // namespace strata::server
