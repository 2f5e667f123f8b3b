#include "model/units.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "model/errc.hpp"

namespace strata::model {
namespace {

double convert(std::string_view from, std::string_view to, double x) {
  auto c = conversion(from, to);
  EXPECT_TRUE(c.ok()) << from << " -> " << to << ": " << (c.ok() ? "" : c.error().message);
  return c.ok() ? c->apply(x) : 0.0;
}

TEST(Units, TemperatureKnownValues) {
  EXPECT_NEAR(convert("degreeFahrenheit", "degreeCelsius", 212), 100.0, 1e-12);
  EXPECT_NEAR(convert("degreeFahrenheit", "degreeCelsius", 32), 0.0, 1e-12);
  EXPECT_NEAR(convert("degreeFahrenheit", "degreeCelsius", -40), -40.0, 1e-12);
  EXPECT_NEAR(convert("degreeCelsius", "degreeFahrenheit", 100), 212.0, 1e-12);
  EXPECT_NEAR(convert("degreeCelsius", "kelvin", 0), 273.15, 1e-12);
  EXPECT_NEAR(convert("kelvin", "degreeFahrenheit", 0), -459.67, 1e-9);
}

TEST(Units, PressureKnownValues) {
  EXPECT_NEAR(convert("poundPerSquareInch", "bar", 14.5038), 1.0, 1e-5);
  EXPECT_NEAR(convert("bar", "poundPerSquareInch", 1), 14.503773773, 1e-8);
  EXPECT_NEAR(convert("kilopascal", "bar", 250), 2.5, 1e-12);
  EXPECT_NEAR(convert("millibar", "hectopascal", 1013.25), 1013.25, 1e-9);
}

TEST(Units, PowerFlowVelocityEnergyKnownValues) {
  EXPECT_NEAR(convert("horsepower", "kilowatt", 1), 0.745699872, 1e-9);
  EXPECT_NEAR(convert("inchPerSecond", "millimetrePerSecond", 1), 25.4, 1e-12);
  EXPECT_NEAR(convert("gallonPerMinute", "litrePerMinute", 1), 3.785411784, 1e-12);
  EXPECT_NEAR(convert("cubicMetrePerHour", "litrePerMinute", 6), 100.0, 1e-9);
  EXPECT_NEAR(convert("kilowattHour", "megawattHour", 1500), 1.5, 1e-12);
  EXPECT_NEAR(convert("wattHour", "kilowattHour", 2500), 2.5, 1e-12);
  EXPECT_NEAR(convert("revolutionPerMinute", "revolutionPerSecond", 1500), 25.0, 1e-12);
  EXPECT_NEAR(convert("milliampere", "ampere", 20), 0.02, 1e-15);
  EXPECT_NEAR(convert("percent", "unity", 85), 0.85, 1e-15);
}

TEST(Units, SymbolsAndAliases) {
  EXPECT_NEAR(convert("°F", "°C", 212), 100.0, 1e-12);
  EXPECT_NEAR(convert("degF", "degC", 212), 100.0, 1e-12);
  EXPECT_NEAR(convert("psi", "bar", 14.5038), 1.0, 1e-5);
  EXPECT_NEAR(convert("hp", "kW", 1), 0.745699872, 1e-9);
  EXPECT_NEAR(convert("in/s", "mm/s", 2), 50.8, 1e-12);
  EXPECT_NEAR(convert("gpm", "l/min", 1), 3.785411784, 1e-12);
  EXPECT_NEAR(convert("kWh", "Wh", 1), 1000.0, 1e-9);
  EXPECT_NEAR(convert("%", "unity", 50), 0.5, 1e-15);
  EXPECT_NEAR(convert("mA", "A", 4), 0.004, 1e-15);
  EXPECT_NEAR(convert("V", "kV", 400), 0.4, 1e-15);
  EXPECT_NEAR(convert("Hz", "kHz", 50), 0.05, 1e-15);
  EXPECT_NEAR(convert("rpm", "revolutionPerMinute", 1480), 1480.0, 1e-9);
  ASSERT_NE(find_unit("g"), nullptr);
  EXPECT_EQ(find_unit("g")->name, "gram");  // not gForce
}

TEST(Units, IdentityForTheSameUnit) {
  auto c = conversion("bar", "bar");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->identity());
  auto s = conversion("°C", "degreeCelsius");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->identity());
}

TEST(Units, InverseUndoesAConversion) {
  auto c = conversion("degreeFahrenheit", "kelvin");
  ASSERT_TRUE(c.ok());
  EXPECT_NEAR(c->inverse().apply(c->apply(98.6)), 98.6, 1e-12);
}

TEST(Units, AcrossDimensionsIsRefused) {
  auto c = conversion("psi", "°C");
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.error().is(errc::incompatible_units));
  EXPECT_EQ(c.error().message,
            "cannot convert poundPerSquareInch (pressure) to degreeCelsius (temperature): units "
            "convert only within one dimension");
  EXPECT_FALSE(conversion("revolutionPerMinute", "hertz").ok());
}

TEST(Units, UnknownUnitsAreNamed) {
  auto c = conversion("Celsius", "kelvin");
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.error().is(errc::unknown_unit));
  EXPECT_EQ(c.error().message, "unknown unit \"Celsius\" (did you mean degreeCelsius?)");
  auto d = conversion("bar", "furlongPerFortnight");
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.error().is(errc::unknown_unit));
  EXPECT_NE(d.error().message.find("\"furlongPerFortnight\""), std::string::npos);
}

TEST(Units, CatalogueIsConsistent) {
  std::set<std::string_view> names;
  std::set<std::string_view> symbols;
  for (const Unit& u : unit_catalogue()) {
    EXPECT_TRUE(names.insert(u.name).second) << "duplicate name " << u.name;
    EXPECT_TRUE(symbols.insert(u.symbol).second) << "duplicate symbol " << u.symbol;
    EXPECT_GT(u.scale, 0) << u.name;
    EXPECT_EQ(find_unit_by_name(u.name), &u);
    EXPECT_EQ(find_unit(u.symbol), &u) << u.symbol;
    EXPECT_NE(dimension_name(u.dimension), "unknown");
  }
  // The brief's units for compressors, pumps, motors and energy meters are all there.
  for (std::string_view n : {"degreeCelsius",
                             "degreeFahrenheit",
                             "kelvin",
                             "bar",
                             "pascal",
                             "kilopascal",
                             "poundPerSquareInch",
                             "millibar",
                             "cubicMetrePerHour",
                             "litrePerMinute",
                             "watt",
                             "kilowatt",
                             "horsepower",
                             "ampere",
                             "milliampere",
                             "volt",
                             "revolutionPerMinute",
                             "hertz",
                             "millimetrePerSecond",
                             "inchPerSecond",
                             "kilowattHour",
                             "wattHour",
                             "megawattHour",
                             "percent"})
    EXPECT_NE(find_unit_by_name(n), nullptr) << n;
}

}  // namespace
}  // namespace strata::model
