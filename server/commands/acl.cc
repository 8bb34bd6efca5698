// ACL commands: users and their rules (SETUSER, GETUSER, DELUSER, LIST, USERS, LOAD, SAVE), the
// check without running (DRYRUN), the log of refusals (LOG), and CAT, WHOAMI, GENPASS. The users,
// rules and checks themselves are server/acl.h's.
#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>


#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "server/acl.h"
#include "server/command.h"
#include "server/connection.h"
#include "server/absl_compat.h"
#include "server/command_docs.h"
#include "server/errors.h"
#include "server/server.h"

namespace strata::server {

namespace {

// ACL CAT: the categories, in Redis's order (strata's @loader last); ACL CAT category: its
// commands and subcommands.
void AclCat(CommandContext& ctx) {
  if (ctx.args.size() > 3) {
    ctx.reply.Error(errors::SubcommandSyntax(ctx.args[1], "ACL"));
    return;
  }
  if (ctx.args.size() == 2) {
    const auto names = AclCategoryNames();
    ctx.reply.ArrayHeader(names.size());
    for (std::string_view name : names) ctx.reply.Bulk(name);
    return;
  }
  const uint32_t category = AclCategoryByName(ctx.args[2]);
  if (category == 0) {
    ctx.reply.Error(absl::StrCat("ERR Unknown category '", Absl(ctx.args[2].substr(0, 128)), "'"));
    return;
  }
  const CommandTable& table = ctx.server.commands();
  std::vector<std::string_view> names;
  for (const CommandSpec* spec : table.by_id()) {
    if (table.acl_categories(*spec) & category) names.push_back(spec->name);
  }
  ctx.reply.ArrayHeader(names.size());
  for (std::string_view name : names) ctx.reply.Bulk(name);
}

void AclWhoami(CommandContext& ctx) { ctx.reply.Bulk(ctx.client.user().name); }

// Closes the clients authenticated as one of `names` (their user is gone), as Redis does.
void KillClientsOfUsers(CommandContext& ctx, absl::FunctionRef<bool(const std::string&)> gone) {
  ctx.server.clients().ForEach([&](Connection& c) {
    if (gone(c.user_name())) KillClient(ctx, c);
  });
}

// Whether every channel `before` allowed, `after` allows: its channel patterns include all of
// before's (Redis's test before it looks at subscribers).
bool KeepsChannels(const AclUser& before, const AclUser& after) {
  std::vector<std::string_view> allowed;
  for (const AclSelector& s : after.selectors) {
    if (s.all_channels) return true;
    allowed.insert(allowed.end(), s.channel_patterns.begin(), s.channel_patterns.end());
  }
  for (const AclSelector& s : before.selectors) {
    if (s.all_channels) return false;
    for (const std::string& p : s.channel_patterns) {
      if (std::find(allowed.begin(), allowed.end(), p) == allowed.end()) return false;
    }
  }
  return true;
}

void AclSetUser(CommandContext& ctx) {
  const std::span<const std::string_view> rules = ctx.args.subspan(3);
  std::shared_ptr<const AclUser> before = ctx.server.acl().Find(ctx.args[2]);
  if (absl::Status s = ctx.server.acl().SetUser(ctx.args[2], rules); !s.ok()) {
    ctx.reply.Error(Std(s.message()));
    return;
  }
  // As Redis: a subscriber must not go on hearing channels its user may no longer hear. Redis
  // checks each subscription; this closes every subscribed client of the user once its channels
  // shrank (a client may reconnect and subscribe to what it still may).
  std::shared_ptr<const AclUser> after = ctx.server.acl().Find(ctx.args[2]);
  if (before != nullptr && after != nullptr && !KeepsChannels(*before, *after)) {
    const std::string name(ctx.args[2]);
    ctx.server.clients().ForEach([&](Connection& c) {
      if (c.has_subscriptions() && c.user_name() == name) KillClient(ctx, c);
    });
  }
  ctx.reply.Ok();
}

void AclDelUser(CommandContext& ctx) {
  const std::span<const std::string_view> names = ctx.args.subspan(2);
  absl::StatusOr<int> deleted = ctx.server.acl().DeleteUsers(names);
  if (!deleted.ok()) {
    ctx.reply.Error(Std(deleted.status().message()));
    return;
  }
  KillClientsOfUsers(ctx, [&](const std::string& user) { return std::find(names.begin(), names.end(), user) != names.end(); });
  ctx.reply.Integer(*deleted);
}

// A selector's commands, keys and channels, as GETUSER shows them.
void ReplySelector(CommandContext& ctx, const AclSelector& selector) {
  ctx.reply.Bulk("commands");
  ctx.reply.Bulk(ctx.server.acl().DescribeCommands(selector));
  ctx.reply.Bulk("keys");
  ctx.reply.Bulk(Acl::DescribeKeys(selector));
  ctx.reply.Bulk("channels");
  ctx.reply.Bulk(Acl::DescribeChannels(selector));
}

void AclGetUser(CommandContext& ctx) {
  std::shared_ptr<const AclUser> user = ctx.server.acl().Find(ctx.args[2]);
  if (user == nullptr) {
    ctx.reply.Null();
    return;
  }
  std::vector<std::string_view> user_flags = {user->enabled ? "on" : "off"};
  if (user->nopass) user_flags.push_back("nopass");
  if (user->sanitize_payload == AclUser::kSkipSanitize) user_flags.push_back("skip-sanitize-payload");
  if (user->sanitize_payload == AclUser::kSanitize) user_flags.push_back("sanitize-payload");
  ctx.reply.MapHeader(6);
  ctx.reply.Bulk("flags");
  ctx.reply.SetHeader(user_flags.size());
  for (std::string_view flag : user_flags) ctx.reply.Bulk(flag);
  ctx.reply.Bulk("passwords");
  ctx.reply.ArrayHeader(user->password_hashes.size());
  for (const std::string& hash : user->password_hashes) ctx.reply.Bulk(hash);
  ReplySelector(ctx, user->selectors[0]);
  ctx.reply.Bulk("selectors");
  ctx.reply.ArrayHeader(user->selectors.size() - 1);
  for (size_t i = 1; i < user->selectors.size(); ++i) {
    ctx.reply.MapHeader(3);
    ReplySelector(ctx, user->selectors[i]);
  }
}

void AclList(CommandContext& ctx) {
  const auto users = ctx.server.acl().Users();
  ctx.reply.ArrayHeader(users.size());
  for (const auto& user : users) ctx.reply.Bulk(absl::StrCat("user ", user->name, " ", ctx.server.acl().Describe(*user)));
}

void AclUsers(CommandContext& ctx) {
  const auto users = ctx.server.acl().Users();
  ctx.reply.ArrayHeader(users.size());
  for (const auto& user : users) ctx.reply.Bulk(user->name);
}

constexpr std::string_view kNoAclFile =
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL "
    "SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to "
    "store users in the Redis configuration.";

void AclLoad(CommandContext& ctx) {
  const std::string path = ctx.server.config().aclfile();
  if (path.empty()) {
    ctx.reply.Error(kNoAclFile);
    return;
  }
  if (absl::Status s = LoadAclFile(ctx.server.acl(), path); !s.ok()) {
    ctx.reply.Error(absl::StrCat("ERR ", s.message()));
    return;
  }
  // Every user but the default one was made anew: their clients are closed, as Redis closes them.
  KillClientsOfUsers(ctx, [](const std::string& user) { return user != "default"; });
  ctx.reply.Ok();
}

void AclSave(CommandContext& ctx) {
  const std::string path = ctx.server.config().aclfile();
  if (path.empty()) {
    ctx.reply.Error(kNoAclFile);
    return;
  }
  if (absl::Status s = WriteFileAtomically(path, ctx.server.acl().SaveText()); !s.ok()) {
    ctx.server.logger().Warning(absl::StrCat("Writing ACL file for ACL SAVE: ", s.message()));
    ctx.reply.Error("ERR There was an error trying to save the ACLs. Please check the server logs for more information");
    return;
  }
  ctx.reply.Ok();
}

void AclLogCommand(CommandContext& ctx) {
  int64_t count = 10;
  if (ctx.args.size() > 3) {
    ctx.reply.Error(errors::SubcommandSyntax(ctx.args[1], "ACL"));
    return;
  }
  if (ctx.args.size() == 3) {
    if (EqualsIgnoreCase(ctx.args[2], "reset")) {
      ctx.server.acl_log().Reset();
      ctx.reply.Ok();
      return;
    }
    if (!ParseInteger(ctx.args[2], &count)) {
      ctx.reply.Error(errors::kNotInteger);
      return;
    }
    count = std::max<int64_t>(count, 0);
  }
  const int64_t now_ms = NowMs();
  const std::vector<AclLog::Entry> entries = ctx.server.acl_log().Recent(static_cast<size_t>(count));
  ctx.reply.ArrayHeader(entries.size());
  for (const AclLog::Entry& e : entries) {
    ctx.reply.MapHeader(7);
    ctx.reply.Bulk("count");
    ctx.reply.Integer(static_cast<int64_t>(e.count));
    ctx.reply.Bulk("reason");
    ctx.reply.Bulk(e.reason == AclDenial::kCommand ? "command"
                   : e.reason == AclDenial::kKey   ? "key"
                   : e.reason == AclDenial::kChannel ? "channel"
                   : e.reason == AclDenial::kAuth  ? "auth"
                                                   : "unknown");
    ctx.reply.Bulk("context");
    ctx.reply.Bulk(e.context);
    ctx.reply.Bulk("object");
    ctx.reply.Bulk(e.object);
    ctx.reply.Bulk("username");
    ctx.reply.Bulk(e.username);
    ctx.reply.Bulk("age-seconds");
    ctx.reply.Double(static_cast<double>(now_ms - e.time_ms) / 1000);
    ctx.reply.Bulk("client-info");
    ctx.reply.Bulk(e.client_info);
  }
}

// ACL DRYRUN user command [arg ...]: what the check would say, without running anything.
void AclDryRun(CommandContext& ctx) {
  std::shared_ptr<const AclUser> user = ctx.server.acl().Find(ctx.args[2]);
  if (user == nullptr) {
    ctx.reply.Error(absl::StrCat("ERR User '", Absl(ctx.args[2]), "' not found"));
    return;
  }
  const std::span<const std::string_view> command = ctx.args.subspan(3);
  const CommandSpec* spec = ctx.server.commands().FindWithSubcommand(command);
  if (spec == nullptr) {
    ctx.reply.Error(absl::StrCat("ERR Command '", Absl(command[0]), "' not found"));
    return;
  }
  if (!CommandTable::ArityOk(*spec, command.size())) {
    ctx.reply.Error(errors::WrongArity(spec->name));
    return;
  }
  const AclDenial denial = ctx.server.acl().Check(*user, *spec, command);
  switch (denial.reason) {
    case AclDenial::kNone:
      ctx.reply.Ok();
      break;
    case AclDenial::kKey:
      ctx.reply.Bulk(absl::StrCat("This user has no permissions to access the '", Absl(command[denial.arg_index]), "' key"));
      break;
    case AclDenial::kChannel:
      ctx.reply.Bulk(
          absl::StrCat("This user has no permissions to access the '", Absl(command[denial.arg_index]), "' channel"));
      break;
    default:
      ctx.reply.Bulk(absl::StrCat("This user has no permissions to run the '", Absl(spec->name), "' command"));
  }
}

// ACL GENPASS [bits]: `bits` (default 256) of the kernel's randomness as lowercase hex, rounded
// up to whole hex digits, as Redis answers.
void AclGenpass(CommandContext& ctx) {
  int64_t bits = 256;
  if (ctx.args.size() > 3) {
    ctx.reply.Error(errors::SubcommandSyntax(ctx.args[1], "ACL"));
    return;
  }
  if (ctx.args.size() == 3) {
    if (!ParseInteger(ctx.args[2], &bits)) {
      ctx.reply.Error(errors::kNotInteger);
      return;
    }
    if (bits <= 0 || bits > 4096) {
      ctx.reply.Error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive "
                      "number up to 4096");
      return;
    }
  }
  const size_t hex_digits = static_cast<size_t>((bits + 3) / 4);
  std::array<unsigned char, 512> random;
  const size_t bytes = (hex_digits + 1) / 2;
  for (size_t filled = 0; filled < bytes;) {
    const ssize_t n = getrandom(random.data() + filled, bytes - filled, 0);
    if (n < 0 && errno != EINTR) {
      ctx.reply.Error(absl::StrCat("ERR ACL GENPASS: no randomness from the kernel: ", strerror(errno)));
      return;
    }
    if (n > 0) filled += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string password;
  password.reserve(hex_digits);
  for (size_t i = 0; i < hex_digits; ++i) {
    const unsigned char byte = random[i / 2];
    password.push_back(kHex[i % 2 == 0 ? byte >> 4 : byte & 0xf]);
  }
  ctx.reply.Bulk(password);
}

void AclHelp(CommandContext& ctx) {
  constexpr std::string_view kLines[] = {
      "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "CAT [<category>]",
      "    List all commands that belong to <category>, or all command categories",
      "    when no category is specified.",
      "DELUSER <username> [<username> ...]",
      "    Delete a list of users.",
      "DRYRUN <username> <command> [<arg> ...]",
      "    Returns whether the user can execute the given command without executing the command.",
      "GETUSER <username>",
      "    Get the user's details.",
      "GENPASS [<bits>]",
      "    Generate a secure 256-bit user password. The optional `bits` argument can",
      "    be used to specify a different size.",
      "LIST",
      "    Show users details in config file format.",
      "LOAD",
      "    Reload users from the ACL file.",
      "LOG [<count> | RESET]",
      "    Show the ACL log entries.",
      "SAVE",
      "    Save the current config to the ACL file.",
      "SETUSER <username> <attribute> [<attribute> ...]",
      "    Create or modify a user with the specified attributes.",
      "USERS",
      "    List all the registered usernames.",
      "WHOAMI",
      "    Return the current connection username.",
      "HELP",
      "    Prints this help.",
  };
  ReplyHelp(ctx, kLines);
}

constexpr uint32_t kAclFlags = flags::kNoScript | flags::kLoading | flags::kStale;

constexpr uint32_t kAclAdmin = kAclFlags | flags::kAdmin;

constexpr CommandSpec kAclSubcommands[] = {
    {"acl|setuser", -3, kAclAdmin, 0, 0, 0, AclSetUser, {}, "Modify or create the rules for a specific ACL user"},
    {"acl|getuser", 3, kAclAdmin, 0, 0, 0, AclGetUser, {}, "Get the rules for a specific ACL user"},
    {"acl|deluser", -3, kAclAdmin, 0, 0, 0, AclDelUser, {}, "Remove the specified ACL users and the associated rules"},
    {"acl|list", 2, kAclAdmin, 0, 0, 0, AclList, {}, "List the current ACL rules in ACL config file format"},
    {"acl|users", 2, kAclAdmin, 0, 0, 0, AclUsers, {}, "List the username of all the configured ACL rules"},
    {"acl|load", 2, kAclAdmin, 0, 0, 0, AclLoad, {}, "Reload the ACLs from the configured ACL file"},
    {"acl|save", 2, kAclAdmin, 0, 0, 0, AclSave, {}, "Save the current ACL rules in the configured ACL file"},
    {"acl|log", -2, kAclAdmin, 0, 0, 0, AclLogCommand, {}, "List latest events denied because of ACLs in place"},
    {"acl|dryrun", -4, kAclAdmin, 0, 0, 0, AclDryRun, {},
     "Returns whether the user can execute the given command without executing the command."},
    {"acl|cat", -2, kAclFlags, 0, 0, 0, AclCat, {}, "List the ACL categories or the commands inside a category"},
    {"acl|whoami", 2, kAclFlags, 0, 0, 0, AclWhoami, {}, "Return the name of the user associated to the current connection"},
    {"acl|genpass", -2, kAclFlags, 0, 0, 0, AclGenpass, {}, "Generate a pseudorandom secure password to use for ACL users"},
    {"acl|help", 2, flags::kLoading | flags::kStale, 0, 0, 0, AclHelp, {}, "Show helpful text about the different subcommands"},
};

constexpr CommandSpec kAclCommands[] = {
    {"acl", -2, 0, 0, 0, 0, nullptr, kAclSubcommands, "A container for Access List Control commands"},
};

}  // namespace

std::span<const CommandSpec> AclCommands() { return kAclCommands; }

}  // namespace strata::server
