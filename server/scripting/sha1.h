// SHA-1 (FIPS 180-4) as lowercase hex: the names of scripts (EVALSHA) and redis.sha1hex.
#pragma once

#include <string>
#include <string_view>

namespace strata::server::scripting {

std::string Sha1Hex(std::string_view data);

}  // namespace strata::server::scripting
