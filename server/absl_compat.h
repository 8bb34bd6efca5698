// Debian's abseil (20220623) is built with ABSL_OPTION_USE_STD_STRING_VIEW 0: absl::string_view
// is its own class and does not convert to or from std::string_view. Our modules speak
// std::string_view; these two functions are the only bridge, used where absl's string
// utilities or absl::Status messages meet our code.
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace strata {

inline absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view Std(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace strata
