#pragma once
// DTMI: the Digital Twin Model Identifier, DTDL's name for a model ("dtmi:strata:compressor;1").
// Device models are registered, referenced by devices and recorded in lineage by it, so it is
// checked against DTDL v3's grammar:
//
//   dtmi     = "dtmi:" segment *(":" segment) [";" major ["." minor]]
//   segment  = (letter / 1*"_" (letter / digit)) *(letter / digit / "_"), not ending in "_"
//   major    = [1-9] 0*8 digit            (1 .. 999999999)
//   minor    = [1-9] 0*5 digit            (1 .. 999999)
//
// at most 2048 characters in all, and at most 128 for the @id of an Interface (DTDL's limit).
#include <optional>
#include <string>
#include <string_view>

namespace strata::model {

inline constexpr std::size_t kMaxDtmiLength = 2048;
inline constexpr std::size_t kMaxInterfaceIdLength = 128;

// Why `text` is not a DTMI ("segment 2 'Compressor_' ends with '_'"), or nullopt when it is one.
std::optional<std::string> dtmi_error(std::string_view text);
inline bool is_dtmi(std::string_view text) { return !dtmi_error(text).has_value(); }
// True when the DTMI carries a version (";1", ";2.1").
bool dtmi_has_version(std::string_view dtmi);

}  // namespace strata::model
