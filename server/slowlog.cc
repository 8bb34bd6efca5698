#include "server/slowlog.h"

#include "absl/strings/str_cat.h"
#include "server/absl_compat.h"

namespace strata::server {

void SlowLog::Add(std::span<const std::string_view> args, int64_t unix_seconds, int64_t micros, std::string peer,
                  std::string client_name, size_t max_len) {
  Entry entry;
  entry.unix_seconds = unix_seconds;
  entry.micros = micros;
  entry.peer = std::move(peer);
  entry.client_name = std::move(client_name);
  const size_t kept = args.size() > kMaxArguments ? kMaxArguments - 1 : args.size();
  entry.args.reserve(kept + 1);
  for (size_t i = 0; i < kept; ++i) {
    std::string_view arg = args[i];
    if (arg.size() > kMaxArgumentBytes) {
      entry.args.push_back(absl::StrCat(Absl(arg.substr(0, kMaxArgumentBytes)), "... (",
                                        arg.size() - kMaxArgumentBytes, " more bytes)"));
    } else {
      entry.args.emplace_back(arg);
    }
  }
  if (kept < args.size()) entry.args.push_back(absl::StrCat("... (", args.size() - kept, " more arguments)"));
  absl::MutexLock lock(&mu_);
  entry.id = next_id_++;
  entries_.push_front(std::move(entry));
  while (entries_.size() > max_len) entries_.pop_back();
}

std::vector<SlowLog::Entry> SlowLog::Newest(int64_t count) const {
  absl::MutexLock lock(&mu_);
  const size_t n = count < 0 ? entries_.size() : std::min(entries_.size(), static_cast<size_t>(count));
  return std::vector<Entry>(entries_.begin(), entries_.begin() + static_cast<ptrdiff_t>(n));
}

size_t SlowLog::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

void SlowLog::Reset() {
  absl::MutexLock lock(&mu_);
  entries_.clear();
}

}  // namespace strata::server
