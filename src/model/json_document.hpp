#pragma once
// Internal to model/: what the model and device parsers share — reading JSON text strictly (a key
// twice in one object is refused, not silently overwritten; nesting is bounded), writing JSONPaths
// of offending values, and showing a value in a message. Not for other modules.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace strata::model::detail {

inline constexpr int kMaxJsonDepth = 64;

// Parses text as one JSON document. errc::invalid_json when it is not JSON ("not JSON: parse error
// at line 1, column 5: syntax error while parsing value - invalid literal; last read: 'x'");
// `duplicate_code` when a key appears twice in one object or nesting exceeds kMaxJsonDepth, with
// the JSONPath:
//   $.contents[2]: key "name" appears twice
// Never throws.
[[nodiscard]] Result<nlohmann::json> parse_json_strictly(std::string_view text, int duplicate_code);

// JSONPath of a member: $.contents, or $['@id'] / $.contents[0]['strata:min'] when the key is not
// an identifier.
std::string member_path(std::string_view parent, std::string_view key);
std::string element_path(std::string_view parent, std::size_t index);

// A value as a message shows it: strings quoted (and cut after 64 bytes), numbers as written,
// "an object", "an array", "null", "true"/"false".
std::string shown(const nlohmann::json& value);

}  // namespace strata::model::detail
