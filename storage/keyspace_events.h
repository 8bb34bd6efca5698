// Keyspace events: what a command, expiry or eviction did to a key, for Redis's keyspace
// notifications (notify-keyspace-events) and anything else that must hear of it.
//
// Contract: the event classes are Redis 7.0's NOTIFY_* flags plus strata's own for loaders; the
// Keyspace holds the enabled classes (one relaxed load to test) and a listener. Events are
// raised where the change happens, under the key's shard lock, in the order Redis raises them
// (a command's "new" before its own event, "expired" when a lookup or the expiry cycle drops a
// key), so a subscriber sees one key's events in the order the changes were made.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace strata::storage {

namespace notify {
inline constexpr uint32_t kKeyspace = 1 << 0;  // K: __keyspace@<db>__:<key> channels
inline constexpr uint32_t kKeyevent = 1 << 1;  // E: __keyevent@<db>__:<event> channels
inline constexpr uint32_t kGeneric = 1 << 2;   // g: DEL, EXPIRE, RENAME...
inline constexpr uint32_t kString = 1 << 3;    // $
inline constexpr uint32_t kList = 1 << 4;      // l
inline constexpr uint32_t kSet = 1 << 5;       // s
inline constexpr uint32_t kHash = 1 << 6;      // h
inline constexpr uint32_t kZSet = 1 << 7;      // z
inline constexpr uint32_t kExpired = 1 << 8;   // x
inline constexpr uint32_t kEvicted = 1 << 9;   // e
inline constexpr uint32_t kStream = 1 << 10;   // t (strata has no streams: never raised)
inline constexpr uint32_t kKeyMiss = 1 << 11;  // m: a read found nothing
inline constexpr uint32_t kModule = 1 << 12;   // d (no modules: never raised)
inline constexpr uint32_t kNew = 1 << 13;      // n: a key was created
// L (strata's own): a loader stored a value ("loaded"), refreshed one ("refreshed"), or an
// invalidation dropped one ("invalidated"). Not part of A, so Redis configurations mean what
// they meant.
inline constexpr uint32_t kLoader = 1 << 14;
// A: every class of Redis's "A" (g$lshzxetd).
inline constexpr uint32_t kAll = kGeneric | kString | kList | kSet | kHash | kZSet | kExpired | kEvicted | kStream | kModule;
}  // namespace notify

// Parses notify-keyspace-events' letters; false on a letter Redis does not know (nor L).
bool ParseNotifyClasses(std::string_view letters, uint32_t* classes);
// The letters CONFIG GET shows, in Redis's order ("AKE" for "KEA"), with L last.
std::string NotifyClassesToString(uint32_t classes);

class KeyspaceEventListener {
 public:
  virtual ~KeyspaceEventListener() = default;
  // `event` is a string literal (Redis's event name); called under the key's shard lock.
  virtual void OnKeyspaceEvent(uint32_t event_class, std::string_view event, int db, std::string_view key) = 0;
};

// Every change to any key, whatever its cause (a command, a loader, expiry, eviction, an
// invalidation), for client-side caching's invalidations (server/tracking.h). Raised only while
// Keyspace::set_track_changes(true), so a server without tracking clients pays one load.
class KeyChangeListener {
 public:
  virtual ~KeyChangeListener() = default;
  // Called under the key's shard lock. `hash`: HashKey(key), which names that shard
  // (Keyspace::ShardIndex). `writer`: the client whose command made the change (the command's
  // Transaction says; 0 for expiry cycles, eviction, loaders and sweeps).
  virtual void OnKeyChanged(std::string_view key, uint64_t hash, uint64_t writer) = 0;
  // A database (or all of them) was emptied.
  virtual void OnFlush() = 0;
};

}  // namespace strata::storage
