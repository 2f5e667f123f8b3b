#pragma once
// Units: the catalogue of physical units a device model may name, each with its dimension and a
// linear map to the dimension's base unit, so that a reading in °F can be stored in °C and a limit
// in bar can be checked against a device that reports psi. Names are DTDL v3's (the
// QuantitativeTypes extension: "degreeCelsius", "poundPerSquareInch"); common symbols ("°C",
// "psi", "kW", "rpm", "mm/s", "%") are accepted where a person types a unit (conversion(),
// find_unit()), while device models use the DTDL names only.
//
// Every unit u satisfies  base = u.scale * x + u.offset  (x in u). Temperatures are the only
// units with an offset (base kelvin). The table is docs/models.md, "Units".
#include <cstdint>
#include <span>
#include <string_view>

#include "core/result.hpp"
#include "model/errc.hpp"

namespace strata::model {

// What a unit measures; units convert only within one dimension.
enum class Dimension : std::uint8_t {
  unitless,  // ratios: unity, percent, ppm (power factor, relative humidity, load)
  temperature,
  pressure,
  volume_flow,
  mass_flow,
  power,
  energy,
  current,
  voltage,
  apparent_power,
  reactive_power,
  apparent_energy,
  reactive_energy,
  resistance,
  charge,
  angular_velocity,
  frequency,
  velocity,
  acceleration,
  length,
  mass,
  volume,
  force,
  torque,
  time,
  angle,
  sound_pressure,
};

// "temperature", "volume_flow", ...: how a dimension is named in messages.
std::string_view dimension_name(Dimension d);

// One unit of the catalogue. The views point to static storage.
struct Unit {
  std::string_view name;    // the DTDL name, e.g. "degreeFahrenheit"
  std::string_view symbol;  // the usual symbol, e.g. "°F"
  Dimension dimension;
  double scale;   // base = scale * x + offset
  double offset;  // non-zero only for temperatures
  bool dtdl;      // false for Strata's additions (millimetrePerSecond, inchPerSecond)
};

// The whole catalogue, in table order (grouped by dimension, base unit first).
std::span<const Unit> unit_catalogue();

// The unit with this DTDL name (exact, case-sensitive), or nullptr.
const Unit* find_unit_by_name(std::string_view name);
// The unit with this DTDL name or one of its accepted symbols and aliases ("°C", "degC", "C",
// "psi", "kW", "A", "V", "rpm", "Hz", "mm/s", "kWh", "%", "m3/h", "l/min", "gpm", ...), or nullptr.
const Unit* find_unit(std::string_view name_or_symbol);

// y = a * x + b: how a value in one unit becomes a value in another. Applying it allocates nothing.
struct LinearConversion {
  double a = 1.0;
  double b = 0.0;
  [[nodiscard]] constexpr double apply(double x) const { return a * x + b; }
  [[nodiscard]] constexpr bool identity() const { return a == 1.0 && b == 0.0; }
  // The conversion back (a != 0 for every catalogue unit).
  [[nodiscard]] constexpr LinearConversion inverse() const { return {1.0 / a, -b / a}; }
  friend constexpr bool operator==(LinearConversion, LinearConversion) = default;
};

// The conversion between two catalogue units; identity when from == to.
// errc::incompatible_units when their dimensions differ:
//   cannot convert poundPerSquareInch (pressure) to degreeCelsius (temperature)
LinearConversion conversion_between(const Unit& from, const Unit& to);
[[nodiscard]] Result<LinearConversion> conversion(const Unit& from, const Unit& to);
// errc::unknown_unit for `text`: "unknown unit \"Celsius\" (did you mean degreeCelsius?)" when it
// differs from a DTDL name only in letter case, else a pointer to the table.
Error unknown_unit_error(std::string_view text);
// The same by name or symbol: errc::unknown_unit names the unknown one (and suggests the DTDL
// name for a near miss in letter case), errc::incompatible_units as above.
[[nodiscard]] Result<LinearConversion> conversion(std::string_view from, std::string_view to);

}  // namespace strata::model
