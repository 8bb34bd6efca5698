#include "storage/zset.h"

#include <malloc.h>

#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <utility>
#include <vector>

#include "storage/dict.h"
#include "storage/entry.h"
#include "storage/blocks.h"
#include "storage/varint.h"

namespace strata::storage {

namespace {

constexpr size_t kHeaderBytes = 8;  // uint32 count, uint32 bytes (after the header)
// A packed block never grows past Redis's listpack safety limit (1 GB): its byte count is 32-bit.
constexpr size_t kMaxPackedBytes = size_t{1} << 30;
// Redis's skip list constants: at most 32 levels, each level kept with probability 1/4.
constexpr int kMaxLevel = 32;
constexpr uint32_t kLevelProbabilityQuarter = 4;

void Store32(unsigned char* at, uint32_t value) { std::memcpy(at, &value, 4); }
uint32_t Load32(const unsigned char* at) {
  uint32_t value;
  std::memcpy(&value, at, 4);
  return value;
}

// Packed scores (zset.h): integral scores of magnitude below 2^53 (where every integer is exact
// as a double) as varint(zigzag(n) << 1); any other score as the tag byte 01 and its 8 bytes.
constexpr double kExactIntegerLimit = 9007199254740992.0;  // 2^53
constexpr unsigned char kDoubleScoreTag = 1;

bool IsCompactScore(double score, int64_t* n) {
  if (!(std::fabs(score) < kExactIntegerLimit) || std::trunc(score) != score) return false;
  if (score == 0 && std::signbit(score)) return false;  // -0 keeps its sign as a double
  *n = static_cast<int64_t>(score);
  return true;
}

uint64_t CompactScoreCode(int64_t n) {
  const uint64_t zigzag = (static_cast<uint64_t>(n) << 1) ^ static_cast<uint64_t>(n >> 63);
  return zigzag << 1;
}

size_t EncodedScoreSize(double score) {
  int64_t n;
  return IsCompactScore(score, &n) ? VarintSize(CompactScoreCode(n)) : 1 + sizeof(double);
}

unsigned char* EncodeScore(unsigned char* out, double score) {
  int64_t n;
  if (IsCompactScore(score, &n)) return PutVarint(out, CompactScoreCode(n));
  *out++ = kDoubleScoreTag;
  std::memcpy(out, &score, sizeof(double));
  return out + sizeof(double);
}

const unsigned char* DecodeScore(const unsigned char* at, double* score) {
  if (*at == kDoubleScoreTag) {
    std::memcpy(score, at + 1, sizeof(double));
    return at + 1 + sizeof(double);
  }
  uint64_t code;
  at = GetVarint(at, &code);
  const uint64_t zigzag = code >> 1;
  *score = static_cast<double>(static_cast<int64_t>(zigzag >> 1) ^ -static_cast<int64_t>(zigzag & 1));
  return at;
}

// One packed element at data+offset: its score and member; *next is where the following starts.
struct PackedElement {
  double score;
  std::string_view member;
};
PackedElement PackedAt(const unsigned char* data, size_t offset, size_t* next) {
  PackedElement element;
  uint64_t length;
  const unsigned char* member = GetVarint(DecodeScore(data + offset, &element.score), &length);
  element.member = std::string_view(reinterpret_cast<const char*>(member), length);
  *next = static_cast<size_t>(member - data) + length;
  return element;
}

// Redis's order: by score, then by member bytes.
bool Less(double a_score, std::string_view a_member, double b_score, std::string_view b_member) {
  return a_score < b_score || (a_score == b_score && a_member < b_member);
}

bool AboveMin(double score, const ScoreBound& min) { return min.exclusive ? score > min.value : score >= min.value; }
bool AboveMax(double score, const ScoreBound& max) { return max.exclusive ? score >= max.value : score > max.value; }
bool AboveMin(std::string_view member, const LexBound& min) {
  switch (min.kind) {
    case LexBound::Kind::kMinusInfinity: return true;
    case LexBound::Kind::kPlusInfinity: return false;
    case LexBound::Kind::kInclusive: return member >= min.value;
    case LexBound::Kind::kExclusive: return member > min.value;
  }
  return false;
}
bool AboveMax(std::string_view member, const LexBound& max) {
  switch (max.kind) {
    case LexBound::Kind::kMinusInfinity: return true;
    case LexBound::Kind::kPlusInfinity: return false;
    case LexBound::Kind::kInclusive: return member > max.value;
    case LexBound::Kind::kExclusive: return member >= max.value;
  }
  return false;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// The skip list (Pugh's, with spans for ranks, as in Redis's t_zset.c).

struct ZSetValue::SkipList {
  // A node and its member share one block: the node (score, backward link, levels) and then
  // the member's Entry (the key of `members`, whose one-byte value is the node's level count, so
  // either finds the other by arithmetic). Redis spends a node, an sds and a dictEntry per
  // member; one block of 64 bytes holds a level-1 node with a member of up to 16 bytes.
  //
  //   offset 0   double score
  //          8   Node* backward
  //         16   Level level[levels]   level[0].span's slot holds `levels`: a span on level 0
  //                                    is always 1, so it is not stored
  //   16+16*levels  Entry (the member)
  struct Node;
  struct Level {
    Node* forward = nullptr;
    size_t span = 0;  // elements between this node and `forward` on this level, counting forward
  };
  struct Node {
    double score;
    Node* backward;
    Level level[1];  // `levels()` of them (allocated past the struct)

    static size_t Bytes(int levels) { return offsetof(Node, level) + static_cast<size_t>(levels) * sizeof(Level); }
    int levels() const { return static_cast<int>(level[0].span); }
    size_t span(int i) const { return i == 0 ? 1 : level[i].span; }
    void set_span(int i, size_t span) {
      if (i > 0) level[i].span = span;
    }
    const Entry* member() const {
      return reinterpret_cast<const Entry*>(reinterpret_cast<const char*>(this) + Bytes(levels()));
    }
    std::string_view name() const { return member()->key(); }
    // This node orders before (score, name): the member's bytes are read only on a score tie.
    bool Before(double other_score, std::string_view other_name) const {
      return score < other_score || (score == other_score && name() < other_name);
    }
  };

  SkipList() : head(InitNode(AllocateBlock(Node::Bytes(kMaxLevel)), 0, kMaxLevel)) {}
  ~SkipList() {
    members.Clear([](Entry*) {});  // the entries live in the nodes' blocks
    Node* node = head->level[0].forward;
    while (node != nullptr) {
      Node* next = node->level[0].forward;
      std::free(node);
      node = next;
    }
    std::free(head);
  }

  static Node* InitNode(void* block, double score, int levels) {
    auto* node = static_cast<Node*>(block);
    node->score = score;
    node->backward = nullptr;
    for (int i = 0; i < levels; ++i) node->level[i] = Level{};
    node->level[0].span = static_cast<size_t>(levels);
    return node;
  }

  int RandomLevel() {
    int level = 1;
    while (level < kMaxLevel && random() % kLevelProbabilityQuarter == 0) ++level;
    return level;
  }

  static Node* NodeOf(const Entry* e) {
    const int levels = static_cast<unsigned char>(e->string_value()[0]);
    return reinterpret_cast<Node*>(const_cast<char*>(reinterpret_cast<const char*>(e)) - Node::Bytes(levels));
  }

  Node* Find(std::string_view member) const {
    const Entry* e = members.Find(member, HashKey(member));
    return e == nullptr ? nullptr : NodeOf(e);
  }

  // Adds a member that is not in the list.
  void Insert(std::string_view member, double score) {
    const int levels = RandomLevel();
    const char levels_byte = static_cast<char>(levels);
    const size_t node_size = Node::Bytes(levels);
    unsigned char* block = AllocateBlock(node_size + Entry::PlacedStringSize(member, 1));
    Node* x = InitNode(block, score, levels);
    Entry* entry = Entry::PlaceString(block + node_size, member, std::string_view(&levels_byte, 1));
    members.Insert(entry, HashKey(member));
    node_bytes += UsableSize(block);
    Link(x);
  }

  // Links node x (its score, member and level count set) at its place in the order.
  void Link(Node* x) {
    const std::string_view member = x->name();
    Node* update[kMaxLevel];
    size_t rank[kMaxLevel];
    Node* at = head;
    for (int i = level - 1; i >= 0; --i) {
      rank[i] = i == level - 1 ? 0 : rank[i + 1];
      while (at->level[i].forward != nullptr && at->level[i].forward->Before(x->score, member)) {
        rank[i] += at->span(i);
        at = at->level[i].forward;
      }
      update[i] = at;
    }
    const int x_levels = x->levels();
    if (x_levels > level) {
      for (int i = level; i < x_levels; ++i) {
        rank[i] = 0;
        update[i] = head;
        update[i]->set_span(i, length);
      }
      level = x_levels;
    }
    for (int i = 0; i < x_levels; ++i) {
      x->level[i].forward = update[i]->level[i].forward;
      update[i]->level[i].forward = x;
      x->set_span(i, update[i]->span(i) - (rank[0] - rank[i]));
      update[i]->set_span(i, (rank[0] - rank[i]) + 1);
    }
    for (int i = x_levels; i < level; ++i) update[i]->set_span(i, update[i]->span(i) + 1);
    x->backward = update[0] == head ? nullptr : update[0];
    if (x->level[0].forward != nullptr) {
      x->level[0].forward->backward = x;
    } else {
      tail = x;
    }
    ++length;
  }

  // Moves a member to a new score, reusing its node and entry (Redis's zslUpdateScore).
  // A member's new score: in place when it keeps the node between its neighbours, as Redis's
  // zslUpdateScore does (the common case for counters that move a little), else moved.
  void UpdateScore(Node* node, std::string_view member, double score) {
    if (node->score == score) return;
    const Node* previous = node->backward;
    const Node* next = node->level[0].forward;
    if ((previous == nullptr || previous->Before(score, member)) && (next == nullptr || !next->Before(score, member))) {
      node->score = score;
      return;
    }
    Rescore(node, score);
  }

  void Rescore(Node* x, double score) {
    UnlinkFromList(x);
    x->score = score;
    Link(x);
  }

  // Unlinks `x` from the levels (the member stays in `members`).
  void UnlinkFromList(Node* x) {
    Node* update[kMaxLevel];
    Node* at = head;
    const std::string_view member = x->name();
    for (int i = level - 1; i >= 0; --i) {
      while (at->level[i].forward != nullptr && at->level[i].forward->Before(x->score, member)) at = at->level[i].forward;
      update[i] = at;
    }
    Unlink(x, update);
  }

  // Unlinks `x`, whose predecessors on each level are update[].
  void Unlink(Node* x, Node** update) {
    for (int i = 0; i < level; ++i) {
      if (update[i]->level[i].forward == x) {
        update[i]->set_span(i, update[i]->span(i) + x->span(i) - 1);
        update[i]->level[i].forward = x->level[i].forward;
      } else {
        update[i]->set_span(i, update[i]->span(i) - 1);
      }
    }
    if (x->level[0].forward != nullptr) {
      x->level[0].forward->backward = x->backward;
    } else {
      tail = x->backward;
    }
    while (level > 1 && head->level[level - 1].forward == nullptr) --level;
    --length;
  }

  void FreeNode(Node* x) {
    members.Remove(x->name(), HashKey(x->name()));
    node_bytes -= UsableSize(x);
    std::free(x);
  }

  bool Remove(std::string_view member) {
    Node* node = Find(member);
    if (node == nullptr) return false;
    UnlinkFromList(node);
    FreeNode(node);
    members.MaybeShrink();
    return true;
  }

  // 0-based rank of an element known to be in the list: how many elements order before it.
  size_t RankOf(const Node* node) const {
    const std::string_view name = node->name();
    return CountBelow([&](const Node* x) { return x->Before(node->score, name); });
  }

  // The node of 0-based rank `rank` (< length).
  Node* AtRank(size_t rank) const {
    const size_t target = rank + 1;
    size_t traversed = 0;
    Node* x = head;
    for (int i = level - 1; i >= 0; --i) {
      while (x->level[i].forward != nullptr && traversed + x->span(i) <= target) {
        traversed += x->span(i);
        x = x->level[i].forward;
      }
      if (traversed == target) return x;
    }
    return nullptr;
  }

  // The number of elements for which `below(node)` is true (a prefix of the order).
  template <typename Below>
  size_t CountBelow(Below below) const {
    size_t rank = 0;
    const Node* x = head;
    for (int i = level - 1; i >= 0; --i) {
      while (x->level[i].forward != nullptr && below(x->level[i].forward)) {
        rank += x->span(i);
        x = x->level[i].forward;
      }
    }
    return rank;
  }

  Dict members;
  Node* head;
  Node* tail = nullptr;
  size_t length = 0;
  int level = 1;
  size_t node_bytes = 0;
  std::minstd_rand random{0x5eed};
};

// ------------------------------------------------------------------------------------------------

ZSetValue::ZSetValue() = default;

ZSetValue::ZSetValue(const ZSetValue& other) {
  if (other.packed_ != nullptr) {
    packed_ = CopyToNewBlock(other.packed_, kHeaderBytes + other.packed_bytes());
  }
  if (other.list_) {
    list_ = std::make_unique<SkipList>();
    for (SkipList::Node* x = other.list_->head->level[0].forward; x != nullptr; x = x->level[0].forward) {
      list_->Insert(x->name(), x->score);
    }
  }
}

ZSetValue::ZSetValue(ZSetValue&& other) noexcept
    : packed_(std::exchange(other.packed_, nullptr)), list_(std::move(other.list_)), borrowed_(other.borrowed_) {}

ZSetValue::~ZSetValue() {
  if (!borrowed_) std::free(packed_);
}

size_t ZSetValue::ImageSize() const { return list_ || packed_ == nullptr ? 0 : kHeaderBytes + packed_bytes(); }

void ZSetValue::WriteImage(unsigned char* out) const { std::memcpy(out, packed_, ImageSize()); }

ZSetValue ZSetValue::FromImage(std::string_view image) {
  ZSetValue zset;
  zset.packed_ = CopyToNewBlock(image.data(), image.size());
  return zset;
}

ZSetValue ZSetValue::ViewOfImage(std::string_view image) {
  ZSetValue zset;
  zset.packed_ = reinterpret_cast<unsigned char*>(const_cast<char*>(image.data()));
  zset.borrowed_ = true;
  return zset;
}

uint32_t ZSetValue::packed_count() const { return packed_ ? Load32(packed_) : 0; }
uint32_t ZSetValue::packed_bytes() const { return packed_ ? Load32(packed_ + 4) : 0; }

size_t ZSetValue::size() const { return list_ ? list_->length : packed_count(); }

std::optional<double> ZSetValue::Score(std::string_view member) const {
  if (list_) {
    const SkipList::Node* node = list_->Find(member);
    if (node == nullptr) return std::nullopt;
    return node->score;
  }
  const unsigned char* data = packed_ ? packed_ + kHeaderBytes : nullptr;
  for (size_t at = 0, end = packed_bytes(); at < end;) {
    PackedElement e = PackedAt(data, at, &at);
    if (e.member == member) return e.score;
  }
  return std::nullopt;
}

std::optional<size_t> ZSetValue::Rank(std::string_view member) const {
  if (list_) {
    const SkipList::Node* node = list_->Find(member);
    if (node == nullptr) return std::nullopt;
    return list_->RankOf(node);
  }
  const unsigned char* data = packed_ ? packed_ + kHeaderBytes : nullptr;
  size_t rank = 0;
  for (size_t at = 0, end = packed_bytes(); at < end; ++rank) {
    if (PackedAt(data, at, &at).member == member) return rank;
  }
  return std::nullopt;
}

bool ZSetValue::Remove(std::string_view member) {
  if (list_) return list_->Remove(member);
  unsigned char* data = packed_ ? packed_ + kHeaderBytes : nullptr;
  const size_t end = packed_bytes();
  for (size_t at = 0; at < end;) {
    size_t next;
    if (PackedAt(data, at, &next).member == member) {
      std::memmove(data + at, data + next, end - next);
      const uint32_t count = packed_count() - 1;
      if (count == 0) {
        std::free(packed_);
        packed_ = nullptr;
        return true;
      }
      Store32(packed_, count);
      Store32(packed_ + 4, static_cast<uint32_t>(end - (next - at)));
      if (auto* shrunk = static_cast<unsigned char*>(std::realloc(packed_, kHeaderBytes + end - (next - at)))) {
        packed_ = shrunk;
      }
      return true;
    }
    at = next;
  }
  return false;
}

void ZSetValue::Update(std::string_view member, const ZSetLimits& limits,
                       absl::FunctionRef<std::optional<double>(std::optional<double>)> decide) {
  if (!list_) {  // small: a scan to read, the ordered insert to write
    if (std::optional<double> score = decide(Score(member))) Set(member, *score, limits);
    return;
  }
  SkipList::Node* node = list_->Find(member);
  std::optional<double> score = decide(node != nullptr ? std::optional<double>(node->score) : std::nullopt);
  if (!score) return;
  if (node == nullptr) {
    list_->Insert(member, *score);
  } else {
    list_->UpdateScore(node, member, *score);
  }
}

bool ZSetValue::Set(std::string_view member, double score, const ZSetLimits& limits) {
  if (list_) {
    SkipList::Node* node = list_->Find(member);
    if (node != nullptr) {
      list_->UpdateScore(node, member, score);
      return false;
    }
    list_->Insert(member, score);
    return true;
  }
  const bool is_new = !Remove(member);
  if (static_cast<int64_t>(member.size()) > limits.max_packed_value ||
      static_cast<int64_t>(packed_count()) + 1 > limits.max_packed_entries ||
      packed_bytes() + 1 + sizeof(double) + VarintSize(member.size()) + member.size() > kMaxPackedBytes) {
    ConvertToSkipList();
    list_->Insert(member, score);
    return is_new;
  }
  // Redis writes listpack scores as text with an integer fast path, which turns -0 into 0; a
  // skip list keeps the double as it is. Do the same, so ZSCORE answers alike.
  if (score == 0) score = 0.0;
  // Insert in order.
  const size_t end = packed_bytes();
  const unsigned char* data = packed_ ? packed_ + kHeaderBytes : nullptr;
  size_t at = 0;
  while (at < end) {
    size_t next;
    PackedElement e = PackedAt(data, at, &next);
    if (Less(score, member, e.score, e.member)) break;
    at = next;
  }
  const size_t size = EncodedScoreSize(score) + VarintSize(member.size()) + member.size();
  auto* grown = static_cast<unsigned char*>(std::realloc(packed_, kHeaderBytes + end + size));
  if (grown == nullptr) throw std::bad_alloc();
  const bool was_empty = packed_ == nullptr;
  packed_ = grown;
  if (was_empty) Store32(packed_, 0);
  unsigned char* out = packed_ + kHeaderBytes + at;
  std::memmove(out + size, out, end - at);
  out = PutVarint(EncodeScore(out, score), member.size());
  if (!member.empty()) std::memcpy(out, member.data(), member.size());
  Store32(packed_, packed_count() + 1);
  Store32(packed_ + 4, static_cast<uint32_t>(end + size));
  return is_new;
}

void ZSetValue::WalkRanks(size_t first, size_t last, bool reverse,
                          absl::FunctionRef<bool(std::string_view, double)> fn) const {
  const size_t n = size();
  if (first >= n || first > last) return;
  if (list_) {
    if (!reverse) {
      SkipList::Node* x = list_->AtRank(first);
      for (size_t rank = first; rank <= last && x != nullptr; ++rank, x = x->level[0].forward) {
        if (!fn(x->name(), x->score)) return;
      }
    } else {
      SkipList::Node* x = list_->AtRank(n - 1 - first);
      for (size_t rank = first; rank <= last && x != nullptr; ++rank, x = x->backward) {
        if (!fn(x->name(), x->score)) return;
      }
    }
    return;
  }
  // Packed: collect the offsets once (at most a few hundred elements), then walk either way.
  std::vector<size_t> offsets;
  offsets.reserve(n);
  const unsigned char* data = packed_ ? packed_ + kHeaderBytes : nullptr;
  for (size_t at = 0, end = packed_bytes(); at < end;) {
    offsets.push_back(at);
    PackedAt(data, at, &at);
  }
  for (size_t rank = first; rank <= last && rank < n; ++rank) {
    size_t next;
    PackedElement e = PackedAt(data, offsets[reverse ? n - 1 - rank : rank], &next);
    if (!fn(e.member, e.score)) return;
  }
}

namespace {
// The number of leading packed elements for which below(score, member) holds.
template <typename Below>
size_t PackedCountBelow(const unsigned char* packed, Below below) {
  if (packed == nullptr) return 0;
  const unsigned char* data = packed + kHeaderBytes;
  size_t count = 0;
  for (size_t at = 0, end = Load32(packed + 4); at < end; ++count) {
    PackedElement e = PackedAt(data, at, &at);
    if (!below(e.score, e.member)) break;
  }
  return count;
}
}  // namespace

size_t ZSetValue::FirstRankAtOrAbove(const ScoreBound& min) const {
  if (list_) return list_->CountBelow([&](const SkipList::Node* x) { return !AboveMin(x->score, min); });
  return PackedCountBelow(packed_, [&](double score, std::string_view) { return !AboveMin(score, min); });
}

size_t ZSetValue::FirstRankAbove(const ScoreBound& max) const {
  if (list_) return list_->CountBelow([&](const SkipList::Node* x) { return !AboveMax(x->score, max); });
  return PackedCountBelow(packed_, [&](double score, std::string_view) { return !AboveMax(score, max); });
}

size_t ZSetValue::FirstRankAtOrAbove(const LexBound& min) const {
  if (list_) return list_->CountBelow([&](const SkipList::Node* x) { return !AboveMin(x->name(), min); });
  return PackedCountBelow(packed_, [&](double, std::string_view member) { return !AboveMin(member, min); });
}

size_t ZSetValue::FirstRankAbove(const LexBound& max) const {
  if (list_) return list_->CountBelow([&](const SkipList::Node* x) { return !AboveMax(x->name(), max); });
  return PackedCountBelow(packed_, [&](double, std::string_view member) { return !AboveMax(member, max); });
}

size_t ZSetValue::EraseRanks(size_t first, size_t last) {
  std::vector<std::string> doomed;
  WalkRanks(first, last, false, [&](std::string_view member, double) {
    doomed.emplace_back(member);
    return true;
  });
  for (const std::string& member : doomed) Remove(member);
  return doomed.size();
}

uint64_t ZSetValue::Scan(uint64_t cursor, size_t count, absl::FunctionRef<void(std::string_view, double)> fn) const {
  if (!list_) {
    if (!empty()) WalkRanks(0, size() - 1, false, [&](std::string_view m, double s) {
      fn(m, s);
      return true;
    });
    return 0;
  }
  return list_->members.Scan(cursor, count, [&](const Entry* e) { fn(e->key(), SkipList::NodeOf(e)->score); });
}

void ZSetValue::ConvertToSkipList() {
  auto list = std::make_unique<SkipList>();
  const unsigned char* data = packed_ ? packed_ + kHeaderBytes : nullptr;
  for (size_t at = 0, end = packed_bytes(); at < end;) {
    PackedElement e = PackedAt(data, at, &at);
    list->Insert(e.member, e.score);
  }
  list_ = std::move(list);
  std::free(packed_);
  packed_ = nullptr;
}

size_t ZSetValue::ApproximateBytes() const {
  size_t bytes = sizeof(ZSetValue) + UsableSize(packed_);
  if (list_) bytes += sizeof(SkipList) + UsableSize(list_->head) + list_->members.overhead_bytes() + list_->node_bytes;
  return bytes;
}

}  // namespace strata::storage
