// Pub/sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB, as Redis 7.0
// answers them. The registry and the delivery across I/O threads are server/pubsub.h; a client's
// subscriptions and its RESP2 subscribed mode are the Connection's.
#include <optional>
#include <vector>

#include "server/command.h"
#include "server/connection.h"
#include "server/pubsub.h"
#include "server/server.h"

namespace strata::server {

namespace {

std::span<const std::string_view> Names(CommandContext& ctx) { return ctx.args.subspan(1); }

void Subscribe(CommandContext& ctx) { ctx.client.Subscribe(SubscriptionKind::kChannel, Names(ctx), ctx.reply); }
void PSubscribe(CommandContext& ctx) { ctx.client.Subscribe(SubscriptionKind::kPattern, Names(ctx), ctx.reply); }
void SSubscribe(CommandContext& ctx) { ctx.client.Subscribe(SubscriptionKind::kShardChannel, Names(ctx), ctx.reply); }
void Unsubscribe(CommandContext& ctx) { ctx.client.Unsubscribe(SubscriptionKind::kChannel, Names(ctx), ctx.reply); }
void PUnsubscribe(CommandContext& ctx) { ctx.client.Unsubscribe(SubscriptionKind::kPattern, Names(ctx), ctx.reply); }
void SUnsubscribe(CommandContext& ctx) {
  ctx.client.Unsubscribe(SubscriptionKind::kShardChannel, Names(ctx), ctx.reply);
}

void PublishTo(CommandContext& ctx, SubscriptionKind kind) {
  // An invalidation message is applied first, then delivered as usual (DESIGN.md section 7); a
  // malformed one is delivered all the same (and counted). It deletes keys, so an ACL user's is
  // applied only if that user may write every key (one allowed to publish but confined to some
  // keys must not empty the cache); otherwise it is only delivered.
  if (kind == SubscriptionKind::kChannel && ctx.server.IsInvalidationChannel(ctx.args[1]) &&
      (!ctx.client.acl_restricted() ||
       ctx.server.acl().AllowsEveryKey(ctx.client.user(), ctx.spec, ctx.args, kAclKeyWrite))) {
    ctx.server.invalidator().ApplyMessage(ctx.args[2], ctx.client.AuditIdentity()).IgnoreError();
  }
  ctx.reply.Integer(ctx.server.pubsub().Publish(kind, ctx.args[1], ctx.args[2]));
}
void Publish(CommandContext& ctx) { PublishTo(ctx, SubscriptionKind::kChannel); }
void SPublish(CommandContext& ctx) { PublishTo(ctx, SubscriptionKind::kShardChannel); }

void ReplyActiveChannels(CommandContext& ctx, SubscriptionKind kind) {
  std::optional<std::string_view> pattern;
  if (ctx.args.size() > 2) pattern = ctx.args[2];
  const std::vector<std::string> channels = ctx.server.pubsub().ActiveChannels(kind, pattern);
  ctx.reply.ArrayHeader(channels.size());
  for (const std::string& channel : channels) ctx.reply.Bulk(channel);
}

void ReplySubscriberCounts(CommandContext& ctx, SubscriptionKind kind) {
  // Channel, count, channel, count...: an array in both protocols, as Redis 7.0 replies.
  ctx.reply.ArrayHeader((ctx.args.size() - 2) * 2);
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    ctx.reply.Bulk(ctx.args[i]);
    ctx.reply.Integer(ctx.server.pubsub().SubscriberCount(kind, ctx.args[i]));
  }
}

void PubSubChannels(CommandContext& ctx) { ReplyActiveChannels(ctx, SubscriptionKind::kChannel); }
void PubSubShardChannels(CommandContext& ctx) { ReplyActiveChannels(ctx, SubscriptionKind::kShardChannel); }
void PubSubNumSub(CommandContext& ctx) { ReplySubscriberCounts(ctx, SubscriptionKind::kChannel); }
void PubSubShardNumSub(CommandContext& ctx) { ReplySubscriberCounts(ctx, SubscriptionKind::kShardChannel); }
void PubSubNumPat(CommandContext& ctx) {
  ctx.reply.Integer(static_cast<int64_t>(ctx.server.pubsub().ActiveCount(SubscriptionKind::kPattern)));
}

void PubSubHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "CHANNELS [<pattern>]",
      "    Return the currently active channels matching a <pattern> (default: '*').",
      "NUMPAT",
      "    Return number of subscriptions to patterns.",
      "NUMSUB [<channel> ...]",
      "    Return the number of subscribers for the specified channels, excluding",
      "    pattern subscriptions(default: no channels).",
      "SHARDCHANNELS [<pattern>]",
      "    Return the currently active shard level channels matching a <pattern> (default: '*').",
      "SHARDNUMSUB [<shardchannel> ...]",
      "    Return the number of subscribers for the specified shard level channel(s)",
      "HELP",
      "    Prints this help.",
  };
  ReplyHelp(ctx, kLines);
}

// Redis's flags: subscribing is session state (no scripts); publishing is allowed anywhere.
constexpr uint32_t kSubscribing =
    flags::kPubSub | flags::kNoScript | flags::kLoading | flags::kStale | flags::kSubscribedMode;
constexpr uint32_t kPublishing = flags::kPubSub | flags::kLoading | flags::kStale | flags::kFast;
constexpr uint32_t kIntrospection = flags::kPubSub | flags::kLoading | flags::kStale;

constexpr CommandSpec kPubSubSubcommands[] = {
    {"pubsub|channels", -2, kIntrospection, 0, 0, 0, PubSubChannels, {}, "List active channels"},
    {"pubsub|numsub", -2, kIntrospection, 0, 0, 0, PubSubNumSub, {}, "Get the count of subscribers for channels"},
    {"pubsub|numpat", 2, kIntrospection, 0, 0, 0, PubSubNumPat, {}, "Get the count of unique patterns pattern subscriptions"},
    {"pubsub|shardchannels", -2, kIntrospection, 0, 0, 0, PubSubShardChannels, {}, "List active shard channels"},
    {"pubsub|shardnumsub", -2, kIntrospection, 0, 0, 0, PubSubShardNumSub, {}, "Get the count of subscribers for shard channels"},
    {"pubsub|help", 2, flags::kLoading | flags::kStale, 0, 0, 0, PubSubHelp, {}, "Show helpful text about the different subcommands"},
};

constexpr CommandSpec kPubSubCommands[] = {
    {"subscribe", -2, kSubscribing, 0, 0, 0, Subscribe, {}, "Listen for messages published to the given channels"},
    {"psubscribe", -2, kSubscribing, 0, 0, 0, PSubscribe, {}, "Listen for messages published to channels matching the given patterns"},
    {"ssubscribe", -2, kSubscribing, 0, 0, 0, SSubscribe, {}, "Listen for messages published to the given shard channels"},
    {"unsubscribe", -1, kSubscribing, 0, 0, 0, Unsubscribe, {}, "Stop listening for messages posted to the given channels"},
    {"punsubscribe", -1, kSubscribing, 0, 0, 0, PUnsubscribe, {}, "Stop listening for messages posted to channels matching the given patterns"},
    {"sunsubscribe", -1, kSubscribing, 0, 0, 0, SUnsubscribe, {}, "Stop listening for messages posted to the given shard channels"},
    {"publish", 3, kPublishing | flags::kMayReplicate, 0, 0, 0, Publish, {}, "Post a message to a channel"},
    {"spublish", 3, kPublishing | flags::kMayReplicate, 0, 0, 0, SPublish, {}, "Post a message to a shard channel"},
    {"pubsub", -2, 0, 0, 0, 0, nullptr, kPubSubSubcommands, "A container for Pub/Sub commands"},
};

}  // namespace

std::span<const CommandSpec> PubSubCommands() { return kPubSubCommands; }

}  // namespace strata::server
