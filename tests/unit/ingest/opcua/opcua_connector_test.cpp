// The OPC UA connector is an interface only (no C++ OPC UA stack in Debian): this checks the
// quality rule it fixes, with status codes from the OPC UA specification, and that the interface
// can be implemented as written.
#include "ingest/opcua/opcua_connector.hpp"

#include <gtest/gtest.h>

namespace strata::ingest {
namespace {

TEST(OpcUaQuality, SeverityBitsDecide) {
  EXPECT_EQ(opcua_quality(0x00000000), OpcUaQuality::good);       // Good
  EXPECT_EQ(opcua_quality(0x00A20000), OpcUaQuality::good);       // GoodClamped
  EXPECT_EQ(opcua_quality(0x40900000), OpcUaQuality::uncertain);  // UncertainLastUsableValue
  EXPECT_EQ(opcua_quality(0x408F0000),
            OpcUaQuality::uncertain);  // UncertainNoCommunicationLastUsableValue
  EXPECT_EQ(opcua_quality(0x808B0000), OpcUaQuality::bad);  // BadSensorFailure
  EXPECT_EQ(opcua_quality(0x80340000), OpcUaQuality::bad);  // BadNodeIdUnknown
  EXPECT_EQ(opcua_quality(0xC0000000), OpcUaQuality::bad);  // reserved severity
}

TEST(OpcUaQuality, OverflowNeedsTheDataValueInfoType) {
  EXPECT_TRUE(opcua_overflow(0x00000480));   // Good, InfoType DataValue, Overflow
  EXPECT_FALSE(opcua_overflow(0x00000400));  // Good, InfoType DataValue, no Overflow
  EXPECT_FALSE(opcua_overflow(0x00000080));  // InfoType NotUsed: bit 7 means nothing
}

// The smallest connector: proves the interface is implementable and a factory can hand it out.
class IdleConnector : public OpcUaConnector {
 public:
  explicit IdleConnector(std::vector<OpcUaEndpointConfig> endpoints)
      : endpoints_(std::move(endpoints)) {}
  Status start() override { return {}; }
  void stop() override {}
  std::vector<OpcUaConnectionHealth> health() const override {
    std::vector<OpcUaConnectionHealth> out;
    for (const auto& e : endpoints_) {
      OpcUaConnectionHealth h;
      h.connection_id = e.connection_id;
      out.push_back(h);
    }
    return out;
  }
  void write(std::string_view, std::string_view, double, WriteDone done) override {
    done(Error{1, "not connected"});
  }

 private:
  std::vector<OpcUaEndpointConfig> endpoints_;
};

TEST(OpcUaConnector, AFactoryHandsOutAConnector) {
  OpcUaConnectorFactory factory = [](std::vector<OpcUaEndpointConfig> endpoints,
                                     pipeline::TelemetrySink&,
                                     const Clock&) -> Result<std::unique_ptr<OpcUaConnector>> {
    return std::unique_ptr<OpcUaConnector>(new IdleConnector(std::move(endpoints)));
  };
  OpcUaEndpointConfig plc;
  plc.connection_id = "plc-3";
  plc.endpoint_url = "opc.tcp://127.0.0.1:4840";
  OpcUaNodeBinding temp;
  temp.node_id = "ns=2;s=Line1.Pump7.Temp";
  temp.device_id = "pump-7";
  temp.metric = "temp";
  plc.nodes.push_back(temp);
  EXPECT_EQ(plc.security_mode, OpcUaSecurityMode::sign_and_encrypt);
  class NoSink : public pipeline::TelemetrySink {
    bool submit(pipeline::TelemetryMessage&, pipeline::Completion&) override { return false; }
    bool submit(pipeline::PointBatch&, pipeline::Completion&) override { return false; }
    void quarantine(pipeline::Transport, std::string_view, std::string_view,
                    std::string_view) override {}
  } sink;
  SystemClock clock;
  auto connector = factory({plc}, sink, clock);
  ASSERT_TRUE(connector.ok());
  ASSERT_TRUE((*connector)->start().ok());
  const auto health = (*connector)->health();
  ASSERT_EQ(health.size(), 1u);
  EXPECT_EQ(health[0].connection_id, "plc-3");
  (*connector)->stop();
}

}  // namespace
}  // namespace strata::ingest
