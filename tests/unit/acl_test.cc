// Acl (server/acl.h): rules as Redis 7.0 applies them, the check, descriptions that give back the
// same rights, all-or-nothing changes, and passwords.
#include "server/acl.h"

#include <gtest/gtest.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/absl_compat.h"
#include "server/command_docs.h"
#include "server/command.h"

namespace strata::server {
namespace {

class AclTest : public ::testing::Test {
 protected:
  static const CommandTable& Table() {
    static const CommandTable* table = new CommandTable();
    return *table;
  }
  Acl acl_{Table()};

  std::shared_ptr<const AclUser> User(std::string_view name, std::vector<std::string_view> rules) {
    EXPECT_TRUE(acl_.SetUser(name, rules).ok());
    return acl_.Find(name);
  }
  // The check of `command` (split at spaces) for `user`.
  AclDenial::Reason Check(const AclUser& user, std::string_view command) {
    std::vector<std::string_view> args;
    for (absl::string_view word : absl::StrSplit(Absl(command), ' ')) args.push_back(Std(word));
    const CommandSpec* spec = Table().FindWithSubcommand(args);
    EXPECT_NE(spec, nullptr) << command;
    return spec == nullptr ? AclDenial::kCommand : acl_.Check(user, *spec, args).reason;
  }
};

// The check reads a command's keys off its key specs; they must be the keys the dispatcher
// locks (CommandTable::KeyIndexes), for every command, for command lines of several lengths.
// (A key's access may be none: STRLEN and EXISTS only look at metadata, and as in Redis any
// key pattern, even %W~, allows them.)
TEST_F(AclTest, TheKeysCheckedAreTheKeysTheCommandLocks) {
  for (const CommandSpec* spec : Table().by_id()) {
    if (spec->first_key <= 0) continue;
    for (size_t argc = 2; argc <= 9; ++argc) {
      if (!CommandTable::ArityOk(*spec, argc)) continue;
      std::vector<std::string> words = absl::StrSplit(Absl(spec->name), '|');
      while (words.size() < argc) words.push_back(words.size() == 2 || words.size() == 3 ? "2" : "k");
      std::vector<std::string_view> args(words.begin(), words.end());
      std::vector<size_t> locked;
      CommandTable::KeyIndexes(*spec, args, &locked);
      Acl::KeyUses checked;
      acl_.KeysOf(*spec, args, &checked);
      std::vector<size_t> checked_indexes;
      for (const Acl::KeyUse& key : checked) checked_indexes.push_back(key.index);
      EXPECT_EQ(checked_indexes, locked) << spec->name << " with " << argc << " arguments";
    }
  }
}

TEST_F(AclTest, TheDefaultUserMayRunAnythingWithoutAPassword) {
  auto user = acl_.default_user();
  EXPECT_TRUE(user->enabled);
  EXPECT_TRUE(user->nopass);
  EXPECT_TRUE(user->unrestricted);
  EXPECT_EQ(Check(*user, "flushall"), AclDenial::kNone);
  EXPECT_EQ(acl_.Describe(*user), "on nopass ~* &* +@all");
}

TEST_F(AclTest, ANewUserIsOffAndMayRunNothing) {
  auto user = User("carol", {});
  EXPECT_FALSE(user->enabled);
  EXPECT_FALSE(user->unrestricted);
  EXPECT_EQ(Check(*user, "get k"), AclDenial::kCommand);
  EXPECT_EQ(acl_.Describe(*user), "off resetchannels -@all");
}

TEST_F(AclTest, CategoriesCommandsAndSubcommandsAreAppliedInOrder) {
  auto user = User("u", {"+@read", "-@dangerous", "+set", "+config|get", "~*"});
  EXPECT_EQ(Check(*user, "get k"), AclDenial::kNone);
  EXPECT_EQ(Check(*user, "set k v"), AclDenial::kNone);
  EXPECT_EQ(Check(*user, "keys *"), AclDenial::kCommand) << "@read, but @dangerous came after";
  EXPECT_EQ(Check(*user, "del k"), AclDenial::kCommand);
  EXPECT_EQ(Check(*user, "config get maxmemory"), AclDenial::kNone);
  EXPECT_EQ(Check(*user, "config set maxmemory 1"), AclDenial::kCommand);
  user = User("u", {"+config", "-config|set"});
  EXPECT_EQ(Check(*user, "config resetstat"), AclDenial::kNone) << "+config allows its subcommands";
  EXPECT_EQ(Check(*user, "config set maxmemory 1"), AclDenial::kCommand);
}

TEST_F(AclTest, AFirstArgumentRuleAllowsOnlyThatArgument) {
  auto user = User("u", {"-select", "+select|0"});
  EXPECT_EQ(Check(*user, "select 0"), AclDenial::kNone);
  EXPECT_EQ(Check(*user, "select 1"), AclDenial::kCommand);
  user = User("u", {"+select"});
  EXPECT_EQ(Check(*user, "select 1"), AclDenial::kNone) << "+select forgets the first-argument rule";
}

TEST_F(AclTest, KeyPatternsAllowReadsAndWritesApart) {
  auto user = User("u", {"+@all", "~shared:*", "%R~ro:*", "%W~wo:*"});
  EXPECT_EQ(Check(*user, "get shared:1"), AclDenial::kNone);
  EXPECT_EQ(Check(*user, "set shared:1 v"), AclDenial::kNone);
  EXPECT_EQ(Check(*user, "get ro:1"), AclDenial::kNone);
  EXPECT_EQ(Check(*user, "set ro:1 v"), AclDenial::kKey);
  EXPECT_EQ(Check(*user, "set wo:1 v"), AclDenial::kNone) << "SET only writes, unless with GET";
  EXPECT_EQ(Check(*user, "set wo:1 v get"), AclDenial::kKey);
  EXPECT_EQ(Check(*user, "bitfield ro:1 get u8 0"), AclDenial::kNone) << "BITFIELD with GET only reads";
  EXPECT_EQ(Check(*user, "bitfield ro:1 set u8 0 1"), AclDenial::kKey);
  EXPECT_EQ(Check(*user, "lmove ro:1 wo:1 left left"), AclDenial::kKey) << "LMOVE's source is also written";
  EXPECT_EQ(Check(*user, "sort ro:1 store wo:1"), AclDenial::kNone) << "SORT's STORE key is only written";
  EXPECT_EQ(Check(*user, "get wo:1"), AclDenial::kKey);
  EXPECT_EQ(Check(*user, "get other"), AclDenial::kKey);
  EXPECT_EQ(Check(*user, "copy ro:1 wo:1"), AclDenial::kNone) << "COPY reads its source and writes its destination";
  EXPECT_EQ(Check(*user, "copy wo:1 ro:1"), AclDenial::kKey);
  EXPECT_EQ(Check(*user, "mget shared:1 ro:2"), AclDenial::kNone);
  EXPECT_EQ(Check(*user, "mget shared:1 wo:2"), AclDenial::kKey);
}

TEST_F(AclTest, TheDeniedKeyIsNamedByItsArgument) {
  auto user = User("u", {"+@all", "~a*"});
  std::vector<std::string_view> args = {"mset", "a1", "v", "b1", "v"};
  EXPECT_EQ(acl_.Check(*user, *Table().Find("mset"), args).arg_index, 3u);
}

TEST_F(AclTest, ChannelsArePatternsExceptForPsubscribeWhichComparesThemLiterally) {
  auto user = User("u", {"+@all", "&news.*"});
  EXPECT_EQ(Check(*user, "publish news.sports hi"), AclDenial::kNone);
  EXPECT_EQ(Check(*user, "publish weather hi"), AclDenial::kChannel);
  EXPECT_EQ(Check(*user, "subscribe news.a news.b"), AclDenial::kNone);
  EXPECT_EQ(Check(*user, "subscribe news.a weather"), AclDenial::kChannel);
  EXPECT_EQ(Check(*user, "psubscribe news.*"), AclDenial::kNone);
  EXPECT_EQ(Check(*user, "psubscribe news.s*"), AclDenial::kChannel);
}

TEST_F(AclTest, AnySelectorMayAllowACommand) {
  auto user = User("u", {"on", "+get", "~a*", "(+set ~b*)"});
  EXPECT_EQ(Check(*user, "get a1"), AclDenial::kNone);
  EXPECT_EQ(Check(*user, "set b1 v"), AclDenial::kNone);
  EXPECT_EQ(Check(*user, "set a1 v"), AclDenial::kKey) << "the selector that allows SET does not allow a1";
  EXPECT_EQ(Check(*user, "get b1"), AclDenial::kKey);
  EXPECT_EQ(Check(*user, "del a1"), AclDenial::kCommand);
}

TEST_F(AclTest, ASelectorMaySpanArguments) {
  auto user = User("u", {"(~x*", "+get)"});
  ASSERT_EQ(user->selectors.size(), 2u);
  EXPECT_EQ(acl_.Describe(*user), "off resetchannels -@all (~x* resetchannels -@all +get)");
}

TEST_F(AclTest, ARefusedRuleChangesNothing) {
  User("u", {"on", "+get", "~*"});
  EXPECT_EQ(acl_.SetUser("u", std::vector<std::string_view>{"+set", "+nosuch"}).message(),
            "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL");
  EXPECT_EQ(acl_.Describe(*acl_.Find("u")), "on ~* resetchannels -@all +get");
  EXPECT_EQ(acl_.SetUser("u", std::vector<std::string_view>{"~a"}).message(),
            "ERR Error in ACL SETUSER modifier '~a': Adding a pattern after the * pattern (or the 'allkeys' flag) is "
            "not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns");
  EXPECT_EQ(acl_.SetUser("u", std::vector<std::string_view>{"+config|get|x"}).message(),
            "ERR Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a subcommand is not supported");
  EXPECT_EQ(acl_.SetUser("u", std::vector<std::string_view>{"(+get"}).message(),
            "ERR Unmatched parenthesis in acl selector starting at '(+get'.");
  EXPECT_EQ(acl_.SetUser("a b", {}).message(), "ERR Usernames can't contain spaces or null characters");
}

TEST_F(AclTest, PasswordsAreStoredHashedAndOpenTheUser) {
  auto user = User("u", {"on", ">secret", "+@all"});
  ASSERT_EQ(user->password_hashes.size(), 1u);
  EXPECT_EQ(user->password_hashes[0], "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b");
  EXPECT_NE(acl_.Authenticate("u", "secret"), nullptr);
  EXPECT_EQ(acl_.Authenticate("u", "guess"), nullptr);
  User("u", {"off"});
  EXPECT_EQ(acl_.Authenticate("u", "secret"), nullptr) << "a disabled user cannot log in";
  User("u", {"on", "<secret", "nopass"});
  EXPECT_NE(acl_.Authenticate("u", "anything"), nullptr);
  EXPECT_EQ(acl_.Authenticate("nobody", ""), nullptr);
}

TEST_F(AclTest, RequirepassIsTheDefaultUsersOnlyPassword) {
  acl_.SetDefaultPassword("pw");
  EXPECT_FALSE(acl_.default_user_nopass());
  EXPECT_NE(acl_.Authenticate("default", "pw"), nullptr);
  acl_.SetDefaultPassword("");
  EXPECT_TRUE(acl_.default_user_nopass());
}

TEST_F(AclTest, EveryChangeMovesTheGenerationAndADeletedNameComesBackAsAnotherUser) {
  const uint64_t before = acl_.generation();
  const uint64_t first = User("u", {"on"})->incarnation;
  EXPECT_GT(acl_.generation(), before);
  EXPECT_EQ(User("u", {"+get"})->incarnation, first) << "changed, not re-created";
  EXPECT_EQ(*acl_.DeleteUsers(std::vector<std::string_view>{"u", "nobody"}), 1);
  EXPECT_NE(User("u", {"on"})->incarnation, first);
  EXPECT_FALSE(acl_.DeleteUsers(std::vector<std::string_view>{"default"}).ok());
}

// What Redis asserts of its own descriptions: applied to a new user, a description gives back
// exactly the rights it describes. Random rule sets, over every category and many commands.
TEST_F(AclTest, ADescriptionGivesBackTheSameRights) {
  std::vector<std::string> pool = {"+@all", "-@all", "nocommands", "+select|0", "+config|get", "-config|set", "+client"};
  for (std::string_view category : AclCategoryNames()) {
    pool.push_back(absl::StrCat("+@", Absl(category)));
    pool.push_back(absl::StrCat("-@", Absl(category)));
  }
  for (size_t i = 0; i < Table().all().size(); i += 7) {
    pool.push_back(absl::StrCat("+", Absl(Table().all()[i]->name)));
    pool.push_back(absl::StrCat("-", Absl(Table().all()[i]->name)));
  }
  std::mt19937 random(42);
  for (int round = 0; round < 300; ++round) {
    std::vector<std::string> rules;
    const int count = 1 + static_cast<int>(random() % 8);
    for (int i = 0; i < count; ++i) rules.push_back(pool[random() % pool.size()]);
    std::vector<std::string_view> views(rules.begin(), rules.end());
    auto user = User("u", views);
    const std::string description = acl_.DescribeCommands(user->selectors[0]);
    std::vector<std::string> again = absl::StrSplit(description, ' ');  // std::string from absl pieces
    auto copy = User("copy", std::vector<std::string_view>(again.begin(), again.end()));
    EXPECT_EQ(copy->selectors[0].allowed, user->selectors[0].allowed) << absl::StrJoin(rules, " ") << " -> " << description;
    // First-argument rules count only on a command not allowed whole (Redis describes only those).
    for (const auto& [id, args] : user->selectors[0].first_args) {
      if (user->selectors[0].Allows(id)) continue;
      auto it = copy->selectors[0].first_args.find(id);
      ASSERT_NE(it, copy->selectors[0].first_args.end()) << description;
      EXPECT_EQ(it->second, args) << description;
    }
    ASSERT_TRUE(acl_.DeleteUsers(std::vector<std::string_view>{"u", "copy"}).ok());
  }
}

TEST_F(AclTest, AnAclFileLoadsAllOrNothing) {
  std::vector<Acl::UserDefinition> users;
  ASSERT_TRUE(Acl::ParseFile("user alice on >pw ~a* +get\n\nuser bob on nopass +@all ~*\n", "users.acl", &users).ok());
  ASSERT_TRUE(acl_.LoadUsers(users, /*replace_all=*/true).ok());
  EXPECT_NE(acl_.Find("alice"), nullptr);
  EXPECT_NE(acl_.Find("default"), nullptr) << "a file without the default user gets Redis's default";
  users.clear();
  ASSERT_TRUE(Acl::ParseFile("user carol on\nuser dave +nosuch\n", "users.acl", &users).ok());
  const absl::Status status = acl_.LoadUsers(users, /*replace_all=*/true);
  EXPECT_EQ(status.message(),
            "users.acl:2: Error in applying operation '+nosuch': Unknown command or category name in ACL. WARNING: "
            "ACL errors detected, no change to the "
            "previously active ACL rules was performed");
  EXPECT_EQ(acl_.Find("carol"), nullptr);
  EXPECT_NE(acl_.Find("alice"), nullptr);
  users.clear();
  EXPECT_FALSE(Acl::ParseFile("alice on\n", "users.acl", &users).ok());
  EXPECT_EQ(acl_.SaveText(),
            "user alice on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~a* resetchannels -@all "
            "+get\nuser bob on nopass ~* resetchannels +@all\nuser default on nopass ~* &* +@all\n");
}

}  // namespace
}  // namespace strata::server
