// Connection commands: the session (PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET) and CLIENT.
#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/absl_compat.h"
#include "server/command.h"
#include "server/connection.h"
#include "server/errors.h"
#include "server/io_thread.h"
#include "server/server.h"

namespace strata::server {

namespace {

// Redis's validateClientName: printable ASCII without spaces.
bool ValidClientName(std::string_view name) {
  for (char c : name) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

// AUTH and HELLO AUTH: the client becomes `user` when `password` opens it; a failure is in the
// ACL log (reason auth, the command's name as given), as Redis records it.
bool Authenticate(CommandContext& ctx, std::string_view user, std::string_view password) {
  if (std::shared_ptr<const AclUser> opened = ctx.server.acl().Authenticate(user, password)) {
    ctx.client.AuthenticateAs(std::move(opened));
    return true;
  }
  AclLog::Entry entry;
  entry.reason = AclDenial::kAuth;
  entry.context = ctx.client.in_multi() ? "multi" : "toplevel";
  entry.object = std::string(ctx.args[0]);
  entry.username = std::string(user);
  entry.time_ms = NowMs();
  entry.client_info = ctx.client.DescribeForClientList(entry.time_ms);
  ctx.server.acl_log().Add(std::move(entry), static_cast<size_t>(ctx.server.config().acllog_max_len.load()));
  ctx.reply.Error(errors::kWrongPass);
  return false;
}

void Ping(CommandContext& ctx) {
  if (ctx.args.size() > 2) {
    ctx.reply.Error(errors::WrongArity("ping"));
  } else if (ctx.client.in_subscribed_mode()) {
    // As Redis: a RESP2 subscriber's PING answers in the shape of a message.
    ctx.reply.ArrayHeader(2);
    ctx.reply.Bulk("pong");
    ctx.reply.Bulk(ctx.args.size() == 2 ? ctx.args[1] : std::string_view());
  } else if (ctx.args.size() == 2) {
    ctx.reply.Bulk(ctx.args[1]);
  } else {
    ctx.reply.SimpleString("PONG");
  }
}

void Echo(CommandContext& ctx) { ctx.reply.Bulk(ctx.args[1]); }

void Auth(CommandContext& ctx) {
  if (ctx.args.size() > 3) {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  std::string_view user = "default", password = ctx.args[1];
  if (ctx.args.size() == 3) {
    user = ctx.args[1];
    password = ctx.args[2];
  } else if (std::shared_ptr<const AclUser> fallback = ctx.server.acl().default_user(); fallback->nopass) {
    ctx.reply.Error(errors::kAuthNotConfigured);
    return;
  }
  if (Authenticate(ctx, user, password)) ctx.reply.Ok();
}

void Hello(CommandContext& ctx) {
  int64_t version = 0;
  size_t next = 1;
  if (ctx.args.size() >= 2) {
    if (!ParseInteger(ctx.args[1], &version)) {
      ctx.reply.Error(errors::kProtocolVersionNotInteger);
      return;
    }
    if (version < 2 || version > 3) {
      ctx.reply.Error(errors::kNoProto);
      return;
    }
    next = 2;
  }
  std::string_view user, password, name;
  bool has_auth = false, has_name = false;
  for (size_t j = next; j < ctx.args.size(); ++j) {
    const size_t more = ctx.args.size() - 1 - j;
    if (EqualsIgnoreCase(ctx.args[j], "auth") && more >= 2) {
      user = ctx.args[j + 1];
      password = ctx.args[j + 2];
      has_auth = true;
      j += 2;
    } else if (EqualsIgnoreCase(ctx.args[j], "setname") && more >= 1) {
      name = ctx.args[j + 1];
      if (!ValidClientName(name)) {
        ctx.reply.Error(errors::kBadClientName);
        return;
      }
      has_name = true;
      ++j;
    } else {
      ctx.reply.Error(absl::StrCat("ERR Syntax error in HELLO option '", Absl(ctx.args[j]), "'"));
      return;
    }
  }
  if (has_auth && !Authenticate(ctx, user, password)) return;
  if (!ctx.client.authenticated()) {
    ctx.reply.Error(errors::kHelloNoAuth);
    return;
  }
  if (has_name) ctx.client.set_name(std::string(name));
  if (version != 0) ctx.client.set_resp3(version == 3);
  ctx.reply.MapHeader(7);
  ctx.reply.Bulk("server");
  ctx.reply.Bulk("redis");
  ctx.reply.Bulk("version");
  ctx.reply.Bulk(kRedisCompatVersion);
  ctx.reply.Bulk("proto");
  ctx.reply.Integer(ctx.client.resp3() ? 3 : 2);
  ctx.reply.Bulk("id");
  ctx.reply.Integer(static_cast<int64_t>(ctx.client.id()));
  ctx.reply.Bulk("mode");
  ctx.reply.Bulk("standalone");
  ctx.reply.Bulk("role");
  ctx.reply.Bulk("master");
  ctx.reply.Bulk("modules");
  ctx.reply.ArrayHeader(0);
}

void Select(CommandContext& ctx) {
  int64_t db;
  if (!ParseInteger(ctx.args[1], &db)) {
    ctx.reply.Error(errors::kNotInteger);
    return;
  }
  if (db < INT32_MIN || db > INT32_MAX) {
    ctx.reply.Error(errors::kNotInt32);
    return;
  }
  if (db < 0 || db >= ctx.server.keyspace().databases()) {
    ctx.reply.Error(errors::kDbIndexOutOfRange);
    return;
  }
  ctx.client.set_db(static_cast<int>(db));
  ctx.reply.Ok();
}

void Quit(CommandContext& ctx) {
  ctx.reply.Ok();
  ctx.client.CloseAfterReply();
}

void Reset(CommandContext& ctx) {
  ctx.client.StopMonitoring();
  ctx.client.set_no_touch(false);
  ctx.client.DiscardMulti();
  ctx.client.UnsubscribeAll();
  ctx.client.DisableTracking();
  ctx.client.set_db(0);
  ctx.client.set_resp3(false);
  ctx.client.set_name("");
  ctx.client.set_no_evict(false);
  ctx.client.ResetUser();
  ctx.reply.SimpleString("RESET");
}

// MONITOR. As Redis: inside a transaction it is queued and refused by EXEC (a monitor cannot
// be a transaction's step), and a client already monitoring gets no second reply.
void Monitor(CommandContext& ctx) {
  if (ctx.blocking == BlockingMode::kNever) {
    ctx.reply.Error("ERR MONITOR isn't allowed for DENY BLOCKING client");
    return;
  }
  if (ctx.client.monitoring()) return;
  ctx.client.StartMonitoring();
  ctx.reply.Ok();
}

void ClientId(CommandContext& ctx) { ctx.reply.Integer(static_cast<int64_t>(ctx.client.id())); }

void ClientSetName(CommandContext& ctx) {
  if (!ValidClientName(ctx.args[2])) {
    ctx.reply.Error(errors::kBadClientName);
    return;
  }
  ctx.client.set_name(std::string(ctx.args[2]));
  ctx.reply.Ok();
}

void ClientGetName(CommandContext& ctx) {
  std::string name = ctx.client.name();
  if (name.empty()) {
    ctx.reply.Null();
  } else {
    ctx.reply.Bulk(name);
  }
}

void ClientList(CommandContext& ctx) {
  std::vector<uint64_t> ids;
  for (size_t j = 2; j < ctx.args.size(); ++j) {
    if (EqualsIgnoreCase(ctx.args[j], "type") && j + 1 < ctx.args.size()) {
      std::string_view type = ctx.args[++j];
      if (!EqualsIgnoreCase(type, "normal") && !EqualsIgnoreCase(type, "master") &&
          !EqualsIgnoreCase(type, "replica") && !EqualsIgnoreCase(type, "slave") && !EqualsIgnoreCase(type, "pubsub")) {
        ctx.reply.Error(absl::StrCat("ERR Unknown client type '", Absl(type), "'"));
        return;
      }
      // Every client here is a normal one; other types list nothing.
      if (!EqualsIgnoreCase(type, "normal")) ids.push_back(0);
    } else if (EqualsIgnoreCase(ctx.args[j], "id") && j + 1 < ctx.args.size()) {
      for (++j; j < ctx.args.size(); ++j) {
        int64_t id;
        if (!ParseInteger(ctx.args[j], &id) || id <= 0) {
          ctx.reply.Error("ERR Invalid client ID");
          return;
        }
        ids.push_back(static_cast<uint64_t>(id));
      }
    } else {
      ctx.reply.Error(errors::kSyntax);
      return;
    }
  }
  std::string text;
  ctx.server.clients().ForEach([&](Connection& c) {
    if (!ids.empty() && std::find(ids.begin(), ids.end(), c.id()) == ids.end()) return;
    absl::StrAppend(&text, c.DescribeForClientList(ctx.now_ms), "\n");
  });
  ctx.reply.Verbatim(text);
}

void ClientInfo(CommandContext& ctx) {
  ctx.reply.Verbatim(absl::StrCat(ctx.client.DescribeForClientList(ctx.now_ms), "\n"));
}


void ClientKill(CommandContext& ctx) {
  const auto& args = ctx.args;
  if (args.size() == 3) {  // old form: CLIENT KILL addr:port
    bool found = false;
    ctx.server.clients().ForEach([&](Connection& c) {
      if (!found && c.peer_address() == args[2] && KillClient(ctx, c)) found = true;
    });
    if (found) {
      ctx.server.audit().Record(ctx.client.AuditIdentity(), "client-kill",
                                {{"filter", AuditLog::Quote(args[2])}, {"killed", "1"}}, std::nullopt);
      ctx.reply.Ok();
    } else {
      ctx.reply.Error(errors::kNoSuchClient);
    }
    return;
  }
  uint64_t id = 0;
  int64_t max_age_seconds = 0;
  std::string_view addr, laddr, user;
  bool skip_me = true, match_none = false;
  for (size_t i = 2; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) {
      ctx.reply.Error(errors::kSyntax);
      return;
    }
    std::string_view option = args[i], value = args[i + 1];
    if (EqualsIgnoreCase(option, "id")) {
      int64_t parsed;
      if (!ParseInteger(value, &parsed) || parsed <= 0) {
        ctx.reply.Error("ERR client-id should be greater than 0");
        return;
      }
      id = static_cast<uint64_t>(parsed);
    } else if (EqualsIgnoreCase(option, "addr")) {
      addr = value;
    } else if (EqualsIgnoreCase(option, "laddr")) {
      laddr = value;
    } else if (EqualsIgnoreCase(option, "maxage")) {
      // Redis 7.4's filter: connections older than this many seconds.
      if (!ParseInteger(value, &max_age_seconds) || max_age_seconds < 0) {
        ctx.reply.Error(errors::kNotInteger);
        return;
      }
    } else if (EqualsIgnoreCase(option, "type")) {
      if (!EqualsIgnoreCase(value, "normal")) match_none = true;
    } else if (EqualsIgnoreCase(option, "user")) {
      if (ctx.server.acl().Find(value) == nullptr) {
        ctx.reply.Error(absl::StrCat("ERR No such user '", Absl(value), "'"));
        return;
      }
      user = value;
    } else if (EqualsIgnoreCase(option, "skipme")) {
      if (EqualsIgnoreCase(value, "yes")) {
        skip_me = true;
      } else if (EqualsIgnoreCase(value, "no")) {
        skip_me = false;
      } else {
        ctx.reply.Error(errors::kSyntax);
        return;
      }
    } else {
      ctx.reply.Error(errors::kSyntax);
      return;
    }
  }
  int64_t killed = 0;
  if (!match_none) {
    ctx.server.clients().ForEach([&](Connection& c) {
      if (id != 0 && c.id() != id) return;
      if (!addr.empty() && c.peer_address() != addr) return;
      if (!laddr.empty() && c.local_address() != laddr) return;
      if (!user.empty() && c.user_name() != user) return;
      if (max_age_seconds != 0 && (ctx.now_ms - c.created_ms()) / 1000 <= max_age_seconds) return;
      if (skip_me && &c == &ctx.client) return;
      if (KillClient(ctx, c)) ++killed;
    });
  }
  std::string filter;
  for (size_t i = 2; i < args.size(); ++i) absl::StrAppend(&filter, i > 2 ? " " : "", Absl(args[i]));
  ctx.server.audit().Record(ctx.client.AuditIdentity(), "client-kill",
                            {{"filter", AuditLog::Quote(filter)}, {"killed", absl::StrCat(killed)}}, std::nullopt);
  ctx.reply.Integer(killed);
}

void ClientSetInfo(CommandContext& ctx) {
  std::string attribute = absl::AsciiStrToLower(Absl(ctx.args[2]));
  if (attribute != "lib-name" && attribute != "lib-ver") {
    ctx.reply.Error(absl::StrCat("ERR Unrecognized option '", Absl(ctx.args[2]), "'"));
    return;
  }
  for (char c : ctx.args[3]) {
    if (c < '!' || c > '~') {
      ctx.reply.Error(absl::StrCat("ERR ", attribute, " cannot contain spaces, newlines or special characters."));
      return;
    }
  }
  ctx.client.set_lib_info(attribute, std::string(ctx.args[3]));
  ctx.reply.Ok();
}

// CLIENT NO-TOUCH / NO-EVICT on|off: sets the client's switch and replies OK, or a syntax error.
void ClientSwitch(CommandContext& ctx, void (Connection::*set)(bool)) {
  if (EqualsIgnoreCase(ctx.args[2], "on")) {
    (ctx.client.*set)(true);
  } else if (EqualsIgnoreCase(ctx.args[2], "off")) {
    (ctx.client.*set)(false);
  } else {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  ctx.reply.Ok();
}

void ClientNoTouch(CommandContext& ctx) { ClientSwitch(ctx, &Connection::set_no_touch); }

// CLIENT PAUSE timeout [WRITE|ALL]: commands of every client (the ones that write, with WRITE)
// wait until `timeout` ms have passed or CLIENT UNPAUSE; they then run in the order they came.
void ClientPause(CommandContext& ctx) {
  int64_t timeout;
  if (!ParseTimeout(ctx, ctx.args[2], &timeout)) return;
  Server::PauseMode mode = Server::PauseMode::kAll;
  if (ctx.args.size() == 4) {
    if (EqualsIgnoreCase(ctx.args[3], "write")) {
      mode = Server::PauseMode::kWrite;
    } else if (!EqualsIgnoreCase(ctx.args[3], "all")) {
      ctx.reply.Error("ERR CLIENT PAUSE mode must be WRITE or ALL");
      return;
    }
  } else if (ctx.args.size() > 4) {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  ctx.server.Pause(mode, NowMs() + timeout);
  ctx.reply.Ok();
}

void ClientUnpause(CommandContext& ctx) {
  ctx.server.Unpause();
  ctx.reply.Ok();
}

void ClientNoEvict(CommandContext& ctx) { ClientSwitch(ctx, &Connection::set_no_evict); }

// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]: ends another client's blocking command as a timeout
// (the default) or with an error; 1 if that client was blocked.
void ClientUnblock(CommandContext& ctx) {
  if (ctx.args.size() > 4) {
    ctx.reply.Error(errors::SubcommandSyntax(ctx.args[1], "CLIENT"));
    return;
  }
  BlockingRegistry::Cancel why = BlockingRegistry::Cancel::kUnblockTimeout;
  if (ctx.args.size() == 4) {
    if (EqualsIgnoreCase(ctx.args[3], "error")) {
      why = BlockingRegistry::Cancel::kUnblockError;
    } else if (!EqualsIgnoreCase(ctx.args[3], "timeout")) {
      ctx.reply.Error(errors::kUnblockReason);
      return;
    }
  }
  int64_t id;
  if (!ParseInteger(ctx.args[2], &id)) {
    ctx.reply.Error(errors::kNotInteger);
    return;
  }
  ctx.reply.Integer(ctx.server.blocking().CancelWait(static_cast<uint64_t>(id), why) ? 1 : 0);
}

// CLIENT TRACKING on|off [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP], with
// Redis 7.0's checks in Redis's order (options first, then their compatibility with each other
// and with the client's current mode).
void ClientTracking(CommandContext& ctx) {
  Connection::TrackingState state;
  bool redirect_given = false;
  for (size_t i = 3; i < ctx.args.size(); ++i) {
    const bool more = i + 1 < ctx.args.size();
    const std::string_view option = ctx.args[i];
    if (EqualsIgnoreCase(option, "redirect") && more) {
      if (redirect_given) {
        ctx.reply.Error("ERR A client can only redirect to a single other client");
        return;
      }
      int64_t id;
      if (!ParseInteger(ctx.args[++i], &id)) {
        ctx.reply.Error(errors::kNotInteger);
        return;
      }
      if (id <= 0 || ctx.server.clients().ThreadOf(static_cast<uint64_t>(id)) == nullptr) {
        ctx.reply.Error("ERR The client ID you want redirect to does not exist");
        return;
      }
      state.redirect = static_cast<uint64_t>(id);
      redirect_given = true;
    } else if (EqualsIgnoreCase(option, "bcast")) {
      state.bcast = true;
    } else if (EqualsIgnoreCase(option, "optin")) {
      state.optin = true;
    } else if (EqualsIgnoreCase(option, "optout")) {
      state.optout = true;
    } else if (EqualsIgnoreCase(option, "noloop")) {
      state.noloop = true;
    } else if (EqualsIgnoreCase(option, "prefix") && more) {
      state.prefixes.emplace_back(ctx.args[++i]);
    } else {
      ctx.reply.Error(errors::kSyntax);
      return;
    }
  }
  if (EqualsIgnoreCase(ctx.args[2], "off")) {
    ctx.client.DisableTracking();
    ctx.reply.Ok();
    return;
  }
  if (!EqualsIgnoreCase(ctx.args[2], "on")) {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  const Connection::TrackingState* current = ctx.client.tracking();
  if (!state.bcast && !state.prefixes.empty()) {
    ctx.reply.Error("ERR PREFIX option requires BCAST mode to be enabled");
    return;
  }
  if (current != nullptr && current->bcast != state.bcast) {
    ctx.reply.Error(
        "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it "
        "with a different mode.");
    return;
  }
  if (state.bcast && (state.optin || state.optout)) {
    ctx.reply.Error("ERR OPTIN and OPTOUT are not compatible with BCAST");
    return;
  }
  if (state.optin && state.optout) {
    ctx.reply.Error("ERR You can't specify both OPTIN mode and OPTOUT mode");
    return;
  }
  if (current != nullptr && ((state.optin && current->optout) || (state.optout && current->optin))) {
    ctx.reply.Error(
        "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it "
        "with a different mode.");
    return;
  }
  // Prefixes of one client must not overlap: one change would be told twice.
  auto overlap = [](std::string_view a, std::string_view b) { return a.starts_with(b) || b.starts_with(a); };
  for (size_t i = 0; i < state.prefixes.size(); ++i) {
    if (current != nullptr) {
      for (const std::string& existing : current->prefixes) {
        if (overlap(state.prefixes[i], existing)) {
          ctx.reply.Error(absl::StrCat("ERR Prefix '", state.prefixes[i], "' overlaps with an existing prefix '",
                                       existing, "'. Prefixes for a single client must not overlap."));
          return;
        }
      }
    }
    for (size_t j = i + 1; j < state.prefixes.size(); ++j) {
      if (overlap(state.prefixes[i], state.prefixes[j])) {
        ctx.reply.Error(absl::StrCat("ERR Prefix '", state.prefixes[i], "' overlaps with another provided prefix '",
                                     state.prefixes[j], "'. Prefixes for a single client must not overlap."));
        return;
      }
    }
  }
  ctx.client.EnableTracking(std::move(state));
  ctx.reply.Ok();
}

void ClientCaching(CommandContext& ctx) {
  const Connection::TrackingState* tracking = ctx.client.tracking();
  if (tracking == nullptr) {
    ctx.reply.Error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    return;
  }
  if (EqualsIgnoreCase(ctx.args[2], "yes")) {
    if (!tracking->optin) {
      ctx.reply.Error("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
      return;
    }
  } else if (EqualsIgnoreCase(ctx.args[2], "no")) {
    if (!tracking->optout) {
      ctx.reply.Error("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
      return;
    }
  } else {
    ctx.reply.Error(errors::kSyntax);
    return;
  }
  ctx.client.set_tracking_caching(true);
  ctx.reply.Ok();
}

void ClientGetRedir(CommandContext& ctx) {
  const Connection::TrackingState* tracking = ctx.client.tracking();
  ctx.reply.Integer(tracking == nullptr ? -1 : static_cast<int64_t>(tracking->redirect));
}

void ClientTrackingInfo(CommandContext& ctx) {
  const Connection::TrackingState* tracking = ctx.client.tracking();
  std::vector<std::string_view> flags = {tracking != nullptr ? "on" : "off"};
  if (tracking != nullptr) {
    if (tracking->bcast) flags.push_back("bcast");
    if (tracking->optin) flags.push_back("optin");
    if (tracking->optin && tracking->caching_given) flags.push_back("caching-yes");
    if (tracking->optout) flags.push_back("optout");
    if (tracking->optout && tracking->caching_given) flags.push_back("caching-no");
    if (tracking->noloop) flags.push_back("noloop");
    if (tracking->redirect_broken) flags.push_back("broken_redirect");
  }
  ctx.reply.MapHeader(3);
  ctx.reply.Bulk("flags");
  ctx.reply.SetHeader(flags.size());
  for (std::string_view flag : flags) ctx.reply.Bulk(flag);
  ctx.reply.Bulk("redirect");
  ctx.reply.Integer(tracking == nullptr ? -1 : static_cast<int64_t>(tracking->redirect));
  ctx.reply.Bulk("prefixes");
  std::vector<std::string> prefixes;
  if (tracking != nullptr) prefixes = tracking->prefixes;
  std::sort(prefixes.begin(), prefixes.end());  // Redis keeps them in a radix tree: sorted
  ctx.reply.ArrayHeader(prefixes.size());
  for (const std::string& prefix : prefixes) ctx.reply.Bulk(prefix);
}

void ClientHelp(CommandContext& ctx) {
  constexpr std::string_view kLines[] = {
      "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "CACHING (YES|NO)", "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
      "GETREDIR", "    Return the client ID we are redirecting to when tracking is enabled.",
      "GETNAME", "    Return the name of the current connection.",
      "ID", "    Return the ID of the current connection.",
      "INFO", "    Return information about the current client connection.",
      "KILL <ip:port>", "    Kill connection made from <ip:port>.",
      "KILL <option> <value> [<option> <value> [...]]",
      "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>,",
      "    TYPE normal, USER default, SKIPME (YES|NO), MAXAGE <seconds>.",
      "LIST [options ...]", "    Return information about client connections. Options: TYPE <type>, ID <id> [...].",
      "NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
      "NO-TOUCH (ON|OFF)", "    Will not touch LRU/LFU stats when this mode is on.",
      "PAUSE <timeout> [WRITE|ALL]",
      "    Suspend all, or just write, clients for <timeout> milliseconds.",
      "SETINFO <LIB-NAME|LIB-VER> <value>", "    Set client library name or version.",
      "SETNAME <name>", "    Assign the name <name> to the current connection.",
      "UNBLOCK <clientid> [TIMEOUT|ERROR]",
      "    Unblock the specified blocked client.",
      "UNPAUSE", "    Stop the current client pause, resuming traffic.",
      "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
      "         [OPTIN] [OPTOUT] [NOLOOP]",
      "    Control server assisted client side caching.",
      "TRACKINGINFO", "    Report tracking status for the current connection.",
      "HELP", "    Print this help.",
  };
  ReplyHelp(ctx, kLines);
}

constexpr uint32_t kSession = flags::kNoScript | flags::kLoading | flags::kStale | flags::kFast;
// CLIENT's subcommands: as kSession but not @fast (Redis files them under @slow).
constexpr uint32_t kClientSession = flags::kNoScript | flags::kLoading | flags::kStale;

constexpr CommandSpec kClientSubcommands[] = {
    {"client|id", 2, kClientSession, 0, 0, 0, ClientId, {}, "Returns the client ID for the current connection"},
    {"client|setname", 3, kClientSession, 0, 0, 0, ClientSetName, {}, "Set the current connection name"},
    {"client|getname", 2, kClientSession, 0, 0, 0, ClientGetName, {}, "Get the current connection name"},
    {"client|list", -2, flags::kAdmin | kClientSession, 0, 0, 0, ClientList, {}, "Get the list of client connections"},
    {"client|info", 2, kClientSession, 0, 0, 0, ClientInfo, {}, "Returns information about the current client connection"},
    {"client|kill", -3, flags::kAdmin | kClientSession, 0, 0, 0, ClientKill, {}, "Kill the connection of a client"},
    {"client|setinfo", 4, kClientSession, 0, 0, 0, ClientSetInfo, {}, "Set client or connection specific info"},
    {"client|no-touch", 3, kClientSession, 0, 0, 0, ClientNoTouch, {}, "Controls whether commands sent by the client will alter the LRU/LFU of the keys they access"},
    {"client|pause", -3, flags::kAdmin | kClientSession, 0, 0, 0, ClientPause, {}, "Suspend processing of commands from clients"},
    {"client|unpause", 2, flags::kAdmin | kClientSession, 0, 0, 0, ClientUnpause, {}, "Resume processing of clients that were paused"},
    {"client|no-evict", 3, flags::kAdmin | kClientSession, 0, 0, 0, ClientNoEvict, {}, "Set client eviction mode"},
    {"client|unblock", -3, flags::kAdmin | kClientSession, 0, 0, 0, ClientUnblock, {}, "Unblock a client blocked in a blocking command from a different connection"},
    {"client|tracking", -3, kClientSession, 0, 0, 0, ClientTracking, {}, "Enable or disable server assisted client side caching support"},
    {"client|caching", 3, kClientSession, 0, 0, 0, ClientCaching, {}, "Instruct the server about tracking or not keys in the next request"},
    {"client|getredir", 2, kClientSession, 0, 0, 0, ClientGetRedir, {}, "Get tracking notifications redirection client ID if any"},
    {"client|trackinginfo", 2, kClientSession, 0, 0, 0, ClientTrackingInfo, {}, "Return information about server assisted client side caching for the current connection"},
    {"client|help", 2, flags::kLoading | flags::kStale, 0, 0, 0, ClientHelp, {}, "Show helpful text about the different subcommands"},
};

constexpr CommandSpec kConnectionCommands[] = {
    {"ping", -1, flags::kFast | flags::kSubscribedMode, 0, 0, 0, Ping, {}, "Ping the server"},
    {"echo", 2, flags::kFast | flags::kLoading | flags::kStale, 0, 0, 0, Echo, {}, "Echo the given string"},
    {"auth", -2, kSession | flags::kNoAuth | flags::kAllowBusy, 0, 0, 0, Auth, {}, "Authenticate to the server"},
    {"hello", -1, kSession | flags::kNoAuth | flags::kAllowBusy, 0, 0, 0, Hello, {}, "Handshake with Redis"},
    // Allowed in scripts, as in Redis: the script's later calls use the database it selects, the
    // caller's stays as it was.
    {"select", 2, kSession & ~flags::kNoScript, 0, 0, 0, Select, {}, "Change the selected database for the current connection"},
    {"monitor", 1, flags::kAdmin | flags::kNoScript | flags::kLoading | flags::kStale | flags::kProtected, 0, 0, 0, Monitor, {}, "Listen for all requests received by the server in real time"},
    {"quit", -1, kSession | flags::kNoAuth | flags::kNotQueued | flags::kAllowBusy | flags::kSubscribedMode, 0, 0, 0, Quit, {}, "Close the connection"},
    {"reset", 1, kSession | flags::kNoAuth | flags::kNotQueued | flags::kAllowBusy | flags::kSubscribedMode, 0, 0, 0, Reset, {}, "Reset the connection"},
    {"client", -2, 0, 0, 0, 0, nullptr, kClientSubcommands, "A container for client connection commands"},
};

}  // namespace

bool KillClient(CommandContext& ctx, Connection& target) {
  // Once: the close runs later on the target's thread, and until then a second KILL must not
  // find the client again (Redis's client is gone when its KILL replies).
  if (!target.RequestKill()) return false;
  if (&target == &ctx.client) {
    ctx.client.CloseAfterReply();
    return true;
  }
  IoThread& thread = target.thread();
  const uint64_t id = target.id();
  thread.Post([&thread, id] {
    if (Connection* c = thread.FindConnection(id)) c->Close();
  });
  return true;
}

std::span<const CommandSpec> ConnectionCommands() { return kConnectionCommands; }

}  // namespace strata::server
