// Unit tests of server/config.h: line splitting, memory units, config files (comments, quoting,
// includes, error locations), command-line arguments, CONFIG GET patterns and CONFIG SET rules.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/config.h"

namespace strata::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// A scratch directory for config files, removed with its files at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "strata-config-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    const char* made = mkdtemp(buf.data());
    EXPECT_NE(made, nullptr);
    path_ = made != nullptr ? made : "/tmp";
  }
  ~TempDir() {
    for (const std::string& f : files_) unlink(f.c_str());
    rmdir(path_.c_str());
  }
  std::string Write(const std::string& name, const std::string& contents) {
    std::string file = path_ + "/" + name;
    std::ofstream(file) << contents;
    files_.push_back(file);
    return file;
  }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

std::string GetOne(Config& config, std::string_view name) {
  auto got = config.Get({name});
  EXPECT_EQ(got.size(), 1u) << name;
  return got.empty() ? std::string("<none>") : got[0].second;
}

// =============================================================================================
// SplitConfigLine

TEST(SplitConfigLine, SplitsOnSpaces) {
  auto words = SplitConfigLine("bind 127.0.0.1   ::1");
  ASSERT_TRUE(words.ok());
  EXPECT_THAT(*words, ElementsAre("bind", "127.0.0.1", "::1"));
}

TEST(SplitConfigLine, DoubleQuotesKeepSpacesAndTakeEscapes) {
  auto words = SplitConfigLine("requirepass \"pass word\\x21\\n\"");
  ASSERT_TRUE(words.ok());
  EXPECT_THAT(*words, ElementsAre("requirepass", "pass word!\n"));
}

TEST(SplitConfigLine, SingleQuotesAreLiteral) {
  auto words = SplitConfigLine("logfile 'C:\\logs\\it\\'s.log'");
  ASSERT_TRUE(words.ok());
  EXPECT_THAT(*words, ElementsAre("logfile", "C:\\logs\\it's.log"));
}

TEST(SplitConfigLine, EmptyQuotesAreAnEmptyWord) {
  auto words = SplitConfigLine("save \"\"");
  ASSERT_TRUE(words.ok());
  EXPECT_THAT(*words, ElementsAre("save", ""));
}

TEST(SplitConfigLine, UnbalancedQuotesAreAnError) {
  EXPECT_FALSE(SplitConfigLine("requirepass \"abc").ok());
  EXPECT_FALSE(SplitConfigLine("requirepass 'abc").ok());
  EXPECT_FALSE(SplitConfigLine("requirepass \"abc\"def").ok());
}

// =============================================================================================
// ParseMemory

TEST(ParseMemory, PlainNumbersAreBytes) {
  EXPECT_EQ(*ParseMemory("0"), 0);
  EXPECT_EQ(*ParseMemory("12345"), 12345);
  EXPECT_EQ(*ParseMemory("100b"), 100);
}

TEST(ParseMemory, SingleLetterUnitsArePowersOfTen) {
  EXPECT_EQ(*ParseMemory("1k"), 1000);
  EXPECT_EQ(*ParseMemory("2m"), 2'000'000);
  EXPECT_EQ(*ParseMemory("3g"), 3'000'000'000);
}

TEST(ParseMemory, TwoLetterUnitsArePowersOfTwo) {
  EXPECT_EQ(*ParseMemory("1kb"), 1024);
  EXPECT_EQ(*ParseMemory("2mb"), 2 * 1024 * 1024);
  EXPECT_EQ(*ParseMemory("1gb"), 1024LL * 1024 * 1024);
}

TEST(ParseMemory, UnitsAreCaseInsensitive) {
  EXPECT_EQ(*ParseMemory("1GB"), 1024LL * 1024 * 1024);
  EXPECT_EQ(*ParseMemory("1Gb"), 1024LL * 1024 * 1024);
  EXPECT_EQ(*ParseMemory("5K"), 5000);
  EXPECT_EQ(*ParseMemory("5KB"), 5120);
}

TEST(ParseMemory, GarbageIsAnError) {
  for (const char* text : {"", "12zz", "zz", "kb", "1.5mb", "1 kb", " 1", "1tb", "1kbb", "0x10", "1e3"}) {
    EXPECT_FALSE(ParseMemory(text).ok()) << "'" << text << "'";
  }
}

TEST(ParseMemory, NegativeValuesKeepTheirSign) {
  // Redis's memtoll: the sign applies to the scaled value.
  EXPECT_EQ(*ParseMemory("-1"), -1);
  EXPECT_EQ(*ParseMemory("-1k"), -1000);
  EXPECT_EQ(*ParseMemory("-2kb"), -2048);
}

TEST(ParseMemory, OverflowIsAnError) {
  EXPECT_EQ(*ParseMemory("9223372036854775807"), INT64_MAX);
  EXPECT_FALSE(ParseMemory("9223372036854775807k").ok());
  EXPECT_FALSE(ParseMemory("9007199254740992kb").ok());  // 2^53 * 1024 = 2^63
  EXPECT_FALSE(ParseMemory("9223372036854775808").ok());
}

// =============================================================================================
// Defaults

TEST(Config, DefaultsAreRedisDefaults) {
  Config config;
  EXPECT_EQ(config.port.load(), 6379);
  EXPECT_EQ(config.databases.load(), 16);
  EXPECT_EQ(config.maxmemory.load(), 0);
  EXPECT_EQ(config.maxmemory_policy.load(), static_cast<int>(MaxmemoryPolicy::kNoEviction));
  EXPECT_EQ(config.hz.load(), 10);
  EXPECT_THAT(config.bind(), ElementsAre("127.0.0.1", "::1"));
  EXPECT_EQ(GetOne(config, "maxmemory-policy"), "noeviction");
  EXPECT_EQ(GetOne(config, "port"), "6379");
}

// =============================================================================================
// LoadFile

TEST(Config, LoadFileAppliesDirectivesAndSkipsCommentsAndBlankLines) {
  TempDir dir;
  std::string file = dir.Write("strata.conf",
                               "# a comment\n"
                               "\n"
                               "   \n"
                               "port 7001\n"
                               "  # an indented comment\n"
                               "maxmemory 100mb\n"
                               "maxmemory-policy allkeys-lru\n"
                               "requirepass \"secret with spaces\"\n"
                               "bind 0.0.0.0 ::\n"
                               "protected-mode no\n"
                               "save \"\"\n"
                               "appendonly no\n"
                               "\tloglevel warning   \n");
  Config config;
  ASSERT_TRUE(config.LoadFile(file).ok());
  EXPECT_EQ(config.port.load(), 7001);
  EXPECT_EQ(config.maxmemory.load(), 100LL * 1024 * 1024);
  EXPECT_EQ(config.maxmemory_policy.load(), static_cast<int>(MaxmemoryPolicy::kAllKeysLru));
  EXPECT_EQ(config.requirepass(), "secret with spaces");
  EXPECT_THAT(config.bind(), ElementsAre("0.0.0.0", "::"));
  EXPECT_FALSE(config.protected_mode.load());
  EXPECT_EQ(config.loglevel.load(), static_cast<int>(LogLevel::kWarning));
  EXPECT_EQ(config.config_file(), file);
}

TEST(Config, LoadFileAcceptsCrlfLineEndings) {
  TempDir dir;
  std::string file = dir.Write("crlf.conf", "port 7002\r\nhz 20\r\n");
  Config config;
  ASSERT_TRUE(config.LoadFile(file).ok());
  EXPECT_EQ(config.port.load(), 7002);
  EXPECT_EQ(config.hz.load(), 20);
}

TEST(Config, DirectiveNamesAreCaseInsensitive) {
  TempDir dir;
  std::string file = dir.Write("case.conf", "PORT 7003\nMaxMemory-Policy volatile-ttl\n");
  Config config;
  ASSERT_TRUE(config.LoadFile(file).ok());
  EXPECT_EQ(config.port.load(), 7003);
  EXPECT_EQ(config.maxmemory_policy.load(), static_cast<int>(MaxmemoryPolicy::kVolatileTtl));
}

TEST(Config, IncludeLoadsASecondFileInPlace) {
  TempDir dir;
  std::string second = dir.Write("second.conf", "port 7100\nhz 50\n");
  std::string main = dir.Write("main.conf", "port 7000\ninclude " + second + "\nhz 60\n");
  Config config;
  ASSERT_TRUE(config.LoadFile(main).ok());
  EXPECT_EQ(config.port.load(), 7100);  // the include came after "port 7000"
  EXPECT_EQ(config.hz.load(), 60);      // and before "hz 60"
}

TEST(Config, ErrorsInAnIncludedFileNameThatFileAndLine) {
  TempDir dir;
  std::string second = dir.Write("second.conf", "hz 10\nno-such-directive 1\n");
  std::string main = dir.Write("main.conf", "include " + second + "\n");
  Config config;
  absl::Status s = config.LoadFile(main);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(second + ":2"));
}

TEST(Config, AFileIncludingItselfIsAnErrorNotAnEndlessLoop) {
  TempDir dir;
  std::string path = dir.Write("self.conf", "");
  dir.Write("self.conf", "include " + path + "\n");
  Config config;
  EXPECT_FALSE(config.LoadFile(path).ok());
}

TEST(Config, UnknownDirectiveNamesTheFileAndLine) {
  TempDir dir;
  std::string file = dir.Write("bad.conf", "# comment\nport 7000\nfrobnicate yes\n");
  Config config;
  absl::Status s = config.LoadFile(file);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(file + ":3"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("frobnicate"));
}

TEST(Config, BadValueNamesTheLineAndTheDirective) {
  TempDir dir;
  std::string file = dir.Write("bad.conf", "port 7000\n\nport seventy\n");
  Config config;
  absl::Status s = config.LoadFile(file);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(file + ":3"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("port seventy"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("argument couldn't be parsed into an integer"));
}

TEST(Config, OutOfRangeValuesAreErrors) {
  TempDir dir;
  for (const char* line : {"port 65536", "port -1", "hz -1", "maxmemory -5mb", "databases 0", "maxclients 0",
                           "maxmemory-policy lru", "protected-mode maybe", "port 1 2", "port"}) {
    std::string file = dir.Write("range.conf", std::string(line) + "\n");
    Config config;
    absl::Status s = config.LoadFile(file);
    EXPECT_FALSE(s.ok()) << line;
    EXPECT_THAT(std::string(s.message()), HasSubstr(file + ":1")) << line;
  }
}

TEST(Config, UnbalancedQuotesInAFileNameTheLine) {
  TempDir dir;
  std::string file = dir.Write("quotes.conf", "port 7000\nrequirepass \"abc\n");
  Config config;
  absl::Status s = config.LoadFile(file);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(file + ":2"));
}

TEST(Config, AMissingFileIsAnErrorNamingIt) {
  Config config;
  absl::Status s = config.LoadFile("/nonexistent/strata.conf");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("/nonexistent/strata.conf"));
}

// =============================================================================================
// LoadArgs

TEST(Config, LoadArgsReadsTheFileThenAppliesCommandLineDirectives) {
  TempDir dir;
  std::string file = dir.Write("strata.conf", "port 6380\nbind 0.0.0.0\nhz 42\n");
  Config config;
  ASSERT_TRUE(config.LoadArgs({file, "--port", "7000", "--bind", "127.0.0.1", "::1"}).ok());
  EXPECT_EQ(config.port.load(), 7000);
  EXPECT_THAT(config.bind(), ElementsAre("127.0.0.1", "::1"));
  EXPECT_EQ(config.hz.load(), 42);
  EXPECT_EQ(config.config_file(), file);
}

TEST(Config, LoadArgsWithoutAFile) {
  Config config;
  ASSERT_TRUE(config.LoadArgs({"--maxmemory", "1gb", "--maxmemory-policy", "allkeys-lfu"}).ok());
  EXPECT_EQ(config.maxmemory.load(), 1024LL * 1024 * 1024);
  EXPECT_EQ(config.maxmemory_policy.load(), static_cast<int>(MaxmemoryPolicy::kAllKeysLfu));
  EXPECT_EQ(config.config_file(), "");
}

TEST(Config, LoadArgsAcceptsNoArguments) {
  Config config;
  EXPECT_TRUE(config.LoadArgs({}).ok());
  EXPECT_EQ(config.port.load(), 6379);
}

TEST(Config, LoadArgsErrorsNameTheCommandLine) {
  Config config;
  absl::Status s = config.LoadArgs({"--port", "notaport"});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("command line"));
  s = config.LoadArgs({"--no-such-thing", "1"});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("no-such-thing"));
}

// =============================================================================================
// Get

TEST(Config, GetWithAGlobReturnsEveryMatchingDirective) {
  Config config;
  auto got = config.Get({"maxmemory*"});
  EXPECT_THAT(got, UnorderedElementsAre(Pair("maxmemory", "0"), Pair("maxmemory-policy", "noeviction"),
                                        Pair("maxmemory-samples", "5"), Pair("maxmemory-eviction-tenacity", "10"),
                                        Pair("maxmemory-clients", "0")));
}

TEST(Config, GetPatternsAreCaseInsensitive) {
  Config config;
  EXPECT_THAT(config.Get({"MAXMEMORY-POLICY"}), ElementsAre(Pair("maxmemory-policy", "noeviction")));
}

TEST(Config, GetWithSeveralPatternsReturnsEachDirectiveOnce) {
  Config config;
  auto got = config.Get({"port", "p*", "hz"});
  std::vector<std::string> names;
  for (const auto& [name, value] : got) names.push_back(name);
  EXPECT_THAT(names, UnorderedElementsAre("port", "protected-mode", "pidfile", "proto-max-bulk-len", "hz",
                                          "proc-title-template", "propagation-error-behavior"));
}

// Redis parameters for what strata does not have read as the value that describes strata and
// take only that value, in any spelling Redis accepts.
TEST(Config, AParameterStrataLacksTakesOnlyItsOwnValue) {
  Config config;
  EXPECT_THAT(config.Get({"repl-backlog-size"}), ElementsAre(Pair("repl-backlog-size", "1048576")));
  EXPECT_TRUE(config.Set("repl-backlog-size", "1mb").ok());
  EXPECT_TRUE(config.Set("activedefrag", "NO").ok());
  EXPECT_TRUE(config.Set("appendfsync", "EverySec").ok());
  absl::Status refused = config.Set("appendfsync", "always");
  EXPECT_EQ(refused.message(),
            "CONFIG SET failed (possibly related to argument 'appendfsync') - strata has no snapshots or append-only "
            "file: only appendfsync everysec is accepted");
  EXPECT_FALSE(config.Set("repl-backlog-size", "2mb").ok());
  EXPECT_FALSE(config.Set("activedefrag", "maybe").ok());
  EXPECT_THAT(config.Set("daemonize", "no").message(), testing::HasSubstr("can't set immutable config"));
  EXPECT_THAT(config.Set("dbfilename", "dump.rdb").message(), testing::HasSubstr("can't set protected config"));
  // A config file may give them (Debian's redis.conf does): the same rules, at start-up.
  EXPECT_TRUE(config.Apply({"oom-score-adj-values", "0", "200", "800"}, "test").ok());
  EXPECT_TRUE(config.Apply({"daemonize", "no"}, "test").ok());
  EXPECT_THAT(config.Apply({"daemonize", "yes"}, "test").message(), testing::HasSubstr("supervisor"));
}

TEST(Config, GetOfAnUnknownNameReturnsNothing) {
  Config config;
  EXPECT_THAT(config.Get({"no-such-directive"}), IsEmpty());
}

TEST(Config, GetReportsMemoryInBytesAndBindAsOneLine) {
  Config config;
  ASSERT_TRUE(config.Set("maxmemory", "2mb").ok());
  EXPECT_EQ(GetOne(config, "maxmemory"), "2097152");
  EXPECT_EQ(GetOne(config, "bind"), "127.0.0.1 ::1");
  EXPECT_EQ(GetOne(config, "protected-mode"), "yes");
  EXPECT_EQ(GetOne(config, "appendonly"), "no");
  EXPECT_EQ(GetOne(config, "save"), "");
}

// =============================================================================================
// Set

TEST(Config, SetChangesAMutableDirective) {
  Config config;
  ASSERT_TRUE(config.Set("maxclients", "500").ok());
  EXPECT_EQ(config.maxclients.load(), 500);
  EXPECT_EQ(GetOne(config, "maxclients"), "500");
  ASSERT_TRUE(config.Set("requirepass", "hunter2").ok());
  EXPECT_EQ(config.requirepass(), "hunter2");
  ASSERT_TRUE(config.Set("requirepass", "").ok());
  EXPECT_EQ(config.requirepass(), "");
}

TEST(Config, SetNameIsCaseInsensitive) {
  Config config;
  ASSERT_TRUE(config.Set("MaxClients", "501").ok());
  EXPECT_EQ(config.maxclients.load(), 501);
}

TEST(Config, SetOfAnImmutableDirectiveIsRefused) {
  Config config;
  for (const char* name : {"port", "databases", "bind", "io-threads", "dir"}) {
    absl::Status s = config.Set(name, "1");
    ASSERT_FALSE(s.ok()) << name;
    EXPECT_EQ(s.message(), "CONFIG SET failed (possibly related to argument '" + std::string(name) +
                               "') - can't set immutable config");
  }
  EXPECT_EQ(config.port.load(), 6379);
  EXPECT_EQ(config.databases.load(), 16);
}

TEST(Config, SetOfAnUnknownDirectiveUsesRedisWording) {
  Config config;
  absl::Status s = config.Set("x", "1");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "Unknown option or number of arguments for CONFIG SET - 'x'");
}

TEST(Config, SetOfABadIntegerNamesTheDirectiveAndKeepsTheOldValue) {
  Config config;
  absl::Status s = config.Set("maxclients", "lots");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an "
            "integer");
  EXPECT_EQ(config.maxclients.load(), 10000);
  s = config.Set("hz", "-1");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("'hz'"));
  EXPECT_EQ(config.hz.load(), 10);
  // As Redis: hz is accepted from 0 and held to 1..500.
  EXPECT_TRUE(config.Set("hz", "0").ok());
  EXPECT_EQ(config.hz.load(), 1);
  EXPECT_TRUE(config.Set("hz", "100000").ok());
  EXPECT_EQ(config.hz.load(), 500);
  EXPECT_FALSE(config.Set("maxclients", " 5").ok());
  EXPECT_FALSE(config.Set("maxclients", "5 ").ok());
}

TEST(Config, SetMemoryDirectivesTakeUnits) {
  Config config;
  ASSERT_TRUE(config.Set("maxmemory", "1GB").ok());
  EXPECT_EQ(config.maxmemory.load(), 1024LL * 1024 * 1024);
  ASSERT_TRUE(config.Set("maxmemory", "1k").ok());
  EXPECT_EQ(config.maxmemory.load(), 1000);
  EXPECT_FALSE(config.Set("maxmemory", "12zz").ok());
  EXPECT_FALSE(config.Set("maxmemory", "-1").ok());
  EXPECT_EQ(config.maxmemory.load(), 1000);
  ASSERT_TRUE(config.Set("proto-max-bulk-len", "1mb").ok());
  EXPECT_EQ(config.proto_max_bulk_len.load(), 1024 * 1024);
}

TEST(Config, MaxmemoryPolicyRoundTripsEveryValue) {
  Config config;
  const std::vector<std::pair<std::string, MaxmemoryPolicy>> policies = {
      {"noeviction", MaxmemoryPolicy::kNoEviction},       {"allkeys-lru", MaxmemoryPolicy::kAllKeysLru},
      {"allkeys-lfu", MaxmemoryPolicy::kAllKeysLfu},      {"allkeys-random", MaxmemoryPolicy::kAllKeysRandom},
      {"volatile-lru", MaxmemoryPolicy::kVolatileLru},    {"volatile-lfu", MaxmemoryPolicy::kVolatileLfu},
      {"volatile-random", MaxmemoryPolicy::kVolatileRandom}, {"volatile-ttl", MaxmemoryPolicy::kVolatileTtl}};
  for (const auto& [name, policy] : policies) {
    ASSERT_TRUE(config.Set("maxmemory-policy", name).ok()) << name;
    EXPECT_EQ(config.maxmemory_policy.load(), static_cast<int>(policy)) << name;
    EXPECT_EQ(GetOne(config, "maxmemory-policy"), name);
  }
}

TEST(Config, EnumValuesAreCaseInsensitiveAndReportedInLowerCase) {
  Config config;
  ASSERT_TRUE(config.Set("maxmemory-policy", "ALLKEYS-LRU").ok());
  EXPECT_EQ(GetOne(config, "maxmemory-policy"), "allkeys-lru");
  ASSERT_TRUE(config.Set("loglevel", "Verbose").ok());
  EXPECT_EQ(config.loglevel.load(), static_cast<int>(LogLevel::kVerbose));
  EXPECT_EQ(GetOne(config, "loglevel"), "verbose");
}

TEST(Config, AnUnknownEnumValueIsAnErrorAndKeepsTheOldValue) {
  Config config;
  ASSERT_TRUE(config.Set("maxmemory-policy", "allkeys-lru").ok());
  absl::Status s = config.Set("maxmemory-policy", "lru");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("'maxmemory-policy'"));
  EXPECT_EQ(GetOne(config, "maxmemory-policy"), "allkeys-lru");
}

TEST(Config, BooleanDirectivesTakeYesAndNo) {
  Config config;
  ASSERT_TRUE(config.Set("protected-mode", "no").ok());
  EXPECT_FALSE(config.protected_mode.load());
  EXPECT_EQ(GetOne(config, "protected-mode"), "no");
  ASSERT_TRUE(config.Set("protected-mode", "YES").ok());
  EXPECT_TRUE(config.protected_mode.load());
  EXPECT_FALSE(config.Set("protected-mode", "1").ok());
  EXPECT_TRUE(config.protected_mode.load());
}

TEST(Config, ClientOutputBufferLimitTakesSeveralWordsAndKeepsTheClassesNotNamed) {
  Config config;
  EXPECT_EQ(GetOne(config, "client-output-buffer-limit"), "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
  ASSERT_TRUE(config.Set("client-output-buffer-limit", "normal 1mb 0 0 pubsub 32mb 8mb 30").ok());
  EXPECT_EQ(GetOne(config, "client-output-buffer-limit"), "normal 1048576 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 30");
  EXPECT_EQ(config.output_limits[static_cast<int>(Config::ClientClass::kNormal)].hard.load(), 1048576);
  // All or nothing: a bad class after a good one changes neither.
  EXPECT_FALSE(config.Set("client-output-buffer-limit", "pubsub 1 1 1 vip 0 0 0").ok());
  EXPECT_EQ(config.output_limits[static_cast<int>(Config::ClientClass::kPubSub)].soft_seconds.load(), 30);
  EXPECT_FALSE(config.Set("client-output-buffer-limit", "normal 0 0").ok());
  EXPECT_FALSE(config.Set("client-output-buffer-limit", "normal 0 0 -1").ok());
}

TEST(Config, NotifyKeyspaceEventsReadsRedisLettersAndShowsThemInRedisOrder) {
  Config config;
  ASSERT_TRUE(config.Set("notify-keyspace-events", "KEA").ok());
  EXPECT_EQ(GetOne(config, "notify-keyspace-events"), "AKE");
  ASSERT_TRUE(config.Set("notify-keyspace-events", "Elg$").ok());
  EXPECT_EQ(GetOne(config, "notify-keyspace-events"), "g$lE");
  ASSERT_TRUE(config.Set("notify-keyspace-events", "KEAmnL").ok());
  EXPECT_EQ(GetOne(config, "notify-keyspace-events"), "AKEmL");  // 'n' hidden under A, as Redis shows it
  EXPECT_FALSE(config.Set("notify-keyspace-events", "KEz1").ok());
  EXPECT_EQ(GetOne(config, "notify-keyspace-events"), "AKEmL");
}

}  // namespace
}  // namespace strata::server
