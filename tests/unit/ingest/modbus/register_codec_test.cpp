#include "ingest/modbus/register_codec.hpp"

#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

namespace strata::ingest {
namespace {

using model::ByteOrder;
using model::ModbusRegister;
using model::RegisterTable;
using model::RegisterType;

ModbusRegister reg(std::string name, RegisterTable table, std::uint16_t address, RegisterType type,
                   ByteOrder bytes = ByteOrder::big, ByteOrder words = ByteOrder::big) {
  ModbusRegister r;
  r.telemetry = std::move(name);
  r.table = table;
  r.address = address;
  r.type = type;
  r.byte_order = bytes;
  r.word_order = words;
  return r;
}

// The registers a device following `bytes`/`words` holds for the big-endian bytes b[0..3] of a
// 32-bit value: ABCD, CDAB, BADC, DCBA as the Modbus world names them.
std::array<std::uint16_t, 2> device_registers(std::array<std::uint8_t, 4> b, ByteOrder bytes,
                                              ByteOrder words) {
  auto word = [&](int hi, int lo) {
    return bytes == ByteOrder::big ? static_cast<std::uint16_t>(b[hi] << 8 | b[lo])
                                   : static_cast<std::uint16_t>(b[lo] << 8 | b[hi]);
  };
  if (words == ByteOrder::big) return {word(0, 1), word(2, 3)};
  return {word(2, 3), word(0, 1)};
}

std::array<std::uint8_t, 4> be_bytes(std::uint32_t v) {
  return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
          static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

TEST(PlanModbusReads, ContiguousRegistersShareOneRequest) {
  const std::vector<ModbusRegister> map = {
      reg("a", RegisterTable::holding, 10, RegisterType::uint16),
      reg("b", RegisterTable::holding, 11, RegisterType::float32),  // 11..12
      reg("c", RegisterTable::holding, 13, RegisterType::int16),
  };
  auto plan = plan_modbus_reads(map);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  ASSERT_EQ(plan->blocks.size(), 1u);
  EXPECT_EQ(plan->blocks[0], (ModbusReadBlock{RegisterTable::holding, 10, 4}));
  EXPECT_EQ(plan->slots[1].offset, 1);
  EXPECT_EQ(plan->slots[2].offset, 3);
}

TEST(PlanModbusReads, GapsAndTablesSplitRequestsAndOrderDoesNotMatter) {
  const std::vector<ModbusRegister> map = {
      reg("in", RegisterTable::input, 0, RegisterType::uint32),
      reg("far", RegisterTable::holding, 100, RegisterType::uint16),
      reg("near", RegisterTable::holding, 0, RegisterType::uint16),
      reg("overlap", RegisterTable::holding, 100, RegisterType::int32),  // 100..101, overlaps "far"
  };
  auto plan = plan_modbus_reads(map);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  ASSERT_EQ(plan->blocks.size(), 3u);
  EXPECT_EQ(plan->blocks[0], (ModbusReadBlock{RegisterTable::holding, 0, 1}));
  EXPECT_EQ(plan->blocks[1], (ModbusReadBlock{RegisterTable::holding, 100, 2}));
  EXPECT_EQ(plan->blocks[2], (ModbusReadBlock{RegisterTable::input, 0, 2}));
  EXPECT_EQ(plan->slots[0].block, 2u);
  EXPECT_EQ(plan->slots[1].block, 1u);
  EXPECT_EQ(plan->slots[3].block, 1u);
  EXPECT_EQ(plan->slots[3].offset, 0);
}

TEST(PlanModbusReads, RequestsStayWithin125RegistersAndNeverSplitAValue) {
  std::vector<ModbusRegister> map;
  // 200 consecutive 16-bit registers, then a 32-bit one at 249..250 and one at 251..252.
  for (int i = 0; i < 200; ++i) {
    map.push_back(reg("r" + std::to_string(i), RegisterTable::holding,
                      static_cast<std::uint16_t>(i), RegisterType::uint16));
  }
  for (int i = 200; i < 249; ++i) {
    map.push_back(reg("s" + std::to_string(i), RegisterTable::holding,
                      static_cast<std::uint16_t>(i), RegisterType::uint16));
  }
  map.push_back(reg("wide", RegisterTable::holding, 249, RegisterType::float32));
  map.push_back(reg("wide2", RegisterTable::holding, 251, RegisterType::float32));
  auto plan = plan_modbus_reads(map);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  // 253 registers: 125 + 124 (the next float would make 126) + 4.
  ASSERT_EQ(plan->blocks.size(), 3u);
  EXPECT_EQ(plan->blocks[0], (ModbusReadBlock{RegisterTable::holding, 0, 125}));
  EXPECT_EQ(plan->blocks[1], (ModbusReadBlock{RegisterTable::holding, 125, 124}));
  EXPECT_EQ(plan->blocks[2], (ModbusReadBlock{RegisterTable::holding, 249, 4}));
  for (const ModbusReadBlock& b : plan->blocks) EXPECT_LE(b.count, kMaxRegistersPerRead);
  // Every entry lies whole inside its block.
  for (std::size_t i = 0; i < map.size(); ++i) {
    const ModbusSlot& s = plan->slots[i];
    EXPECT_LE(s.offset + model::register_count(map[i].type), plan->blocks[s.block].count);
    EXPECT_EQ(plan->blocks[s.block].start + s.offset, map[i].address);
  }
}

TEST(PlanModbusReads, RefusesMapsItCannotRead) {
  auto expect_refused = [](std::vector<ModbusRegister> map, const char* needle) {
    auto plan = plan_modbus_reads(map);
    ASSERT_FALSE(plan.ok()) << needle;
    EXPECT_TRUE(plan.error().is(modbus_errc::bad_register_map));
    EXPECT_NE(plan.error().message.find(needle), std::string::npos) << plan.error().message;
  };
  expect_refused({}, "empty");
  expect_refused({reg("t", RegisterTable::holding, 1, RegisterType::uint16),
                  reg("t", RegisterTable::input, 1, RegisterType::uint16)},
                 "'t' is mapped to more than one register");
  expect_refused({reg("", RegisterTable::holding, 1, RegisterType::uint16)}, "name is empty");
  expect_refused({reg("big", RegisterTable::holding, 65535, RegisterType::uint32)},
                 "runs past register 65535");
  auto zero = reg("z", RegisterTable::holding, 1, RegisterType::uint16);
  zero.scale = 0;
  expect_refused({zero}, "scale must be a finite non-zero number");
  auto inf = reg("i", RegisterTable::holding, 1, RegisterType::uint16);
  inf.offset = INFINITY;
  expect_refused({inf}, "offset finite");
  // The last register itself is fine.
  EXPECT_TRUE(
      plan_modbus_reads(std::vector{reg("last", RegisterTable::input, 65535, RegisterType::int16)})
          .ok());
}

TEST(DecodeModbus, SixteenBitTypesInBothByteOrders) {
  const std::uint16_t big = 0xCFC7;  // -12345 as int16, 53191 as uint16
  const std::uint16_t little = 0xC7CF;
  EXPECT_EQ(decode_modbus_raw(reg("a", RegisterTable::holding, 0, RegisterType::int16), {&big, 1}),
            -12345);
  EXPECT_EQ(decode_modbus_raw(reg("a", RegisterTable::holding, 0, RegisterType::uint16), {&big, 1}),
            53191);
  EXPECT_EQ(
      decode_modbus_raw(reg("a", RegisterTable::holding, 0, RegisterType::int16, ByteOrder::little),
                        {&little, 1}),
      -12345);
  EXPECT_EQ(decode_modbus_raw(
                reg("a", RegisterTable::holding, 0, RegisterType::uint16, ByteOrder::little),
                {&little, 1}),
            53191);
}

TEST(DecodeModbus, ThirtyTwoBitTypesInAllFourOrders) {
  const float f = -1234.5625f;
  for (ByteOrder bytes : {ByteOrder::big, ByteOrder::little}) {
    for (ByteOrder words : {ByteOrder::big, ByteOrder::little}) {
      SCOPED_TRACE(testing::Message() << "bytes " << int(bytes) << " words " << int(words));
      auto regs = device_registers(be_bytes(static_cast<std::uint32_t>(-123456789)), bytes, words);
      EXPECT_EQ(decode_modbus_raw(
                    reg("a", RegisterTable::input, 0, RegisterType::int32, bytes, words), regs),
                -123456789);
      regs = device_registers(be_bytes(3000000000u), bytes, words);
      EXPECT_EQ(decode_modbus_raw(
                    reg("a", RegisterTable::input, 0, RegisterType::uint32, bytes, words), regs),
                3000000000.0);
      regs = device_registers(be_bytes(std::bit_cast<std::uint32_t>(f)), bytes, words);
      EXPECT_EQ(decode_modbus_raw(
                    reg("a", RegisterTable::input, 0, RegisterType::float32, bytes, words), regs),
                static_cast<double>(f));
    }
  }
}

TEST(DecodeModbus, ScaleAndOffsetApply) {
  auto r = reg("temp", RegisterTable::holding, 0, RegisterType::int16);
  r.scale = 0.1;
  r.offset = -40;
  const std::uint16_t w = 0x02A3;  // 675
  EXPECT_EQ(decode_modbus_value(r, {&w, 1}), 675 * 0.1 + -40);
}

TEST(EncodeModbus, RoundTripsEveryTypeAndOrder) {
  struct Case {
    RegisterType type;
    double value;
    double scale;
    double offset;
  };
  const Case cases[] = {
      {RegisterType::int16, -327.68, 0.01, 0},    {RegisterType::uint16, 6553.5, 0.1, 0},
      {RegisterType::int32, -2147483648.0, 1, 0}, {RegisterType::uint32, 4294967295.0 + 5, 1, 5},
      {RegisterType::float32, 21.5, 1, 0},        {RegisterType::float32, -0.25, 0.5, 100},
  };
  for (const Case& c : cases) {
    for (ByteOrder bytes : {ByteOrder::big, ByteOrder::little}) {
      for (ByteOrder words : {ByteOrder::big, ByteOrder::little}) {
        auto r = reg("x", RegisterTable::holding, 0, c.type, bytes, words);
        r.scale = c.scale;
        r.offset = c.offset;
        auto encoded = encode_modbus_value(r, c.value);
        ASSERT_TRUE(encoded.ok()) << encoded.error().message;
        ASSERT_EQ(encoded->size(), model::register_count(c.type));
        EXPECT_NEAR(decode_modbus_value(r, *encoded), c.value, std::fabs(c.value) * 1e-12)
            << register_type_name(c.type);
      }
    }
  }
  // The wire words themselves, for a case worked by hand: uint32 0x11223344 as CDAB.
  auto r =
      reg("x", RegisterTable::holding, 0, RegisterType::uint32, ByteOrder::big, ByteOrder::little);
  auto encoded = encode_modbus_value(r, 0x11223344);
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(*encoded, (std::vector<std::uint16_t>{0x3344, 0x1122}));
  r.byte_order = ByteOrder::little;
  encoded = encode_modbus_value(r, 0x11223344);
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(*encoded, (std::vector<std::uint16_t>{0x4433, 0x2211}));
}

TEST(EncodeModbus, RefusesValuesOutsideTheType) {
  auto r = reg("setpoint", RegisterTable::holding, 0, RegisterType::uint16);
  r.scale = 0.1;
  auto e = encode_modbus_value(r, 6553.6);  // raw 65536
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(e.error().is(modbus_errc::value_out_of_range));
  EXPECT_NE(e.error().message.find("'setpoint'"), std::string::npos) << e.error().message;
  EXPECT_NE(e.error().message.find("0..65535"), std::string::npos) << e.error().message;
  EXPECT_FALSE(encode_modbus_value(r, -0.1).ok());
  EXPECT_FALSE(encode_modbus_value(r, NAN).ok());
  r.type = RegisterType::float32;
  EXPECT_FALSE(encode_modbus_value(r, 1e300).ok());
  EXPECT_TRUE(encode_modbus_value(r, -1e30).ok());
}

TEST(ModbusDump, OneLinePerRequestInHex) {
  std::string dump;
  const std::uint16_t a[] = {0x0001, 0xABCD};
  const std::uint16_t b[] = {0xFFFF};
  append_modbus_dump(dump, RegisterTable::holding, 100, a);
  append_modbus_dump(dump, RegisterTable::input, 0, b);
  EXPECT_EQ(dump, "hr@100: 0001 abcd\nir@0: ffff");
}

}  // namespace
}  // namespace strata::ingest
