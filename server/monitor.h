// MONITOR: every command any client runs, printed as Redis prints it, to every monitoring client.
//
// Cost: while nobody monitors, the command path pays one relaxed load. While someone does, each
// I/O thread formats its own commands' lines into a buffer of its own and hands the buffer to the
// monitors once per loop iteration (IoThread::AppendMonitorLine), not once per command: one post
// per monitor per batch of commands. Lines of one I/O thread keep their order; lines of
// different threads are interleaved by batch (Redis, single-threaded, has one order).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace strata::server {

class IoThread;

class MonitorRegistry {
 public:
  bool active() const { return count_.load(std::memory_order_relaxed) != 0; }
  // Any thread.
  void Add(IoThread* thread, uint64_t client_id);
  void Remove(uint64_t client_id);
  size_t size() const { return count_.load(std::memory_order_relaxed); }
  // Sends `lines` (complete "+...\r\n" lines) to every monitor, each on its own I/O thread.
  void Deliver(std::string lines);

 private:
  struct Monitor {
    IoThread* thread;
    uint64_t client_id;
  };
  mutable absl::Mutex mu_;
  std::vector<Monitor> monitors_ ABSL_GUARDED_BY(mu_);
  std::atomic<size_t> count_{0};
};

// A command as MONITOR prints it: `+<unix seconds>.<micros> [<db> <origin>] "arg" "arg"...\r\n`,
// each argument quoted and escaped as Redis's sdscatrepr does.
std::string MonitorLine(int64_t unix_micros, int db, std::string_view origin,
                        const std::vector<std::string_view>& args);

}  // namespace strata::server
