// SlowLog: the commands that took longer than slowlog-log-slower-than, newest first, at most
// slowlog-max-len of them (SLOWLOG GET/LEN/RESET), as Redis keeps them.
//
// Contract: any thread. Only a slow command takes the mutex; the fast path's check of the
// threshold is the caller's, on an atomic setting.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace strata::server {

class SlowLog {
 public:
  // Redis's limits on what an entry keeps of a command (SLOWLOG_ENTRY_MAX_ARGC / _STRING):
  // past them the last argument kept says how many more arguments or bytes there were.
  static constexpr size_t kMaxArguments = 32;
  static constexpr size_t kMaxArgumentBytes = 128;

  struct Entry {
    uint64_t id = 0;
    int64_t unix_seconds = 0;
    int64_t micros = 0;
    std::vector<std::string> args;
    std::string peer;         // "ip:port"
    std::string client_name;
  };

  // Adds an entry and drops the oldest past max_len (0: the log keeps nothing). As in Redis, a
  // smaller slowlog-max-len takes effect at the next entry.
  void Add(std::span<const std::string_view> args, int64_t unix_seconds, int64_t micros, std::string peer,
           std::string client_name, size_t max_len);
  // The newest `count` entries, newest first (count < 0: all).
  std::vector<Entry> Newest(int64_t count) const;
  size_t size() const;
  void Reset();

 private:
  mutable absl::Mutex mu_;
  std::deque<Entry> entries_ ABSL_GUARDED_BY(mu_);  // newest at the front
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace strata::server
