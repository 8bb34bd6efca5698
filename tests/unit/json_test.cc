#include "loaders/json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace strata::loaders {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(std::string_view text) {
  absl::StatusOr<JsonValue> parsed = ParseJson(text);
  if (parsed.ok()) return "(parsed)";
  return std::string(parsed.status().message());
}

JsonValue MustParse(std::string_view text) {
  absl::StatusOr<JsonValue> parsed = ParseJson(text);
  EXPECT_TRUE(parsed.ok()) << parsed.status() << " for " << text;
  return parsed.ok() ? *std::move(parsed) : JsonValue();
}

TEST(Json, ParsesInvalidationKeyMessage) {
  JsonValue message = MustParse(R"({"key":"a"})");
  ASSERT_EQ(message.type(), JsonValue::Type::kObject);
  const JsonValue* key = message.Find("key");
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(key->type(), JsonValue::Type::kString);
  EXPECT_EQ(key->text(), "a");
  EXPECT_EQ(message.Find("keys"), nullptr);
}

TEST(Json, ParsesInvalidationKeysMessage) {
  JsonValue message = MustParse(R"( { "keys" : [ "a" , "b" ] } )");
  const JsonValue* keys = message.Find("keys");
  ASSERT_NE(keys, nullptr);
  ASSERT_EQ(keys->type(), JsonValue::Type::kArray);
  ASSERT_EQ(keys->array().size(), 2u);
  EXPECT_EQ(keys->array()[0].text(), "a");
  EXPECT_EQ(keys->array()[1].text(), "b");
}

TEST(Json, ParsesInvalidationPatternMessage) {
  JsonValue message = MustParse(R"({"pattern":"user:*"})");
  const JsonValue* pattern = message.Find("pattern");
  ASSERT_NE(pattern, nullptr);
  EXPECT_EQ(pattern->text(), "user:*");
}

TEST(Json, FindReturnsTheFirstOfRepeatedMembers) {
  JsonValue object = MustParse(R"({"a":1,"a":2})");
  ASSERT_EQ(object.object().size(), 2u);
  EXPECT_EQ(object.Find("a")->text(), "1");
  EXPECT_EQ(MustParse("[1]").Find("a"), nullptr);
}

TEST(Json, KeepsMemberOrder) {
  JsonValue object = MustParse(R"({"z":1,"a":2,"m":3})");
  ASSERT_EQ(object.object().size(), 3u);
  EXPECT_EQ(object.object()[0].first, "z");
  EXPECT_EQ(object.object()[1].first, "a");
  EXPECT_EQ(object.object()[2].first, "m");
}

TEST(Json, ScalarsAtTopLevel) {
  EXPECT_EQ(MustParse("true").type(), JsonValue::Type::kBool);
  EXPECT_EQ(MustParse("false").text(), "false");
  EXPECT_EQ(MustParse("null").type(), JsonValue::Type::kNull);
  EXPECT_EQ(MustParse("\"x\"").text(), "x");
  EXPECT_EQ(MustParse("0").text(), "0");
  EXPECT_EQ(MustParse(" \t\r\n7 \n").text(), "7");
}

TEST(Json, NumbersKeepTheirLiteralText) {
  for (const char* literal : {"0", "-0", "12.50", "1e10", "1E+2", "-3.25e-7", "123456789012345678901234567890"}) {
    JsonValue number = MustParse(literal);
    EXPECT_EQ(number.type(), JsonValue::Type::kNumber) << literal;
    EXPECT_EQ(number.text(), literal);
  }
}

TEST(Json, RejectsNumbersOutsideTheGrammar) {
  for (const char* bad : {"01", "-", "+1", "1.", ".5", "1e", "1e+", "-01", "0x10", "NaN", "Infinity", "1.e3", "--1"}) {
    EXPECT_FALSE(ParseJson(bad).ok()) << bad;
  }
}

TEST(Json, DecodesEscapes) {
  EXPECT_EQ(MustParse(R"("a\"b\\c\/d\b\f\n\r\t")").text(), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(MustParse(R"("\u0041\u00e9\u20AC")").text(), "A\xC3\xA9\xE2\x82\xAC");  // A é €
  EXPECT_EQ(MustParse(R"("\ud83d\ude00")").text(), "\xF0\x9F\x98\x80");                // U+1F600
  EXPECT_EQ(MustParse(R"("\u0000")").text(), std::string(1, '\0'));
}

TEST(Json, PassesUtf8Through) {
  EXPECT_EQ(MustParse("\"caf\xC3\xA9 \xF0\x9F\x98\x80\"").text(), "caf\xC3\xA9 \xF0\x9F\x98\x80");
}

TEST(Json, RejectsBadEscapesAndSurrogates) {
  EXPECT_THAT(ErrorOf(R"("\x")"), HasSubstr("invalid escape"));
  EXPECT_THAT(ErrorOf(R"("\u12")"), HasSubstr("\\u escape"));
  EXPECT_THAT(ErrorOf(R"("\u12G4")"), HasSubstr("hex digit"));
  EXPECT_THAT(ErrorOf(R"("\ud83d")"), HasSubstr("unpaired high surrogate"));
  EXPECT_THAT(ErrorOf(R"("\ud83dx")"), HasSubstr("unpaired high surrogate"));
  EXPECT_THAT(ErrorOf(R"("\ud83d\u0041")"), HasSubstr("not followed by a low surrogate"));
  EXPECT_THAT(ErrorOf(R"("\ude00")"), HasSubstr("unpaired low surrogate"));
}

TEST(Json, RejectsInvalidUtf8AndControlCharacters) {
  EXPECT_THAT(ErrorOf("\"\xC3\""), HasSubstr("invalid UTF-8"));            // truncated
  EXPECT_THAT(ErrorOf("\"\xC0\xAF\""), HasSubstr("invalid UTF-8"));        // overlong '/'
  EXPECT_THAT(ErrorOf("\"\xED\xA0\x80\""), HasSubstr("invalid UTF-8"));    // encoded surrogate
  EXPECT_THAT(ErrorOf("\"\xF4\x90\x80\x80\""), HasSubstr("invalid UTF-8")); // beyond U+10FFFF
  EXPECT_THAT(ErrorOf("\"\xFF\""), HasSubstr("invalid UTF-8"));
  EXPECT_THAT(ErrorOf("\"a\nb\""), HasSubstr("control character"));
  EXPECT_THAT(ErrorOf(std::string("\"a\0b\"", 5)), HasSubstr("control character"));
}

TEST(Json, ErrorsNameTheByteOffset) {
  EXPECT_EQ(ErrorOf(R"({"a" 1})"), "invalid JSON: expected ':' after a member name at byte 5");
  EXPECT_EQ(ErrorOf("[1,]"), "invalid JSON: expected a value at byte 3");
  EXPECT_EQ(ErrorOf(""), "invalid JSON: empty document at byte 0");
  EXPECT_EQ(ErrorOf("  "), "invalid JSON: empty document at byte 2");
}

TEST(Json, RejectsMalformedDocuments) {
  for (const char* bad : {"{", "[", "{\"a\":1,}", "[1 2]", "{\"a\"}", "{a:1}", "{'a':1}", "\"abc", "tru", "nul",
                          "True", "[1,,2]", "{,}", "}", "]", "{\"a\":1 \"b\":2}", "// c\n1", "/*x*/1", "\xEF\xBB\xBF{}",
                          "{\"a\":1]", "[1}", "\v1", "\f1"}) {
    EXPECT_FALSE(ParseJson(bad).ok()) << bad;
  }
}

TEST(Json, RejectsTrailingText) {
  EXPECT_THAT(ErrorOf("{} x"), HasSubstr("unexpected text after the document at byte 3"));
  EXPECT_FALSE(ParseJson("1 2").ok());
  EXPECT_FALSE(ParseJson("{}{}").ok());
  EXPECT_FALSE(ParseJson(std::string("{}\0", 3)).ok());
  EXPECT_TRUE(ParseJson("{} \n").ok());
}

TEST(Json, NestingUpToTheDepthLimitIsAccepted) {
  std::string text = std::string(JsonValue::kMaxDepth, '[') + std::string(JsonValue::kMaxDepth, ']');
  EXPECT_TRUE(ParseJson(text).ok());
  std::string objects;
  for (int i = 0; i < JsonValue::kMaxDepth; ++i) objects += "{\"a\":";
  objects += "1" + std::string(JsonValue::kMaxDepth, '}');
  EXPECT_TRUE(ParseJson(objects).ok());
}

TEST(Json, NestingBeyondTheDepthLimitIsAnError) {
  std::string text = std::string(JsonValue::kMaxDepth + 1, '[') + std::string(JsonValue::kMaxDepth + 1, ']');
  EXPECT_THAT(ErrorOf(text), HasSubstr("nesting deeper than 64"));
  // A very deep unterminated input fails at the limit instead of recursing through it.
  EXPECT_THAT(ErrorOf(std::string(1 << 20, '[')), HasSubstr("nesting deeper than 64"));
  std::string mixed;
  for (int i = 0; i < 1000; ++i) mixed += "{\"a\":[";
  EXPECT_THAT(ErrorOf(mixed), HasSubstr("nesting deeper"));
}

TEST(Json, ScalarTextIsTheRedisValue) {
  JsonValue object = MustParse(R"({"s":"he said \"hi\"","n":12.50,"t":true,"f":false,"z":null,
                                   "a":[1, "x", null, {"k" : []}],"o":{ "q\n":"\u0001" }})");
  EXPECT_EQ(object.Find("s")->ScalarText(), "he said \"hi\"");
  EXPECT_EQ(object.Find("n")->ScalarText(), "12.50");
  EXPECT_EQ(object.Find("t")->ScalarText(), "true");
  EXPECT_EQ(object.Find("f")->ScalarText(), "false");
  EXPECT_EQ(object.Find("z")->ScalarText(), "");
  EXPECT_EQ(object.Find("a")->ScalarText(), R"([1,"x",null,{"k":[]}])");
  EXPECT_EQ(object.Find("o")->ScalarText(), R"({"q\n":"\u0001"})");
}

TEST(Json, CompactTextParsesBackToTheSameValue) {
  const char* text = R"({"a":[1,-2.5e3,"\u00e9\ud83d\ude00\\\"",{"b":{}},[]],"c":null,"d":true})";
  JsonValue value = MustParse(text);
  std::string compact = value.ScalarText();
  EXPECT_EQ(MustParse(compact).ScalarText(), compact);
}

TEST(Json, EmptyContainers) {
  EXPECT_EQ(MustParse("{}").object().size(), 0u);
  EXPECT_EQ(MustParse("[ ]").array().size(), 0u);
  EXPECT_EQ(MustParse("{ }").ScalarText(), "{}");
}

TEST(Json, NeverCrashesOnArbitraryBytes) {
  // A cheap stand-in for the fuzzer: every prefix and every single-byte corruption of a document.
  const std::string document = R"({"k":["a\u00e9\ud83d\ude00",1.5e-3,true,null,{"x":{}}]})";
  for (size_t n = 0; n <= document.size(); ++n) (void)ParseJson(document.substr(0, n));
  for (size_t i = 0; i < document.size(); ++i) {
    for (int b = 0; b < 256; b += 7) {
      std::string corrupted = document;
      corrupted[i] = static_cast<char>(b);
      (void)ParseJson(corrupted);
    }
  }
}

}  // namespace
}  // namespace strata::loaders
