#pragma once
// Parsing and printing of the timestamps people write: ISO 8601 / RFC 3339 ("2014-04-01 00:05:00",
// "2014-04-01T00:05:00.250Z", with or without an offset) and epoch numbers with a stated unit.
#include <optional>
#include <string>
#include <string_view>

#include "core/types.hpp"

namespace strata {

// Parses ISO 8601 date-time (date, 'T' or ' ', time, optional fraction up to µs, optional 'Z' or
// ±hh:mm). Naive times are UTC. Returns nullopt on anything else.
std::optional<Timestamp> parse_iso8601(std::string_view text);

// "2014-04-01T00:05:00Z", with a fraction only when the timestamp has one.
std::string format_iso8601(Timestamp ts);

// Parses a duration such as "90s", "15m", "2h", "7d", "500ms", "250us" into µs.
std::optional<Timestamp> parse_duration(std::string_view text);

}  // namespace strata
