#include "model/units.hpp"

#include <array>
#include <numbers>
#include <string>

#include "model/errc.hpp"

namespace strata::model {
namespace {

using D = Dimension;
constexpr double kPi = std::numbers::pi;
constexpr double kUsGallon = 3.785411784e-3;   // m³
constexpr double kCubicFoot = 0.028316846592;  // m³
constexpr double kJulianYear = 31'557'600.0;   // s

// base = scale * x + offset. Base units: kelvin, pascal, m³/s, kg/s, watt, joule, ampere, volt,
// VA, var, VAh, varh, ohm, coulomb, rad/s, hertz, m/s, m/s², metre, kilogram, m³, newton, N·m,
// second, radian, bel, unity.
constexpr std::array kUnits = {
    Unit{"unity", "1", D::unitless, 1, 0, true},
    Unit{"percent", "%", D::unitless, 1e-2, 0, true},
    Unit{"partsPerMillion", "ppm", D::unitless, 1e-6, 0, true},
    Unit{"partsPerBillion", "ppb", D::unitless, 1e-9, 0, true},
    Unit{"partsPerTrillion", "ppt", D::unitless, 1e-12, 0, true},
    Unit{"partsPerQuadrillion", "ppq", D::unitless, 1e-15, 0, true},

    Unit{"kelvin", "K", D::temperature, 1, 0, true},
    Unit{"degreeCelsius", "°C", D::temperature, 1, 273.15, true},
    Unit{"degreeFahrenheit", "°F", D::temperature, 5.0 / 9.0, 459.67 * 5.0 / 9.0, true},

    Unit{"pascal", "Pa", D::pressure, 1, 0, true},
    Unit{"decapascal", "daPa", D::pressure, 10, 0, true},
    Unit{"hectopascal", "hPa", D::pressure, 100, 0, true},
    Unit{"kilopascal", "kPa", D::pressure, 1e3, 0, true},
    Unit{"bar", "bar", D::pressure, 1e5, 0, true},
    Unit{"millibar", "mbar", D::pressure, 100, 0, true},
    Unit{"poundPerSquareInch", "psi", D::pressure, 6894.757293168361, 0, true},
    Unit{"inchesOfMercury", "inHg", D::pressure, 3386.389, 0, true},
    Unit{"inchesOfWater", "inH2O", D::pressure, 249.08891, 0, true},
    Unit{"millimetresOfMercury", "mmHg", D::pressure, 133.322387415, 0, true},

    Unit{"cubicMetrePerSecond", "m³/s", D::volume_flow, 1, 0, true},
    Unit{"cubicMetrePerMinute", "m³/min", D::volume_flow, 1.0 / 60, 0, true},
    Unit{"cubicMetrePerHour", "m³/h", D::volume_flow, 1.0 / 3600, 0, true},
    Unit{"litrePerSecond", "l/s", D::volume_flow, 1e-3, 0, true},
    Unit{"litrePerMinute", "l/min", D::volume_flow, 1e-3 / 60, 0, true},
    Unit{"litrePerHour", "l/h", D::volume_flow, 1e-3 / 3600, 0, true},
    Unit{"millilitrePerSecond", "ml/s", D::volume_flow, 1e-6, 0, true},
    Unit{"millilitrePerMinute", "ml/min", D::volume_flow, 1e-6 / 60, 0, true},
    Unit{"millilitrePerHour", "ml/h", D::volume_flow, 1e-6 / 3600, 0, true},
    Unit{"gallonPerMinute", "gpm", D::volume_flow, kUsGallon / 60, 0, true},
    Unit{"gallonPerHour", "gph", D::volume_flow, kUsGallon / 3600, 0, true},
    Unit{"cubicFootPerMinute", "cfm", D::volume_flow, kCubicFoot / 60, 0, true},

    Unit{"kilogramPerSecond", "kg/s", D::mass_flow, 1, 0, true},
    Unit{"kilogramPerHour", "kg/h", D::mass_flow, 1.0 / 3600, 0, true},
    Unit{"gramPerSecond", "g/s", D::mass_flow, 1e-3, 0, true},
    Unit{"gramPerHour", "g/h", D::mass_flow, 1e-3 / 3600, 0, true},
    Unit{"massPoundPerHour", "lb/h", D::mass_flow, 0.45359237 / 3600, 0, true},

    Unit{"watt", "W", D::power, 1, 0, true},
    Unit{"microwatt", "µW", D::power, 1e-6, 0, true},
    Unit{"milliwatt", "mW", D::power, 1e-3, 0, true},
    Unit{"kilowatt", "kW", D::power, 1e3, 0, true},
    Unit{"megawatt", "MW", D::power, 1e6, 0, true},
    Unit{"gigawatt", "GW", D::power, 1e9, 0, true},
    Unit{"horsepower", "hp", D::power, 745.6998715822702, 0, true},
    Unit{"joulePerSecond", "J/s", D::power, 1, 0, true},
    Unit{"joulePerHour", "J/h", D::power, 1.0 / 3600, 0, true},
    Unit{"kilojoulePerSecond", "kJ/s", D::power, 1e3, 0, true},
    Unit{"kilojoulePerHour", "kJ/h", D::power, 1e3 / 3600, 0, true},
    Unit{"megajoulePerHour", "MJ/h", D::power, 1e6 / 3600, 0, true},
    Unit{"gigajoulePerHour", "GJ/h", D::power, 1e9 / 3600, 0, true},
    Unit{"britishThermalUnitPerHour", "BTU/h", D::power, 1055.05585262 / 3600, 0, true},
    Unit{"kiloBritishThermalUnitPerHour", "kBTU/h", D::power, 1055.05585262 / 3.6, 0, true},
    Unit{"tonOfRefrigeration", "TR", D::power, 3516.8528420667, 0, true},
    Unit{"kilowattHourPerYear", "kWh/a", D::power, 3.6e6 / kJulianYear, 0, true},

    Unit{"joule", "J", D::energy, 1, 0, true},
    Unit{"kilojoule", "kJ", D::energy, 1e3, 0, true},
    Unit{"megajoule", "MJ", D::energy, 1e6, 0, true},
    Unit{"gigajoule", "GJ", D::energy, 1e9, 0, true},
    Unit{"milliwattHour", "mWh", D::energy, 3.6, 0, true},
    Unit{"wattHour", "Wh", D::energy, 3.6e3, 0, true},
    Unit{"kilowattHour", "kWh", D::energy, 3.6e6, 0, true},
    Unit{"megawattHour", "MWh", D::energy, 3.6e9, 0, true},
    Unit{"gigawattHour", "GWh", D::energy, 3.6e12, 0, true},
    Unit{"terawattHour", "TWh", D::energy, 3.6e15, 0, true},
    Unit{"britishThermalUnit", "BTU", D::energy, 1055.05585262, 0, true},
    Unit{"kiloBritishThermalUnit", "kBTU", D::energy, 1055055.85262, 0, true},
    Unit{"electronvolt", "eV", D::energy, 1.602176634e-19, 0, true},
    Unit{"megaelectronvolt", "MeV", D::energy, 1.602176634e-13, 0, true},

    Unit{"ampere", "A", D::current, 1, 0, true},
    Unit{"microampere", "µA", D::current, 1e-6, 0, true},
    Unit{"milliampere", "mA", D::current, 1e-3, 0, true},
    Unit{"kiloampere", "kA", D::current, 1e3, 0, true},

    Unit{"volt", "V", D::voltage, 1, 0, true},
    Unit{"microvolt", "µV", D::voltage, 1e-6, 0, true},
    Unit{"millivolt", "mV", D::voltage, 1e-3, 0, true},
    Unit{"kilovolt", "kV", D::voltage, 1e3, 0, true},
    Unit{"megavolt", "MV", D::voltage, 1e6, 0, true},

    Unit{"voltAmpere", "VA", D::apparent_power, 1, 0, true},
    Unit{"millivoltAmpere", "mVA", D::apparent_power, 1e-3, 0, true},
    Unit{"kilovoltAmpere", "kVA", D::apparent_power, 1e3, 0, true},
    Unit{"megavoltAmpere", "MVA", D::apparent_power, 1e6, 0, true},
    Unit{"gigavoltAmpere", "GVA", D::apparent_power, 1e9, 0, true},

    Unit{"voltAmpereReactive", "var", D::reactive_power, 1, 0, true},
    Unit{"millivoltAmpereReactive", "mvar", D::reactive_power, 1e-3, 0, true},
    Unit{"kilovoltAmpereReactive", "kvar", D::reactive_power, 1e3, 0, true},
    Unit{"megavoltAmpereReactive", "Mvar", D::reactive_power, 1e6, 0, true},
    Unit{"gigavoltAmpereReactive", "Gvar", D::reactive_power, 1e9, 0, true},

    Unit{"voltAmpereHour", "VAh", D::apparent_energy, 1, 0, true},
    Unit{"kilovoltAmpereHour", "kVAh", D::apparent_energy, 1e3, 0, true},
    Unit{"megavoltAmpereHour", "MVAh", D::apparent_energy, 1e6, 0, true},
    Unit{"gigavoltAmpereHour", "GVAh", D::apparent_energy, 1e9, 0, true},

    Unit{"voltAmpereReactiveHour", "varh", D::reactive_energy, 1, 0, true},
    Unit{"kilovoltAmpereReactiveHour", "kvarh", D::reactive_energy, 1e3, 0, true},
    Unit{"megavoltAmpereReactiveHour", "Mvarh", D::reactive_energy, 1e6, 0, true},
    Unit{"gigavoltAmpereReactiveHour", "Gvarh", D::reactive_energy, 1e9, 0, true},

    Unit{"ohm", "Ω", D::resistance, 1, 0, true},
    Unit{"milliohm", "mΩ", D::resistance, 1e-3, 0, true},
    Unit{"kiloohm", "kΩ", D::resistance, 1e3, 0, true},
    Unit{"megaohm", "MΩ", D::resistance, 1e6, 0, true},

    Unit{"coulomb", "C", D::charge, 1, 0, true},
    Unit{"milliampereHour", "mAh", D::charge, 3.6, 0, true},
    Unit{"ampereHour", "Ah", D::charge, 3600, 0, true},

    Unit{"radianPerSecond", "rad/s", D::angular_velocity, 1, 0, true},
    Unit{"degreePerSecond", "°/s", D::angular_velocity, kPi / 180, 0, true},
    Unit{"revolutionPerSecond", "rps", D::angular_velocity, 2 * kPi, 0, true},
    Unit{"revolutionPerMinute", "rpm", D::angular_velocity, 2 * kPi / 60, 0, true},

    Unit{"hertz", "Hz", D::frequency, 1, 0, true},
    Unit{"millihertz", "mHz", D::frequency, 1e-3, 0, true},
    Unit{"kilohertz", "kHz", D::frequency, 1e3, 0, true},
    Unit{"megahertz", "MHz", D::frequency, 1e6, 0, true},
    Unit{"gigahertz", "GHz", D::frequency, 1e9, 0, true},

    Unit{"metrePerSecond", "m/s", D::velocity, 1, 0, true},
    Unit{"centimetrePerSecond", "cm/s", D::velocity, 1e-2, 0, true},
    Unit{"millimetrePerSecond", "mm/s", D::velocity, 1e-3, 0, false},
    Unit{"inchPerSecond", "in/s", D::velocity, 0.0254, 0, false},
    Unit{"kilometrePerSecond", "km/s", D::velocity, 1e3, 0, true},
    Unit{"metrePerHour", "m/h", D::velocity, 1.0 / 3600, 0, true},
    Unit{"kilometrePerHour", "km/h", D::velocity, 1.0 / 3.6, 0, true},
    Unit{"milePerHour", "mph", D::velocity, 0.44704, 0, true},
    Unit{"milePerSecond", "mi/s", D::velocity, 1609.344, 0, true},
    Unit{"knot", "kn", D::velocity, 1852.0 / 3600, 0, true},

    Unit{"metrePerSecondSquared", "m/s²", D::acceleration, 1, 0, true},
    Unit{"centimetrePerSecondSquared", "cm/s²", D::acceleration, 1e-2, 0, true},
    Unit{"gForce", "gn", D::acceleration, 9.80665, 0, true},

    Unit{"metre", "m", D::length, 1, 0, true},
    Unit{"nanometre", "nm", D::length, 1e-9, 0, true},
    Unit{"micrometre", "µm", D::length, 1e-6, 0, true},
    Unit{"millimetre", "mm", D::length, 1e-3, 0, true},
    Unit{"centimetre", "cm", D::length, 1e-2, 0, true},
    Unit{"kilometre", "km", D::length, 1e3, 0, true},
    Unit{"inch", "in", D::length, 0.0254, 0, true},
    Unit{"foot", "ft", D::length, 0.3048, 0, true},
    Unit{"mile", "mi", D::length, 1609.344, 0, true},
    Unit{"nauticalMile", "NM", D::length, 1852, 0, true},
    Unit{"astronomicalUnit", "au", D::length, 149597870700.0, 0, true},

    Unit{"kilogram", "kg", D::mass, 1, 0, true},
    Unit{"microgram", "µg", D::mass, 1e-9, 0, true},
    Unit{"milligram", "mg", D::mass, 1e-6, 0, true},
    Unit{"gram", "g", D::mass, 1e-3, 0, true},
    Unit{"tonne", "t", D::mass, 1e3, 0, true},
    Unit{"massPound", "lb", D::mass, 0.45359237, 0, true},
    Unit{"slug", "slug", D::mass, 14.59390294, 0, true},

    Unit{"cubicMetre", "m³", D::volume, 1, 0, true},
    Unit{"litre", "l", D::volume, 1e-3, 0, true},
    Unit{"millilitre", "ml", D::volume, 1e-6, 0, true},
    Unit{"cubicCentimetre", "cm³", D::volume, 1e-6, 0, true},
    Unit{"cubicFoot", "ft³", D::volume, kCubicFoot, 0, true},
    Unit{"cubicInch", "in³", D::volume, 1.6387064e-5, 0, true},
    Unit{"gallon", "gal", D::volume, kUsGallon, 0, true},
    Unit{"fluidOunce", "fl oz", D::volume, 2.95735295625e-5, 0, true},

    Unit{"newton", "N", D::force, 1, 0, true},
    Unit{"pound", "lbf", D::force, 4.4482216152605, 0, true},
    Unit{"ounce", "ozf", D::force, 0.27801385095378125, 0, true},
    Unit{"ton", "tonf", D::force, 8896.443230521, 0, true},

    Unit{"newtonMetre", "N·m", D::torque, 1, 0, true},

    Unit{"second", "s", D::time, 1, 0, true},
    Unit{"nanosecond", "ns", D::time, 1e-9, 0, true},
    Unit{"microsecond", "µs", D::time, 1e-6, 0, true},
    Unit{"millisecond", "ms", D::time, 1e-3, 0, true},
    Unit{"minute", "min", D::time, 60, 0, true},
    Unit{"hour", "h", D::time, 3600, 0, true},
    Unit{"day", "d", D::time, 86400, 0, true},
    Unit{"year", "a", D::time, kJulianYear, 0, true},

    Unit{"radian", "rad", D::angle, 1, 0, true},
    Unit{"degreeOfArc", "°", D::angle, kPi / 180, 0, true},
    Unit{"minuteOfArc", "′", D::angle, kPi / 10800, 0, true},
    Unit{"secondOfArc", "″", D::angle, kPi / 648000, 0, true},
    Unit{"turn", "tr", D::angle, 2 * kPi, 0, true},

    Unit{"bel", "B", D::sound_pressure, 1, 0, true},
    Unit{"decibel", "dB", D::sound_pressure, 0.1, 0, true},
};

// Other spellings people type, beyond each unit's name and symbol.
struct Alias {
  std::string_view text;
  std::string_view name;
};
constexpr std::array kAliases = {
    Alias{"degC", "degreeCelsius"},
    Alias{"℃", "degreeCelsius"},
    Alias{"celsius", "degreeCelsius"},
    Alias{"degF", "degreeFahrenheit"},
    Alias{"℉", "degreeFahrenheit"},
    Alias{"fahrenheit", "degreeFahrenheit"},
    Alias{"psig", "poundPerSquareInch"},
    Alias{"lbf/in²", "poundPerSquareInch"},
    Alias{"m3/s", "cubicMetrePerSecond"},
    Alias{"m3/min", "cubicMetrePerMinute"},
    Alias{"m3/h", "cubicMetrePerHour"},
    Alias{"m³/hr", "cubicMetrePerHour"},
    Alias{"L/s", "litrePerSecond"},
    Alias{"L/min", "litrePerMinute"},
    Alias{"lpm", "litrePerMinute"},
    Alias{"L/h", "litrePerHour"},
    Alias{"gal/min", "gallonPerMinute"},
    Alias{"ft3/min", "cubicFootPerMinute"},
    Alias{"HP", "horsepower"},
    Alias{"Btu/h", "britishThermalUnitPerHour"},
    Alias{"Btu", "britishThermalUnit"},
    Alias{"amp", "ampere"},
    Alias{"uA", "microampere"},
    Alias{"uV", "microvolt"},
    Alias{"uW", "microwatt"},
    Alias{"VAr", "voltAmpereReactive"},
    Alias{"kVAr", "kilovoltAmpereReactive"},
    Alias{"kVArh", "kilovoltAmpereReactiveHour"},
    Alias{"ohms", "ohm"},
    Alias{"RPM", "revolutionPerMinute"},
    Alias{"r/min", "revolutionPerMinute"},
    Alias{"1/min", "revolutionPerMinute"},
    Alias{"ips", "inchPerSecond"},
    Alias{"in/sec", "inchPerSecond"},
    Alias{"m/s2", "metrePerSecondSquared"},
    Alias{"um", "micrometre"},
    Alias{"L", "litre"},
    Alias{"m3", "cubicMetre"},
    Alias{"Nm", "newtonMetre"},
    Alias{"N.m", "newtonMetre"},
    Alias{"sec", "second"},
    Alias{"hr", "hour"},
    Alias{"us", "microsecond"},
    Alias{"deg", "degreeOfArc"},
};

}  // namespace

std::string_view dimension_name(Dimension d) {
  switch (d) {
    case D::unitless:
      return "unitless";
    case D::temperature:
      return "temperature";
    case D::pressure:
      return "pressure";
    case D::volume_flow:
      return "volume_flow";
    case D::mass_flow:
      return "mass_flow";
    case D::power:
      return "power";
    case D::energy:
      return "energy";
    case D::current:
      return "current";
    case D::voltage:
      return "voltage";
    case D::apparent_power:
      return "apparent_power";
    case D::reactive_power:
      return "reactive_power";
    case D::apparent_energy:
      return "apparent_energy";
    case D::reactive_energy:
      return "reactive_energy";
    case D::resistance:
      return "resistance";
    case D::charge:
      return "charge";
    case D::angular_velocity:
      return "angular_velocity";
    case D::frequency:
      return "frequency";
    case D::velocity:
      return "velocity";
    case D::acceleration:
      return "acceleration";
    case D::length:
      return "length";
    case D::mass:
      return "mass";
    case D::volume:
      return "volume";
    case D::force:
      return "force";
    case D::torque:
      return "torque";
    case D::time:
      return "time";
    case D::angle:
      return "angle";
    case D::sound_pressure:
      return "sound_pressure";
  }
  return "unknown";
}

std::span<const Unit> unit_catalogue() { return kUnits; }

const Unit* find_unit_by_name(std::string_view name) {
  for (const Unit& u : kUnits)
    if (u.name == name) return &u;
  return nullptr;
}

const Unit* find_unit(std::string_view text) {
  if (const Unit* u = find_unit_by_name(text)) return u;
  for (const Unit& u : kUnits)
    if (u.symbol == text) return &u;
  for (const Alias& a : kAliases)
    if (a.text == text) return find_unit_by_name(a.name);
  return nullptr;
}

LinearConversion conversion_between(const Unit& from, const Unit& to) {
  if (&from == &to) return {};
  // x_to = (from.scale * x + from.offset - to.offset) / to.scale
  return {from.scale / to.scale, (from.offset - to.offset) / to.scale};
}

Result<LinearConversion> conversion(const Unit& from, const Unit& to) {
  if (from.dimension != to.dimension) {
    return Error::of(errc::incompatible_units, "cannot convert " + std::string(from.name) + " (" +
                                                   std::string(dimension_name(from.dimension)) +
                                                   ") to " + std::string(to.name) + " (" +
                                                   std::string(dimension_name(to.dimension)) +
                                                   "): units convert only within one dimension");
  }
  return conversion_between(from, to);
}

Error unknown_unit_error(std::string_view text) {
  const auto lower = [](std::string_view v) {
    std::string out(v);
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
  };
  const std::string msg = "unknown unit \"" + std::string(text) + "\"";
  const std::string wanted = lower(text);
  // A near miss: the same name in other letter case ("Kelvin"), else the one name that contains
  // it ("Celsius" in degreeCelsius).
  const Unit* suggestion = nullptr;
  std::size_t containing = 0;
  for (const Unit& u : kUnits) {
    const std::string name = lower(u.name);
    if (name == wanted) {
      suggestion = &u;
      containing = 1;
      break;
    }
    if (wanted.size() >= 3 && name.find(wanted) != std::string::npos) {
      suggestion = &u;
      ++containing;
    }
  }
  if (suggestion != nullptr && containing == 1)
    return Error::of(errc::unknown_unit,
                     msg + " (did you mean " + std::string(suggestion->name) + "?)");
  return Error::of(errc::unknown_unit,
                   msg +
                       " (write a DTDL unit name such as degreeCelsius, or a symbol such as °C; "
                       "docs/models.md lists them)");
}

Result<LinearConversion> conversion(std::string_view from, std::string_view to) {
  const Unit* f = find_unit(from);
  if (f == nullptr) return unknown_unit_error(from);
  const Unit* t = find_unit(to);
  if (t == nullptr) return unknown_unit_error(to);
  return conversion(*f, *t);
}

}  // namespace strata::model
