// ModbusPoller against a real libmodbus TCP server on 127.0.0.1 (modbus_test_server.hpp). Time is a
// SimulatedClock: a poll happens when the test moves the clock past the device's due time and wakes
// the poller; the test then waits for what the sink receives (a condition, never a sleep).
#include "ingest/modbus/modbus_poller.hpp"

#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <string>
#include <vector>

#include "modbus/modbus_test_server.hpp"
#include "recording_sink.hpp"

namespace strata::ingest {
namespace {

using model::ByteOrder;
using model::ModbusRegister;
using model::RegisterTable;
using model::RegisterType;
using testing::ModbusTestServer;
using testing::RecordingSink;
using testing::SilentTcpPeer;
using namespace std::chrono_literals;

constexpr Timestamp kStart = 1'700'000'000'000'000;

ModbusRegister reg(std::string name, RegisterTable table, std::uint16_t address, RegisterType type,
                   ByteOrder bytes = ByteOrder::big, ByteOrder words = ByteOrder::big,
                   double scale = 1, double offset = 0) {
  ModbusRegister r;
  r.telemetry = std::move(name);
  r.table = table;
  r.address = address;
  r.type = type;
  r.byte_order = bytes;
  r.word_order = words;
  r.scale = scale;
  r.offset = offset;
  return r;
}

ModbusDeviceConfig device(std::string id, std::uint16_t port, std::vector<ModbusRegister> map) {
  ModbusDeviceConfig d;
  d.device_id = std::move(id);
  d.host = "127.0.0.1";
  d.port = port;
  d.unit_id = 1;
  d.interval = 1000ms;
  d.response_timeout = 2000ms;
  d.registers = std::move(map);
  return d;
}

std::map<std::string, double> values_of(const pipeline::TelemetryMessage& m) {
  std::map<std::string, double> out;
  for (const auto& r : m.readings) out[r.metric] = r.number;
  return out;
}

std::unique_ptr<ModbusPoller> make_poller(std::vector<ModbusDeviceConfig> devices,
                                          RecordingSink& sink, const Clock& clock,
                                          ModbusPollerOptions options = {}) {
  auto poller = ModbusPoller::create(std::move(devices), sink, clock, options);
  EXPECT_TRUE(poller.ok()) << poller.error().message;
  return poller.ok() ? std::move(*poller) : nullptr;
}

// Waits until the device's health satisfies pred (the poller's counters move on its own threads).
template <class Pred>
bool wait_health(ModbusPoller& poller, std::string_view id, Pred pred,
                 std::chrono::milliseconds timeout = 10s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (auto h = poller.health(id); h && pred(*h)) return true;
    std::this_thread::sleep_for(1ms);  // the counters have no condition variable to wait on
  }
  return false;
}

// Every type in every byte and word order, with and without scale and offset: the server holds the
// registers a device following each convention would hold; the values submitted must be exact.
TEST(ModbusPoller, DecodesEveryTypeAndOrderExactly) {
  ModbusTestServer server(64, 16);
  std::vector<ModbusRegister> map;
  std::map<std::string, double> expected;
  std::uint16_t next = 0;
  auto put16 = [&](std::string name, std::uint16_t be_word, RegisterType type, ByteOrder bytes,
                   double raw, double scale, double offset) {
    const std::uint16_t w =
        bytes == ByteOrder::big ? be_word : static_cast<std::uint16_t>(be_word >> 8 | be_word << 8);
    server.set_holding(next, w);
    map.push_back(
        reg(name, RegisterTable::holding, next, type, bytes, ByteOrder::big, scale, offset));
    expected[name] = raw * scale + offset;
    ++next;
  };
  auto put32 = [&](std::string name, std::uint32_t bits, RegisterType type, ByteOrder bytes,
                   ByteOrder words, double raw, double scale, double offset) {
    const std::array<std::uint8_t, 4> b = {
        static_cast<std::uint8_t>(bits >> 24), static_cast<std::uint8_t>(bits >> 16),
        static_cast<std::uint8_t>(bits >> 8), static_cast<std::uint8_t>(bits)};
    auto word = [&](int hi, int lo) {
      return bytes == ByteOrder::big ? static_cast<std::uint16_t>(b[hi] << 8 | b[lo])
                                     : static_cast<std::uint16_t>(b[lo] << 8 | b[hi]);
    };
    const std::uint16_t first = words == ByteOrder::big ? word(0, 1) : word(2, 3);
    const std::uint16_t second = words == ByteOrder::big ? word(2, 3) : word(0, 1);
    server.set_holding(next, first);
    server.set_holding(next + 1, second);
    map.push_back(reg(name, RegisterTable::holding, next, type, bytes, words, scale, offset));
    expected[name] = raw * scale + offset;
    next += 2;
  };
  const float f = 273.15625f;
  for (ByteOrder bytes : {ByteOrder::big, ByteOrder::little}) {
    const std::string b = bytes == ByteOrder::big ? "be" : "le";
    put16("i16_" + b, 0xCFC7, RegisterType::int16, bytes, -12345, 1, 0);
    put16("u16_" + b, 0xD431, RegisterType::uint16, bytes, 54321, 1, 0);
    put16("i16s_" + b, 0x02A3, RegisterType::int16, bytes, 675, 0.1, -40);
    for (ByteOrder words : {ByteOrder::big, ByteOrder::little}) {
      const std::string o = b + (words == ByteOrder::big ? "_wbe" : "_wle");
      put32("i32_" + o, static_cast<std::uint32_t>(-123456789), RegisterType::int32, bytes, words,
            -123456789, 1, 0);
      put32("u32_" + o, 3000000000u, RegisterType::uint32, bytes, words, 3000000000.0, 0.001, 5);
      put32("f32_" + o, std::bit_cast<std::uint32_t>(f), RegisterType::float32, bytes, words,
            static_cast<double>(f), 1, 0);
    }
  }
  // And an input register block, apart from the holding ones.
  server.set_input(3, 0x8000);
  map.push_back(reg("in_i16", RegisterTable::input, 3, RegisterType::int16));
  expected["in_i16"] = -32768;

  RecordingSink sink;
  SimulatedClock clock(kStart);
  auto poller = make_poller({device("plc-1", server.port(), map)}, sink, clock);
  poller->start();
  ASSERT_TRUE(sink.wait_for_messages(1));
  const auto messages = sink.messages();
  const pipeline::TelemetryMessage& m = messages[0];
  EXPECT_EQ(m.transport, pipeline::Transport::modbus);
  EXPECT_EQ(m.device_id, "plc-1");
  EXPECT_EQ(m.message_id, "plc-1/1");
  EXPECT_EQ(m.received, kStart);
  EXPECT_EQ(values_of(m), expected);
  for (const auto& r : m.readings) EXPECT_FALSE(r.ts.has_value());
  // One request for the contiguous holding registers, one for the input register; the dump shows
  // both as read.
  ASSERT_TRUE(m.raw);
  EXPECT_EQ(m.raw->substr(0, 11), "hr@0: cfc7 ");
  EXPECT_NE(m.raw->find("\nir@3: 8000"), std::string::npos) << *m.raw;
  // The poller counts a poll once the sink has taken it, i.e. just after the sink saw it.
  ASSERT_TRUE(wait_health(*poller, "plc-1", [](const auto& h) { return h.polls == 1; }));
  const auto h = poller->health("plc-1");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->read_requests, 2u);
  EXPECT_EQ(h->polls, 1u);
  EXPECT_TRUE(h->connected);
  EXPECT_EQ(h->stored, expected.size());
  EXPECT_TRUE(h->last_error.empty()) << h->last_error;
}

TEST(ModbusPoller, PollsAtTheIntervalOfTheClock) {
  ModbusTestServer server(4, 0);
  server.set_holding(0, 7);
  RecordingSink sink;
  SimulatedClock clock(kStart);
  auto poller =
      make_poller({device("pump", server.port(),
                          {reg("speed", RegisterTable::holding, 0, RegisterType::uint16)})},
                  sink, clock);
  poller->start();
  ASSERT_TRUE(sink.wait_for_messages(1));
  // Not yet due at 999 ms; due at 1000 ms. Had the poller polled early, message 2 would carry the
  // 999 ms time and the old value.
  clock.advance(999'000);
  poller->wake();
  server.set_holding(0, 8);
  clock.advance(1'000);
  poller->wake();
  ASSERT_TRUE(sink.wait_for_messages(2));
  clock.advance(1'000'000);
  poller->wake();
  ASSERT_TRUE(sink.wait_for_messages(3));
  const auto messages = sink.messages();
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[1].message_id, "pump/2");
  EXPECT_EQ(messages[1].received, kStart + 1'000'000);
  EXPECT_EQ(values_of(messages[1]).at("speed"), 8);
  EXPECT_EQ(messages[2].message_id, "pump/3");
  EXPECT_EQ(messages[2].received, kStart + 2'000'000);
}

TEST(ModbusPoller, ServerGoesAwayAndComesBack) {
  auto server = std::make_unique<ModbusTestServer>(4, 0);
  const std::uint16_t port = server->port();
  server->set_holding(1, 42);
  RecordingSink sink;
  SimulatedClock clock(kStart);
  ModbusPollerOptions options;
  options.backoff_initial = 500ms;
  options.backoff_max = 2000ms;
  auto poller = make_poller(
      {device("meter", port, {reg("kw", RegisterTable::holding, 1, RegisterType::uint16)})}, sink,
      clock, options);
  poller->start();
  ASSERT_TRUE(sink.wait_for_messages(1));

  server.reset();  // the device goes away
  clock.advance(1'000'000);
  poller->wake();
  // The poll finds the connection broken, or the reconnect is refused: either is reported.
  ASSERT_TRUE(wait_health(*poller, "meter", [](const ModbusDeviceHealth& h) {
    return h.io_errors + h.connect_failures >= 1 && !h.connected;
  }));
  // While it is away every attempt fails with a connect error naming the endpoint, backing off.
  for (int i = 0; i < 3; ++i) {
    const auto before = poller->health("meter")->connect_failures;
    clock.advance(2'000'000);
    poller->wake();
    ASSERT_TRUE(wait_health(*poller, "meter", [&](const ModbusDeviceHealth& h) {
      return h.connect_failures > before;
    }));
  }
  const auto down = poller->health("meter");
  EXPECT_NE(down->last_error.find("cannot connect to the Modbus TCP server 127.0.0.1:" +
                                  std::to_string(port)),
            std::string::npos)
      << down->last_error;
  EXPECT_EQ(down->last_error_at, clock.now());
  EXPECT_EQ(down->polls, 1u);

  // It comes back on the same port, with a new value.
  ModbusTestServer again(4, 0, port);
  again.set_holding(1, 43);
  clock.advance(2'000'000);
  poller->wake();
  ASSERT_TRUE(sink.wait_for_messages(2));
  const auto messages = sink.messages();
  EXPECT_EQ(messages[1].message_id, "meter/2");
  EXPECT_EQ(values_of(messages[1]).at("kw"), 43);
  EXPECT_TRUE(
      wait_health(*poller, "meter", [](const auto& h) { return h.connected && h.polls == 2; }));
}

TEST(ModbusPoller, RegisterBeyondTheServerMapIsAModbusExceptionNotACrash) {
  ModbusTestServer server(10, 0);
  server.set_holding(5, 1234);
  RecordingSink sink;
  SimulatedClock clock(kStart);
  auto poller =
      make_poller({device("boiler", server.port(),
                          {reg("ok", RegisterTable::holding, 5, RegisterType::uint16),
                           reg("missing", RegisterTable::holding, 100, RegisterType::float32)})},
                  sink, clock);
  poller->start();
  ASSERT_TRUE(sink.wait_for_messages(1));
  const auto m = sink.messages()[0];
  EXPECT_EQ(values_of(m), (std::map<std::string, double>{{"ok", 1234}}));
  EXPECT_EQ(*m.raw, "hr@5: 04d2");
  const auto h = poller->health("boiler");
  EXPECT_EQ(h->modbus_exceptions, 1u);
  EXPECT_EQ(h->io_errors, 0u);
  EXPECT_EQ(h->connect_failures, 0u);
  EXPECT_TRUE(h->connected);
  EXPECT_NE(h->last_error.find("device 'boiler': reading holding registers 100..101 (unit 1)"),
            std::string::npos)
      << h->last_error;
  EXPECT_NE(h->last_error.find("Modbus exception 2 (Illegal data address)"), std::string::npos)
      << h->last_error;
  EXPECT_NE(h->last_error.find("check the addresses"), std::string::npos) << h->last_error;

  // The connection was kept: the next poll reads again on it.
  clock.advance(1'000'000);
  poller->wake();
  ASSERT_TRUE(sink.wait_for_messages(2));
  EXPECT_EQ(poller->health("boiler")->connect_failures, 0u);
}

TEST(ModbusPoller, RefusedSubmitIsRetriedAndTheNextPollWaits) {
  ModbusTestServer server(2, 0);
  server.set_holding(0, 1);
  RecordingSink sink;
  sink.refuse_next(3);
  SimulatedClock clock(kStart);
  ModbusPollerOptions options;
  options.backpressure_retry = 100ms;
  auto poller = make_poller(
      {device("fan", server.port(), {reg("rpm", RegisterTable::holding, 0, RegisterType::uint16)})},
      sink, clock, options);
  poller->start();
  ASSERT_TRUE(sink.wait_until([&] { return sink.submit_calls_locked() >= 1; }));
  server.set_holding(0, 2);  // a new reading that the held message must not pick up
  for (int refused = 1; refused <= 3; ++refused) {
    clock.advance(100'000);
    poller->wake();
    ASSERT_TRUE(sink.wait_until([&] { return sink.submit_calls_locked() >= refused + 1; }));
  }
  ASSERT_TRUE(sink.wait_for_messages(1));
  auto messages = sink.messages();
  EXPECT_EQ(messages[0].message_id, "fan/1");
  EXPECT_EQ(messages[0].received, kStart);
  EXPECT_EQ(values_of(messages[0]).at("rpm"), 1);
  ASSERT_TRUE(wait_health(*poller, "fan", [](const auto& h) { return h.polls == 1; }));
  auto h = poller->health("fan");
  EXPECT_EQ(h->backpressure_retries, 3u);
  EXPECT_EQ(h->read_requests, 1u);  // no poll while the message was held
  EXPECT_EQ(h->polls, 1u);

  // The regular schedule resumes: the next poll at kStart + 1 s reads the new value.
  clock.set(kStart + 1'000'000);
  poller->wake();
  ASSERT_TRUE(sink.wait_for_messages(2));
  messages = sink.messages();
  EXPECT_EQ(messages[1].message_id, "fan/2");
  EXPECT_EQ(values_of(messages[1]).at("rpm"), 2);
}

TEST(ModbusPoller, AHangingDeviceDoesNotHoldUpTheOthers) {
  ModbusTestServer server(2, 0);
  SilentTcpPeer silent;
  RecordingSink sink;
  SimulatedClock clock(kStart);
  auto hanging =
      device("hangs", silent.port(), {reg("x", RegisterTable::holding, 0, RegisterType::uint16)});
  hanging.response_timeout = 2000ms;
  auto poller = make_poller(
      {hanging,
       device("live", server.port(), {reg("y", RegisterTable::holding, 0, RegisterType::uint16)})},
      sink, clock);
  const auto began = std::chrono::steady_clock::now();
  poller->start();
  ASSERT_TRUE(sink.wait_for_messages(1));
  for (int i = 2; i <= 4; ++i) {
    clock.advance(1'000'000);
    poller->wake();
    ASSERT_TRUE(sink.wait_for_messages(static_cast<std::size_t>(i)));
  }
  // All four polls of "live" came while "hangs" was still waiting for its first answer.
  EXPECT_LT(std::chrono::steady_clock::now() - began, 2000ms);
  for (const auto& m : sink.messages()) EXPECT_EQ(m.device_id, "live");
  const auto h = poller->health("hangs");
  EXPECT_EQ(h->polls, 0u);
  EXPECT_EQ(h->io_errors, 0u);
  poller->stop();  // returns once the hanging read times out
}

TEST(ModbusPoller, WritesEncodeAsPollsDecode) {
  ModbusTestServer server(8, 2);
  RecordingSink sink;
  SimulatedClock clock(kStart);
  auto setpoint = reg("setpoint", RegisterTable::holding, 2, RegisterType::int32, ByteOrder::big,
                      ByteOrder::little, 0.01, 0);
  auto mode = reg("mode", RegisterTable::holding, 5, RegisterType::uint16);
  auto sensor = reg("sensor", RegisterTable::input, 0, RegisterType::uint16);
  auto poller =
      make_poller({device("chiller", server.port(), {setpoint, mode, sensor})}, sink, clock);
  poller->start();
  ASSERT_TRUE(sink.wait_for_messages(1));

  auto write = [&](std::string_view device_id, std::string_view telemetry, double value) {
    auto result = std::make_shared<std::promise<Status>>();
    auto future = result->get_future();
    poller->write(device_id, telemetry, value, [result](const Status& s) { result->set_value(s); });
    EXPECT_EQ(future.wait_for(10s), std::future_status::ready);
    return future.get();
  };
  Status s = write("chiller", "setpoint", -12.34);
  ASSERT_TRUE(s.ok()) << s.error().message;
  // -1234 = 0xFFFFFB2E, low word first.
  EXPECT_EQ(server.holding(2), 0xFB2E);
  EXPECT_EQ(server.holding(3), 0xFFFF);
  s = write("chiller", "mode", 3);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(server.holding(5), 3);

  clock.advance(1'000'000);
  poller->wake();
  ASSERT_TRUE(sink.wait_for_messages(2));
  const auto v = values_of(sink.messages()[1]);
  EXPECT_EQ(v.at("setpoint"), -1234 * 0.01);
  EXPECT_EQ(v.at("mode"), 3);
  EXPECT_EQ(poller->health("chiller")->writes, 2u);

  s = write("chiller", "sensor", 1);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.error().is(modbus_errc::not_writable));
  s = write("chiller", "mode", 70000);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.error().is(modbus_errc::value_out_of_range));
  s = write("chiller", "nope", 1);
  EXPECT_TRUE(!s.ok() && s.error().is(modbus_errc::unknown_telemetry));
  s = write("freezer", "mode", 1);
  EXPECT_TRUE(!s.ok() && s.error().is(modbus_errc::unknown_device));
}

TEST(ModbusPoller, CreateRefusesUnusableDevices) {
  RecordingSink sink;
  SimulatedClock clock(kStart);
  auto ok_map = std::vector{reg("a", RegisterTable::holding, 0, RegisterType::uint16)};
  auto expect_refused = [&](std::vector<ModbusDeviceConfig> devices, const char* needle) {
    auto poller = ModbusPoller::create(std::move(devices), sink, clock);
    ASSERT_FALSE(poller.ok()) << needle;
    EXPECT_NE(poller.error().message.find(needle), std::string::npos) << poller.error().message;
  };
  expect_refused({device("d", 502, ok_map), device("d", 503, ok_map)}, "'d' is listed twice");
  auto no_host = device("d", 502, ok_map);
  no_host.host.clear();
  expect_refused({no_host}, "device 'd': modbus.host is empty");
  auto bad_unit = device("d", 502, ok_map);
  bad_unit.unit_id = 300;
  expect_refused({bad_unit}, "unit_id 300");
  expect_refused({device("d", 502, {})}, "device 'd': the register map is empty");
}

}  // namespace
}  // namespace strata::ingest
