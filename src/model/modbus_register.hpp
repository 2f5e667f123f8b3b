#pragma once
// ModbusRegister: where a telemetry value lives in a Modbus TCP device, as a device model's
// register map says (the "strata:modbus" extension of a telemetry entry, docs/models.md). The
// Modbus poller (ingest/modbus) reads these; the model parser fills them.
//
// A value is read from `address` (0-based PDU address) in `table`, spanning one register for
// 16-bit types and two for 32-bit ones. Within each register the two bytes are in `byte_order`
// (Modbus' own order is big); for 32-bit types the two registers are in `word_order` (big: the
// first register holds the high word). The stored value is raw * scale + offset.
//
//              register R (address)      register R+1 (address + 1, 32-bit types only)
//   wire:      [ R.b0 | R.b1 ]           [ R+1.b0 | R+1.b1 ]
//
//   byte_order big:    word = b0 << 8 | b1          byte_order little: word = b1 << 8 | b0
//   word_order big:    raw32 = word(R) << 16 | word(R+1)      ("ABCD" with big bytes)
//   word_order little: raw32 = word(R+1) << 16 | word(R)      ("CDAB" with big bytes)
//   int16/int32: two's complement; uint16/uint32: unsigned; float32: IEEE 754 binary32
//   value = raw * scale + offset   (in the telemetry's unit; the model then converts and checks)
#include <cstdint>
#include <string>

namespace strata::model {

enum class RegisterTable : std::uint8_t { holding, input };
enum class RegisterType : std::uint8_t { int16, uint16, int32, uint32, float32 };
enum class ByteOrder : std::uint8_t { big, little };

struct ModbusRegister {
  std::string telemetry;  // the telemetry name in the model
  RegisterTable table = RegisterTable::holding;
  std::uint16_t address = 0;
  RegisterType type = RegisterType::uint16;
  double scale = 1.0;
  double offset = 0.0;
  ByteOrder byte_order = ByteOrder::big;
  ByteOrder word_order = ByteOrder::big;
  friend bool operator==(const ModbusRegister&, const ModbusRegister&) = default;
};

// Registers a type spans: 1 for 16-bit types, 2 for 32-bit ones.
constexpr unsigned register_count(RegisterType t) {
  return t == RegisterType::int16 || t == RegisterType::uint16 ? 1 : 2;
}

}  // namespace strata::model
