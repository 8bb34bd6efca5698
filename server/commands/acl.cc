// ACL commands, the part that needs no user but the default one: CAT (the categories and their
// commands, from the command table's ACL categories), WHOAMI and GENPASS. Users, rules and
// AUTH username password come with issue 14; until then every connection is the default user.
#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/command.h"
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

// ACL WHOAMI: strata has one user, the default one, so far.
void AclWhoami(CommandContext& ctx) { ctx.reply.Bulk("default"); }

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
      "GENPASS [<bits>]",
      "    Generate a secure 256-bit user password. The optional `bits` argument can",
      "    be used to specify a different size.",
      "WHOAMI",
      "    Return the current connection username.",
      "HELP",
      "    Prints this help.",
      "(strata has one user, the default one, so far: users and rules are not implemented yet.)",
  };
  ReplyHelp(ctx, kLines);
}

constexpr uint32_t kAclFlags = flags::kNoScript | flags::kLoading | flags::kStale;

constexpr CommandSpec kAclSubcommands[] = {
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
