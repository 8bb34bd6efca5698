// COMMAND DOCS / COMMAND INFO metadata: the syntax grammar, the key specs derived from it, and
// the documentation table's agreement with the dispatch table.
#include "server/command_docs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "server/command.h"

namespace strata::server {
namespace {

using Type = ArgumentDoc::Type;

ParsedSyntax Parse(std::string_view syntax, int first_argument = 1, std::string_view default_flags = "RO,access") {
  absl::StatusOr<ParsedSyntax> parsed = ParseCommandSyntax(syntax, first_argument, default_flags);
  EXPECT_TRUE(parsed.ok()) << syntax << ": " << parsed.status();
  return parsed.ok() ? *std::move(parsed) : ParsedSyntax{};
}

TEST(CommandSyntax, SetsArgumentsAreKeyValueAndTwoOptionalOneofs) {
  ParsedSyntax set = Parse(
      "key!RW,access,update,variable_flags value [condition= NX | XX] [GET] "
      "[expiration= EX seconds:integer | PX milliseconds:integer | KEEPTTL]",
      1, "");
  ASSERT_EQ(set.arguments.size(), 5u);
  EXPECT_EQ(set.arguments[0].name, "key");
  EXPECT_EQ(set.arguments[0].type, Type::kKey);
  EXPECT_EQ(set.arguments[0].key_spec_index, 0);
  EXPECT_EQ(set.arguments[1].type, Type::kString);
  const ArgumentDoc& condition = set.arguments[2];
  EXPECT_EQ(condition.name, "condition");
  EXPECT_EQ(condition.type, Type::kOneOf);
  EXPECT_TRUE(condition.optional);
  ASSERT_EQ(condition.arguments.size(), 2u);
  EXPECT_EQ(condition.arguments[0].type, Type::kPureToken);
  EXPECT_EQ(condition.arguments[0].token, "NX");
  EXPECT_EQ(condition.arguments[0].name, "nx");
  EXPECT_EQ(set.arguments[3].type, Type::kPureToken);
  EXPECT_TRUE(set.arguments[3].optional);
  const ArgumentDoc& expiration = set.arguments[4];
  ASSERT_EQ(expiration.arguments.size(), 3u);
  EXPECT_EQ(expiration.arguments[0].name, "seconds");
  EXPECT_EQ(expiration.arguments[0].type, Type::kInteger);
  EXPECT_EQ(expiration.arguments[0].token, "EX") << "a token before one argument is that argument's";
  EXPECT_EQ(expiration.arguments[2].type, Type::kPureToken);

  ASSERT_EQ(set.key_specs.size(), 1u);
  const KeySpecDoc& spec = set.key_specs[0];
  EXPECT_EQ(spec.flags, (std::vector<std::string>{"RW", "access", "update", "variable_flags"}));
  EXPECT_EQ(spec.begin, KeySpecDoc::Begin::kIndex);
  EXPECT_EQ(spec.index, 1);
  EXPECT_EQ(spec.find, KeySpecDoc::Find::kRange);
  EXPECT_EQ(spec.last_key, 0);
}

TEST(CommandSyntax, ATokenStartingTwoOrMoreArgumentsMakesABlock) {
  ParsedSyntax parsed = Parse("key [LIMIT offset:integer count:integer] [COUNT count:integer [ANY]]");
  ASSERT_EQ(parsed.arguments.size(), 3u);
  const ArgumentDoc& limit = parsed.arguments[1];
  EXPECT_EQ(limit.type, Type::kBlock);
  EXPECT_EQ(limit.token, "LIMIT");
  EXPECT_EQ(limit.name, "limit");
  ASSERT_EQ(limit.arguments.size(), 2u);
  EXPECT_EQ(limit.arguments[1].name, "count");
  EXPECT_TRUE(limit.arguments[1].token.empty());
  const ArgumentDoc& count = parsed.arguments[2];
  EXPECT_EQ(count.type, Type::kBlock);
  ASSERT_EQ(count.arguments.size(), 2u);
  EXPECT_TRUE(count.arguments[1].optional);
  EXPECT_EQ(count.arguments[1].token, "ANY");
}

TEST(CommandSyntax, RepeatsMarkMultipleAndARepeatedTokenIsMultipleToken) {
  ParsedSyntax parsed = Parse("key [BY pattern:pattern] [GET pattern:pattern]... [STORE destination:key!OW,update]");
  ASSERT_EQ(parsed.arguments.size(), 4u);
  EXPECT_FALSE(parsed.arguments[1].multiple);
  EXPECT_TRUE(parsed.arguments[2].multiple);
  EXPECT_TRUE(parsed.arguments[2].multiple_token);
  EXPECT_EQ(parsed.arguments[2].type, Type::kPattern);
  // STORE's key can be anywhere among the options: its position is unknown.
  ASSERT_EQ(parsed.key_specs.size(), 2u);
  EXPECT_EQ(parsed.key_specs[1].begin, KeySpecDoc::Begin::kUnknown);
  EXPECT_EQ(parsed.key_specs[1].find, KeySpecDoc::Find::kUnknown);
  EXPECT_EQ(parsed.key_specs[1].flags, (std::vector<std::string>{"OW", "update"}));

  ParsedSyntax streams = Parse("[COUNT count:integer] STREAMS key... id...");
  ASSERT_EQ(streams.arguments.size(), 3u);
  EXPECT_EQ(streams.arguments[1].token, "STREAMS");
  EXPECT_TRUE(streams.arguments[1].multiple);
  EXPECT_FALSE(streams.arguments[1].multiple_token) << "the token comes once, before the keys";
}

TEST(CommandSyntax, KeySpecsFollowTheKeysPositions) {
  // BLPOP key... timeout: the keys end one before the last argument.
  ParsedSyntax blpop = Parse("key!RW,access,delete... timeout:double", 1, "");
  ASSERT_EQ(blpop.key_specs.size(), 1u);
  EXPECT_EQ(blpop.key_specs[0].index, 1);
  EXPECT_EQ(blpop.key_specs[0].last_key, -2);
  // MSET (key value)...: every second argument.
  ParsedSyntax mset = Parse("(data= key!OW,update value)...", 1, "");
  ASSERT_EQ(mset.key_specs.size(), 1u);
  EXPECT_EQ(mset.key_specs[0].index, 1);
  EXPECT_EQ(mset.key_specs[0].last_key, -1);
  EXPECT_EQ(mset.key_specs[0].key_step, 2);
  ASSERT_EQ(mset.arguments.size(), 1u);
  EXPECT_EQ(mset.arguments[0].name, "data");
  EXPECT_EQ(mset.arguments[0].arguments[0].key_spec_index, 0);
  // ZUNIONSTORE destination numkeys key...: a fixed key, then a counted run.
  ParsedSyntax zunionstore = Parse("destination:key!OW,update numkeys:integer key... [WEIGHTS weight:integer...]", 1, "");
  ASSERT_EQ(zunionstore.key_specs.size(), 2u);
  EXPECT_EQ(zunionstore.key_specs[0].index, 1);
  EXPECT_EQ(zunionstore.key_specs[1].begin, KeySpecDoc::Begin::kIndex);
  EXPECT_EQ(zunionstore.key_specs[1].index, 2);
  EXPECT_EQ(zunionstore.key_specs[1].find, KeySpecDoc::Find::kKeyNum);
  EXPECT_EQ(zunionstore.key_specs[1].flags, (std::vector<std::string>{}));
  // A subcommand's arguments start at index 2.
  ParsedSyntax object = Parse("key", 2);
  EXPECT_EQ(object.key_specs[0].index, 2);
}

TEST(CommandSyntax, MalformedLinesAreRefusedWithWhere) {
  for (std::string_view bad : {"key [NX | XX", "key (a b", "key value:float", "value!RW", "key ]", "key [ ]",
                               "KEY...", "key $", "key [NX |]", "[=x]", "key!RW,sometimes", "key!rw"}) {
    absl::StatusOr<ParsedSyntax> parsed = ParseCommandSyntax(bad, 1, "");
    EXPECT_FALSE(parsed.ok()) << bad;
  }
  absl::StatusOr<ParsedSyntax> parsed = ParseCommandSyntax("key value $", 1, "");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message(), "unexpected character at offset 10 of \"key value $\"");
}

TEST(AclCategories, NamesAndGroupsMapToBits) {
  EXPECT_EQ(AclCategoryByName("SortedSet"), kAclSortedSet);
  EXPECT_EQ(AclCategoryByName("loader"), kAclLoader);
  EXPECT_EQ(AclCategoryByName("nosuch"), 0u);
  EXPECT_EQ(AclCategoryOfGroup("generic"), kAclKeyspace);
  EXPECT_EQ(AclCategoryOfGroup("server"), 0u);
  EXPECT_EQ(AclCategoryNames().size(), 22u);
}

// A command line built from a syntax's required arguments (repeats given twice, a key count
// given as 2 with its two keys), with the indexes of the keys in it.
struct SampleCommand {
  std::vector<std::string> words;
  std::set<size_t> key_indexes;
};

void AppendSample(const ArgumentDoc& arg, bool force, SampleCommand* out) {
  if (arg.optional && !force) return;
  const int times = arg.multiple ? 2 : 1;
  for (int t = 0; t < times; ++t) {
    if (!arg.token.empty() && (t == 0 || arg.multiple_token)) out->words.push_back(arg.token);
    switch (arg.type) {
      case Type::kPureToken: break;
      case Type::kKey:
        // A shard channel is described as a key (for cluster routing) but is not one here.
        if (arg.key_flags.find("not_key") == std::string::npos) out->key_indexes.insert(out->words.size());
        out->words.push_back("key" + std::to_string(out->words.size()));
        break;
      case Type::kInteger: case Type::kUnixTime: out->words.push_back("1"); break;
      case Type::kDouble: out->words.push_back("1.5"); break;
      case Type::kOneOf: AppendSample(arg.arguments[0], true, out); break;
      case Type::kBlock:
        for (const ArgumentDoc& child : arg.arguments) AppendSample(child, false, out);
        break;
      default: out->words.push_back("v"); break;
    }
  }
}

SampleCommand SampleOf(const CommandSpec& spec, const ParsedSyntax& syntax) {
  SampleCommand sample;
  const size_t bar = spec.name.find('|');
  sample.words.push_back(std::string(spec.name.substr(0, bar)));
  if (bar != std::string_view::npos) sample.words.push_back(std::string(spec.name.substr(bar + 1)));
  for (size_t i = 0; i < syntax.arguments.size(); ++i) {
    const ArgumentDoc& arg = syntax.arguments[i];
    const bool counts_keys = arg.name == "numkeys" && i + 1 < syntax.arguments.size() &&
                             syntax.arguments[i + 1].type == Type::kKey;
    if (counts_keys) {
      sample.words.push_back("2");
      ArgumentDoc keys = syntax.arguments[i + 1];
      keys.multiple = true;
      AppendSample(keys, /*force=*/true, &sample);
      ++i;
      continue;
    }
    AppendSample(arg, false, &sample);
  }
  return sample;
}

TEST(CommandDocsTable, EveryCommandIsDocumentedAndEverySyntaxParses) {
  CommandTable table;
  EXPECT_TRUE(table.doc_problems().empty()) << table.doc_problems().front();
  for (const CommandSpec* spec : table.by_id()) EXPECT_NE(table.docs(*spec).doc, nullptr) << spec->name;
  auto categories_of = [&](std::string_view name) { return table.acl_categories(*table.FindByFullName(name)); };
  EXPECT_EQ(categories_of("get"), kAclRead | kAclString | kAclFast);
  EXPECT_EQ(categories_of("keys"), kAclKeyspace | kAclRead | kAclSlow | kAclDangerous);
  EXPECT_EQ(categories_of("sort"), kAclWrite | kAclSet | kAclSortedSet | kAclList | kAclSlow | kAclDangerous)
      << "-@keyspace takes away the generic group's category";
  EXPECT_EQ(categories_of("eval_ro"), kAclScripting | kAclSlow) << "a script is not @read, as in Redis";
  EXPECT_EQ(categories_of("config"), kAclSlow) << "a container has no group category";
  EXPECT_EQ(categories_of("loader|invalidate"), kAclLoader | kAclAdmin | kAclDangerous | kAclWrite | kAclSlow);
}

// The keys a key spec names in a command line; false when the spec cannot say (unknown).
bool ResolveKeySpec(const KeySpecDoc& spec, const std::vector<std::string_view>& args, std::set<size_t>* keys) {
  if (spec.begin != KeySpecDoc::Begin::kIndex || spec.find == KeySpecDoc::Find::kUnknown) return false;
  const int argc = static_cast<int>(args.size());
  if (spec.find == KeySpecDoc::Find::kRange) {
    const int last = spec.last_key >= 0 ? spec.index + spec.last_key : argc + spec.last_key;
    for (int i = spec.index; i <= last && i < argc; i += spec.key_step) keys->insert(static_cast<size_t>(i));
    return true;
  }
  const int count = std::stoi(std::string(args[static_cast<size_t>(spec.index + spec.key_num_index)]));
  const int first = spec.index + spec.first_key;
  for (int k = 0; k < count; ++k) keys->insert(static_cast<size_t>(first + k * spec.key_step));
  return true;
}

// The docs and the dispatch table describe the same commands: a command line made from a
// syntax's required arguments passes the arity check, and its keys are where the dispatcher
// looks for them.
TEST(CommandDocsTable, SyntaxAgreesWithArityAndKeyPositions) {
  // LOADER REFRESH names a key but the dispatcher locks none: the reload takes the loader's
  // path, which locks the key when the value arrives.
  const std::set<std::string_view> kLocksItsKeyLater = {"loader|refresh"};
  CommandTable table;
  std::vector<size_t> dispatch_keys;
  int commands_with_keys_resolved = 0;
  for (const CommandSpec* spec : table.by_id()) {
    if (spec->handler == nullptr) continue;  // a container: its subcommands are checked
    const CommandTable::Documentation& docs = table.docs(*spec);
    SampleCommand sample = SampleOf(*spec, docs.syntax);
    std::vector<std::string_view> args(sample.words.begin(), sample.words.end());
    EXPECT_TRUE(CommandTable::ArityOk(*spec, args.size()))
        << spec->name << ": " << args.size() << " words for arity " << spec->arity;
    CommandTable::KeyIndexes(*spec, args, &dispatch_keys);
    if (kLocksItsKeyLater.contains(spec->name)) {
      EXPECT_TRUE(dispatch_keys.empty()) << spec->name;
      continue;
    }
    const std::set<size_t> dispatched(dispatch_keys.begin(), dispatch_keys.end());
    EXPECT_EQ(dispatched, sample.key_indexes) << spec->name;
    // The key specs derived from the syntax name those keys too (all of them, unless a spec's
    // position is unknown).
    std::set<size_t> resolved;
    bool all_known = true;
    for (const KeySpecDoc& key_spec : docs.syntax.key_specs) {
      if (std::find(key_spec.flags.begin(), key_spec.flags.end(), "not_key") != key_spec.flags.end()) continue;
      all_known &= ResolveKeySpec(key_spec, args, &resolved);
    }
    if (all_known) {
      commands_with_keys_resolved += !resolved.empty();
      EXPECT_EQ(resolved, dispatched) << spec->name << ": derived key specs";
    } else {
      EXPECT_TRUE(std::includes(dispatched.begin(), dispatched.end(), resolved.begin(), resolved.end())) << spec->name;
    }
  }
  EXPECT_GT(commands_with_keys_resolved, 120) << "the check above ran on most commands with keys";
}

}  // namespace
}  // namespace strata::server
