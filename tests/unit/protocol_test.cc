// Unit tests of the protocol module: RequestParser (RESP multibulk and inline requests, with
// Redis's error texts and limits) and ReplyBuilder (exact RESP2 / RESP3 bytes).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "protocol/reply_builder.h"
#include "protocol/request_parser.h"

namespace strata::protocol {
namespace {

using namespace std::string_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Result = RequestParser::Result;
using Command = std::vector<std::string>;

// ---------------------------------------------------------------------------------------------
// Helpers

std::string Bytes(std::string_view s) { return std::string(s); }

// One RESP multibulk request for `args`.
std::string Multibulk(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

Command ArgsOf(const RequestParser& parser) {
  Command out;
  for (std::string_view a : parser.args()) out.emplace_back(a);
  return out;
}

// Parses exactly one complete command from `input`, which must be whole.
struct OneResult {
  Result result;
  Command args;
  size_t consumed;
  std::string error;
};

OneResult ParseOnce(std::string_view input, ParserLimits limits = {}) {
  RequestParser parser(limits);
  Result r = parser.Parse(input.data(), input.size());
  OneResult out{r, {}, 0, {}};
  if (r == Result::kOk) {
    out.args = ArgsOf(parser);
    out.consumed = parser.consumed();
  } else if (r == Result::kError) {
    out.error = parser.error();
  }
  return out;
}

std::string ParseError(std::string_view input, ParserLimits limits = {}) {
  OneResult r = ParseOnce(input, limits);
  EXPECT_EQ(r.result, Result::kError) << "input: " << testing::PrintToString(std::string(input));
  return r.error;
}

// A pipeline exercising every request shape: multibulk with empty and binary arguments, inline
// commands with quoting, blank inline lines, "*0" and "*-1" empty commands, and a long value.
struct Pipeline {
  std::string bytes;
  std::vector<Command> expected;  // one entry per kOk, empty commands included
};

Pipeline MakePipeline() {
  Pipeline p;
  auto add_multibulk = [&](const Command& args) {
    p.bytes += Multibulk(args);
    p.expected.push_back(args);
  };
  auto add_raw = [&](std::string_view raw, Command args) {
    p.bytes += raw;
    p.expected.push_back(std::move(args));
  };
  add_multibulk({"SET", "key", "value"});
  add_multibulk({"SET", "", ""});                                  // empty arguments
  add_multibulk({"SET", "bin", std::string("a\r\nb\0c\r\n", 8)});  // CRLF and NUL inside a value
  add_raw("*0\r\n", {});
  add_raw("PING\r\n", {"PING"});
  add_raw("  GET   spaced  \r\n", {"GET", "spaced"});
  add_raw("\r\n", {});                                             // blank inline line
  add_raw("ECHO \"a b\\n\\x41\" 'it\\'s'\n", {"ECHO", "a b\nA", "it's"});  // bare LF ending
  add_raw("*-1\r\n", {});
  add_multibulk({std::string(1, '\0'), std::string("\r\n"), std::string("\r"), std::string("\n")});
  add_multibulk({"SET", "big", std::string(300, 'x')});
  add_raw("GET \"\"\r\n", {"GET", ""});
  add_multibulk({"MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6"});
  add_raw("*1\r\n$0\r\n\r\n", {""});
  add_raw("QUIT\r\n", {"QUIT"});
  return p;
}

// Feeds the first `split` bytes (parsing every command they complete), then the whole buffer,
// as Connection does: a kNeedMore command is re-presented from its first byte with more bytes.
std::vector<Command> ParseWithSplit(const std::string& bytes, size_t split) {
  RequestParser parser;
  std::vector<Command> out;
  size_t offset = 0;
  for (;;) {
    Result r = parser.Parse(bytes.data() + offset, split - offset);
    if (r == Result::kNeedMore) break;
    EXPECT_EQ(r, Result::kOk) << "split " << split << ": " << parser.error();
    if (r != Result::kOk) return out;
    EXPECT_GT(parser.consumed(), 0u);
    out.push_back(ArgsOf(parser));
    offset += parser.consumed();
    EXPECT_LE(offset, split);
  }
  while (offset < bytes.size()) {
    Result r = parser.Parse(bytes.data() + offset, bytes.size() - offset);
    EXPECT_EQ(r, Result::kOk) << "split " << split << " at offset " << offset << ": " << parser.error();
    if (r != Result::kOk) return out;
    out.push_back(ArgsOf(parser));
    offset += parser.consumed();
  }
  EXPECT_EQ(offset, bytes.size());
  return out;
}

// ---------------------------------------------------------------------------------------------
// RequestParser: whole commands

TEST(RequestParser, ParsesAMultibulkCommand) {
  OneResult r = ParseOnce("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
  ASSERT_EQ(r.result, Result::kOk);
  EXPECT_THAT(r.args, ElementsAre("GET", "k"));
  EXPECT_EQ(r.consumed, 20u);
}

TEST(RequestParser, ConsumesOnlyTheFirstOfSeveralCommands) {
  std::string input = Multibulk({"PING"}) + Multibulk({"GET", "k"});
  OneResult r = ParseOnce(input);
  ASSERT_EQ(r.result, Result::kOk);
  EXPECT_THAT(r.args, ElementsAre("PING"));
  EXPECT_EQ(r.consumed, Multibulk({"PING"}).size());
}

TEST(RequestParser, ArgumentsViewTheCallersBytes) {
  std::string input = Multibulk({"SET", "key", "value"});
  RequestParser parser;
  ASSERT_EQ(parser.Parse(input.data(), input.size()), Result::kOk);
  ASSERT_EQ(parser.args().size(), 3u);
  EXPECT_GE(parser.args()[2].data(), input.data());
  EXPECT_LT(parser.args()[2].data(), input.data() + input.size());
}

TEST(RequestParser, KeepsBinaryArgumentsIntact) {
  std::string value("\0\r\n\0$3\r\n*1\r\n", 12);
  OneResult r = ParseOnce(Multibulk({"SET", "k", value}));
  ASSERT_EQ(r.result, Result::kOk);
  EXPECT_THAT(r.args, ElementsAre("SET", "k", value));
}

TEST(RequestParser, EmptyArgumentsAreArguments) {
  OneResult r = ParseOnce("*3\r\n$0\r\n\r\n$3\r\nfoo\r\n$0\r\n\r\n");
  ASSERT_EQ(r.result, Result::kOk);
  EXPECT_THAT(r.args, ElementsAre("", "foo", ""));
}

TEST(RequestParser, StarZeroIsAnEmptyCommand) {
  OneResult r = ParseOnce("*0\r\nPING\r\n");
  ASSERT_EQ(r.result, Result::kOk);
  EXPECT_THAT(r.args, IsEmpty());
  EXPECT_EQ(r.consumed, 4u);
}

TEST(RequestParser, StarMinusOneIsAnEmptyCommand) {
  OneResult r = ParseOnce("*-1\r\nPING\r\n");
  ASSERT_EQ(r.result, Result::kOk);
  EXPECT_THAT(r.args, IsEmpty());
  EXPECT_EQ(r.consumed, 5u);
}

TEST(RequestParser, ParserIsReusableAfterEachCommand) {
  RequestParser parser;
  for (int i = 0; i < 3; ++i) {
    std::string input = Multibulk({"INCR", "counter" + std::to_string(i)});
    ASSERT_EQ(parser.Parse(input.data(), input.size()), Result::kOk);
    EXPECT_THAT(ArgsOf(parser), ElementsAre("INCR", "counter" + std::to_string(i)));
  }
}

TEST(RequestParser, EmptyInputNeedsMore) {
  RequestParser parser;
  EXPECT_EQ(parser.Parse("", 0), Result::kNeedMore);
}

// ---------------------------------------------------------------------------------------------
// RequestParser: incremental input

TEST(RequestParser, EveryPipelineSplitPointYieldsTheSameCommands) {
  const Pipeline p = MakePipeline();
  for (size_t split = 0; split <= p.bytes.size(); ++split) {
    std::vector<Command> got = ParseWithSplit(p.bytes, split);
    ASSERT_EQ(got, p.expected) << "split at byte " << split;
  }
}

TEST(RequestParser, ByteByByteFeedingYieldsTheSameCommands) {
  const Pipeline p = MakePipeline();
  RequestParser parser;
  std::vector<Command> got;
  size_t offset = 0, end = 0;
  while (offset < p.bytes.size()) {
    Result r = parser.Parse(p.bytes.data() + offset, end - offset);
    if (r == Result::kNeedMore) {
      ASSERT_LT(end, p.bytes.size()) << "need-more with the whole pipeline present";
      ++end;
      continue;
    }
    ASSERT_EQ(r, Result::kOk) << parser.error();
    got.push_back(ArgsOf(parser));
    offset += parser.consumed();
    ASSERT_LE(offset, end);
  }
  EXPECT_EQ(got, p.expected);
}

TEST(RequestParser, RandomChunkingYieldsTheSameCommands) {
  const Pipeline p = MakePipeline();
  std::mt19937_64 rng(42);
  for (int round = 0; round < 200; ++round) {
    RequestParser parser;
    std::vector<Command> got;
    size_t offset = 0, end = 0;
    while (offset < p.bytes.size()) {
      Result r = parser.Parse(p.bytes.data() + offset, end - offset);
      if (r == Result::kNeedMore) {
        ASSERT_LT(end, p.bytes.size());
        end = std::min(p.bytes.size(), end + 1 + rng() % 40);
        continue;
      }
      ASSERT_EQ(r, Result::kOk) << parser.error();
      got.push_back(ArgsOf(parser));
      offset += parser.consumed();
    }
    ASSERT_EQ(got, p.expected) << "round " << round;
  }
}

TEST(RequestParser, EveryProperPrefixOfACommandNeedsMore) {
  for (const std::string& command :
       {Multibulk({"SET", "k", std::string("v\r\n", 3)}), Bytes("*0\r\n"), Bytes("*-1\r\n"),
        Bytes("GET k\r\n"), Multibulk({""})}) {
    for (size_t len = 0; len < command.size(); ++len) {
      RequestParser parser;
      EXPECT_EQ(parser.Parse(command.data(), len), Result::kNeedMore)
          << testing::PrintToString(command) << " prefix " << len;
    }
  }
}

TEST(RequestParser, PendingBulkBytesIsZeroUntilABulkHeaderIsParsed) {
  RequestParser parser;
  std::string input = "*2\r\n$3\r\nGET\r\n";
  ASSERT_EQ(parser.Parse(input.data(), input.size()), Result::kNeedMore);
  EXPECT_EQ(parser.pending_bulk_bytes(), 0u);
  RequestParser inline_parser;
  ASSERT_EQ(inline_parser.Parse("GET k", 5), Result::kNeedMore);
  EXPECT_EQ(inline_parser.pending_bulk_bytes(), 0u);
}

TEST(RequestParser, PendingBulkBytesAfterAHeaderIsThePayloadAndItsCrlf) {
  RequestParser parser;
  std::string input = "*2\r\n$3\r\nSET\r\n$1000\r\n";
  ASSERT_EQ(parser.Parse(input.data(), input.size()), Result::kNeedMore);
  EXPECT_EQ(parser.pending_bulk_bytes(), 1002u);
}

TEST(RequestParser, PendingBulkBytesCountsOnlyTheBytesStillMissing) {
  // The header's contract: "how many more bytes the pending bulk argument needs".
  RequestParser parser;
  std::string input = "*1\r\n$1000\r\n" + std::string(400, 'v');
  ASSERT_EQ(parser.Parse(input.data(), input.size()), Result::kNeedMore);
  EXPECT_EQ(parser.pending_bulk_bytes(), 602u);
  input += std::string(600, 'v');  // only the CRLF is missing now
  ASSERT_EQ(parser.Parse(input.data(), input.size()), Result::kNeedMore);
  EXPECT_EQ(parser.pending_bulk_bytes(), 2u);
  input += "\r\n";
  ASSERT_EQ(parser.Parse(input.data(), input.size()), Result::kOk);
  EXPECT_EQ(parser.args()[0].size(), 1000u);
}

// ---------------------------------------------------------------------------------------------
// RequestParser: lengths

TEST(RequestParser, MalformedMultibulkLengthsAreInvalidMultibulkLength) {
  for (const char* input : {"*abc\r\n", "*+1\r\n", "*01\r\n", "* 1\r\n", "*1 \r\n", "*\r\n", "*-0\r\n",
                            "*1a\r\n", "*-\r\n"}) {
    EXPECT_EQ(ParseError(input), "Protocol error: invalid multibulk length") << input;
  }
}

TEST(RequestParser, MalformedBulkLengthsAreInvalidBulkLength) {
  for (const char* input : {"*1\r\n$01\r\nx\r\n", "*1\r\n$ 3\r\nfoo\r\n", "*1\r\n$+3\r\nfoo\r\n",
                            "*1\r\n$abc\r\n", "*1\r\n$\r\n", "*1\r\n$3x\r\nfoo\r\n", "*1\r\n$-0\r\n"}) {
    EXPECT_EQ(ParseError(input), "Protocol error: invalid bulk length") << input;
  }
}

TEST(RequestParser, NegativeBulkLengthInsideAMultibulkIsInvalid) {
  EXPECT_EQ(ParseError("*1\r\n$-1\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(ParseError("*2\r\n$3\r\nGET\r\n$-5\r\n"), "Protocol error: invalid bulk length");
}

TEST(RequestParser, AnArgumentNotStartingWithDollarNamesTheByte) {
  EXPECT_EQ(ParseError("*1\r\nX3\r\nfoo\r\n"), "Protocol error: expected '$', got 'X'");
  EXPECT_EQ(ParseError("*2\r\n$3\r\nGET\r\n:1\r\n"), "Protocol error: expected '$', got ':'");
}

TEST(RequestParser, HugeMultibulkCountsAreRejectedWithoutAllocating) {
  EXPECT_EQ(ParseError("*9223372036854775807\r\n"), "Protocol error: invalid multibulk length");
  EXPECT_EQ(ParseError("*9223372036854775808\r\n"), "Protocol error: invalid multibulk length");
  EXPECT_EQ(ParseError("*99999999999999999999999\r\n"), "Protocol error: invalid multibulk length");
  EXPECT_EQ(ParseError("*2147483648\r\n"), "Protocol error: invalid multibulk length");  // > INT_MAX
}

TEST(RequestParser, TheLargestAllowedCountNeedsMoreWithoutAllocatingForIt) {
  // Under ASan an up-front reservation of 2^31 arguments would abort the test.
  RequestParser parser;
  std::string input = "*2147483647\r\n$3\r\nGET\r\n";
  EXPECT_EQ(parser.Parse(input.data(), input.size()), Result::kNeedMore);
}

TEST(RequestParser, MultibulkCountLimitComesFromParserLimits) {
  ParserLimits limits;
  limits.max_multibulk_len = 2;
  EXPECT_EQ(ParseOnce("*2\r\n$1\r\na\r\n$1\r\nb\r\n", limits).result, Result::kOk);
  EXPECT_EQ(ParseError("*3\r\n", limits), "Protocol error: invalid multibulk length");
}

TEST(RequestParser, HugeBulkLengthsAreRejectedWithoutAllocating) {
  EXPECT_EQ(ParseError("*1\r\n$2147483648\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(ParseError("*1\r\n$9223372036854775807\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(ParseError("*1\r\n$9223372036854775808\r\n"), "Protocol error: invalid bulk length");
}

TEST(RequestParser, ProtoMaxBulkLenIsInclusive) {
  RequestParser parser;
  std::string at_limit = "*1\r\n$536870912\r\n";  // 512 MB, the default
  EXPECT_EQ(parser.Parse(at_limit.data(), at_limit.size()), Result::kNeedMore);
  EXPECT_EQ(parser.pending_bulk_bytes(), 536870914u);
  EXPECT_EQ(ParseError("*1\r\n$536870913\r\n"), "Protocol error: invalid bulk length");
}

TEST(RequestParser, ProtoMaxBulkLenComesFromParserLimits) {
  ParserLimits limits;
  limits.max_bulk_len = 10;
  OneResult ok = ParseOnce("*1\r\n$10\r\n0123456789\r\n", limits);
  ASSERT_EQ(ok.result, Result::kOk);
  EXPECT_THAT(ok.args, ElementsAre("0123456789"));
  EXPECT_EQ(ParseError("*1\r\n$11\r\n01234567890\r\n", limits), "Protocol error: invalid bulk length");
}

TEST(RequestParser, SetLimitsAppliesToTheNextCommand) {
  RequestParser parser;
  std::string input = "*1\r\n$11\r\n01234567890\r\n";
  ASSERT_EQ(parser.Parse(input.data(), input.size()), Result::kOk);
  ParserLimits limits;
  limits.max_bulk_len = 10;
  parser.set_limits(limits);
  EXPECT_EQ(parser.Parse(input.data(), input.size()), Result::kError);
  EXPECT_EQ(parser.error(), "Protocol error: invalid bulk length");
}

TEST(RequestParser, ARaisedBulkLimitAcceptsHugeLengthsAsNeedMore) {
  ParserLimits limits;
  limits.max_bulk_len = INT64_MAX / 2;
  RequestParser parser(limits);
  std::string input = "*1\r\n$2147483648\r\n";
  EXPECT_EQ(parser.Parse(input.data(), input.size()), Result::kNeedMore);
  EXPECT_EQ(parser.pending_bulk_bytes(), 2147483650u);
}

TEST(RequestParser, AnOverlongCountLineIsAnError) {
  std::string count_line = "*" + std::string(70000, '1');
  EXPECT_EQ(ParseError(count_line), "Protocol error: too big mbulk count string");
  std::string bulk_line = "*1\r\n$" + std::string(70000, '1');
  EXPECT_EQ(ParseError(bulk_line), "Protocol error: too big bulk count string");
}

TEST(RequestParser, AShortCountLineWithoutCrlfNeedsMore) {
  RequestParser parser;
  std::string input = "*1\r\n$" + std::string(100, '1');
  EXPECT_EQ(parser.Parse(input.data(), input.size()), Result::kNeedMore);
}

// ---------------------------------------------------------------------------------------------
// RequestParser: inline commands

TEST(RequestParser, ParsesAnInlineCommand) {
  OneResult r = ParseOnce("SET key value\r\n");
  ASSERT_EQ(r.result, Result::kOk);
  EXPECT_THAT(r.args, ElementsAre("SET", "key", "value"));
  EXPECT_EQ(r.consumed, 15u);
}

TEST(RequestParser, InlineAcceptsABareLineFeed) {
  OneResult r = ParseOnce("PING\nPING\n");
  ASSERT_EQ(r.result, Result::kOk);
  EXPECT_THAT(r.args, ElementsAre("PING"));
  EXPECT_EQ(r.consumed, 5u);
}

TEST(RequestParser, BlankInlineLineIsAnEmptyCommand) {
  for (const char* input : {"\r\n", "\n", "   \r\n", "\t \n"}) {
    OneResult r = ParseOnce(input);
    ASSERT_EQ(r.result, Result::kOk) << input;
    EXPECT_THAT(r.args, IsEmpty());
    EXPECT_EQ(r.consumed, std::string_view(input).size());
  }
}

TEST(RequestParser, InlineDoubleQuotesTakeEscapes) {
  OneResult r = ParseOnce("SET k \"a\\nb\\r\\t\\x41\\x7a\\\\\\\"\"\r\n");
  ASSERT_EQ(r.result, Result::kOk);
  EXPECT_THAT(r.args, ElementsAre("SET", "k", "a\nb\r\tAz\\\""));
}

TEST(RequestParser, InlineDoubleQuotesKeepSpaces) {
  OneResult r = ParseOnce("SET \"my key\" \"\"\r\n");
  ASSERT_EQ(r.result, Result::kOk);
  EXPECT_THAT(r.args, ElementsAre("SET", "my key", ""));
}

TEST(RequestParser, InlineSingleQuotesTakeOnlyEscapedQuote) {
  OneResult r = ParseOnce("SET k 'it\\'s \\n \"raw\"'\r\n");
  ASSERT_EQ(r.result, Result::kOk);
  EXPECT_THAT(r.args, ElementsAre("SET", "k", "it's \\n \"raw\""));
}

TEST(RequestParser, InlineUnbalancedQuotesAreAnError) {
  for (const char* input : {"SET k \"abc\r\n", "SET k 'abc\r\n", "\"\r\n", "SET k \"a\\\"\r\n"}) {
    EXPECT_EQ(ParseError(input), "Protocol error: unbalanced quotes in request") << input;
  }
}

TEST(RequestParser, InlineClosingQuoteMustBeFollowedBySpace) {
  EXPECT_EQ(ParseError("SET k \"abc\"def\r\n"), "Protocol error: unbalanced quotes in request");
  EXPECT_EQ(ParseError("SET k 'abc'def\r\n"), "Protocol error: unbalanced quotes in request");
  OneResult r = ParseOnce("SET k \"abc\"\r\n");  // end of line is fine
  ASSERT_EQ(r.result, Result::kOk);
  EXPECT_THAT(r.args, ElementsAre("SET", "k", "abc"));
}

TEST(RequestParser, InlineLineWithoutNewlineOver64KBIsTooBig) {
  std::string at_limit(64 * 1024, 'a');
  RequestParser parser;
  EXPECT_EQ(parser.Parse(at_limit.data(), at_limit.size()), Result::kNeedMore);
  std::string over = at_limit + "a";
  EXPECT_EQ(ParseError(over), "Protocol error: too big inline request");
}

TEST(RequestParser, InlineLimitComesFromParserLimits) {
  ParserLimits limits;
  limits.max_inline_len = 16;
  EXPECT_EQ(ParseError(std::string(17, 'a'), limits), "Protocol error: too big inline request");
  EXPECT_EQ(ParseOnce(std::string(16, 'a'), limits).result, Result::kNeedMore);
}

// ---------------------------------------------------------------------------------------------
// SplitInlineArgs

TEST(SplitInlineArgs, SplitsOnAnyWhitespace) {
  std::vector<std::string> out;
  ASSERT_TRUE(SplitInlineArgs("  a\tb \r c\n", &out));
  EXPECT_THAT(out, ElementsAre("a", "b", "c"));
}

TEST(SplitInlineArgs, EmptyLineHasNoWords) {
  std::vector<std::string> out = {"stale"};
  ASSERT_TRUE(SplitInlineArgs("", &out));
  EXPECT_THAT(out, IsEmpty());
  ASSERT_TRUE(SplitInlineArgs("    ", &out));
  EXPECT_THAT(out, IsEmpty());
}

TEST(SplitInlineArgs, HexEscapesNeedTwoHexDigits) {
  std::vector<std::string> out;
  ASSERT_TRUE(SplitInlineArgs("\"\\x41\\x4g\\xff\"", &out));
  EXPECT_THAT(out, ElementsAre(std::string("Ax4g\xff", 5)));
}

TEST(SplitInlineArgs, OtherEscapesInDoubleQuotesAreTheCharacter) {
  std::vector<std::string> out;
  ASSERT_TRUE(SplitInlineArgs("\"\\b\\a\\q\\'\"", &out));
  EXPECT_THAT(out, ElementsAre(std::string("\b\aq'")));
}

TEST(SplitInlineArgs, QuotesMayStartInsideAWord) {
  std::vector<std::string> out;
  ASSERT_TRUE(SplitInlineArgs("ab\"c d\" e", &out));
  EXPECT_THAT(out, ElementsAre("abc d", "e"));
}

TEST(SplitInlineArgs, UnbalancedQuotesReturnFalse) {
  std::vector<std::string> out;
  EXPECT_FALSE(SplitInlineArgs("\"abc", &out));
  EXPECT_FALSE(SplitInlineArgs("'abc", &out));
  EXPECT_FALSE(SplitInlineArgs("\"abc\"x", &out));
  EXPECT_FALSE(SplitInlineArgs("'abc'x", &out));
}

// ---------------------------------------------------------------------------------------------
// ReplyBuilder

struct Built {
  std::string out;
  ReplyBuilder builder{&out};
  explicit Built(bool resp3) { builder.set_resp3(resp3); }
};

TEST(ReplyBuilder, SimpleStringsAndOk) {
  for (bool resp3 : {false, true}) {
    Built b(resp3);
    b.builder.SimpleString("PONG");
    b.builder.Ok();
    EXPECT_EQ(b.out, "+PONG\r\n+OK\r\n");
  }
}

TEST(ReplyBuilder, ErrorsStartWithDashAndEndWithCrlf) {
  Built b(false);
  b.builder.Error("ERR syntax error");
  EXPECT_EQ(b.out, "-ERR syntax error\r\n");
}

TEST(ReplyBuilder, ErrorNewlinesBecomeSpaces) {
  for (bool resp3 : {false, true}) {
    Built b(resp3);
    b.builder.Error("ERR bad\r\nthing\nhere\r");
    EXPECT_EQ(b.out, "-ERR bad  thing here \r\n");
  }
}

TEST(ReplyBuilder, Integers) {
  Built b(false);
  b.builder.Integer(0);
  b.builder.Integer(-1);
  b.builder.Integer(INT64_MAX);
  b.builder.Integer(INT64_MIN);
  EXPECT_EQ(b.out, ":0\r\n:-1\r\n:9223372036854775807\r\n:-9223372036854775808\r\n");
}

TEST(ReplyBuilder, BulkStringsAreLengthPrefixedAndBinarySafe) {
  for (bool resp3 : {false, true}) {
    Built b(resp3);
    b.builder.Bulk("hello");
    b.builder.Bulk("");
    b.builder.Bulk(std::string_view("a\0\r\nb", 5));
    EXPECT_EQ(b.out, "$5\r\nhello\r\n$0\r\n\r\n$5\r\na\0\r\nb\r\n"s);
  }
}

TEST(ReplyBuilder, NullIsDollarMinusOneInResp2AndUnderscoreInResp3) {
  Built r2(false), r3(true);
  r2.builder.Null();
  r3.builder.Null();
  EXPECT_EQ(r2.out, "$-1\r\n");
  EXPECT_EQ(r3.out, "_\r\n");
}

TEST(ReplyBuilder, NullArrayIsStarMinusOneInResp2AndUnderscoreInResp3) {
  Built r2(false), r3(true);
  r2.builder.NullArray();
  r3.builder.NullArray();
  EXPECT_EQ(r2.out, "*-1\r\n");
  EXPECT_EQ(r3.out, "_\r\n");
}

TEST(ReplyBuilder, ArrayHeaderIsTheSameInBothProtocols) {
  for (bool resp3 : {false, true}) {
    Built b(resp3);
    b.builder.ArrayHeader(0);
    b.builder.ArrayHeader(3);
    EXPECT_EQ(b.out, "*0\r\n*3\r\n");
  }
}

TEST(ReplyBuilder, MapIsAFlatArrayInResp2AndPercentInResp3) {
  Built r2(false), r3(true);
  for (Built* b : {&r2, &r3}) {
    b->builder.MapHeader(2);
    b->builder.Bulk("a");
    b->builder.Integer(1);
    b->builder.Bulk("b");
    b->builder.Integer(2);
  }
  EXPECT_EQ(r2.out, "*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:2\r\n");
  EXPECT_EQ(r3.out, "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:2\r\n");
}

TEST(ReplyBuilder, SetIsTildeInResp3AndAnArrayInResp2) {
  Built r2(false), r3(true);
  r2.builder.SetHeader(3);
  r3.builder.SetHeader(3);
  EXPECT_EQ(r2.out, "*3\r\n");
  EXPECT_EQ(r3.out, "~3\r\n");
}

TEST(ReplyBuilder, PushIsGreaterThanInResp3AndAnArrayInResp2) {
  Built r2(false), r3(true);
  r2.builder.PushHeader(3);
  r3.builder.PushHeader(3);
  EXPECT_EQ(r2.out, "*3\r\n");
  EXPECT_EQ(r3.out, ">3\r\n");
}

TEST(ReplyBuilder, DoubleIsCommaInResp3AndABulkStringInResp2) {
  Built r2(false), r3(true);
  for (Built* b : {&r2, &r3}) {
    b->builder.Double(1.5);
    b->builder.Double(3.0);
    b->builder.Double(0.1);
    b->builder.Double(-2.25);
  }
  EXPECT_EQ(r2.out, "$3\r\n1.5\r\n$1\r\n3\r\n$19\r\n0.10000000000000001\r\n$5\r\n-2.25\r\n");
  EXPECT_EQ(r3.out, ",1.5\r\n,3\r\n,0.10000000000000001\r\n,-2.25\r\n");
}

TEST(ReplyBuilder, InfinitiesAreSpelledInf) {
  Built r2(false), r3(true);
  for (Built* b : {&r2, &r3}) {
    b->builder.Double(std::numeric_limits<double>::infinity());
    b->builder.Double(-std::numeric_limits<double>::infinity());
  }
  EXPECT_EQ(r2.out, "$3\r\ninf\r\n$4\r\n-inf\r\n");
  EXPECT_EQ(r3.out, ",inf\r\n,-inf\r\n");
}

TEST(ReplyBuilder, BooleanIsHashInResp3AndAnIntegerInResp2) {
  Built r2(false), r3(true);
  for (Built* b : {&r2, &r3}) {
    b->builder.Boolean(true);
    b->builder.Boolean(false);
  }
  EXPECT_EQ(r2.out, ":1\r\n:0\r\n");
  EXPECT_EQ(r3.out, "#t\r\n#f\r\n");
}

TEST(ReplyBuilder, VerbatimIsTxtPrefixedInResp3AndABulkStringInResp2) {
  Built r2(false), r3(true);
  r2.builder.Verbatim("hello\r\nworld");
  r3.builder.Verbatim("hello\r\nworld");
  EXPECT_EQ(r2.out, "$12\r\nhello\r\nworld\r\n");
  EXPECT_EQ(r3.out, "=16\r\ntxt:hello\r\nworld\r\n");
}

TEST(ReplyBuilder, RawBytesAreAppendedAsIs) {
  Built b(true);
  b.builder.Raw("+already\r\n");
  EXPECT_EQ(b.out, "+already\r\n");
}

TEST(ReplyBuilder, AppendsToTheCallersBufferWithoutClearingIt) {
  std::string out = "prefix";
  ReplyBuilder builder(&out);
  EXPECT_FALSE(builder.resp3());
  EXPECT_EQ(builder.buffer(), &out);
  builder.Integer(7);
  EXPECT_EQ(out, "prefix:7\r\n");
}

TEST(ReplyBuilder, SwitchingProtocolAffectsOnlyLaterReplies) {
  Built b(false);
  b.builder.Null();
  b.builder.set_resp3(true);
  EXPECT_TRUE(b.builder.resp3());
  b.builder.Null();
  b.builder.set_resp3(false);
  b.builder.Null();
  EXPECT_EQ(b.out, "$-1\r\n_\r\n$-1\r\n");
}

TEST(ReplyBuilder, BuiltRepliesParseBackAsRequestsWhenTheyAreArraysOfBulks) {
  // ArrayHeader + Bulk is exactly the request encoding, so the two modules agree on framing.
  std::string out;
  ReplyBuilder builder(&out);
  builder.ArrayHeader(3);
  builder.Bulk("SET");
  builder.Bulk("k");
  builder.Bulk(std::string("v\0\r\n", 4));
  OneResult r = ParseOnce(out);
  ASSERT_EQ(r.result, Result::kOk);
  EXPECT_THAT(r.args, ElementsAre("SET", "k", std::string("v\0\r\n", 4)));
  EXPECT_EQ(r.consumed, out.size());
}

}  // namespace
}  // namespace strata::protocol
