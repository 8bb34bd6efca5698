// strata-server [config-file] [--directive value ...]
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "server/config.h"
#include "server/logger.h"
#include "server/server.h"

namespace {

void PrintUsage() {
  std::printf(
      "Usage: strata-server [/path/to/strata.conf] [--directive value ...]\n"
      "       strata-server --version\n"
      "       strata-server --help\n\n"
      "Examples:\n"
      "       strata-server conf/strata.conf\n"
      "       strata-server --port 7777 --io-threads 2\n"
      "       strata-server conf/strata.conf --loglevel verbose\n\n"
      "Every directive is documented in conf/strata.conf.\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "--version" || args[0] == "-v")) {
    std::printf("strata-server v=%s redis-compat=%s\n", strata::server::kStrataVersion,
                strata::server::kRedisCompatVersion);
    return 0;
  }
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    PrintUsage();
    return 0;
  }
  // absl::Mutex's deadlock detection (on in Debian's build) walks a lock graph on every Lock;
  // our lock order is fixed by design (shards ascending, then loader state), so it only costs.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  strata::server::Config config;
  if (absl::Status s = config.LoadArgs(args); !s.ok()) {
    std::fprintf(stderr, "\n*** FATAL CONFIG FILE ERROR (strata %s) ***\n%.*s\n", strata::server::kStrataVersion,
                 static_cast<int>(s.message().size()), s.message().data());
    return 1;
  }
  strata::server::Logger logger(config);
  if (!logger.Open()) {
    std::fprintf(stderr, "Can't open the log file: %s\n", std::strerror(errno));
    return 1;
  }
  strata::server::Server server(config, logger);
  return server.Run();
}
