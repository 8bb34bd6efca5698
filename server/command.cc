#include "server/command.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "protocol/request_parser.h"
#include "storage/glob.h"
#include "storage/numbers.h"
#include "server/absl_compat.h"
#include "server/errors.h"

namespace strata::server {

namespace errors {

std::string WrongArity(std::string_view command_fullname) {
  return absl::StrCat("ERR wrong number of arguments for '", Absl(command_fullname), "' command");
}

std::string UnknownCommand(std::string_view name, const std::string_view* args, size_t count) {
  // Redis's wording, arguments quoted and cut at 128 bytes in all.
  // Redis formats them with %.*s, which also stops at a NUL byte.
  auto c_string = [](std::string_view s, size_t limit) { return Absl(s.substr(0, std::min(limit, s.find('\0')))); };
  std::string quoted;
  for (size_t i = 0; i < count && quoted.size() < 128; ++i) {
    absl::StrAppend(&quoted, "'", c_string(args[i], 128 - quoted.size()), "' ");
  }
  return absl::StrCat("ERR unknown command '", c_string(name, 128), "', with args beginning with: ", quoted);
}

std::string UnknownSubcommand(std::string_view subcommand, std::string_view container) {
  return absl::StrCat("ERR unknown subcommand '", Absl(subcommand.substr(0, 128)), "'. Try ", Absl(container), " HELP.");
}

std::string SubcommandSyntax(std::string_view subcommand, std::string_view container) {
  return absl::StrCat("ERR unknown subcommand or wrong number of arguments for '", Absl(subcommand.substr(0, 128)),
                      "'. Try ", Absl(container), " HELP.");
}

std::string InvalidExpireTime(std::string_view command_fullname) {
  return absl::StrCat("ERR invalid expire time in '", Absl(command_fullname), "' command");
}

std::string UnsupportedOption(std::string_view option) { return absl::StrCat("ERR Unsupported option ", Absl(option)); }

}  // namespace errors

CommandTable::CommandTable() {
  // Each family with the group COMMAND DOCS reports for its commands (Redis's groups).
  Register(ConnectionCommands(), "connection");
  Register(PubSubCommands(), "pubsub");
  Register(ServerCommands(), "server");
  Register(DiagnosticsCommands(), "server");
  Register(AclCommands(), "server");
  Register(StringCommands(), "string");
  Register(BitmapCommands(), "bitmap");
  Register(SortCommands(), "generic");
  Register(HyperLogLogCommands(), "hyperloglog");
  Register(KeyCommands(), "generic");
  Register(HashCommands(), "hash");
  Register(ListCommands(), "list");
  Register(SetCommands(), "set");
  Register(ZSetCommands(), "sorted-set");
  Register(LoaderCommands(), "loader");
  Register(TransactionCommands(), "transactions");
  Register(ScriptingCommands(), "scripting");
  AttachDocs();
}

void CommandTable::AttachDocs() {
  absl::flat_hash_map<std::string_view, const CommandDoc*> doc_by_name;
  for (const CommandDoc& doc : CommandDocs()) {
    if (!doc_by_name.emplace(doc.name, &doc).second) doc_problems_.push_back(absl::StrCat("two docs for ", Absl(doc.name)));
  }
  for (const CommandSpec* spec : by_id_) {
    Documentation& docs = docs_by_id_[spec->id];
    uint32_t not_implied = 0;
    auto it = doc_by_name.find(spec->name);
    if (it == doc_by_name.end()) {
      doc_problems_.push_back(absl::StrCat("no doc for ", Absl(spec->name)));
    } else {
      docs.doc = it->second;
      doc_by_name.erase(it);
      if (!docs.doc->group.empty()) docs.group = docs.doc->group;
      const int first_argument = spec->name.find('|') == std::string_view::npos ? 1 : 2;
      const std::string_view default_key_flags = (spec->flags & flags::kReadOnly) ? "RO,access" : "";
      absl::StatusOr<ParsedSyntax> parsed = ParseCommandSyntax(docs.doc->syntax, first_argument, default_key_flags);
      if (parsed.ok()) {
        docs.syntax = *std::move(parsed);
      } else {
        doc_problems_.push_back(absl::StrCat(Absl(spec->name), ": ", parsed.status().message()));
      }
      for (absl::string_view name : absl::StrSplit(Absl(docs.doc->acl_categories), ' ', absl::SkipEmpty())) {
        // "-@keyspace": a category the group would imply that Redis does not give (SORT, WAIT).
        const bool removed = absl::ConsumePrefix(&name, "-");
        const uint32_t category = AclCategoryByName(Std(absl::StripPrefix(name, "@")));
        if (category == 0) doc_problems_.push_back(absl::StrCat(Absl(spec->name), ": no ACL category ", name));
        (removed ? not_implied : docs.acl_categories) |= category;
      }
    }
    docs.legacy_range = LegacyKeyRangeOf(docs.syntax.key_specs);
    // The categories Redis implies from flags (setImplicitACLCategories), and the group's.
    uint32_t& acl = docs.acl_categories;
    // A container (CONFIG, CLIENT...) is not run itself: only its subcommands have a group's.
    const bool container = spec->handler == nullptr && !spec->subcommands.empty();
    if (!container) acl |= AclCategoryOfGroup(docs.group) & ~not_implied;
    if (spec->flags & flags::kWrite) acl |= kAclWrite;
    if ((spec->flags & flags::kReadOnly) && !(acl & kAclScripting)) acl |= kAclRead;
    if (spec->flags & flags::kAdmin) acl |= kAclAdmin | kAclDangerous;
    if (spec->flags & flags::kPubSub) acl |= kAclPubSub;
    if (spec->flags & flags::kFast) acl |= kAclFast;
    if (spec->flags & flags::kBlocking) acl |= kAclBlocking;
    if (!(acl & kAclFast)) acl |= kAclSlow;
  }
  for (const auto& [name, doc] : doc_by_name) doc_problems_.push_back(absl::StrCat("doc for unknown command ", Absl(name)));
  // A bad table is a programming error the unit tests catch; a server built with one still runs,
  // with those commands undocumented.
  for (const std::string& problem : doc_problems_) std::fprintf(stderr, "command docs: %s\n", problem.c_str());
}

std::span<const CommandSpec> CommandTable::Adopt(std::span<const CommandSpec> specs, std::string_view group) {
  auto copies = std::make_unique<CommandSpec[]>(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    copies[i] = specs[i];
    copies[i].id = static_cast<uint16_t>(by_id_.size());
    by_id_.push_back(&copies[i]);
    docs_by_id_.emplace_back().group = group;
    if (!specs[i].subcommands.empty()) copies[i].subcommands = Adopt(specs[i].subcommands, group);
  }
  std::span<const CommandSpec> adopted(copies.get(), specs.size());
  owned_.push_back(std::move(copies));
  return adopted;
}

void CommandTable::Register(std::span<const CommandSpec> family, std::string_view group) {
  for (const CommandSpec& spec : Adopt(family, group)) {
    by_name_[std::string(spec.name)] = &spec;
    all_.push_back(&spec);
  }
}

const CommandSpec* CommandTable::Find(std::string_view name) const {
  // Lower-case into a stack buffer: this runs for every command, and names are short.
  char lower[32];
  if (name.size() > sizeof(lower)) [[unlikely]] {
    // Only a rename-command name can be this long (an operator's random string).
    auto it = by_name_.find(absl::AsciiStrToLower(Absl(name)));
    return it == by_name_.end() ? nullptr : it->second;
  }
  for (size_t i = 0; i < name.size(); ++i) lower[i] = absl::ascii_tolower(static_cast<unsigned char>(name[i]));
  auto it = by_name_.find(absl::string_view(lower, name.size()));
  return it == by_name_.end() ? nullptr : it->second;
}

absl::Status CommandTable::Rename(std::string_view old_name, std::string_view new_name) {
  auto old_entry = by_name_.find(absl::AsciiStrToLower(Absl(old_name)));
  if (old_entry == by_name_.end()) return absl::InvalidArgumentError("No such command in rename-command");
  const CommandSpec* spec = old_entry->second;
  if (!new_name.empty() && by_name_.contains(absl::AsciiStrToLower(Absl(new_name)))) {
    return absl::InvalidArgumentError("Target command name already exists");
  }
  by_name_.erase(old_entry);
  if (!new_name.empty()) {
    by_name_.emplace(absl::AsciiStrToLower(Absl(new_name)), spec);
  } else {
    // Gone from COMMAND, COMMAND COUNT, LIST and DOCS too, as from Redis's table.
    std::erase(all_, spec);
  }
  return absl::OkStatus();
}

const CommandSpec* CommandTable::FindWithSubcommand(std::span<const std::string_view> args,
                                                    bool* unknown_subcommand) const {
  if (unknown_subcommand != nullptr) *unknown_subcommand = false;
  const CommandSpec* spec = Find(args[0]);
  if (spec == nullptr || spec->subcommands.empty() || args.size() < 2 ||
      (args.size() == 1 && spec->handler != nullptr)) {
    return spec;
  }
  for (const CommandSpec& candidate : spec->subcommands) {
    std::string_view short_name = candidate.name.substr(candidate.name.find('|') + 1);
    if (EqualsIgnoreCase(short_name, args[1])) return &candidate;
  }
  if (unknown_subcommand != nullptr) *unknown_subcommand = true;
  return nullptr;
}

const CommandSpec* CommandTable::FindByFullName(std::string_view name) const {
  const size_t bar = name.find('|');
  if (bar == std::string_view::npos) return Find(name);
  const std::string_view parts[] = {name.substr(0, bar), name.substr(bar + 1)};
  const CommandSpec* spec = FindWithSubcommand(parts);
  return spec != nullptr && spec->name.find('|') != std::string_view::npos ? spec : nullptr;
}

bool ParseTimeout(CommandContext& ctx, std::string_view text, int64_t* timeout) {
  if (!ParseInteger(text, timeout)) {
    ctx.reply.Error("ERR timeout is not an integer or out of range");
    return false;
  }
  if (*timeout < 0) {
    ctx.reply.Error(errors::kTimeoutNegative);
    return false;
  }
  return true;
}

void CommandTable::KeyIndexes(const CommandSpec& spec, std::span<const std::string_view> args,
                              std::vector<size_t>* out) {
  out->clear();
  if (spec.first_key <= 0) return;
  if (spec.find_keys != nullptr) return spec.find_keys(args, out);
  const int count = static_cast<int>(args.size());
  int last = spec.last_key < 0 ? count + spec.last_key : spec.last_key;
  if (last >= count) last = count - 1;
  for (int i = spec.first_key; i <= last; i += spec.key_step) out->push_back(static_cast<size_t>(i));
}

namespace {
void KeysAfterNumkeysAt(size_t numkeys_index, std::span<const std::string_view> args, std::vector<size_t>* out) {
  int64_t numkeys;
  if (args.size() <= numkeys_index || !ParseInteger(args[numkeys_index], &numkeys) || numkeys <= 0) return;
  if (static_cast<uint64_t>(numkeys) > args.size() - numkeys_index - 1) return;
  for (size_t i = 0; i < static_cast<size_t>(numkeys); ++i) out->push_back(numkeys_index + 1 + i);
}
}  // namespace

void KeysAfterNumkeys(std::span<const std::string_view> args, std::vector<size_t>* out) {
  KeysAfterNumkeysAt(1, args, out);
}

void KeysAfterScriptNumkeys(std::span<const std::string_view> args, std::vector<size_t>* out) {
  KeysAfterNumkeysAt(2, args, out);
}

void KeysAfterTimeoutAndNumkeys(std::span<const std::string_view> args, std::vector<size_t>* out) {
  KeysAfterNumkeysAt(2, args, out);
}

bool ParseMPopArgs(CommandContext& ctx, size_t numkeys_index, std::string_view first_where,
                   std::string_view second_where, MPopArgs* out) {
  int64_t numkeys;
  if (!ParseInteger(ctx.args[numkeys_index], &numkeys) || numkeys <= 0) {
    ctx.reply.Error(errors::kNumkeysNotPositive);
    return false;
  }
  out->first_key = numkeys_index + 1;
  out->keys_end = out->first_key + static_cast<size_t>(std::min<int64_t>(numkeys, INT32_MAX));
  if (out->keys_end >= ctx.args.size() ||
      !(EqualsIgnoreCase(ctx.args[out->keys_end], first_where) || EqualsIgnoreCase(ctx.args[out->keys_end], second_where))) {
    ctx.reply.Error(errors::kSyntax);
    return false;
  }
  out->second_where = EqualsIgnoreCase(ctx.args[out->keys_end], second_where);
  bool count_seen = false;
  for (size_t i = out->keys_end + 1; i < ctx.args.size(); i += 2) {
    if (count_seen || !EqualsIgnoreCase(ctx.args[i], "count") || i + 1 >= ctx.args.size()) {
      ctx.reply.Error(errors::kSyntax);
      return false;
    }
    if (!ParseInteger(ctx.args[i + 1], &out->count) || out->count <= 0) {
      ctx.reply.Error(errors::kCountNotPositive);
      return false;
    }
    count_seen = true;
  }
  return true;
}

bool ParseIntersectionLimit(CommandContext& ctx, size_t from, int64_t* limit) {
  for (size_t i = from; i < ctx.args.size(); i += 2) {
    if (!EqualsIgnoreCase(ctx.args[i], "limit") || i + 1 >= ctx.args.size()) {
      ctx.reply.Error(errors::kSyntax);
      return false;
    }
    if (!ParseInteger(ctx.args[i + 1], limit) || *limit < 0) {
      ctx.reply.Error(errors::kLimitNegative);
      return false;
    }
  }
  return true;
}

bool ParseRandomCount(CommandContext& ctx, std::string_view with_word, int64_t* count) {
  if (ctx.args.size() < 3) return true;
  if (!ParseInteger(ctx.args[2], count)) {
    ctx.reply.Error(errors::kNotInteger);
    return false;
  }
  if (*count == INT64_MIN) {
    ctx.reply.Error(errors::kSrandmemberCountRange);
    return false;
  }
  if (ctx.args.size() > 4 || (ctx.args.size() == 4 && !EqualsIgnoreCase(ctx.args[3], with_word))) {
    ctx.reply.Error(errors::kSyntax);
    return false;
  }
  if (ctx.args.size() == 4 && (*count > INT64_MAX / 2 || *count < -(INT64_MAX / 2))) {
    ctx.reply.Error(errors::kOutOfRange);
    return false;
  }
  return true;
}

void ReplyIntegerOrError(CommandContext& ctx, const absl::StatusOr<int64_t>& result) {
  if (result.ok()) {
    ctx.reply.Integer(*result);
  } else {
    ctx.reply.Error(Std(result.status().message()));
  }
}

void ReplyHelp(CommandContext& ctx, std::span<const std::string_view> lines) {
  ctx.reply.ArrayHeader(lines.size());
  for (std::string_view line : lines) ctx.reply.SimpleString(line);
}

bool ParseScanOptions(CommandContext& ctx, size_t first, bool allow_type, ScanOptions* options) {
  for (size_t i = first; i < ctx.args.size(); i += 2) {
    const bool has_value = i + 1 < ctx.args.size();
    if (EqualsIgnoreCase(ctx.args[i], "count") && has_value) {
      if (!ParseInteger(ctx.args[i + 1], &options->count)) {
        ctx.reply.Error(errors::kNotInteger);
        return false;
      }
      if (options->count < 1) {
        ctx.reply.Error(errors::kSyntax);
        return false;
      }
    } else if (EqualsIgnoreCase(ctx.args[i], "match") && has_value) {
      options->pattern = ctx.args[i + 1];
    } else if (allow_type && EqualsIgnoreCase(ctx.args[i], "type") && has_value) {
      options->type = ctx.args[i + 1];
    } else {
      ctx.reply.Error(errors::kSyntax);
      return false;
    }
  }
  return true;
}

void ReplyElementScan(CommandContext& ctx, bool present, uint64_t cursor, bool with_second,
                      absl::FunctionRef<uint64_t(uint64_t cursor, size_t count, ScanAdd add)> walk) {
  if (!present) {
    ctx.reply.ArrayHeader(2);
    ctx.reply.Bulk("0");
    ctx.reply.ArrayHeader(0);
    return;
  }
  ScanOptions options;
  if (!ParseScanOptions(ctx, 3, /*allow_type=*/false, &options)) return;
  const bool all = options.pattern == "*";
  std::vector<std::string> page;
  const uint64_t next = walk(cursor, static_cast<size_t>(options.count), [&](std::string_view name, std::string_view second) {
    if (!all && !storage::GlobMatch(options.pattern, name)) return;
    page.emplace_back(name);
    if (with_second) page.emplace_back(second);
  });
  ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(absl::StrCat(next));
  ctx.reply.ArrayHeader(page.size());
  for (const std::string& item : page) ctx.reply.Bulk(item);
}

bool ParseScanCursor(std::string_view text, uint64_t* cursor) {
  // Redis parses cursors with strtoul (so "-1" is ULONG_MAX) but refuses leading space and junk.
  std::string copy(text);
  if (!copy.empty() && absl::ascii_isspace(static_cast<unsigned char>(copy[0]))) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long value = strtoull(copy.c_str(), &end, 10);
  if (*end != '\0' || errno == ERANGE) return false;
  *cursor = value;
  return true;
}

bool ParseInteger(std::string_view text, int64_t* value) { return storage::ParseInt64(text, value); }

bool ParseDouble(std::string_view text, long double* value) { return storage::ParseLongDouble(text, value); }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) { return absl::EqualsIgnoreCase(Absl(a), Absl(b)); }

}  // namespace strata::server
