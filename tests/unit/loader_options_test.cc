// Loader options (loaders/loader.h): parsing, and what redact and max-ttl do to a loaded value.
#include "loaders/loader.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace strata::loaders {
namespace {

LoaderOptions Parse(const std::vector<std::string>& words) {
  absl::StatusOr<LoaderOptions> options = ParseLoaderOptions(words);
  EXPECT_TRUE(options.ok()) << options.status().message();
  return options.ok() ? *options : LoaderOptions{};
}

TEST(LoaderOptions, RedactTakesACommaSeparatedListOfColumns) {
  const LoaderOptions options = Parse({"type", "hash", "redact", "password_hash, card ,ssn"});
  EXPECT_EQ(options.redact, (std::vector<std::string>{"password_hash", "card", "ssn"}));
  EXPECT_FALSE(ParseLoaderOptions({"redact", ", ,"}).ok());
}

TEST(LoaderOptions, MaxTtlIsSecondsOfAtLeastAMillisecond) {
  EXPECT_EQ(Parse({"max-ttl", "30"}).max_ttl_ms, 30000);
  EXPECT_EQ(Parse({"max-ttl", "0.25"}).max_ttl_ms, 250);
  EXPECT_FALSE(ParseLoaderOptions({"max-ttl", "0"}).ok());
  EXPECT_FALSE(ParseLoaderOptions({"max-ttl", "-5"}).ok());
  EXPECT_FALSE(ParseLoaderOptions({"max-ttl", "soon"}).ok());
}

TEST(Redact, DropsTheColumnsOfAHashRowWithoutRegardToCase) {
  const LoaderOptions options = Parse({"type", "hash", "redact", "password_hash,CARD"});
  LoadOutcome row = LoadOutcome::FoundHash({{"name", "Ada"}, {"Password_Hash", "$2b$..."}, {"card", "4111"}, {"email", "a@x"}});
  Redact(options, row);
  EXPECT_EQ(row.fields, (std::vector<std::pair<std::string, std::string>>{{"name", "Ada"}, {"email", "a@x"}}));
}

TEST(Redact, DropsTopLevelMembersOfAJsonObjectAndKeepsTheRestAsWritten) {
  const LoaderOptions options = Parse({"redact", "secret,card"});
  LoadOutcome value = LoadOutcome::Found(
      R"({"id": 7, "secret": "x", "nested": {"secret": "kept: only top-level members go"}, "card": null, "ok": [true, 1.5, "\u00e9\n"]})");
  Redact(options, value);
  EXPECT_EQ(value.value, R"({"id":7,"nested":{"secret":"kept: only top-level members go"},"ok":[true,1.5,"é\n"]})");
}

TEST(Redact, RefusesAValueThatIsNotAJsonObjectAndLeavesOtherOutcomesAlone) {
  const LoaderOptions options = Parse({"redact", "secret"});
  for (const std::string text : {"plain text", "[1,2]", "\"secret\"", "{\"secret\": broken"}) {
    LoadOutcome value = LoadOutcome::Found(text);
    Redact(options, value);
    EXPECT_EQ(value.kind, LoadOutcome::Kind::kError) << text;
    EXPECT_EQ(value.value, "") << "nothing of it is kept";
  }
  LoadOutcome missing = LoadOutcome::NotFound();
  Redact(options, missing);
  EXPECT_EQ(missing.kind, LoadOutcome::Kind::kNotFound);
  LoadOutcome error = LoadOutcome::Error("secret timeout");
  Redact(options, error);
  EXPECT_EQ(error.error, "secret timeout");
}

}  // namespace
}  // namespace strata::loaders
