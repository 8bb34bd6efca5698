#include "storage/key_families.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "storage/glob.h"

namespace strata::storage {

namespace {
bool IsGlobSpecial(char c) { return c == '*' || c == '?' || c == '[' || c == '\\'; }
}  // namespace

KeyFamilies::KeyFamilies(std::vector<Family> families) : families_(std::move(families)) {
  if (families_.size() > kMaxFamilies) families_.resize(kMaxFamilies);
  std::array<std::vector<Probe>, 257> probes_by_byte;
  for (size_t i = 0; i < families_.size(); ++i) {
    const std::string& glob = families_[i].glob;
    size_t literal = 0;
    while (literal < glob.size() && !IsGlobSpecial(glob[literal])) ++literal;
    prefixes_.push_back(glob.substr(0, literal));
    prefix_only_.push_back(literal + 1 == glob.size() && glob[literal] == '*');
    Probe probe;
    probe.family = static_cast<uint16_t>(i);
    probe.check_rest = literal > 8 || !prefix_only_.back();
    const size_t head_length = std::min<size_t>(literal, 8);
    unsigned char mask_bytes[8] = {};
    std::memset(mask_bytes, 0xff, head_length);
    std::memcpy(&probe.head_mask, mask_bytes, 8);
    unsigned char head_bytes[8] = {};
    std::memcpy(head_bytes, glob.data(), head_length);
    std::memcpy(&probe.head, head_bytes, 8);
    if (literal > 0) {
      probes_by_byte[static_cast<unsigned char>(glob[0])].push_back(probe);
    } else {
      // A glob that starts special may match a key starting with anything (or the empty key).
      for (auto& probes : probes_by_byte) probes.push_back(probe);
    }
  }
  for (size_t byte = 0; byte < probes_by_byte.size(); ++byte) {
    by_first_byte_[byte] = {static_cast<uint32_t>(probes_.size()), static_cast<uint32_t>(probes_by_byte[byte].size())};
    probes_.insert(probes_.end(), probes_by_byte[byte].begin(), probes_by_byte[byte].end());
  }
}

bool KeyFamilies::MatchesRest(uint16_t family, std::string_view key) const {
  const std::string& prefix = prefixes_[family];
  if (key.size() < prefix.size()) return false;
  if (prefix.size() > 8 && std::memcmp(key.data() + 8, prefix.data() + 8, prefix.size() - 8) != 0) return false;
  return prefix_only_[family] || GlobMatch(families_[family].glob, key);
}

int KeyFamilies::ClassifyShortKey(std::string_view key, ProbeRange range) const {
  for (uint32_t i = range.begin; i < range.begin + range.count; ++i) {
    const uint16_t family = probes_[i].family;
    const std::string& prefix = prefixes_[family];
    if (key.size() < prefix.size() || std::memcmp(key.data(), prefix.data(), prefix.size()) != 0) continue;
    if (prefix_only_[family] || GlobMatch(families_[family].glob, key)) return family;
  }
  return -1;
}

}  // namespace strata::storage
