// LOADER: inspect and steer the read-through loaders (DESIGN.md section 6).
//   LOADER LIST                 every loader: template, source, query and policy
//   LOADER STATS [template]     counters per loader (as INFO's # Loaders section)
//   LOADER REFRESH key          load key from its source now, replacing what is cached
//   LOADER INVALIDATE pattern   drop matching keys (memory and negative cache); in-flight
//                               loads of them are not stored
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "server/absl_compat.h"
#include "server/command.h"
#include "server/connection.h"
#include "server/errors.h"
#include "server/server.h"

namespace strata::server {

namespace {

std::string Seconds(int64_t ms) { return absl::StrFormat("%g", static_cast<double>(ms) / 1000.0); }

void ReplyPairs(CommandContext& ctx, const std::vector<std::pair<std::string, std::string>>& pairs) {
  ctx.reply.MapHeader(pairs.size());
  for (const auto& [name, value] : pairs) {
    ctx.reply.Bulk(name);
    ctx.reply.Bulk(value);
  }
}

void LoaderList(CommandContext& ctx) {
  const auto& loaders = ctx.server.loaders().loaders();
  ctx.reply.ArrayHeader(loaders.size());
  for (const auto& loader : loaders) {
    const loaders::LoaderOptions& o = loader->options();
    ReplyPairs(ctx, {
                        {"template", loader->name()},
                        {"source", loader->source().name()},
                        {"url", loader->source().Describe()},
                        {"query", loader->query().text},
                        {"type", o.shape == loaders::ValueShape::kHash ? "hash" : "string"},
                        {"ttl", Seconds(o.ttl_ms)},
                        {"jitter", absl::StrFormat("%g", o.jitter_percent)},
                        {"stale", Seconds(o.stale_ms)},
                        {"negative-ttl", Seconds(o.negative_ttl_ms)},
                        {"timeout", absl::StrCat(o.timeout.count())},
                        {"refresh-ahead", absl::StrFormat("%g", o.refresh_ahead_percent)},
                        {"max-ttl", Seconds(o.max_ttl_ms)},
                        {"redact", absl::StrJoin(o.redact, ",")},
                    });
  }
}

void LoaderStats(CommandContext& ctx) {
  loaders::LoaderManager& manager = ctx.server.loaders();
  if (ctx.args.size() == 3) {
    for (const auto& loader : manager.loaders()) {
      if (loader->name() == ctx.args[2]) {
        ReplyPairs(ctx, DescribeLoaderStats(manager, *loader));
        return;
      }
    }
    ctx.reply.Error(absl::StrCat("ERR no loader with template '", Absl(ctx.args[2]), "'"));
    return;
  }
  ctx.reply.MapHeader(manager.loaders().size());
  for (const auto& loader : manager.loaders()) {
    ctx.reply.Bulk(loader->name());
    ReplyPairs(ctx, DescribeLoaderStats(manager, *loader));
  }
}

void LoaderRefresh(CommandContext& ctx) {
  if (ctx.client.replaying_loaded_command()) {
    ctx.reply.Ok();  // the load this command waited for has been stored
    return;
  }
  if (ctx.server.loaders().Match(ctx.args[2]) == nullptr) {
    ctx.reply.Error(absl::StrCat("ERR no loader matches key '", Absl(ctx.args[2]), "'"));
    return;
  }
  ctx.client.WaitForLoads(ctx.args, {std::string(ctx.args[2])});
}

void LoaderInvalidate(CommandContext& ctx) {
  const uint64_t dropped = ctx.server.invalidator().DropMatchingNow(ctx.args[2]);
  ctx.server.audit().Record(ctx.client.AuditIdentity(), "loader-invalidate", {{"pattern", AuditLog::Quote(ctx.args[2])}},
                            dropped);
  ctx.reply.Integer(static_cast<int64_t>(dropped));
}

void LoaderHelp(CommandContext& ctx) {
  constexpr std::string_view kLines[] = {
      "LOADER <subcommand> [<arg> ...]. Subcommands are:",
      "LIST", "    Every loader: its key template, source, query and caching policy.",
      "STATS [<template>]", "    Counters of every loader, or of one.",
      "REFRESH <key>", "    Load the key from its source now and store it.",
      "INVALIDATE <pattern>", "    Drop matching keys and remembered misses; loads in flight are not stored.",
      "HELP", "    Print this help.",
  };
  ReplyHelp(ctx, kLines);
}

// REFRESH takes no key position on purpose: it must not hold the key's lock while it waits.
constexpr CommandSpec kLoaderSubcommands[] = {
    {"loader|list", 2, flags::kAdmin, 0, 0, 0, LoaderList, {}, "List the configured loaders"},
    {"loader|stats", -2, flags::kAdmin, 0, 0, 0, LoaderStats, {}, "Show loader counters"},
    {"loader|refresh", 3, flags::kAdmin | flags::kWrite | flags::kNoScript | flags::kNoMulti, 0, 0, 0, LoaderRefresh, {}, "Reload a key from its source"},
    {"loader|invalidate", 3, flags::kAdmin | flags::kWrite | flags::kKeyspace, 0, 0, 0, LoaderInvalidate, {}, "Drop keys matching a pattern"},
    {"loader|help", 2, 0, 0, 0, 0, LoaderHelp, {}, "Show helpful text about the different subcommands"},
};

constexpr CommandSpec kLoaderCommands[] = {
    {"loader", -2, 0, 0, 0, 0, nullptr, kLoaderSubcommands, "A container for read-through loader commands"},
};

}  // namespace

std::span<const CommandSpec> LoaderCommands() { return kLoaderCommands; }

}  // namespace strata::server
