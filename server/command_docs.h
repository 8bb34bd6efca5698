// What COMMAND DOCS and COMMAND INFO say about a command beyond its dispatch entry: its
// arguments, key specs and ACL categories, all derived from one syntax line per command.
//
// Contract: every command and subcommand in the CommandTable has exactly one CommandDoc
// (command_docs_table.cc); its syntax line parses (ParseCommandSyntax), and the key specs derived
// from it agree with the dispatch entry's key positions (command_docs_test checks both).
//
// Syntax grammar (the arguments after the command name, or after "CONTAINER SUBCOMMAND"):
//   seq   := item*                       space separated
//   item  := unit ['...']                '...' = the unit may repeat ("multiple")
//   unit  := '[' group ']'               optional
//          | '(' group ')'               required group
//          | TOKEN                       an UPPERCASE word: a literal token
//          | arg
//   group := [name '='] seq ('|' seq)*   one alternative: a block (or that one argument);
//                                        several: a oneof
//   arg   := name [':' type] ['!' keyflags]   type: key | string | integer | double | pattern |
//                                        unix-time (default: key for "key", else string);
//                                        keyflags: Redis key-spec flags, comma separated
// A TOKEN followed by one unit is that unit's token (EX seconds); a TOKEN starting a sequence of
// two or more units makes them a block with that token (LIMIT offset count); a TOKEN alone is a
// pure token. Key specs are derived from the key arguments' positions: fixed position (index +
// range), after "numkeys" (index + keynum), repeated in a repeated block (range with a step),
// or behind an optional or a token (unknown).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace strata::server {

// One command's documentation, as written in command_docs_table.cc.
struct CommandDoc {
  std::string_view name;  // as in the CommandTable: "set", "config|get"
  std::string_view since;
  std::string_view complexity;
  std::string_view syntax;
  std::string_view group = {};           // set only where it differs from the registering family's
  // "@a @b": beyond those implied by flags and group; "-@a": one the group implies, not given.
  std::string_view acl_categories = {};
  std::string_view tips = {};  // COMMAND INFO's tips, space separated ("nondeterministic_output")
};

// Every command's documentation (command_docs_table.cc).
std::span<const CommandDoc> CommandDocs();

// ACL categories, Redis's plus strata's @loader; a command's set is a bit mask of these.
enum AclCategory : uint32_t {
  kAclKeyspace = 1 << 0, kAclRead = 1 << 1, kAclWrite = 1 << 2, kAclSet = 1 << 3,
  kAclSortedSet = 1 << 4, kAclList = 1 << 5, kAclHash = 1 << 6, kAclString = 1 << 7,
  kAclBitmap = 1 << 8, kAclHyperLogLog = 1 << 9, kAclGeo = 1 << 10, kAclStream = 1 << 11,
  kAclPubSub = 1 << 12, kAclAdmin = 1 << 13, kAclFast = 1 << 14, kAclSlow = 1 << 15,
  kAclBlocking = 1 << 16, kAclDangerous = 1 << 17, kAclConnection = 1 << 18,
  kAclTransaction = 1 << 19, kAclScripting = 1 << 20, kAclLoader = 1 << 21,
};
// The categories' names without '@', in Redis's order (ACL CAT lists them so); index i names bit i.
std::span<const std::string_view> AclCategoryNames();
// The category named (without '@', any case); 0 when none is.
uint32_t AclCategoryByName(std::string_view name);
// The category a command group implies ("string" -> @string, "generic" -> @keyspace...); 0 for
// groups that imply none (server).
uint32_t AclCategoryOfGroup(std::string_view group);

// One argument in COMMAND DOCS's tree.
struct ArgumentDoc {
  enum class Type { kKey, kString, kInteger, kDouble, kPattern, kUnixTime, kPureToken, kOneOf, kBlock };
  std::string name;
  Type type = Type::kString;
  std::string token;         // empty: none
  bool optional = false;
  bool multiple = false;
  bool multiple_token = false;  // the token repeats with each value (SORT ... GET p GET p)
  int key_spec_index = -1;      // a key, or a pattern naming keys (SORT BY): its key spec
  std::string key_flags;        // its key spec's flags, comma separated
  std::vector<ArgumentDoc> arguments;  // kOneOf and kBlock
};
std::string_view ArgumentTypeName(ArgumentDoc::Type type);

// One key spec, as COMMAND INFO describes it (Redis 7's begin_search / find_keys).
struct KeySpecDoc {
  std::vector<std::string> flags;
  enum class Begin { kIndex, kUnknown } begin = Begin::kUnknown;
  int index = 0;
  enum class Find { kRange, kKeyNum, kUnknown } find = Find::kUnknown;
  int last_key = 0, key_step = 1, limit = 0;          // kRange
  int key_num_index = 0, first_key = 1;                // kKeyNum (key_step shared)
};

struct ParsedSyntax {
  std::vector<ArgumentDoc> arguments;
  std::vector<KeySpecDoc> key_specs;
};

// COMMAND INFO's first key, last key and step: the one range the key specs reduce to, as Redis
// 7.2 derives it (populateCommandLegacyRangeSpec; for every command Redis 7.0 has, 7.0's rule
// gives the same); movable_keys when some keys lie outside it.
struct LegacyKeyRange {
  int first_key = 0, last_key = 0, key_step = 0;
  bool movable_keys = false;
};
LegacyKeyRange LegacyKeyRangeOf(const std::vector<KeySpecDoc>& key_specs);

// Parses a syntax line. `first_argument` is the index of its first argument in the command
// line (1 for a command, 2 for a subcommand); `default_key_flags` is what a key argument
// without '!' gets ("RO,access" for read-only commands).
absl::StatusOr<ParsedSyntax> ParseCommandSyntax(std::string_view syntax, int first_argument,
                                                std::string_view default_key_flags);

}  // namespace strata::server
