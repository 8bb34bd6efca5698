// Transaction commands: MULTI, EXEC, DISCARD, WATCH, UNWATCH. The queue and the watched keys are
// the connection's (Connection::ExecMulti runs them); these handlers add Redis's checks.
#include "server/command.h"
#include "server/connection.h"

namespace strata::server {

namespace {

void Multi(CommandContext& ctx) {
  if (ctx.client.in_multi()) {
    ctx.reply.Error("ERR MULTI calls can not be nested");
    return;
  }
  ctx.client.BeginMulti();
  ctx.reply.Ok();
}

void Exec(CommandContext& ctx) {
  if (!ctx.client.in_multi()) {
    ctx.reply.Error("ERR EXEC without MULTI");
    return;
  }
  ctx.client.ExecMulti(ctx.args);
}

void Discard(CommandContext& ctx) {
  if (!ctx.client.in_multi()) {
    ctx.reply.Error("ERR DISCARD without MULTI");
    return;
  }
  ctx.client.DiscardMulti();
  ctx.reply.Ok();
}

void Watch(CommandContext& ctx) {
  if (ctx.client.in_multi()) {
    ctx.reply.Error("ERR WATCH inside MULTI is not allowed");
    return;
  }
  ctx.client.Watch(ctx.keys(), ctx.args.subspan(1));
  ctx.reply.Ok();
}

void Unwatch(CommandContext& ctx) {
  ctx.client.Unwatch();
  ctx.reply.Ok();
}

constexpr uint32_t kControl = flags::kNoScript | flags::kLoading | flags::kStale | flags::kFast;

constexpr CommandSpec kTransactionCommands[] = {
    {"multi", 1, kControl | flags::kNotQueued | flags::kAllowBusy, 0, 0, 0, Multi, {},
     "Start a transaction block"},
    {"exec", 1, flags::kNoScript | flags::kLoading | flags::kStale | flags::kNotQueued | flags::kSkipSlowlog, 0, 0, 0, Exec, {},
     "Execute all commands issued after MULTI"},
    {"discard", 1, kControl | flags::kNotQueued | flags::kAllowBusy, 0, 0, 0, Discard, {},
     "Discard all commands issued after MULTI"},
    // Not served while a script is busy: a keyed command on the busy thread would run inside
    // the script's held shards.
    {"watch", -2, kControl | flags::kNotQueued, 1, -1, 1, Watch, {},
     "Watch the given keys to determine execution of the MULTI/EXEC block"},
    {"unwatch", 1, kControl | flags::kAllowBusy, 0, 0, 0, Unwatch, {}, "Forget about all watched keys"},
};

}  // namespace

std::span<const CommandSpec> TransactionCommands() { return kTransactionCommands; }

}  // namespace strata::server
