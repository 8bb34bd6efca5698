#include "bench/strata_bench/latency_plot.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace strata_bench {

namespace {

// Where the 100% point (the max) is drawn: one step of PercentileDistribution() (a tenth of
// a decade) beyond the last finite percentile, so the curve ends in its max.
constexpr double kMaxPointStep = 1.2589254117941673;  // 10^(1/10)
// Colors by command; a compared run reuses them dashed.
constexpr absl::string_view kTotalColor = "#202020";
constexpr absl::string_view kGetColor = "#1f77b4";
constexpr absl::string_view kSetColor = "#ff7f0e";
// The program that draws (Debian: gnuplot-nox; tests/check_deps.py checks the Makefile installs it).
constexpr absl::string_view kGnuplotProgram = "gnuplot";

// A gnuplot single-quoted string: only the quote itself needs escaping, by doubling it.
std::string GnuplotQuote(absl::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') out += "''";
    else if (c == '\n' || c == '\r') out += ' ';
    else out.push_back(c);
  }
  return out + "'";
}

absl::string_view ColorOf(absl::string_view label) {
  if (absl::EndsWith(label, ": GET")) return kGetColor;
  if (absl::EndsWith(label, ": SET")) return kSetColor;
  return kTotalColor;
}

}  // namespace

absl::StatusOr<std::string> FindGnuplot(absl::string_view search_path) {
  for (absl::string_view dir : absl::StrSplit(search_path, ':', absl::SkipEmpty())) {
    const std::string candidate = absl::StrCat(dir, "/", kGnuplotProgram);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::NotFoundError("gnuplot is not installed (Debian: apt-get install gnuplot-nox)");
}

std::string LatencyPlotScript(const std::string& png_path, absl::string_view title,
                              const std::vector<LatencySeries>& series, size_t primary_count) {
  std::string script;
  absl::StrAppend(&script, "set terminal pngcairo size 1200,700 noenhanced font 'sans,10'\n");
  absl::StrAppend(&script, "set output ", GnuplotQuote(png_path), "\n");
  absl::StrAppend(&script, "set title ", GnuplotQuote(title), "\n");
  absl::StrAppend(&script,
                  "set logscale x\n"
                  // End the axis at the last point instead of rounding up to the next decade.
                  "set autoscale xfix\n"
                  "set xlabel 'Percentile'\n"
                  "set ylabel 'Latency (usec)'\n"
                  // Tic labels are format strings to gnuplot: '%%' is a literal percent sign.
                  "set xtics ('0%%' 1, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, "
                  "'99.999%%' 100000, '99.9999%%' 1000000, '99.99999%%' 10000000)\n"
                  "set grid xtics ytics\n"
                  "set yrange [0:*]\n"
                  "set key top left box opaque\n");
  for (size_t i = 0; i < series.size(); ++i) {
    absl::StrAppendFormat(&script, "$series%d << EOD\n", i);
    double last_x = 1;
    for (const PercentilePoint& point : series[i].points) {
      double x;
      if (point.percentile >= 100.0) {
        x = last_x * kMaxPointStep;
      } else {
        x = 1.0 / (1.0 - point.percentile / 100.0);
        last_x = x;
      }
      absl::StrAppendFormat(&script, "%.6f %d\n", x, point.value_micros);
    }
    absl::StrAppend(&script, "EOD\n");
  }
  absl::StrAppend(&script, "plot ");
  for (size_t i = 0; i < series.size(); ++i) {
    const bool primary = i < primary_count;
    // TOTAL is drawn wide and first, so GET and SET curves that follow it closely stay visible
    // on top of it with a dark border.
    absl::StrAppendFormat(&script, "%s$series%d using 1:2 with lines lw %.1f lc rgb '%s' dt %d title %s",
                          i == 0 ? "" : ", \\\n     ", i, ColorOf(series[i].label) == kTotalColor ? 4.5 : 1.5,
                          ColorOf(series[i].label), primary ? 1 : 2, GnuplotQuote(series[i].label));
  }
  absl::StrAppend(&script, "\n");
  return script;
}

absl::Status WriteLatencyPlot(const std::string& gnuplot, const std::string& png_path, absl::string_view title,
                              const std::vector<LatencySeries>& series, size_t primary_count) {
  if (series.empty()) return absl::FailedPreconditionError("no latencies to plot (no requests completed)");
  const char* tmpdir = getenv("TMPDIR");
  std::string script_path = absl::StrCat(tmpdir != nullptr && *tmpdir ? tmpdir : "/tmp", "/strata-bench-plot-XXXXXX");
  const int fd = mkstemp(script_path.data());
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot create a temporary file: ", strerror(errno)));
  const std::string script = LatencyPlotScript(png_path, title, series, primary_count);
  const bool written = write(fd, script.data(), script.size()) == static_cast<ssize_t>(script.size());
  close(fd);
  if (!written) {
    unlink(script_path.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", script_path));
  }
  // Remove a stale picture so success below means gnuplot wrote a new one.
  unlink(png_path.c_str());

  pid_t pid = 0;
  char* argv[] = {const_cast<char*>(gnuplot.c_str()), script_path.data(), nullptr};
  const int spawn_error = posix_spawn(&pid, gnuplot.c_str(), nullptr, nullptr, argv, environ);
  if (spawn_error != 0) {
    unlink(script_path.c_str());
    return absl::InternalError(absl::StrCat("cannot run ", gnuplot, ": ", strerror(spawn_error)));
  }
  int wait_status = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(kGnuplotTimeoutSec);
  bool exited = false;
  while (!exited) {
    const pid_t done = waitpid(pid, &wait_status, WNOHANG);
    if (done == pid) {
      exited = true;
    } else if (done < 0 && errno != EINTR) {
      break;
    } else if (absl::Now() > deadline) {
      kill(pid, SIGKILL);  // our own child, by PID
      waitpid(pid, &wait_status, 0);
      unlink(script_path.c_str());
      return absl::DeadlineExceededError(absl::StrCat("gnuplot did not finish within ", kGnuplotTimeoutSec, "s"));
    } else {
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  unlink(script_path.c_str());
  if (!exited || !WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
    return absl::InternalError("gnuplot failed (its messages are above)");
  }
  struct stat info;
  if (stat(png_path.c_str(), &info) != 0 || info.st_size == 0) {
    return absl::InternalError(absl::StrCat("gnuplot did not write ", png_path));
  }
  return absl::OkStatus();
}

}  // namespace strata_bench
