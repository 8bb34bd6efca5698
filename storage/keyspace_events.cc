#include "storage/keyspace_events.h"

namespace strata::storage {

namespace {

struct ClassLetter {
  char letter;
  uint32_t event_class;
};

// Redis's letters in the order keyspaceEventsFlagsToString writes them (A's members first).
constexpr ClassLetter kMemberLetters[] = {
    {'g', notify::kGeneric}, {'$', notify::kString}, {'l', notify::kList},    {'s', notify::kSet},
    {'h', notify::kHash},    {'z', notify::kZSet},   {'x', notify::kExpired}, {'e', notify::kEvicted},
    {'t', notify::kStream},  {'d', notify::kModule}, {'n', notify::kNew},
};
constexpr ClassLetter kOtherLetters[] = {
    {'K', notify::kKeyspace}, {'E', notify::kKeyevent}, {'m', notify::kKeyMiss}, {'L', notify::kLoader},
};

uint32_t ClassOfLetter(char c) {
  for (const ClassLetter& l : kMemberLetters) {
    if (l.letter == c) return l.event_class;
  }
  for (const ClassLetter& l : kOtherLetters) {
    if (l.letter == c) return l.event_class;
  }
  return c == 'A' ? notify::kAll : 0;
}

}  // namespace

bool ParseNotifyClasses(std::string_view letters, uint32_t* classes) {
  uint32_t parsed = 0;
  for (char c : letters) {
    const uint32_t event_class = ClassOfLetter(c);
    if (event_class == 0) return false;
    parsed |= event_class;
  }
  *classes = parsed;
  return true;
}

std::string NotifyClassesToString(uint32_t classes) {
  std::string letters;
  if ((classes & notify::kAll) == notify::kAll) {
    letters += 'A';  // as Redis: 'n' is then not shown, though it stays on
  } else {
    for (const ClassLetter& l : kMemberLetters) {
      if (classes & l.event_class) letters += l.letter;
    }
  }
  for (const ClassLetter& l : kOtherLetters) {
    if (classes & l.event_class) letters += l.letter;
  }
  return letters;
}

}  // namespace strata::storage
