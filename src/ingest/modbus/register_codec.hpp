#pragma once
// The Modbus register map as the poller uses it: which read requests cover a device's registers,
// how the 16-bit words read become the values the model names, and back again for writes. Pure
// functions, no I/O, so the poller's arithmetic is tested (and fuzzed) without a device.
//
// Values on the wire. A register is 16 bits; libmodbus hands it over as the big-endian pair the
// PDU carries, i.e. wire bytes [b0 b1] arrive as the word 0xb0b1. For a register whose map entry
// says byte_order = little, the device put the low byte first, so the word is byte-swapped before
// use. A 32-bit value spans two consecutive registers R[a] and R[a+1]:
//
//   word_order big   (Modbus convention, "ABCD"):  value = R[a] << 16 | R[a+1]
//   word_order little ("CDAB", many PLCs):         value = R[a+1] << 16 | R[a]
//
//   type      registers   raw value
//   int16     1           the word as two's complement
//   uint16    1           the word
//   int32     2           the 32-bit value as two's complement
//   uint32    2           the 32-bit value
//   float32   2           the 32-bit value as an IEEE 754 binary32
//
// The stored value is raw * scale + offset; a write inverts it: raw = (value - offset) / scale,
// rounded to the nearest integer for integer types and refused when it does not fit the type.
//
// The raw dump a poll's TelemetryMessage carries (for quarantine and lineage) is one line per read
// request, the registers in lower-case hex, the start address in decimal:
//
//   dump  = block ('\n' block)*
//   block = ("hr" | "ir") '@' start ':' (' ' hhhh)*      e.g.  "hr@100: 0001 4148 0000\nir@0: ffff"
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "model/modbus_register.hpp"

namespace strata::ingest {

// Error codes of the Modbus transport (Error::code of its Results).
enum class modbus_errc {
  bad_register_map = 1,  // the register map cannot be read as given (overlapping names, range)
  bad_device_config,     // a device entry is unusable (no id, no host, zero interval, ...)
  value_out_of_range,    // a value to write does not fit the register's type after scaling
  not_writable,          // input registers are read-only
  connection,            // no TCP connection, a timeout or a broken reply
  exception,             // the device answered with a Modbus exception
  unknown_device,        // a write named a device the poller does not poll
  unknown_telemetry,     // a write named a telemetry the device's map does not have
  stopped,               // the poller stopped before the request ran
};

// The most registers one read request may ask for (Modbus application protocol, function 3/4).
inline constexpr std::uint16_t kMaxRegistersPerRead = 125;

// One read request: `count` registers from `start` in `table`.
struct ModbusReadBlock {
  model::RegisterTable table = model::RegisterTable::holding;
  std::uint16_t start = 0;
  std::uint16_t count = 0;
  friend bool operator==(const ModbusReadBlock&, const ModbusReadBlock&) = default;
};

// Where each map entry's words are found after the blocks have been read.
struct ModbusSlot {
  std::size_t block = 0;     // index into ModbusReadPlan::blocks
  std::uint16_t offset = 0;  // of the entry's first register within the block
};

// The read requests that cover a register map, and each entry's place in them.
struct ModbusReadPlan {
  std::vector<ModbusReadBlock> blocks;  // holding blocks first, each table in address order
  std::vector<ModbusSlot> slots;        // slots[i] belongs to the map's entry i
};

// Checks a register map and groups its registers into as few read requests as possible: registers
// that touch or overlap share a request while it stays within max_per_read registers; a gap
// between registers always starts a new request (reading addresses the map does not name could
// hit registers the device does not have). errc bad_register_map when the map is empty, a
// telemetry name is empty or repeated, a value runs past address 65535, or scale/offset are not
// finite or scale is 0.
[[nodiscard]] Result<ModbusReadPlan> plan_modbus_reads(
    std::span<const model::ModbusRegister> map, std::uint16_t max_per_read = kMaxRegistersPerRead);

// The raw value of `reg` from its words (register_count(reg.type) of them, in address order),
// before scale and offset.
[[nodiscard]] double decode_modbus_raw(const model::ModbusRegister& reg,
                                       std::span<const std::uint16_t> words);

// The value the model sees: decode_modbus_raw(...) * scale + offset.
[[nodiscard]] double decode_modbus_value(const model::ModbusRegister& reg,
                                         std::span<const std::uint16_t> words);

// The words to write so that a poll of `reg` reads back `value` (to the type's resolution).
// errc value_out_of_range when the value is not finite or the scaled raw value does not fit.
[[nodiscard]] Result<std::vector<std::uint16_t>> encode_modbus_value(
    const model::ModbusRegister& reg, double value);

// Appends one block of the raw dump described above ("hr@start: hhhh hhhh"), with a '\n' first
// when `dump` is not empty.
void append_modbus_dump(std::string& dump, model::RegisterTable table, std::uint16_t start,
                        std::span<const std::uint16_t> words);

// "int16", "uint16", "int32", "uint32", "float32".
[[nodiscard]] const char* register_type_name(model::RegisterType type);

}  // namespace strata::ingest
