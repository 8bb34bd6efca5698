#include "server/acl.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/absl_compat.h"
#include "server/command.h"
#include "server/command_docs.h"
#include "server/errors.h"
#include "storage/glob.h"

namespace strata::server {

namespace {

constexpr size_t kPasswordHashLength = 64;  // SHA-256 as hex
constexpr size_t kLogGroupingScan = 10;       // entries compared for grouping, as Redis
constexpr int64_t kLogGroupingMs = 60000;

bool HasSpaces(std::string_view s) {
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '\0') return true;
  }
  return false;
}

bool ValidPasswordHash(std::string_view hash) {
  if (hash.size() != kPasswordHashLength) return false;
  for (char c : hash) {
    if (!((c >= 'a' && c <= 'f') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

// Compares every byte whatever the first difference (a password check must not tell, by its
// time, how much of a guess was right). Both are hashes of the same length.
bool EqualInConstantTime(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// Redis's ACLSetUserStringError texts.
absl::Status RuleError(std::string_view text) { return absl::InvalidArgumentError(Absl(text)); }
absl::Status SyntaxError() { return RuleError("Syntax error"); }
absl::Status UnknownCommandError() { return RuleError("Unknown command or category name in ACL"); }

// Selector definitions may be spread over arguments ("(~x*" "+get)"): joins them, as Redis's
// ACLMergeSelectorArguments does. On an unclosed '(' returns false and its index.
bool MergeSelectorArguments(std::span<const std::string_view> rules, std::vector<std::string>* merged,
                            size_t* unclosed) {
  std::string selector;
  bool open = false;
  size_t open_index = 0;
  for (size_t i = 0; i < rules.size(); ++i) {
    std::string_view op = rules[i];
    if (!open && !op.empty() && op.front() == '(' && op.back() != ')') {
      selector = std::string(op);
      open = true;
      open_index = i;
      continue;
    }
    if (open) {
      absl::StrAppend(&selector, " ", Absl(op));
      if (!op.empty() && op.back() == ')') {
        merged->push_back(std::move(selector));
        open = false;
      }
      continue;
    }
    merged->emplace_back(op);
  }
  if (open) {
    *unclosed = open_index;
    return false;
  }
  return true;
}

uint8_t AccessOfKeyFlags(const std::vector<std::string>& flags) {
  uint8_t access = 0;
  for (const std::string& flag : flags) {
    if (flag == "access") access |= kAclKeyRead;
    if (flag == "insert" || flag == "delete" || flag == "update") access |= kAclKeyWrite;
  }
  return access;
}

}  // namespace

std::string Acl::HashPassword(std::string_view password) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(password.data(), password.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

Acl::Acl(const CommandTable& commands) : commands_(commands) {
  words_ = (commands.by_id().size() + 63) / 64;
  channel_mode_.assign(commands.by_id().size(), 0);
  for (const CommandSpec* spec : commands.by_id()) {
    const std::string_view name = spec->name;
    if (name == "publish" || name == "spublish") channel_mode_[spec->id] = 1;
    if (name == "subscribe" || name == "ssubscribe") channel_mode_[spec->id] = 2;
    if (name == "psubscribe") channel_mode_[spec->id] = 3;
  }
  // The access of keys no simple key spec locates: what the specs of key arguments behind
  // options say (SORT's STORE destination, OW), not those of patterns (SORT's BY, RO).
  unlocated_access_.assign(commands.by_id().size(), kAclKeyRead | kAclKeyWrite);
  for (const CommandSpec* spec : commands.by_id()) {
    const ParsedSyntax& syntax = commands.docs(*spec).syntax;
    uint8_t access = 0;
    std::function<void(const std::vector<ArgumentDoc>&)> walk = [&](const std::vector<ArgumentDoc>& arguments) {
      for (const ArgumentDoc& a : arguments) {
        if (a.type == ArgumentDoc::Type::kKey && a.key_spec_index >= 0 &&
            static_cast<size_t>(a.key_spec_index) < syntax.key_specs.size()) {
          const KeySpecDoc& ks = syntax.key_specs[a.key_spec_index];
          if (ks.begin != KeySpecDoc::Begin::kIndex || ks.find == KeySpecDoc::Find::kUnknown) access |= AccessOfKeyFlags(ks.flags);
        }
        walk(a.arguments);
      }
    };
    walk(syntax.arguments);
    if (access != 0) unlocated_access_[spec->id] = access;
  }
  key_specs_.resize(commands.by_id().size());
  for (const CommandSpec* spec : commands.by_id()) {
    for (const KeySpecDoc& ks : commands.docs(*spec).syntax.key_specs) key_specs_[spec->id].push_back({&ks, AccessOfKeyFlags(ks.flags)});
  }
  has_keys_.assign(commands.by_id().size(), false);
  for (const CommandSpec* spec : commands.by_id()) {
    bool keys = spec->first_key > 0;
    for (const KeySpecDoc& ks : commands.docs(*spec).syntax.key_specs) {
      keys |= std::find(ks.flags.begin(), ks.flags.end(), "not_key") == ks.flags.end();
    }
    has_keys_[spec->id] = keys;
  }
  variable_flags_.assign(commands.by_id().size(), 0);
  if (const CommandSpec* set = commands.Find("set")) variable_flags_[set->id] = kVariableSet;
  if (const CommandSpec* bitfield = commands.Find("bitfield")) variable_flags_[bitfield->id] = kVariableBitfield;
  single_key_.assign(commands.by_id().size(), SingleKey{});
  for (const CommandSpec* spec : commands.by_id()) {
    const std::vector<KeySpecAccess>& specs = key_specs_[spec->id];
    if (spec->find_keys != nullptr || specs.size() != 1) continue;
    const KeySpecDoc& ks = *specs[0].spec;
    if (ks.begin == KeySpecDoc::Begin::kIndex && ks.find == KeySpecDoc::Find::kRange && ks.last_key == 0 &&
        ks.index > 0 && ks.index == spec->first_key && spec->last_key == spec->first_key) {
      const uint8_t may_add = variable_flags_[spec->id] != 0 ? kAclKeyRead | kAclKeyWrite : 0;
      single_key_[spec->id] = {static_cast<uint16_t>(ks.index), specs[0].access, may_add};
    }
  }
  AclUser user = NewUser("default");
  for (std::string_view rule : {"+@all", "~*", "&*", "on", "nopass"}) {
    const absl::Status status = ApplyUserRule(user, rule);
    (void)status;  // the default user's rules are known good
  }
  Finish(user);
  absl::MutexLock lock(&mu_);
  user.incarnation = next_incarnation_++;
  Publish(std::make_shared<const AclUser>(std::move(user)));
}

AclSelector Acl::NewSelector() const {
  AclSelector selector;
  selector.allowed.assign(words_, 0);
  return selector;
}

AclUser Acl::NewUser(std::string_view name) const {
  AclUser user;
  user.name = std::string(name);
  user.selectors.push_back(NewSelector());
  return user;
}

void Acl::Finish(AclUser& user) const {
  user.unrestricted = false;
  user.quick.clear();
  if (user.selectors.size() == 1) {
    const AclSelector& s = user.selectors[0];
    user.quick.assign(commands_.by_id().size(), AclUser::kQuickAsk);
    for (const CommandSpec* spec : commands_.by_id()) {
      const uint16_t id = spec->id;
      if (!s.all_commands && !s.Allows(id)) continue;  // refused, or a first-argument rule: Check
      if (!s.all_channels && channel_mode_[id] != 0) continue;
      if (s.all_keys || !has_keys_[id]) {
        user.quick[id] = AclUser::kQuickAllowed;
      } else if (const SingleKey key = single_key_[id]; key.index == 1) {
        // SET's and BITFIELD's access depends on their arguments: the quick path asks for both.
        user.quick[id] = static_cast<uint8_t>(AclUser::kQuickIfFirstKey + (key.access | key.may_add));
      }
    }
  }
  for (AclSelector& s : user.selectors) {
    if (s.all_commands && s.all_keys && s.all_channels) user.unrestricted = true;
    for (uint8_t access = 0; access < s.key_matchers.size(); ++access) {
      std::vector<storage::KeyFamilies::Family> granting;
      for (const AclSelector::KeyPattern& p : s.key_patterns) {
        if ((p.access & access) == access) granting.push_back({p.pattern, p.pattern});
      }
      s.key_matchers[access] = granting.size() <= storage::KeyFamilies::kMaxFamilies
                                   ? std::make_shared<const storage::KeyFamilies>(std::move(granting))
                                   : nullptr;
    }
  }
}

void Acl::Publish(std::shared_ptr<const AclUser> user) {
  if (user->name == "default") default_nopass_.store(user->nopass, std::memory_order_relaxed);
  users_[user->name] = std::move(user);
  generation_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const AclUser> Acl::Find(std::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = users_.find(Absl(name));
  return it == users_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const AclUser>> Acl::Users() const {
  std::vector<std::shared_ptr<const AclUser>> users;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, user] : users_) users.push_back(user);
  }
  std::sort(users.begin(), users.end(), [](const auto& a, const auto& b) { return a->name < b->name; });
  return users;
}

void Acl::SetCommand(AclSelector& selector, const CommandSpec& spec, bool allow) const {
  auto set = [&](uint16_t id) {
    uint64_t& word = selector.allowed[id / 64];
    const uint64_t bit = uint64_t{1} << (id % 64);
    word = allow ? word | bit : word & ~bit;
  };
  set(spec.id);
  if (!allow) selector.all_commands = false;
  selector.first_args.erase(spec.id);
  for (const CommandSpec& sub : spec.subcommands) {
    set(sub.id);
  }
}

void Acl::SetCategory(AclSelector& selector, uint32_t category, bool allow) const {
  for (const CommandSpec* spec : commands_.by_id()) {
    if (commands_.acl_categories(*spec) & category) SetCommand(selector, *spec, allow);
  }
}

absl::Status Acl::ApplySelectorRule(AclSelector& selector, std::string_view op) const {
  if (absl::EqualsIgnoreCase(Absl(op), "allkeys") || op == "~*") {
    selector.all_keys = true;
    selector.key_patterns.clear();
  } else if (absl::EqualsIgnoreCase(Absl(op), "resetkeys")) {
    selector.all_keys = false;
    selector.key_patterns.clear();
  } else if (absl::EqualsIgnoreCase(Absl(op), "allchannels") || op == "&*") {
    selector.all_channels = true;
    selector.channel_patterns.clear();
  } else if (absl::EqualsIgnoreCase(Absl(op), "resetchannels")) {
    selector.all_channels = false;
    selector.channel_patterns.clear();
  } else if (absl::EqualsIgnoreCase(Absl(op), "allcommands") || absl::EqualsIgnoreCase(Absl(op), "+@all")) {
    std::fill(selector.allowed.begin(), selector.allowed.end(), ~uint64_t{0});
    selector.all_commands = true;
    selector.future_commands = true;
    selector.first_args.clear();
  } else if (absl::EqualsIgnoreCase(Absl(op), "nocommands") || absl::EqualsIgnoreCase(Absl(op), "-@all")) {
    std::fill(selector.allowed.begin(), selector.allowed.end(), 0);
    selector.all_commands = false;
    selector.future_commands = false;
    selector.first_args.clear();
  } else if (op[0] == '~' || op[0] == '%') {
    if (selector.all_keys) {
      return RuleError(
          "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. "
          "Try 'resetkeys' to start with an empty list of patterns");
    }
    uint8_t access = 0;
    size_t offset = 1;
    if (op[0] == '%') {
      for (; offset < op.size(); ++offset) {
        const char c = static_cast<char>(std::toupper(static_cast<unsigned char>(op[offset])));
        if (c == 'R' && !(access & kAclKeyRead)) {
          access |= kAclKeyRead;
        } else if (c == 'W' && !(access & kAclKeyWrite)) {
          access |= kAclKeyWrite;
        } else if (op[offset] == '~') {
          ++offset;
          break;
        } else {
          return SyntaxError();
        }
      }
      if (access == 0) return SyntaxError();  // "%", "%~x" (as Redis: "%R" is an empty read pattern)
    } else {
      access = kAclKeyRead | kAclKeyWrite;
    }
    const std::string_view pattern = op.substr(std::min(offset, op.size()));
    if (HasSpaces(pattern)) return SyntaxError();
    auto same = std::find_if(selector.key_patterns.begin(), selector.key_patterns.end(),
                             [&](const AclSelector::KeyPattern& p) { return p.pattern == pattern; });
    if (same == selector.key_patterns.end()) {
      const bool prefix_only = !pattern.empty() && pattern.back() == '*' &&
                               pattern.find_first_of("*?[\\") == pattern.size() - 1;
      selector.key_patterns.push_back({std::string(pattern), access, prefix_only});
    } else {
      same->access |= access;
    }
    selector.all_keys = false;
  } else if (op[0] == '&') {
    if (selector.all_channels) {
      return RuleError(
          "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any "
          "effect. Try 'resetchannels' to start with an empty list of channels");
    }
    const std::string_view pattern = op.substr(1);
    if (HasSpaces(pattern)) return SyntaxError();
    if (std::find(selector.channel_patterns.begin(), selector.channel_patterns.end(), pattern) ==
        selector.channel_patterns.end()) {
      selector.channel_patterns.emplace_back(pattern);
    }
    selector.all_channels = false;
  } else if (op[0] == '+' && (op.size() < 2 || op[1] != '@')) {
    const std::string_view name = op.substr(1);
    const size_t bar = name.rfind('|');
    if (bar == std::string_view::npos) {
      const CommandSpec* spec = commands_.Find(name);
      if (spec == nullptr) return UnknownCommandError();
      SetCommand(selector, *spec, true);
      return absl::OkStatus();
    }
    const CommandSpec* spec = commands_.FindByFullName(name.substr(0, bar));
    if (spec == nullptr) return UnknownCommandError();
    if (spec->name.find('|') != std::string_view::npos) {
      return RuleError("Allowing first-arg of a subcommand is not supported");
    }
    const std::string_view sub = name.substr(bar + 1);
    if (sub.empty()) return SyntaxError();
    if (!spec->subcommands.empty()) {
      const CommandSpec* subcommand = commands_.FindByFullName(name);
      if (subcommand == nullptr) return UnknownCommandError();
      SetCommand(selector, *subcommand, true);
    } else {
      // "+select|0": that first argument of an otherwise refused command (Redis deprecates it).
      std::vector<std::string>& allowed = selector.first_args[spec->id];
      if (std::none_of(allowed.begin(), allowed.end(),
                       [&](const std::string& a) { return absl::EqualsIgnoreCase(a, Absl(sub)); })) {
        allowed.emplace_back(sub);
      }
    }
  } else if (op[0] == '-' && (op.size() < 2 || op[1] != '@')) {
    const CommandSpec* spec = commands_.FindByFullName(op.substr(1));
    if (spec == nullptr) return UnknownCommandError();
    SetCommand(selector, *spec, false);
  } else if ((op[0] == '+' || op[0] == '-') && op[1] == '@') {
    const uint32_t category = AclCategoryByName(op.substr(2));
    if (category == 0) return UnknownCommandError();
    SetCategory(selector, category, op[0] == '+');
  } else {
    return SyntaxError();
  }
  return absl::OkStatus();
}

absl::Status Acl::ApplyUserRule(AclUser& user, std::string_view op) const {
  if (op.empty()) return absl::OkStatus();
  auto is = [&](std::string_view word) { return absl::EqualsIgnoreCase(Absl(op), Absl(word)); };
  if (is("on")) {
    user.enabled = true;
  } else if (is("off")) {
    user.enabled = false;
  } else if (is("skip-sanitize-payload")) {
    user.sanitize_payload = AclUser::kSkipSanitize;
  } else if (is("sanitize-payload")) {
    user.sanitize_payload = AclUser::kSanitize;
  } else if (is("nopass")) {
    user.nopass = true;
    user.password_hashes.clear();
  } else if (is("resetpass")) {
    user.nopass = false;
    user.password_hashes.clear();
  } else if (op[0] == '>' || op[0] == '#' || op[0] == '<' || op[0] == '!') {
    // >password and <password name it in clear; #hash and !hash by its SHA-256.
    std::string hash;
    if (op[0] == '>' || op[0] == '<') {
      hash = HashPassword(op.substr(1));
    } else if (ValidPasswordHash(op.substr(1))) {
      hash = std::string(op.substr(1));
    } else {
      return RuleError("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters");
    }
    auto it = std::find(user.password_hashes.begin(), user.password_hashes.end(), hash);
    if (op[0] == '>' || op[0] == '#') {
      if (it == user.password_hashes.end()) user.password_hashes.push_back(std::move(hash));
      user.nopass = false;
    } else {
      if (it == user.password_hashes.end()) return RuleError("The password you are trying to remove from the user does not exist");
      user.password_hashes.erase(it);
    }
  } else if (op.front() == '(' && op.back() == ')') {
    AclSelector selector = NewSelector();
    for (absl::string_view part : absl::StrSplit(Absl(op.substr(1, op.size() - 2)), ' ', absl::SkipEmpty())) {
      if (absl::Status status = ApplySelectorRule(selector, Std(part)); !status.ok()) return status;
    }
    user.selectors.push_back(std::move(selector));
  } else if (is("clearselectors")) {
    user.selectors.resize(1);
  } else if (is("reset")) {
    user.nopass = false;
    user.password_hashes.clear();
    user.enabled = false;
    user.sanitize_payload = AclUser::kSanitize;
    user.selectors.assign(1, NewSelector());
  } else {
    return ApplySelectorRule(user.selectors[0], op);
  }
  return absl::OkStatus();
}

absl::Status Acl::SetUser(std::string_view name, std::span<const std::string_view> rules) {
  if (HasSpaces(name)) return absl::InvalidArgumentError("ERR Usernames can't contain spaces or null characters");
  std::vector<std::string> merged;
  size_t unclosed = 0;
  if (!MergeSelectorArguments(rules, &merged, &unclosed)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ERR Unmatched parenthesis in acl selector starting at '", Absl(rules[unclosed]), "'."));
  }
  absl::MutexLock lock(&mu_);
  auto existing = users_.find(Absl(name));
  AclUser user = existing != users_.end() ? *existing->second : NewUser(name);
  for (const std::string& rule : merged) {
    if (absl::Status status = ApplyUserRule(user, rule); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("ERR Error in ACL SETUSER modifier '", rule, "': ", status.message()));
    }
  }
  if (existing == users_.end()) user.incarnation = next_incarnation_++;
  Finish(user);
  Publish(std::make_shared<const AclUser>(std::move(user)));
  return absl::OkStatus();
}

absl::StatusOr<int> Acl::DeleteUsers(std::span<const std::string_view> names) {
  for (std::string_view name : names) {
    if (name == "default") return absl::InvalidArgumentError("ERR The 'default' user cannot be removed");
  }
  absl::MutexLock lock(&mu_);
  int deleted = 0;
  for (std::string_view name : names) deleted += static_cast<int>(users_.erase(Absl(name)));
  if (deleted > 0) generation_.fetch_add(1, std::memory_order_release);
  return deleted;
}

void Acl::SetDefaultPassword(std::string_view password) {
  absl::MutexLock lock(&mu_);
  AclUser user = *users_.at("default");
  user.password_hashes.clear();
  user.nopass = password.empty();
  if (!password.empty()) user.password_hashes.push_back(HashPassword(password));
  Finish(user);
  Publish(std::make_shared<const AclUser>(std::move(user)));
}

std::shared_ptr<const AclUser> Acl::Authenticate(std::string_view name, std::string_view password) const {
  std::shared_ptr<const AclUser> user = Find(name);
  if (user == nullptr || !user->enabled) return nullptr;
  if (user->nopass) return user;
  const std::string hash = HashPassword(password);
  bool match = false;
  for (const std::string& candidate : user->password_hashes) match |= EqualInConstantTime(candidate, hash);
  return match ? user : nullptr;
}

bool AclSelector::KeyAllowedByScan(std::string_view key, uint8_t access) const {
  for (const KeyPattern& p : key_patterns) {
    if ((p.access & access) == access && p.Matches(key)) return true;
  }
  return false;
}

bool AclSelector::KeyPattern::Matches(std::string_view key) const {
  if (prefix_only) {
    const size_t n = pattern.size() - 1;
    return key.size() >= n && std::memcmp(key.data(), pattern.data(), n) == 0;
  }
  return storage::GlobMatch(pattern, key);
}

void Acl::KeysOf(const CommandSpec& spec, std::span<const std::string_view> args, KeyUses* out) const {
  out->clear();
  const int argc = static_cast<int>(args.size());
  const std::vector<KeySpecAccess>& specs = key_specs_[spec.id];
  // The usual command (GET, SET, HSET, MGET, COPY...): keys at positions its key specs fix, read
  // straight off them. (command_docs_test holds the specs to the keys the dispatcher locks.)
  if (spec.find_keys == nullptr && variable_flags_[spec.id] == 0 && !specs.empty() &&
      std::all_of(specs.begin(), specs.end(), [](const KeySpecAccess& k) {
        return k.spec->begin == KeySpecDoc::Begin::kIndex && k.spec->find == KeySpecDoc::Find::kRange && k.spec->limit <= 1;
      })) {
    for (const KeySpecAccess& k : specs) {
      const int first = k.spec->index;
      const int last = k.spec->last_key >= 0 ? first + k.spec->last_key : argc + k.spec->last_key;
      for (int i = first; i <= last && i < argc; i += std::max(k.spec->key_step, 1)) {
        out->push_back({static_cast<uint32_t>(i), k.access});
      }
    }
    return;
  }
  // Reused per thread: a restricted user's MGET or EVAL checks its keys without an allocation.
  thread_local std::vector<size_t> indexes;
  CommandTable::KeyIndexes(spec, args, &indexes);
  if (indexes.empty()) return;
  // Each key's access from the key spec that finds it, as Redis reads the flags off the specs;
  // a key no simple spec finds (behind an option: SORT ... STORE) gets the access of the specs
  // that describe such keys.
  constexpr uint8_t kLocated = 0x80;  // beside the access bits: a key spec found this key
  absl::InlinedVector<uint8_t, 16> access(args.size(), 0);
  for (const KeySpecAccess& k : specs) {
    const KeySpecDoc& ks = *k.spec;
    if (ks.begin != KeySpecDoc::Begin::kIndex || ks.index >= argc) continue;
    int first = ks.index, last = -1;
    const int step = std::max(ks.key_step, 1);
    if (ks.find == KeySpecDoc::Find::kRange) {
      if (ks.last_key >= 0) {
        last = first + ks.last_key;
      } else if (ks.limit <= 1) {
        last = argc + ks.last_key;
      } else {
        last = first + ((argc - first) / ks.limit + ks.last_key);
      }
    } else if (ks.find == KeySpecDoc::Find::kKeyNum) {
      const int numkeys_index = ks.index + ks.key_num_index;
      int64_t numkeys = 0;
      if (numkeys_index >= argc || !ParseInteger(args[numkeys_index], &numkeys) || numkeys < 0 || numkeys > argc) continue;
      first = ks.index + ks.first_key;
      last = first + static_cast<int>(numkeys - 1) * step;
    } else {
      continue;
    }
    for (int i = first; i <= last && i < argc; i += step) access[i] |= k.access | kLocated;
  }
  const uint8_t any = unlocated_access_[spec.id];
  // Keys whose flags depend on the arguments (Redis's setGetKeys and bitfieldGetKeys): SET
  // reads its key only with GET; BITFIELD writes it only with SET or INCRBY (or what it cannot
  // parse, as Redis assumes).
  if (variable_flags_[spec.id] == kVariableSet) {
    bool get = false;
    for (size_t i = 3; i < args.size(); ++i) get |= EqualsIgnoreCase(args[i], "get");
    access[1] = kLocated | (get ? kAclKeyRead | kAclKeyWrite : kAclKeyWrite);
  } else if (variable_flags_[spec.id] == kVariableBitfield) {
    bool read_only = true;
    for (size_t i = 2; i < args.size() && read_only; ++i) {
      const size_t remaining = args.size() - i - 1;
      if (EqualsIgnoreCase(args[i], "get") && remaining >= 2) {
        i += 2;
      } else if (EqualsIgnoreCase(args[i], "overflow") && remaining >= 1) {
        i += 1;
      } else {
        read_only = false;
      }
    }
    access[1] = kLocated | (read_only ? kAclKeyRead : kAclKeyRead | kAclKeyWrite);
  }
  for (size_t index : indexes) {
    if (index >= args.size()) continue;
    // A located key's access may be none (EXISTS-like: any pattern allows it, as in Redis).
    const uint8_t a = access[index] & kLocated ? access[index] & ~kLocated : any;
    out->push_back({static_cast<uint32_t>(index), a});
  }
}

AclDenial Acl::CheckSelector(const AclSelector& selector, const CommandSpec& spec,
                             std::span<const std::string_view> args, KeyUses* keys, bool* keys_found) const {
  if (!selector.all_commands && !(spec.flags & flags::kNoAuth) && !selector.Allows(spec.id)) {
    auto it = selector.first_args.find(spec.id);
    const size_t arg = spec.name.find('|') != std::string_view::npos ? 2 : 1;
    if (it == selector.first_args.end() || args.size() <= arg ||
        std::none_of(it->second.begin(), it->second.end(),
                     [&](const std::string& a) { return absl::EqualsIgnoreCase(a, Absl(args[arg])); })) {
      return {AclDenial::kCommand, 0};
    }
  }
  if (!selector.all_keys && has_keys_[spec.id]) {
    if (const SingleKey single = single_key_[spec.id]; single.index != 0 && single.may_add == 0 && single.index < args.size()) {
      if (!selector.KeyAllowed(args[single.index], single.access)) return {AclDenial::kKey, single.index};
    } else {
      if (!*keys_found) {
        KeysOf(spec, args, keys);
        *keys_found = true;
      }
      for (const KeyUse& key : *keys) {
        if (!selector.KeyAllowed(args[key.index], key.access)) return {AclDenial::kKey, key.index};
      }
    }
  }
  if (!selector.all_channels && channel_mode_[spec.id] != 0) {
    const uint8_t mode = channel_mode_[spec.id];
    const size_t end = mode == 1 ? std::min<size_t>(2, args.size()) : args.size();
    for (size_t i = 1; i < end; ++i) {
      const bool allowed = std::any_of(selector.channel_patterns.begin(), selector.channel_patterns.end(),
                                       [&](const std::string& p) {
                                         return mode == 3 ? p == args[i] : storage::GlobMatch(p, args[i]);
                                       });
      if (!allowed) return {AclDenial::kChannel, i};
    }
  }
  return {};
}

bool Acl::AllowsEveryKey(const AclUser& user, const CommandSpec& spec, std::span<const std::string_view> args,
                         uint8_t access) const {
  KeyUses keys;
  bool keys_found = false;
  for (const AclSelector& selector : user.selectors) {
    if (CheckSelector(selector, spec, args, &keys, &keys_found).reason != AclDenial::kNone) continue;
    if (selector.all_keys) return true;
    for (const AclSelector::KeyPattern& p : selector.key_patterns) {
      if ((p.access & access) == access && p.pattern == "*") return true;
    }
  }
  return false;
}

AclDenial Acl::Check(const AclUser& user, const CommandSpec& spec, std::span<const std::string_view> args) const {
  // As Redis picks the error to report: the command if no selector allows it, else the denial of
  // the highest kind (channel over key), the last argument among those.
  AclDenial relevant{AclDenial::kCommand, 0};
  KeyUses keys;
  bool keys_found = false;
  for (const AclSelector& selector : user.selectors) {
    const AclDenial denial = CheckSelector(selector, spec, args, &keys, &keys_found);
    if (denial.reason == AclDenial::kNone) return denial;
    if (denial.reason > relevant.reason || (denial.reason == relevant.reason && denial.arg_index > relevant.arg_index)) {
      relevant = denial;
    }
  }
  return relevant;
}

std::string Acl::DescribeCommands(const AclSelector& selector) const {
  // Redis 7.0's description: start from +@all (when +@all was the base) or -@all, add the
  // categories that best fit what differs, a best fit at a time, then the single commands still
  // different; applying the result to a new selector gives exactly this one's bitmap.
  const bool additive = !selector.future_commands;
  std::string rules = additive ? "-@all " : "+@all ";
  AclSelector fake = NewSelector();
  if (!additive) {
    std::fill(fake.allowed.begin(), fake.allowed.end(), ~uint64_t{0});
  }
  AclSelector remaining = NewSelector();
  remaining.allowed = selector.allowed;
  const auto names = AclCategoryNames();
  std::vector<bool> applied(names.size(), false);
  const std::vector<const CommandSpec*>& specs = commands_.by_id();
  while (true) {
    int best = -1;
    size_t min_diff = SIZE_MAX, max_same = 0;
    for (size_t j = 0; j < names.size(); ++j) {
      if (applied[j]) continue;
      size_t on = 0, off = 0;
      for (const CommandSpec* spec : specs) {
        if (commands_.acl_categories(*spec) & (1u << j)) (remaining.Allows(spec->id) ? on : off)++;
      }
      const size_t diff = additive ? off : on, same = additive ? on : off;
      if (same > diff && (diff < min_diff || (diff == min_diff && same > max_same))) {
        best = static_cast<int>(j);
        min_diff = diff;
        max_same = same;
      }
    }
    if (best < 0) break;
    SetCategory(fake, 1u << best, additive);
    SetCategory(remaining, 1u << best, !additive);
    absl::StrAppend(&rules, additive ? "+@" : "-@", Absl(names[best]), " ");
    applied[best] = true;
  }
  // Single commands, containers before their subcommands.
  auto describe = [&](const CommandSpec& spec) {
    const bool user_bit = selector.Allows(spec.id);
    if (user_bit != fake.Allows(spec.id)) {
      absl::StrAppend(&rules, user_bit ? "+" : "-", Absl(spec.name), " ");
      SetCommand(fake, spec, user_bit);
    }
    if (!user_bit) {
      if (auto it = selector.first_args.find(spec.id); it != selector.first_args.end()) {
        for (const std::string& arg : it->second) absl::StrAppend(&rules, "+", Absl(spec.name), "|", arg, " ");
      }
    }
  };
  for (const CommandSpec* spec : commands_.all()) {
    describe(*spec);
    for (const CommandSpec& sub : spec->subcommands) describe(sub);
  }
  rules.pop_back();
  return rules;
}

std::string Acl::DescribeKeys(const AclSelector& selector) {
  if (selector.all_keys) return "~*";
  std::string out;
  for (const AclSelector::KeyPattern& p : selector.key_patterns) {
    const std::string_view prefix = p.access == (kAclKeyRead | kAclKeyWrite) ? "~" : p.access == kAclKeyRead ? "%R~" : "%W~";
    absl::StrAppend(&out, out.empty() ? "" : " ", Absl(prefix), p.pattern);
  }
  return out;
}

std::string Acl::DescribeChannels(const AclSelector& selector) {
  if (selector.all_channels) return "&*";
  std::string out;
  for (const std::string& p : selector.channel_patterns) absl::StrAppend(&out, out.empty() ? "" : " ", "&", p);
  return out;
}

std::string Acl::Describe(const AclUser& user) const {
  std::string out;
  absl::StrAppend(&out, user.enabled ? "on " : "off ");
  if (user.nopass) absl::StrAppend(&out, "nopass ");
  if (user.sanitize_payload == AclUser::kSkipSanitize) absl::StrAppend(&out, "skip-sanitize-payload ");
  if (user.sanitize_payload == AclUser::kSanitize) absl::StrAppend(&out, "sanitize-payload ");
  for (const std::string& hash : user.password_hashes) absl::StrAppend(&out, "#", hash, " ");
  for (size_t i = 0; i < user.selectors.size(); ++i) {
    const AclSelector& s = user.selectors[i];
    std::string part;
    if (const std::string keys = DescribeKeys(s); !keys.empty()) absl::StrAppend(&part, keys, " ");
    if (s.all_channels) {
      absl::StrAppend(&part, "&* ");
    } else {
      absl::StrAppend(&part, "resetchannels ");
      if (const std::string channels = DescribeChannels(s); !channels.empty()) absl::StrAppend(&part, channels, " ");
    }
    absl::StrAppend(&part, DescribeCommands(s));
    absl::StrAppend(&out, i == 0 ? part : absl::StrCat(" (", part, ")"));
  }
  return out;
}

std::string Acl::SaveText() const {
  std::string out;
  for (const auto& user : Users()) absl::StrAppend(&out, "user ", user->name, " ", Describe(*user), "\n");
  return out;
}

absl::Status Acl::ParseFile(std::string_view text, std::string_view path, std::vector<UserDefinition>* out) {
  std::string errors;
  size_t line_number = 0;
  for (absl::string_view raw : absl::StrSplit(Absl(text), '\n')) {
    ++line_number;
    const absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty()) continue;
    std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (words.size() < 2 || words[0] != "user") {
      absl::StrAppend(&errors, Absl(path), ":", line_number, " should start with user keyword followed by the username. ");
      continue;
    }
    words.erase(words.begin());
    out->push_back({std::move(words), absl::StrCat(Absl(path), ":", line_number), line_number});
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(errors, "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"));
}

absl::Status Acl::LoadUsers(const std::vector<UserDefinition>& definitions, bool replace_all) {
  std::string errors;
  std::vector<AclUser> loaded;
  for (const UserDefinition& definition : definitions) {
    const std::string& name = definition.words[0];
    if (std::any_of(loaded.begin(), loaded.end(), [&](const AclUser& u) { return u.name == name; })) {
      if (replace_all) {
        absl::StrAppend(&errors, "WARNING: Duplicate user '", name, "' found on line ", definition.line, ". ");
      } else {
        absl::StrAppend(&errors, definition.where, ": Duplicate user '", name, "' found. A user can only be defined once in config files. ");
      }
      continue;
    }
    if (HasSpaces(name)) {
      absl::StrAppend(&errors, definition.where, ": username '", name, "' contains invalid characters. ");
      continue;
    }
    std::vector<std::string_view> rules(definition.words.begin() + 1, definition.words.end());
    std::vector<std::string> merged;
    size_t unclosed = 0;
    if (!MergeSelectorArguments(rules, &merged, &unclosed)) {
      absl::StrAppend(&errors, definition.where, ": Unmatched parenthesis in selector definition.");
      continue;
    }
    AclUser user = NewUser(name);
    bool syntax_error = false;
    for (const std::string& rule : merged) {
      if (absl::Status status = ApplyUserRule(user, rule); !status.ok()) {
        // As Redis: an unknown command is named (it tells nothing secret); of other errors only
        // the line's first, without the rule (it may be a password).
        if (status.message() == UnknownCommandError().message()) {
          absl::StrAppend(&errors, definition.where, ": Error in applying operation '", rule, "': ", status.message(), ". ");
        } else if (!syntax_error) {
          absl::StrAppend(&errors, definition.where, ": ", status.message(), ". ");
          syntax_error = true;
        }
      }
    }
    loaded.push_back(std::move(user));
  }
  if (!errors.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(errors, "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"));
  }
  absl::MutexLock lock(&mu_);
  if (replace_all) {
    if (std::none_of(loaded.begin(), loaded.end(), [](const AclUser& u) { return u.name == "default"; })) {
      AclUser user = NewUser("default");
      for (std::string_view rule : {"+@all", "~*", "&*", "on", "nopass"}) (void)ApplyUserRule(user, rule);
      loaded.push_back(std::move(user));
    }
    // The default user keeps its identity (its clients stay); every other user is new.
    const uint64_t default_incarnation = users_.at("default")->incarnation;
    users_.clear();
    for (AclUser& user : loaded) user.incarnation = user.name == "default" ? default_incarnation : 0;
  }
  for (AclUser& user : loaded) {
    auto existing = users_.find(user.name);
    if (user.incarnation == 0) {
      user.incarnation = existing != users_.end() ? existing->second->incarnation : next_incarnation_++;
    }
    Finish(user);
    Publish(std::make_shared<const AclUser>(std::move(user)));
  }
  return absl::OkStatus();
}

void AclLog::Add(Entry entry, size_t max_len) {
  absl::MutexLock lock(&mu_);
  const size_t scan = std::min(entries_.size(), kLogGroupingScan);
  for (size_t i = 0; i < scan; ++i) {
    Entry& e = entries_[i];
    if (e.reason == entry.reason && e.context == entry.context && std::abs(e.time_ms - entry.time_ms) <= kLogGroupingMs &&
        e.object == entry.object && e.username == entry.username) {
      e.client_info = std::move(entry.client_info);
      e.time_ms = entry.time_ms;
      ++e.count;
      std::rotate(entries_.begin(), entries_.begin() + static_cast<ptrdiff_t>(i), entries_.begin() + static_cast<ptrdiff_t>(i) + 1);
      return;
    }
  }
  entries_.insert(entries_.begin(), std::move(entry));
  if (entries_.size() > max_len) entries_.resize(max_len);
}

std::vector<AclLog::Entry> AclLog::Recent(size_t count) const {
  absl::MutexLock lock(&mu_);
  return {entries_.begin(), entries_.begin() + static_cast<ptrdiff_t>(std::min(count, entries_.size()))};
}

void AclLog::Reset() {
  absl::MutexLock lock(&mu_);
  entries_.clear();
}

absl::Status LoadAclFile(Acl& acl, const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("Error loading ACLs, opening file '", path, "': ", strerror(errno)));
  std::stringstream text;
  text << in.rdbuf();
  std::vector<Acl::UserDefinition> users;
  if (absl::Status s = Acl::ParseFile(text.str(), path, &users); !s.ok()) return s;
  return acl.LoadUsers(users, /*replace_all=*/true);
}

namespace errors {

std::string NoPermission(const AclDenial& denial, std::string_view command_fullname) {
  switch (denial.reason) {
    case AclDenial::kKey:
      return "NOPERM this user has no permissions to access one of the keys used as arguments";
    case AclDenial::kChannel:
      return "NOPERM this user has no permissions to access one of the channels used as arguments";
    default:
      return absl::StrCat("NOPERM this user has no permissions to run the '", Absl(command_fullname), "' command");
  }
}

std::string NoPermissionAtExec(const AclDenial& denial) {
  std::string_view reason = "no permission to execute the command or subcommand";
  if (denial.reason == AclDenial::kKey) reason = "no permission to touch the specified keys";
  if (denial.reason == AclDenial::kChannel) reason = "no permission to access one of the channels used as arguments";
  return absl::StrCat(
      "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command "
      "is no longer allowed for the following reason: ",
      Absl(reason));
}

std::string NoPermissionInScript(const AclDenial& denial) {
  switch (denial.reason) {
    case AclDenial::kKey:
      return "The user executing the script can't access at least one of the keys mentioned in the command arguments";
    case AclDenial::kChannel:
      return "The user executing the script can't publish to the channel mentioned in the command";
    default:
      return "The user executing the script can't run this command or subcommand";
  }
}

}  // namespace errors

}  // namespace strata::server
