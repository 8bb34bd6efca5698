// The parts of scripting that need no server: SHA-1 names, shebang and library metadata
// parsing, the function library registry, SCRIPT KILL's answers, and WATCH's registry.
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "server/scripting/scripts.h"
#include "server/scripting/sha1.h"
#include "server/watch.h"

namespace strata::server {
namespace {

using scripting::FunctionLibrary;
using scripting::Scripts;

TEST(Sha1Test, MatchesKnownDigests) {
  EXPECT_EQ(scripting::Sha1Hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(scripting::Sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  // 56 bytes: the length no longer fits the first padding block.
  EXPECT_EQ(scripting::Sha1Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(scripting::Sha1Hex(std::string(1000, 'a')), "291e9a6c66994949b57ba5e650361e98fc36b1ba");
  // Redis's name for "return 1".
  EXPECT_EQ(scripting::Sha1Hex("return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

TEST(ScriptsTest, StoresBodiesUnderTheirShaAnyCase) {
  Scripts scripts;
  const std::string sha = scripts.Store("return 1");
  EXPECT_TRUE(scripts.Exists(sha));
  EXPECT_TRUE(scripts.Exists("E0E1F9FABFC9D4800C877A703B823AC0578FF8DB"));
  EXPECT_EQ(scripts.Find(sha).value_or(""), "return 1");
  const uint64_t generation = scripts.generation();
  scripts.Flush();
  EXPECT_FALSE(scripts.Exists(sha));
  EXPECT_NE(scripts.generation(), generation);
}

TEST(ScriptsTest, KillAnswersAsRedis) {
  Scripts scripts;
  EXPECT_EQ(scripts.Kill(false).message(), "NOTBUSY No scripts in execution right now.");
  scripting::RunningScript run;
  scripts.Started(&run);
  EXPECT_EQ(scripts.Kill(true).message(),  // FUNCTION KILL while a script (not a function) runs
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.");
  EXPECT_TRUE(scripts.Kill(false).ok());
  EXPECT_TRUE(run.kill_requested.load());
  run.kill_requested = false;
  run.wrote = true;
  EXPECT_TRUE(absl::StartsWith(std::string(scripts.Kill(false).message()), "UNKILLABLE"));
  EXPECT_FALSE(run.kill_requested.load());
  scripts.Ended(&run);
}

TEST(ScriptShebangTest, FlagsAndErrors) {
  std::string code;
  scripting::ScriptFlags flags;
  ASSERT_TRUE(scripting::ParseScriptShebang("return 1", &code, &flags).ok());
  EXPECT_EQ(code, "return 1");
  EXPECT_FALSE(flags.shebang);
  EXPECT_FALSE(flags.no_writes);
  ASSERT_TRUE(scripting::ParseScriptShebang("#!lua\nreturn 1", &code, &flags).ok());
  EXPECT_TRUE(flags.shebang);
  EXPECT_FALSE(flags.no_writes);
  ASSERT_TRUE(scripting::ParseScriptShebang("#!lua flags=no-writes,allow-oom\nreturn 1", &code, &flags).ok());
  EXPECT_TRUE(flags.no_writes);
  EXPECT_EQ(code, "\nreturn 1") << "the shebang line is blanked, so line numbers stay the user's";
  EXPECT_EQ(scripting::ParseScriptShebang("#!lua flags=bogus\nreturn 1", &code, &flags).message(),
            "ERR Unexpected flag in script shebang: bogus");
  EXPECT_EQ(scripting::ParseScriptShebang("#!py\nreturn 1", &code, &flags).message(),
            "ERR Unexpected engine in script shebang: #!py");
  EXPECT_EQ(scripting::ParseScriptShebang("#!lua", &code, &flags).message(), "ERR Invalid script shebang");
}

TEST(LibraryMetadataTest, NameAndErrors) {
  auto parsed = scripting::ParseLibraryMetadata("#!lua name=mylib\nredis.register_function('f', f)");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->name, "mylib");
  EXPECT_EQ(parsed->code_to_compile, "\nredis.register_function('f', f)");
  EXPECT_TRUE(scripting::ParseLibraryMetadata("#!LUA name=x\n").ok());
  EXPECT_TRUE(scripting::ParseLibraryMetadata("#!lua\tname=x\r\n").ok()) << "any blank separates words";
  EXPECT_EQ(scripting::ParseLibraryMetadata("#!lua name=x").status().message(), "ERR Invalid library metadata");
  EXPECT_EQ(scripting::ParseLibraryMetadata("#!\nreturn 1").status().message(), "ERR Library name was not given");
  EXPECT_EQ(scripting::ParseLibraryMetadata("return 1").status().message(), "ERR Missing library metadata");
  EXPECT_EQ(scripting::ParseLibraryMetadata("#!lua\n").status().message(), "ERR Library name was not given");
  EXPECT_EQ(scripting::ParseLibraryMetadata("#!js name=x\n").status().message(), "ERR Engine 'js' not found");
  EXPECT_EQ(scripting::ParseLibraryMetadata("#!lua name=x foo=bar\n").status().message(),
            "ERR Invalid metadata value given: foo=bar");
  EXPECT_EQ(scripting::ParseLibraryMetadata("#!lua name=a name=b\n").status().message(),
            "ERR Invalid metadata value, name argument was given multiple times");
  EXPECT_FALSE(scripting::ParseLibraryMetadata("#!lua name=bad-name\n").ok());
}

TEST(FunctionRegistryTest, NamesAreUniqueAcrossLibraries) {
  Scripts scripts;
  ASSERT_TRUE(scripts.AddLibrary(FunctionLibrary{"lib1", "#!lua name=lib1\n", {{"f1", 0, {}}}}, false).ok());
  EXPECT_EQ(scripts.AddLibrary(FunctionLibrary{"lib1", "", {{"g", 0, {}}}}, false).message(),
            "ERR Library 'lib1' already exists");
  EXPECT_EQ(scripts.AddLibrary(FunctionLibrary{"lib2", "", {{"F1", 0, {}}}}, false).message(),
            "ERR Function F1 already exists")
      << "function names are compared without regard to case";
  const uint64_t generation = scripts.functions_generation();
  ASSERT_TRUE(scripts.AddLibrary(FunctionLibrary{"lib1", "", {{"f2", scripting::ScriptFlagBit("NO-WRITES"), {}}}}, true).ok());
  EXPECT_NE(scripts.functions_generation(), generation);
  scripting::FunctionInfo info;
  EXPECT_FALSE(scripts.FindFunction("f1", &info)) << "REPLACE drops the old library's functions";
  ASSERT_TRUE(scripts.FindFunction("f2", &info));
  EXPECT_TRUE(info.no_writes());
  EXPECT_TRUE(scripts.DeleteLibrary("lib1"));
  EXPECT_FALSE(scripts.DeleteLibrary("lib1"));
  EXPECT_TRUE(scripts.Libraries().empty());
}

TEST(WatchRegistryTest, TouchMarksOnlyWatchersOfThatKey) {
  WatchRegistry registry;
  WatchedKeys alice, bob;
  EXPECT_FALSE(registry.any());
  registry.Watch(&alice, 0, "k", true);
  registry.Watch(&alice, 0, "k", true);  // once
  registry.Watch(&bob, 1, "k", false);   // same name, other database
  EXPECT_EQ(alice.keys.size(), 1u);
  EXPECT_TRUE(registry.any());
  registry.Touch(0, "other");
  registry.Touch(0, "k");
  EXPECT_TRUE(alice.dirty.load());
  EXPECT_FALSE(bob.dirty.load());
  registry.Unwatch(&alice);
  EXPECT_FALSE(alice.dirty.load());
  EXPECT_TRUE(alice.keys.empty());
  registry.TouchExisting(-1, [](int db, std::string_view key) { return db == 1 && key == "k"; });
  EXPECT_TRUE(bob.dirty.load());
  registry.Unwatch(&bob);
  EXPECT_FALSE(registry.any());
}

}  // namespace
}  // namespace strata::server
