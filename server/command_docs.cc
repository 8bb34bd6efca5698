#include "server/command_docs.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/absl_compat.h"

namespace strata::server {
namespace {

constexpr std::string_view kAclCategoryNames[] = {
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
    "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
    "blocking", "dangerous", "connection", "transaction", "scripting", "loader",
};

bool IsTokenWord(std::string_view word) {
  if (word.empty() || !std::isupper(static_cast<unsigned char>(word[0]))) return false;
  return std::all_of(word.begin(), word.end(), [](char c) {
    return std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
           c == '-' || c == '_';
  });
}

bool IsNameChar(char c) {
  return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
         c == '-' || c == '_';
}

// A recursive-descent parser of the grammar in command_docs.h.
class SyntaxParser {
 public:
  explicit SyntaxParser(std::string_view text) : text_(text) {}

  absl::StatusOr<std::vector<ArgumentDoc>> ParseAll() {
    std::vector<ArgumentDoc> args = ParseSequence(/*in_group=*/false);
    SkipSpaces();
    if (error_.empty() && pos_ < text_.size()) Fail("unexpected character");
    if (!error_.empty()) return absl::InvalidArgumentError(error_);
    return args;
  }

 private:
  // An item before token binding: a literal token, or an argument (plain or a group).
  struct Unit {
    bool is_token = false;
    std::string token;
    ArgumentDoc arg;
  };

  void Fail(std::string_view what) {
    if (error_.empty()) error_ = absl::StrCat(Absl(what), " at offset ", pos_, " of \"", Absl(text_), "\"");
  }
  void SkipSpaces() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  bool TakeEllipsis() {
    if (text_.substr(pos_, 3) != "...") return false;
    pos_ += 3;
    return true;
  }
  std::string_view TakeWhile(bool (*pred)(char)) {
    const size_t start = pos_;
    while (pos_ < text_.size() && pred(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  // Parses units up to a ']', ')', '|' or the end, then binds tokens to what follows them.
  std::vector<ArgumentDoc> ParseSequence(bool in_group) {
    std::vector<Unit> units;
    while (error_.empty()) {
      SkipSpaces();
      const char c = Peek();
      if (c == '\0' || c == ']' || c == ')' || c == '|') break;
      Unit unit;
      if (c == '[' || c == '(') {
        ++pos_;
        unit.arg = ParseGroup(c == '[' ? ']' : ')');
        if (c == '[') unit.arg.optional = true;
      } else if (std::isupper(static_cast<unsigned char>(c))) {
        unit.is_token = true;
        unit.token = std::string(TakeWhile([](char ch) { return !std::strchr(" []()|.", ch) && ch != '\0'; }));
        if (!IsTokenWord(unit.token)) Fail("bad token");
      } else if (IsNameChar(c)) {
        unit.arg = ParseArgument();
      } else {
        Fail("unexpected character");
        break;
      }
      if (TakeEllipsis()) {
        if (unit.is_token) {
          Fail("a token cannot repeat on its own");
          break;
        }
        unit.arg.multiple = true;
        // The token was bound inside the group, so it repeats with each value.
        if (!unit.arg.token.empty()) unit.arg.multiple_token = true;
      }
      units.push_back(std::move(unit));
    }
    return BindTokens(std::move(units), in_group);
  }

  std::vector<ArgumentDoc> BindTokens(std::vector<Unit> units, bool in_group) {
    std::vector<ArgumentDoc> out;
    // A group whose sequence starts with a token and has two or more units after it is a block
    // carrying that token (LIMIT offset count).
    if (in_group && units.size() >= 3 && units[0].is_token &&
        std::none_of(units.begin() + 1, units.end(), [](const Unit& u) { return u.is_token; })) {
      ArgumentDoc block;
      block.type = ArgumentDoc::Type::kBlock;
      block.token = units[0].token;
      block.name = absl::AsciiStrToLower(units[0].token);
      for (size_t i = 1; i < units.size(); ++i) block.arguments.push_back(std::move(units[i].arg));
      out.push_back(std::move(block));
      return out;
    }
    for (size_t i = 0; i < units.size(); ++i) {
      if (!units[i].is_token) {
        out.push_back(std::move(units[i].arg));
        continue;
      }
      if (i + 1 < units.size() && !units[i + 1].is_token && units[i + 1].arg.token.empty()) {
        ArgumentDoc arg = std::move(units[i + 1].arg);
        arg.token = units[i].token;
        out.push_back(std::move(arg));
        ++i;
        continue;
      }
      ArgumentDoc pure;
      pure.type = ArgumentDoc::Type::kPureToken;
      pure.token = units[i].token;
      pure.name = absl::AsciiStrToLower(units[i].token);
      out.push_back(std::move(pure));
    }
    return out;
  }

  ArgumentDoc ParseArgument() {
    ArgumentDoc arg;
    arg.name = std::string(TakeWhile(IsNameChar));
    arg.type = arg.name == "key" ? ArgumentDoc::Type::kKey : ArgumentDoc::Type::kString;
    if (Peek() == ':') {
      ++pos_;
      const std::string_view type = TakeWhile(IsNameChar);
      static constexpr std::pair<std::string_view, ArgumentDoc::Type> kTypes[] = {
          {"key", ArgumentDoc::Type::kKey},         {"string", ArgumentDoc::Type::kString},
          {"integer", ArgumentDoc::Type::kInteger}, {"double", ArgumentDoc::Type::kDouble},
          {"pattern", ArgumentDoc::Type::kPattern}, {"unix-time", ArgumentDoc::Type::kUnixTime},
      };
      auto it = std::find_if(std::begin(kTypes), std::end(kTypes), [&](const auto& t) { return t.first == type; });
      if (it == std::end(kTypes)) {
        Fail("unknown type");
        return arg;
      }
      arg.type = it->second;
    }
    if (Peek() == '!') {
      ++pos_;
      // A pattern may name keys too (SORT BY / GET): its key spec's position is unknown.
      if (arg.type != ArgumentDoc::Type::kKey && arg.type != ArgumentDoc::Type::kPattern) {
        Fail("key flags on an argument that is neither a key nor a pattern");
      }
      arg.key_flags = std::string(TakeWhile([](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ','; }));
      static constexpr std::string_view kKeySpecFlags[] = {"RO", "RW", "OW", "RM", "access", "update", "insert",
                                                           "delete", "not_key", "incomplete", "variable_flags"};
      for (absl::string_view flag : absl::StrSplit(arg.key_flags, ',')) {
        if (std::find(std::begin(kKeySpecFlags), std::end(kKeySpecFlags), Std(flag)) == std::end(kKeySpecFlags)) {
          Fail("unknown key spec flag");
        }
      }
    }
    return arg;
  }

  // Parses "[name=] seq (| seq)*" up to `closing`, which it consumes.
  ArgumentDoc ParseGroup(char closing) {
    SkipSpaces();
    std::string name;
    const size_t start = pos_;
    const std::string_view word = TakeWhile(IsNameChar);
    if (!word.empty() && Peek() == '=') {
      ++pos_;
      name = std::string(word);
    } else {
      pos_ = start;
    }
    std::vector<std::vector<ArgumentDoc>> alternatives;
    while (error_.empty()) {
      alternatives.push_back(ParseSequence(/*in_group=*/true));
      SkipSpaces();
      if (Peek() == '|') {
        ++pos_;
        continue;
      }
      if (Peek() == closing) {
        ++pos_;
      } else {
        Fail(absl::StrCat("expected '", absl::string_view(&closing, 1), "'"));
      }
      break;
    }
    auto as_one = [](std::vector<ArgumentDoc> seq, std::string group_name) {
      if (seq.size() == 1) {
        if (!group_name.empty()) seq[0].name = std::move(group_name);
        return std::move(seq[0]);
      }
      ArgumentDoc block;
      block.type = ArgumentDoc::Type::kBlock;
      block.name = group_name.empty() ? JoinNames(seq) : std::move(group_name);
      block.arguments = std::move(seq);
      return block;
    };
    if (!error_.empty()) return {};
    for (const auto& seq : alternatives) {
      if (seq.empty()) Fail("empty group");
    }
    if (alternatives.size() == 1) return as_one(std::move(alternatives[0]), std::move(name));
    ArgumentDoc oneof;
    oneof.type = ArgumentDoc::Type::kOneOf;
    for (auto& seq : alternatives) oneof.arguments.push_back(as_one(std::move(seq), ""));
    oneof.name = name.empty() ? JoinNames(oneof.arguments) : std::move(name);
    return oneof;
  }

  static std::string JoinNames(const std::vector<ArgumentDoc>& args) {
    return absl::StrJoin(args, "-", [](std::string* out, const ArgumentDoc& a) { out->append(a.name); });
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::string error_;
};

// How many command-line words an argument takes when it has a fixed width; -1 when it varies.
int FixedWidth(const ArgumentDoc& arg) {
  if (arg.optional || arg.multiple || arg.type == ArgumentDoc::Type::kOneOf) return -1;
  int width = arg.token.empty() ? 0 : 1;
  if (arg.type == ArgumentDoc::Type::kPureToken) return width;
  if (arg.type != ArgumentDoc::Type::kBlock) return width + 1;
  for (const ArgumentDoc& child : arg.arguments) {
    const int w = FixedWidth(child);
    if (w < 0) return -1;
    width += w;
  }
  return width;
}

class KeySpecBuilder {
 public:
  KeySpecBuilder(std::string_view default_flags, std::vector<KeySpecDoc>* specs)
      : default_flags_(default_flags), specs_(specs) {}

  // Assigns key specs to the top-level arguments, from their positions.
  void Build(std::vector<ArgumentDoc>& args, int first_argument) {
    int pos = first_argument;  // valid while `fixed`
    bool fixed = true;
    for (size_t i = 0; i < args.size(); ++i) {
      ArgumentDoc& arg = args[i];
      const ArgumentDoc* prev = i > 0 ? &args[i - 1] : nullptr;
      const bool single_fixed_key = arg.type == ArgumentDoc::Type::kKey && fixed && !arg.optional && !arg.multiple &&
                                    arg.token.empty();
      if (single_fixed_key && ExtendsPreviousKey(arg, pos)) {
        // Adjacent keys used alike share one spec (LCS key1 key2: index 1, lastkey 1).
      } else if (arg.type == ArgumentDoc::Type::kKey) {
        KeySpecDoc& spec = Add(arg);
        const bool after_numkeys = prev != nullptr && prev->name == "numkeys" && FixedWidth(*prev) == 1;
        if (after_numkeys && fixed_before_prev_) {
          spec.begin = KeySpecDoc::Begin::kIndex;
          spec.index = pos - 1;
          spec.find = KeySpecDoc::Find::kKeyNum;
          spec.key_num_index = 0;
          spec.first_key = 1;
          spec.key_step = 1;
        } else if (fixed && arg.token.empty() && (!arg.optional || i + 1 == args.size()) &&
                   (!arg.multiple || FixedTail(args, i + 1) >= 0)) {
          // An optional run of keys at the end counts as a range that may be empty.
          spec.begin = KeySpecDoc::Begin::kIndex;
          spec.index = pos;
          spec.find = KeySpecDoc::Find::kRange;
          spec.last_key = arg.multiple ? -1 - FixedTail(args, i + 1) : 0;
        }
      } else if (arg.type == ArgumentDoc::Type::kBlock && arg.multiple && !arg.optional && fixed &&
                 arg.token.empty() && AllSimple(arg.arguments) && FixedTail(args, i + 1) >= 0) {
        // A repeated block of one-word arguments (MSET key value ...): each key is every width-th.
        const int width = static_cast<int>(arg.arguments.size());
        for (int j = 0; j < width; ++j) {
          if (arg.arguments[j].type != ArgumentDoc::Type::kKey) continue;
          KeySpecDoc& spec = Add(arg.arguments[j]);
          spec.begin = KeySpecDoc::Begin::kIndex;
          spec.index = pos + j;
          spec.find = KeySpecDoc::Find::kRange;
          spec.last_key = -1 - FixedTail(args, i + 1);
          spec.key_step = width;
        }
      } else {
        AddUnknown(arg);
      }
      previous_single_key_ = single_fixed_key ? arg.key_spec_index : -1;
      fixed_before_prev_ = fixed;
      const int width = FixedWidth(arg);
      if (width < 0) fixed = false;
      if (fixed) pos += width;
    }
  }

 private:
  // Joins a fixed key to the spec of the key just before it when both are used alike.
  bool ExtendsPreviousKey(ArgumentDoc& key, int pos) {
    if (previous_single_key_ < 0) return false;
    KeySpecDoc& spec = (*specs_)[previous_single_key_];
    if (spec.begin != KeySpecDoc::Begin::kIndex || spec.find != KeySpecDoc::Find::kRange) return false;
    const std::string_view flags = key.key_flags.empty() ? default_flags_ : std::string_view(key.key_flags);
    if (absl::StrJoin(spec.flags, ",") != flags || spec.index + spec.last_key != pos - 1) return false;
    ++spec.last_key;
    key.key_spec_index = previous_single_key_;
    return true;
  }
  static bool AllSimple(const std::vector<ArgumentDoc>& args) {
    return std::all_of(args.begin(), args.end(), [](const ArgumentDoc& a) {
      return FixedWidth(a) == 1 && a.token.empty();
    });
  }
  // The words the arguments after `from` take (BLPOP key... timeout: 1); -1 when one of them
  // varies, so where a run of keys before them ends is unknown.
  static int FixedTail(const std::vector<ArgumentDoc>& args, size_t from) {
    int words = 0;
    for (size_t i = from; i < args.size(); ++i) {
      const int w = FixedWidth(args[i]);
      if (w < 0) return -1;
      words += w;
    }
    return words;
  }
  KeySpecDoc& Add(ArgumentDoc& key) {
    key.key_spec_index = static_cast<int>(specs_->size());
    KeySpecDoc& spec = specs_->emplace_back();
    const std::string_view flags = key.key_flags.empty() ? default_flags_ : std::string_view(key.key_flags);
    for (absl::string_view flag : absl::StrSplit(Absl(flags), ',', absl::SkipEmpty())) spec.flags.emplace_back(flag);
    return spec;
  }
  // Keys inside optional or variable parts: their position is known only to the command.
  void AddUnknown(ArgumentDoc& arg) {
    if (arg.type == ArgumentDoc::Type::kKey || (arg.type == ArgumentDoc::Type::kPattern && !arg.key_flags.empty())) {
      // One unknown spec stands for every such argument used alike (SORT's BY and GET).
      const std::string_view flags = arg.key_flags.empty() ? default_flags_ : std::string_view(arg.key_flags);
      for (size_t i = 0; i < specs_->size(); ++i) {
        const KeySpecDoc& spec = (*specs_)[i];
        if (spec.begin == KeySpecDoc::Begin::kUnknown && absl::StrJoin(spec.flags, ",") == flags) {
          arg.key_spec_index = static_cast<int>(i);
          return;
        }
      }
      Add(arg);
      return;
    }
    for (ArgumentDoc& child : arg.arguments) AddUnknown(child);
  }

  std::string_view default_flags_;
  std::vector<KeySpecDoc>* specs_;
  bool fixed_before_prev_ = true;
  int previous_single_key_ = -1;  // the spec of the argument before, when a single fixed key
};

}  // namespace

std::span<const std::string_view> AclCategoryNames() { return kAclCategoryNames; }

uint32_t AclCategoryByName(std::string_view name) {
  for (size_t i = 0; i < std::size(kAclCategoryNames); ++i) {
    if (absl::EqualsIgnoreCase(Absl(name), Absl(kAclCategoryNames[i]))) return 1u << i;
  }
  return 0;
}

uint32_t AclCategoryOfGroup(std::string_view group) {
  static constexpr std::pair<std::string_view, uint32_t> kGroups[] = {
      {"generic", kAclKeyspace},     {"string", kAclString},        {"list", kAclList},
      {"set", kAclSet},              {"sorted-set", kAclSortedSet}, {"hash", kAclHash},
      {"bitmap", kAclBitmap},        {"hyperloglog", kAclHyperLogLog}, {"geo", kAclGeo},
      {"stream", kAclStream},        {"pubsub", kAclPubSub},        {"connection", kAclConnection},
      {"transactions", kAclTransaction}, {"scripting", kAclScripting}, {"loader", kAclLoader},
  };
  for (const auto& [name, category] : kGroups) {
    if (name == group) return category;
  }
  return 0;
}

std::string_view ArgumentTypeName(ArgumentDoc::Type type) {
  switch (type) {
    case ArgumentDoc::Type::kKey: return "key";
    case ArgumentDoc::Type::kString: return "string";
    case ArgumentDoc::Type::kInteger: return "integer";
    case ArgumentDoc::Type::kDouble: return "double";
    case ArgumentDoc::Type::kPattern: return "pattern";
    case ArgumentDoc::Type::kUnixTime: return "unix-time";
    case ArgumentDoc::Type::kPureToken: return "pure-token";
    case ArgumentDoc::Type::kOneOf: return "oneof";
    case ArgumentDoc::Type::kBlock: return "block";
  }
  return "string";
}

LegacyKeyRange LegacyKeyRangeOf(const std::vector<KeySpecDoc>& key_specs) {
  LegacyKeyRange range;
  if (key_specs.empty()) return range;
  auto plain = [](const KeySpecDoc& spec) {
    return spec.begin == KeySpecDoc::Begin::kIndex && spec.find == KeySpecDoc::Find::kRange;
  };
  auto absolute_last = [](const KeySpecDoc& spec) { return spec.last_key < 0 ? spec.last_key : spec.index + spec.last_key; };
  if (key_specs.size() == 1 && plain(key_specs[0])) {
    range.first_key = key_specs[0].index;
    range.last_key = absolute_last(key_specs[0]);
    range.key_step = key_specs[0].key_step;
    return range;
  }
  // Several specs: the consecutive step-1 ranges join; anything else makes the keys movable.
  int first = INT32_MAX;
  unsigned last = 0;  // compared unsigned, as Redis does, so a negative (from the end) wins
  unsigned previous_last = 0;
  for (const KeySpecDoc& spec : key_specs) {
    if (!plain(spec) || spec.key_step != 1 || (previous_last != 0 && previous_last != static_cast<unsigned>(spec.index - 1))) {
      range.movable_keys = true;
      continue;
    }
    first = std::min(first, spec.index);
    last = std::max(last, static_cast<unsigned>(absolute_last(spec)));
    previous_last = last;
  }
  if (first == INT32_MAX) {
    range.movable_keys = true;
    return range;
  }
  range.first_key = first;
  range.last_key = static_cast<int>(last);
  range.key_step = 1;
  return range;
}

absl::StatusOr<ParsedSyntax> ParseCommandSyntax(std::string_view syntax, int first_argument,
                                                std::string_view default_key_flags) {
  SyntaxParser parser(syntax);
  absl::StatusOr<std::vector<ArgumentDoc>> args = parser.ParseAll();
  if (!args.ok()) return args.status();
  ParsedSyntax parsed;
  parsed.arguments = *std::move(args);
  KeySpecBuilder(default_key_flags, &parsed.key_specs).Build(parsed.arguments, first_argument);
  return parsed;
}

}  // namespace strata::server
