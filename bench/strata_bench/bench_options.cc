#include "bench/strata_bench/bench_options.h"

#include <cmath>
#include <functional>
#include <limits>
#include "absl/strings/string_view.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/strata_bench/workload.h"

namespace strata_bench {

namespace {

// Upper bounds that keep a typo from asking for something absurd (a 10 GB value, a million
// threads); each is far above what one load-generator process can usefully drive.
constexpr int kMaxThreads = 256;
constexpr int kMaxClientsPerThread = 10000;
constexpr int kMaxPipeline = 100000;
constexpr size_t kMaxDataSize = 512 * 1024 * 1024;
// Keeps key_max - key_min + 1 and the sequential walk free of 64-bit overflow.
constexpr uint64_t kMaxKeyIndex = uint64_t{1} << 62;
// The largest pool the server's own sources accept (sqlite allows 64, postgresql 256).
constexpr int kMaxSourcePool = 256;
// Each subscriber is a connection of its own, read by the same threads as the publishers.
constexpr int kMaxSubscribers = 10000;

absl::Status Invalid(absl::string_view option, absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(option, " ", value, ": ", why));
}

absl::Status ParseIntIn(absl::string_view option, absl::string_view value, int64_t lo, int64_t hi,
                        int64_t* out) {
  if (!absl::SimpleAtoi(value, out) || *out < lo || *out > hi) {
    return Invalid(option, value, absl::StrFormat("expected an integer in [%d, %d]", lo, hi));
  }
  return absl::OkStatus();
}

absl::Status ParseUint64In(absl::string_view option, absl::string_view value, uint64_t lo,
                           uint64_t hi, uint64_t* out) {
  if (value.empty() || value[0] == '-' || !absl::SimpleAtoi(value, out) || *out < lo || *out > hi) {
    return Invalid(option, value, absl::StrFormat("expected an integer in [%u, %u]", lo, hi));
  }
  return absl::OkStatus();
}

absl::Status ParseRatio(absl::string_view value, BenchOptions* options) {
  const std::vector<absl::string_view> parts = absl::StrSplit(value, ':');
  uint32_t sets = 0;
  uint32_t gets = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &sets) || !absl::SimpleAtoi(parts[1], &gets) ||
      parts[0].empty() || parts[1].empty() || parts[0][0] == '-' || parts[1][0] == '-') {
    return Invalid("--ratio", value, "expected SET:GET, two non-negative integers such as 1:10");
  }
  if (sets == 0 && gets == 0) return Invalid("--ratio", value, "SET and GET cannot both be 0");
  if (sets > 1000000 || gets > 1000000) return Invalid("--ratio", value, "each side at most 1000000");
  options->ratio_sets = sets;
  options->ratio_gets = gets;
  return absl::OkStatus();
}

// One entry per option: its name, whether it takes a value, and what to do with it.
struct OptionSpec {
  absl::string_view name;
  bool takes_value;
  std::function<absl::Status(absl::string_view value, BenchOptions* options)> apply;
};

// Options whose absence means something: a default that depends on other options, or a
// combination to refuse.
struct GivenOptions {
  bool requests = false;
  bool scan_start = false;
  bool data_size = false;
  bool pubsub_channel = false;
  bool resp = false;
};

std::vector<OptionSpec> OptionTable(GivenOptions* given) {
  std::vector<OptionSpec> table;
  auto integer = [](absl::string_view name, int lo, int hi, int BenchOptions::*field) {
    return OptionSpec{name, true, [name, lo, hi, field](absl::string_view v, BenchOptions* o) {
                        int64_t n = 0;
                        absl::Status s = ParseIntIn(name, v, lo, hi, &n);
                        if (s.ok()) o->*field = static_cast<int>(n);
                        return s;
                      }};
  };
  auto text = [](absl::string_view name, std::string BenchOptions::*field) {
    return OptionSpec{name, true, [name, field](absl::string_view v, BenchOptions* o) {
                        if (v.empty()) return Invalid(name, "''", "must not be empty");
                        o->*field = std::string(v);
                        return absl::OkStatus();
                      }};
  };
  auto seconds = [](absl::string_view name, double BenchOptions::*field) {
    return OptionSpec{name, true, [name, field](absl::string_view v, BenchOptions* o) {
                        double d = 0;
                        if (!absl::SimpleAtod(v, &d) || !std::isfinite(d) || d <= 0 || d > 1e7) {
                          return Invalid(name, v, "expected a positive number of seconds");
                        }
                        o->*field = d;
                        return absl::OkStatus();
                      }};
  };
  table.push_back(text("--host", &BenchOptions::host));
  table.push_back(integer("--port", 1, 65535, &BenchOptions::port));
  table.push_back(integer("--threads", 1, kMaxThreads, &BenchOptions::threads));
  table.push_back(integer("--clients", 1, kMaxClientsPerThread, &BenchOptions::clients_per_thread));
  table.push_back(integer("--pipeline", 1, kMaxPipeline, &BenchOptions::pipeline));
  table.push_back({"--requests", true, [given](absl::string_view v, BenchOptions* o) {
                     given->requests = true;
                     return ParseUint64In("--requests", v, 1, kMaxKeyIndex, &o->requests);
                   }});
  table.push_back(seconds("--test-time", &BenchOptions::test_time_sec));
  table.push_back({"--ratio", true, [](absl::string_view v, BenchOptions* o) { return ParseRatio(v, o); }});
  table.push_back({"--data-size", true, [given](absl::string_view v, BenchOptions* o) {
                     given->data_size = true;
                     uint64_t n = 0;
                     absl::Status s = ParseUint64In("--data-size", v, 1, kMaxDataSize, &n);
                     o->data_size = static_cast<size_t>(n);
                     return s;
                   }});
  table.push_back({"--key-prefix", true, [](absl::string_view v, BenchOptions* o) {
                     o->key_prefix = std::string(v);  // empty is fine: keys are then bare numbers
                     return absl::OkStatus();
                   }});
  table.push_back({"--key-min", true, [](absl::string_view v, BenchOptions* o) {
                     return ParseUint64In("--key-min", v, 0, kMaxKeyIndex, &o->key_min);
                   }});
  table.push_back({"--key-max", true, [](absl::string_view v, BenchOptions* o) {
                     return ParseUint64In("--key-max", v, 0, kMaxKeyIndex, &o->key_max);
                   }});
  table.push_back({"--key-pattern", true, [](absl::string_view v, BenchOptions* o) {
                     absl::StatusOr<KeyPattern> pattern = ParseKeyPattern(v);
                     if (!pattern.ok()) return pattern.status();
                     o->key_pattern = *pattern;
                     return absl::OkStatus();
                   }});
  table.push_back({"--seed", true, [](absl::string_view v, BenchOptions* o) {
                     return ParseUint64In("--seed", v, 0, std::numeric_limits<uint64_t>::max(), &o->seed);
                   }});
  table.push_back({"--resp", true, [given, integer](absl::string_view v, BenchOptions* o) {
                     given->resp = true;
                     return integer("--resp", 2, 3, &BenchOptions::resp).apply(v, o);
                   }});
  table.push_back(text("--auth", &BenchOptions::auth));
  table.push_back({"--cache-aside", false, [](absl::string_view, BenchOptions* o) {
                     o->cache_aside = true;
                     return absl::OkStatus();
                   }});
  table.push_back(text("--source", &BenchOptions::source_url));
  table.push_back(text("--source-query", &BenchOptions::source_query));
  table.push_back(integer("--source-pool", 1, kMaxSourcePool, &BenchOptions::source_pool));
  table.push_back({"--cold-storm", true, [](absl::string_view v, BenchOptions* o) {
                     return ParseUint64In("--cold-storm", v, 1, kMaxKeyIndex, &o->cold_storm);
                   }});
  table.push_back(integer("--scan-share", 0, 100, &BenchOptions::scan_share));
  table.push_back({"--scan-start", true, [given](absl::string_view v, BenchOptions* o) {
                     given->scan_start = true;
                     return ParseUint64In("--scan-start", v, 0, kMaxKeyIndex, &o->scan_start);
                   }});
  table.push_back(integer("--pubsub-subscribers", 1, kMaxSubscribers, &BenchOptions::pubsub_subscribers));
  table.push_back({"--pubsub-channel", true, [given, text](absl::string_view v, BenchOptions* o) {
                     given->pubsub_channel = true;
                     return text("--pubsub-channel", &BenchOptions::pubsub_channel).apply(v, o);
                   }});
  table.push_back({"--tracking", false, [](absl::string_view, BenchOptions* o) {
                     o->tracking = true;
                     return absl::OkStatus();
                   }});
  table.push_back(text("--json", &BenchOptions::json_path));
  table.push_back(text("--plot", &BenchOptions::plot_path));
  table.push_back(text("--compare", &BenchOptions::compare_path));
  table.push_back(text("--label", &BenchOptions::label));
  table.push_back(seconds("--reply-timeout", &BenchOptions::reply_timeout_sec));
  table.push_back({"--help", false, [](absl::string_view, BenchOptions* o) {
                     o->help = true;
                     return absl::OkStatus();
                   }});
  return table;
}

}  // namespace

absl::StatusOr<BenchOptions> ParseBenchOptions(const std::vector<std::string>& args) {
  BenchOptions options;
  GivenOptions given;
  const std::vector<OptionSpec> table = OptionTable(&given);
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "-h") arg = "--help";
    absl::string_view name = arg;
    absl::string_view value;
    bool has_inline_value = false;
    if (const size_t eq = arg.find('='); arg.substr(0, 2) == "--" && eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_inline_value = true;
    }
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& candidate : table) {
      if (candidate.name == name) spec = &candidate;
    }
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option '", arg, "'"));
    }
    if (!spec->takes_value && has_inline_value) {
      return absl::InvalidArgumentError(absl::StrCat(name, " takes no value"));
    }
    if (spec->takes_value && !has_inline_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
      }
      value = args[++i];
    }
    if (absl::Status s = spec->apply(value, &options); !s.ok()) return s;
  }
  if (options.help) return options;

  if (given.requests && options.timed()) {
    return absl::InvalidArgumentError("--requests and --test-time are exclusive: give one of them");
  }
  if (options.key_min > options.key_max) {
    return absl::InvalidArgumentError(absl::StrFormat("--key-min %u is above --key-max %u",
                                                      options.key_min, options.key_max));
  }
  if (!options.compare_path.empty() && options.plot_path.empty()) {
    return absl::InvalidArgumentError("--compare FILE.json only makes sense with --plot FILE.png");
  }
  if (options.cold_storm > 0 && (given.requests || options.timed())) {
    return absl::InvalidArgumentError(
        "--cold-storm N sends exactly N requests: do not combine it with --requests or --test-time");
  }
  if (options.has_source() != !options.source_query.empty()) {
    return absl::InvalidArgumentError("--source URL and --source-query SQL go together: give both or neither");
  }
  if (options.has_source() && !options.cache_aside) {
    return absl::InvalidArgumentError("--source only makes sense with --cache-aside (it is what a miss queries)");
  }
  if (options.source_pool > 0 && !options.has_source()) {
    return absl::InvalidArgumentError("--source-pool N only makes sense with --source URL");
  }
  if (options.scan_share > 0 && !options.cache_aside) {
    return absl::InvalidArgumentError("--scan-share only makes sense with --cache-aside (a scan key is SET on its miss)");
  }
  if (options.scan_share > 0 && options.cold_storm > 0) {
    return absl::InvalidArgumentError("--scan-share does not combine with --cold-storm (every storm key is one-time)");
  }
  if (given.scan_start && options.scan_share == 0) {
    return absl::InvalidArgumentError("--scan-start N only makes sense with --scan-share PERCENT");
  }
  if (!given.scan_start) options.scan_start = options.key_max + 1;
  if (options.scan_start <= options.key_max) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--scan-start %u is not above --key-max %u: scan keys must never be keys of the pattern",
        options.scan_start, options.key_max));
  }
  if (given.pubsub_channel && !options.pubsub()) {
    return absl::InvalidArgumentError("--pubsub-channel NAME only makes sense with --pubsub-subscribers N");
  }
  if (options.pubsub()) {
    if (options.cache_aside || options.cold_storm > 0) {
      return absl::InvalidArgumentError(
          "--pubsub-subscribers does not combine with --cache-aside or --cold-storm (its clients only PUBLISH)");
    }
    if (!given.data_size) options.data_size = kPublishStampBytes;
    if (options.data_size < kPublishStampBytes) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--data-size %u is below %u: every --pubsub-subscribers message starts with its send time and "
          "sequence (%u bytes)",
          options.data_size, kPublishStampBytes, kPublishStampBytes));
    }
  }
  if (options.tracking) {
    // RESP2 has no push frames: a RESP2 client only hears of invalidations on another
    // connection (REDIRECT), which is not the load this option measures.
    if (given.resp && options.resp == 2) {
      return absl::InvalidArgumentError(
          "--tracking needs RESP3 (invalidations arrive as push frames on the same connection): drop --resp 2");
    }
    if (options.pubsub()) {
      return absl::InvalidArgumentError(
          "--tracking does not combine with --pubsub-subscribers (its clients only PUBLISH: they read no key)");
    }
    options.resp = 3;
  }
  return options;
}

std::string DescribeLoad(const BenchOptions& o) {
  std::string bound = o.cold_storm > 0 ? absl::StrCat("cold storm of ", o.cold_storm, " keys")
                      : o.timed()      ? absl::StrFormat("%gs", o.test_time_sec)
                                       : absl::StrCat(o.requests, " requests");
  std::string text = absl::StrFormat("%s:%d, %d thread%s x %d clients, pipeline %d, %s", o.host, o.port,
                                     o.threads, o.threads == 1 ? "" : "s", o.clients_per_thread,
                                     o.pipeline, bound);
  if (o.pubsub()) {
    absl::StrAppendFormat(&text, ", PUBLISH to channel '%s' with %d subscriber%s, %d-byte messages",
                          o.pubsub_channel, o.pubsub_subscribers, o.pubsub_subscribers == 1 ? "" : "s", o.data_size);
    if (o.resp == 3) absl::StrAppend(&text, ", RESP3");
    return text;
  }
  if (o.cold_storm == 0) {
    absl::StrAppend(&text, ", ratio ", o.ratio_sets, ":", o.ratio_gets, ", keys ", o.key_prefix, "[",
                    o.key_min, "..", o.key_max, "] ", KeyPatternName(o.key_pattern));
  }
  // With --source, the cache-aside SETs carry what the database returned; the filler size only
  // matters for the SETs of the ratio.
  if (!o.has_source() || o.ratio_sets > 0) absl::StrAppend(&text, ", ", o.data_size, "-byte values");
  if (o.cache_aside) absl::StrAppend(&text, o.has_source() ? ", cache-aside from --source" : ", cache-aside");
  if (o.scan_share > 0) {
    absl::StrAppend(&text, ", ", o.scan_share, "% of GETs scan one-time keys ", o.key_prefix, "[", o.scan_start, "..]");
  }
  if (o.tracking) absl::StrAppend(&text, ", CLIENT TRACKING on");
  if (o.resp == 3) absl::StrAppend(&text, ", RESP3");
  return text;
}

std::string BenchUsage() {
  return R"(Usage: strata-bench [OPTIONS]

A memtier-style load generator for Redis-compatible servers (strata, redis-server).
Each thread runs an epoll loop over its own connections; each connection keeps up to
--pipeline requests in flight and sends every batch with one write.

Connection:
  --host HOST            server address (default 127.0.0.1)
  --port PORT            server port (default 6379)
  --threads N            worker threads (default 1)
  --clients N            connections PER THREAD (default 50); total = threads x clients
  --pipeline N           requests in flight per connection (default 1)
  --resp 2|3             protocol version; 3 sends HELLO 3 first (default 2; 3 with
                         --tracking)
  --auth CREDENTIALS     send AUTH before the load: PASSWORD, or USER:PASSWORD (ACL user)
  --reply-timeout SEC    give up (exit 1) if a connection with requests in flight gets no reply
                         for this long, or cannot connect within it (default 10)

Length of the run (give at most one; default --requests 100000):
  --requests N           TOTAL number of requests over all threads and clients (not per
                         client, unlike memtier): each client gets N / (threads x clients),
                         the first N mod that count get one more
  --test-time SEC        run for SEC seconds instead

Workload:
  --ratio SET:GET        SET to GET ratio (default 1:10); each client interleaves them
                         deterministically and evenly, so 1:10 is exactly 1 SET in every 11
                         requests (up to rounding at the end); 1:0 and 0:1 are allowed
  --data-size BYTES      value size of SETs (default 32); content is deterministic
  --key-prefix PREFIX    keys are PREFIX followed by a decimal index (default "key:")
  --key-min N            smallest key index (default 0)
  --key-max N            largest key index (default 99999)
  --key-pattern P        how clients pick key indices (default uniform):
                           uniform     every index equally likely
                           sequential  client c of C asks key-min+c, +c+C, +c+2C, ...,
                                       wrapping: together the clients sweep the range in order
                           gaussian    normal around the middle, sd = (key-max - key-min)/6,
                                       clamped into the range
                           zipf:S      P(rank r) ~ 1/r^S with rank 1 = key-min (hottest);
                                       any S > 0, e.g. zipf:0.99 or zipf:1.2
  --seed N               seed of every client's key sequence (default 1; same seed, same keys)

Caching workloads:
  --cache-aside          on a GET miss, SET the key (as an application filling its cache
                         would); these SETs come on top of --requests, do not take a slot of
                         the ratio, and are counted as sets and as requests
  --source URL           with --cache-aside: on a GET miss, query this database and SET the
                         value it returns instead of a --data-size filler; URL is what a
                         strata `source` line takes: sqlite:PATH or
                         postgresql://user@host:port/db. The queries run through strata's own
                         source code (loaders/), on the source's pool threads; the waiting
                         client stalls (sends nothing) until its answer is in, while the
                         other clients of its thread keep going (the answer comes back into
                         the thread's epoll loop through an eventfd). A pending query holds
                         one of the client's --pipeline slots, so --pipeline 1 models a
                         thread-per-request application: GET, nil, query, SET, next GET.
                         A row that is not found (no row, NULL) is not SET; a failed query
                         (each has --reply-timeout as its timeout) is counted as a source
                         error and fails the run (exit 1)
  --source-query SQL     the query, with the :id parameter bound (as text, never spliced)
                         to the key's index: the decimal part after --key-prefix, e.g.
                         "SELECT name FROM products WHERE id = :id" for product:<id>;
                         the first column of the first row is the value
  --source-pool N        database connections (sqlite: reader threads) of the source
                         (default: the source's own default, 4, as for a strata `source`
                         line); every query is counted (source_queries)
  --scan-share PERCENT   with --cache-aside: PERCENT (0..100, default 0) of the GETs, spread
                         evenly (10: every tenth), ask one-time keys instead of --key-pattern
                         ones, a sequential scan polluting the cache: client c of C asks
                         PREFIX<S+c>, <S+c+C>, <S+c+2C>, ... (S = --scan-start), never
                         wrapping, so no scan key is asked twice in the run. Each misses and
                         is SET once; they count as GETs (hits, misses, hit ratio, LOOKUP) as
                         an application's own scan would
  --scan-start S         first index of the scan keys (default --key-max + 1; must be above
                         --key-max). A run after another on the same server (measuring after
                         a warm-up) starts past the keys the first one scanned, so that it
                         does not find them cached
  --cold-storm N         request N distinct keys that were never seen before, all clients
                         at once: GETs of N keys under a fresh random prefix
                         (PREFIXcold-<random>:0 .. N-1), each key exactly once; reports how
                         many came back nil (misses) and how many with a value (hits, e.g.
                         from a loader). Excludes --requests and --test-time; ignores
                         --ratio and the --key-* options; combines with --cache-aside

Client-side caching:
  --tracking             every client connection sends CLIENT TRACKING on after its
                         handshake (default mode: the server remembers the keys each client
                         GETs and tells it once when one of them changes, by any client's
                         SET, the client's own included). Implies --resp 3 (refuses --resp
                         2): the invalidations arrive as RESP3 push frames (>) between the
                         replies. Each push is skipped, never taken for the reply to a
                         request, and counted; the report adds a line with the
                         invalidation pushes received (JSON: "invalidations") and any other
                         push ("other_pushes"), up to the end of each client's share (those
                         still on their way then are not counted). Every reply is checked
                         for its request's type (SET: +OK, GET: a string or nil), so a push
                         taken for a reply would show as errors. Does not combine with
                         --pubsub-subscribers

Pub/sub:
  --pubsub-subscribers N open N more connections (spread over the threads, read in the same
                         loops as the clients) that SUBSCRIBE to the channel; the load starts
                         once every subscription is confirmed. The clients then send
                         PUBLISH CHANNEL PAYLOAD instead of SET/GET (--requests of them in
                         all, or for --test-time), --pipeline in flight each; --ratio, the
                         --key-* options and --seed do not apply. PAYLOAD is --data-size bytes
                         (default 40 in this mode, the least) and starts with a fixed-width
                         stamp: "<send time, CLOCK_MONOTONIC ns, 19 digits> <publisher, 7
                         digits> <sequence, 12 digits>". Every subscriber parses every message
                         it gets: delivery latency (from the write of the PUBLISH's batch to the
                         read that received the message), a count, and each publisher's
                         sequence, which must arrive in order. Once the clients are done, the
                         run waits for every message to reach every subscriber, as long as
                         deliveries keep coming (it gives up after --reply-timeout without
                         one). The report adds a PUBLISH row (the replies, receiver counts,
                         to the clients), a DELIVER row (one per message a subscriber got;
                         Ops/sec is deliveries per second until the last one; Errors counts
                         messages missing, out of order or not ours) and a line with messages
                         published, delivered of expected (published x N), missing, out of
                         order. Any of these three, or a PUBLISH error reply, exits 1. Does
                         not combine with --cache-aside or --cold-storm
  --pubsub-channel NAME  the channel (default "strata-bench"); a run's messages are checked,
                         so no one else should publish to it meanwhile

Output:
  The report on stdout gives ops/s, hits, misses, hit ratio, errors and latency (mean, p50,
  p90, p99, p99.9, max in microseconds) for SET, GET and the total. Latencies are measured
  from the write of a request's batch to the read that completed its reply, into log-linear
  histograms with 1 us resolution and at most 0.78% relative error.
  Counting: every request is exactly one of a SET, a GET hit, a GET miss, or an error reply,
  so requests = sets + hits + misses + errors.
  With --cache-aside a LOOKUP row follows: one per GET of the load, what the application
  waited for: from the GET's send until the value was in hand (a hit: the GET's reply; a
  miss: the reply to its cache-aside SET, after the --source query if any; a row the
  database does not have: the query's answer). Its Ops/sec is lookups per second, the
  application's throughput; its Errors are error replies plus failed source queries.
  With --source, the report also counts source queries (source_queries in the JSON), and how
  many found a value, found nothing, or failed.
  While running, a progress line is updated once a second on stderr if it is a terminal.
  --json FILE            also write the report as JSON, including the full latency
                         percentile distribution of each command (for --compare)
  --plot FILE.png        draw the latency percentile distribution (HdrHistogram style: log
                         x axis over percentiles) with gnuplot (Debian: gnuplot-nox). The
                         report ends with "Plot: FILE" when it was drawn; if it could not be
                         (no gnuplot, gnuplot failed), the figures are still printed, the
                         report ends with "Plot: NOT DRAWN (FILE): why", and the exit status
                         is 3
  --compare OTHER.json   also draw the run saved in OTHER.json (from --json) on the plot
  --label TEXT           name of this run in the plot and the JSON (default: the load)
  -h, --help             this text

Exit status:
  0  the run completed and every reply was a success
  1  the run failed (cannot connect, connection closed, no reply in time, protocol error,
     AUTH/HELLO refused) or completed with error replies (counted and reported), or an output
     file could not be written
  2  bad command line
  3  the run completed with no error replies, but the --plot picture was not drawn (the
     figures printed and the --json report are valid)
)";
}

}  // namespace strata_bench
