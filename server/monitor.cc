#include "server/monitor.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "server/connection.h"
#include "server/io_thread.h"

namespace strata::server {

void MonitorRegistry::Add(IoThread* thread, uint64_t client_id) {
  absl::MutexLock lock(&mu_);
  for (const Monitor& m : monitors_) {
    if (m.client_id == client_id) return;
  }
  monitors_.push_back({thread, client_id});
  count_.store(monitors_.size(), std::memory_order_relaxed);
}

void MonitorRegistry::Remove(uint64_t client_id) {
  absl::MutexLock lock(&mu_);
  std::erase_if(monitors_, [&](const Monitor& m) { return m.client_id == client_id; });
  count_.store(monitors_.size(), std::memory_order_relaxed);
}

void MonitorRegistry::Deliver(std::string lines) {
  std::vector<Monitor> monitors;
  {
    absl::MutexLock lock(&mu_);
    monitors = monitors_;
  }
  auto shared = std::make_shared<const std::string>(std::move(lines));
  for (const Monitor& m : monitors) {
    IoThread* thread = m.thread;
    thread->Post([thread, id = m.client_id, shared] {
      // A monitor that disconnected meanwhile is simply not found.
      if (Connection* c = thread->FindConnection(id)) c->DeliverWrittenMessage(*shared);
    });
  }
}

std::string MonitorLine(int64_t unix_micros, int db, std::string_view origin, const std::vector<std::string_view>& args) {
  std::string line = absl::StrFormat("+%d.%06d [%d %s]", unix_micros / 1000000, unix_micros % 1000000, db,
                                     absl::string_view(origin.data(), origin.size()));
  for (std::string_view arg : args) {
    line += " \"";
    for (unsigned char c : arg) {
      switch (c) {
        case '\\': line += "\\\\"; break;
        case '"': line += "\\\""; break;
        case '\n': line += "\\n"; break;
        case '\r': line += "\\r"; break;
        case '\t': line += "\\t"; break;
        case '\a': line += "\\a"; break;
        case '\b': line += "\\b"; break;
        default:
          if (c >= 0x20 && c < 0x7f) {
            line += static_cast<char>(c);
          } else {
            line += absl::StrFormat("\\x%02x", c);
          }
      }
    }
    line += '"';
  }
  line += "\r\n";
  return line;
}

}  // namespace strata::server
