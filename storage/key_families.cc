#include "storage/key_families.h"

#include <algorithm>
#include <cstring>

#include "storage/glob.h"

namespace strata::storage {

namespace {
bool IsGlobSpecial(char c) { return c == '*' || c == '?' || c == '[' || c == '\\'; }
}  // namespace

KeyFamilies::KeyFamilies(std::vector<Family> families) : families_(std::move(families)) {
  if (families_.size() > kMaxFamilies) families_.resize(kMaxFamilies);
  for (size_t i = 0; i < families_.size(); ++i) {
    const std::string& glob = families_[i].glob;
    size_t literal = 0;
    while (literal < glob.size() && !IsGlobSpecial(glob[literal])) ++literal;
    Matcher m;
    m.prefix = glob.substr(0, literal);
    m.prefix_only = literal + 1 == glob.size() && glob[literal] == '*';
    m.glob = glob;
    const size_t head_length = std::min<size_t>(literal, 8);
    unsigned char mask_bytes[8] = {};
    std::memset(mask_bytes, 0xff, head_length);
    std::memcpy(&m.head_mask, mask_bytes, 8);
    unsigned char head_bytes[8] = {};
    std::memcpy(head_bytes, m.prefix.data(), head_length);
    std::memcpy(&m.head, head_bytes, 8);
    matchers_.push_back(m);
    const auto index = static_cast<uint16_t>(i);
    if (literal > 0) {
      by_first_byte_[static_cast<unsigned char>(glob[0])].push_back(index);
    } else {
      // A glob that starts special may match a key starting with anything (or the empty key).
      for (auto& candidates : by_first_byte_) candidates.push_back(index);
    }
  }
}

bool KeyFamilies::MatchesGlob(const Matcher& m, std::string_view key) { return GlobMatch(m.glob, key); }

}  // namespace strata::storage
