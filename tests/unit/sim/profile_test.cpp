#include "sim/profile.hpp"

#include <gtest/gtest.h>

#include <set>

namespace strata::sim {
namespace {

constexpr const char* kMinimal = R"(
name = "t"
seed = 7
[[sites]]
id = "s1"
shifts = "two_shift"
utc_offset = "-05:30"
  [[sites.lines]]
  id = "l1"
  devices = [
    { id = "c1", kind = "compressor", transport = "mqtt", topics = "thingsboard", interval = "500ms" },
    { id = "m1", kind = "energy_meter", transport = "modbus", modbus_port = 1502, modbus_unit = 3 },
  ]
  [[sites.lines]]
  id = "l2"
  [[sites.lines.devices]]
  id = "p1"
  kind = "pump"
  transport = "coap"
  rated_kw = 11
  tags = { vendor = "grundfos" }
  faults = ["stuck_sensor@+5m,for=10m", { kind = "drift", at = "+1h", metric = "flow", magnitude = 2.5 }]
)";

TEST(Profile, ReadsSitesLinesDevicesAndFaults) {
  auto p = parse_profile(kMinimal, "mini.toml");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->name, "t");
  EXPECT_EQ(p->seed, 7u);
  ASSERT_EQ(p->sites.size(), 1u);
  const SiteSpec& s = p->sites[0];
  EXPECT_EQ(s.shifts, ShiftPattern::two_shift);
  EXPECT_EQ(s.utc_offset_minutes, -330);
  ASSERT_EQ(s.lines.size(), 2u);
  ASSERT_EQ(s.lines[0].devices.size(), 2u);
  ASSERT_EQ(s.lines[1].devices.size(), 1u);
  const DeviceSpec& c = s.lines[0].devices[0];
  EXPECT_EQ(c.kind, DeviceKind::compressor);
  EXPECT_EQ(c.model, "dtmi:strata:compressor;1");
  EXPECT_EQ(c.topics, MqttTopics::thingsboard);
  EXPECT_EQ(c.interval, 500'000);
  const DeviceSpec& m = s.lines[0].devices[1];
  EXPECT_EQ(m.transport, Transport::modbus);
  EXPECT_EQ(m.modbus_port, 1502);
  EXPECT_EQ(m.modbus_unit, 3);
  const DeviceSpec& pump = s.lines[1].devices[0];
  EXPECT_EQ(pump.rated_kw, 11);
  EXPECT_EQ(pump.tags.at("vendor"), "grundfos");
  ASSERT_EQ(pump.faults.size(), 2u);
  EXPECT_EQ(pump.faults[0].kind, FaultKind::stuck_sensor);
  EXPECT_EQ(pump.faults[0].offset, 300 * kMicrosPerSecond);
  EXPECT_EQ(*pump.faults[0].duration, 600 * kMicrosPerSecond);
  EXPECT_EQ(pump.faults[1].kind, FaultKind::drift);
  EXPECT_EQ(pump.faults[1].metric, "flow");
  EXPECT_DOUBLE_EQ(*pump.faults[1].magnitude, 2.5);
  EXPECT_EQ(p->device_count(), 3u);
}

// Each bad profile must fail with a message that names the place and the fix.
struct BadCase {
  const char* toml;
  const char* expect;  // a part of the message
};

TEST(Profile, ErrorsNameThePlaceAndTheFix) {
  const std::string head = "[[sites]]\nid = \"s\"\n[[sites.lines]]\nid = \"l\"\n";
  const BadCase cases[] = {
      {"devices = [ { id = \"a\", kind = \"compressor\", transport = \"mqt\" } ]",
       "bad.toml:5:58: device 'a'"},
      {"devices = [ { id = \"a\", kind = \"compressor\", transport = \"mqt\" } ]",
       "unknown transport 'mqt' (expected mqtt, sparkplug, http, coap or modbus)"},
      {"devices = [ { id = \"a\", kind = \"blender\" } ]", "unknown kind 'blender'"},
      {"devices = [ { id = \"a\", kind = \"pump\", trasnport = \"http\" } ]",
       "unknown key 'trasnport'"},
      {"devices = [ { id = \"a\", kind = \"pump\", interval = \"fast\" } ]",
       "'interval' must be a duration"},
      {"devices = [ { id = \"a\", kind = \"pump\", interval = \"1ms\" } ]",
       "interval must be whole milliseconds between 10ms and 1h"},
      {"devices = [ { id = \"a\", kind = \"pump\" }, { id = \"a\", kind = \"motor\" } ]",
       "device id 'a' is used twice"},
      {"devices = [ { id = \"a b\", kind = \"pump\" } ]", "may hold only letters"},
      {"devices = [ { id = \"a\", kind = \"pump\", faults = [\"melt@+1m\"] } ]",
       "unknown kind 'melt'"},
      {"devices = [ { id = \"a\", kind = \"pump\", topics = \"thingsboard\", transport = \"http\" "
       "} ]",
       "'topics' applies to transport \"mqtt\" only"},
      {"devices = [ { id = \"a\", kind = \"pump\", rated_kw = -3 } ]", "out of range"},
      {"devices = []", "needs a non-empty 'devices' array"},
      {"devices = [ { id = \"a\", kind = \"pump\" ", "bad.toml:5:"},
  };
  for (const auto& c : cases) {
    auto p = parse_profile(head + c.toml, "bad.toml");
    ASSERT_FALSE(p) << c.toml;
    EXPECT_NE(p.error().message.find(c.expect), std::string::npos)
        << "for: " << c.toml << "\n got: " << p.error().message;
  }
  auto none = parse_profile("name = \"x\"", "empty.toml");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("at least one [[sites]]"), std::string::npos);
  auto shift = parse_profile("[[sites]]\nid = \"s\"\nshifts = \"night\"\n", "s.toml");
  ASSERT_FALSE(shift);
  EXPECT_NE(shift.error().message.find("s.toml:3:"), std::string::npos) << shift.error().message;
  EXPECT_NE(shift.error().message.find("unknown shifts 'night'"), std::string::npos);
}

TEST(Profile, MissingFileSaysWhatToGive) {
  auto p = load_profile("/nonexistent/plant.toml");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("give --profile an existing TOML file"), std::string::npos);
}

TEST(Profile, ExamplePlantIsAConvincingDemo) {
  auto p = load_profile(STRATA_SOURCE_DIR "/examples/plant.toml");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->sites.size(), 2u);
  std::size_t lines = 0;
  std::set<Transport> transports;
  std::set<DeviceKind> kinds;
  bool thingsboard = false, strata_topics = false;
  for (const auto& s : p->sites) {
    EXPECT_GE(s.lines.size(), 2u);
    EXPECT_LE(s.lines.size(), 3u);
    lines += s.lines.size();
    for (const auto& l : s.lines)
      for (const auto& d : l.devices) {
        transports.insert(d.transport);
        kinds.insert(d.kind);
        if (d.transport == Transport::mqtt)
          (d.topics == MqttTopics::thingsboard ? thingsboard : strata_topics) = true;
      }
  }
  EXPECT_GE(p->device_count(), 36u);
  EXPECT_LE(p->device_count(), 44u);
  EXPECT_EQ(transports.size(), kTransportCount);
  EXPECT_EQ(kinds.size(), 4u);
  EXPECT_TRUE(thingsboard && strata_topics);
}

}  // namespace
}  // namespace strata::sim
