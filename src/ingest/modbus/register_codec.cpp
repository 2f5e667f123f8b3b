#include "ingest/modbus/register_codec.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <string_view>
#include <unordered_set>

#include "fmt/format.h"

namespace strata::ingest {
namespace {

using model::ByteOrder;
using model::ModbusRegister;
using model::RegisterTable;
using model::RegisterType;

std::uint16_t device_word(const ModbusRegister& reg, std::uint16_t wire) {
  return reg.byte_order == ByteOrder::big ? wire
                                          : static_cast<std::uint16_t>((wire >> 8) | (wire << 8));
}

std::uint16_t wire_word(const ModbusRegister& reg, std::uint16_t value) {
  return device_word(reg, value);  // a byte swap is its own inverse
}

const char* table_name(RegisterTable t) {
  return t == RegisterTable::holding ? "holding" : "input";
}

Error map_error(std::string message) {
  return Error::of(modbus_errc::bad_register_map, std::move(message));
}

}  // namespace

const char* register_type_name(RegisterType type) {
  switch (type) {
    case RegisterType::int16:
      return "int16";
    case RegisterType::uint16:
      return "uint16";
    case RegisterType::int32:
      return "int32";
    case RegisterType::uint32:
      return "uint32";
    case RegisterType::float32:
      return "float32";
  }
  return "unknown";
}

Result<ModbusReadPlan> plan_modbus_reads(std::span<const ModbusRegister> map,
                                         std::uint16_t max_per_read) {
  if (map.empty()) {
    return map_error("the register map is empty: name at least one register to poll");
  }
  if (max_per_read < 2) max_per_read = 2;  // a 32-bit value must fit one request
  std::unordered_set<std::string_view> names;
  for (const ModbusRegister& reg : map) {
    if (reg.telemetry.empty()) {
      return map_error(fmt::format("{} register {}: the telemetry name is empty",
                                   table_name(reg.table), reg.address));
    }
    if (!names.insert(reg.telemetry).second) {
      return map_error(fmt::format(
          "telemetry '{}' is mapped to more than one register: keep one entry per telemetry",
          reg.telemetry));
    }
    if (static_cast<unsigned>(reg.type) > static_cast<unsigned>(RegisterType::float32) ||
        static_cast<unsigned>(reg.table) > static_cast<unsigned>(RegisterTable::input) ||
        static_cast<unsigned>(reg.byte_order) > static_cast<unsigned>(ByteOrder::little) ||
        static_cast<unsigned>(reg.word_order) > static_cast<unsigned>(ByteOrder::little)) {
      return map_error(
          fmt::format("telemetry '{}': unknown register type, table or order", reg.telemetry));
    }
    const unsigned last = reg.address + model::register_count(reg.type) - 1u;
    if (last > 0xFFFFu) {
      return map_error(fmt::format(
          "telemetry '{}': a {} at {} register {} runs past register 65535; use an address "
          "of at most 65534",
          reg.telemetry, register_type_name(reg.type), table_name(reg.table), reg.address));
    }
    if (!std::isfinite(reg.scale) || reg.scale == 0 || !std::isfinite(reg.offset)) {
      return map_error(fmt::format(
          "telemetry '{}': scale must be a finite non-zero number and offset finite (got scale "
          "{}, offset {})",
          reg.telemetry, reg.scale, reg.offset));
    }
  }

  std::vector<std::size_t> order(map.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (map[a].table != map[b].table) return map[a].table < map[b].table;
    return map[a].address < map[b].address;
  });

  ModbusReadPlan plan;
  plan.slots.resize(map.size());
  // The open block as [start, end) in 32-bit arithmetic (end may be 65536).
  bool open = false;
  RegisterTable table = RegisterTable::holding;
  std::uint32_t start = 0;
  std::uint32_t end = 0;
  auto close = [&] {
    if (open) {
      plan.blocks.push_back(
          {table, static_cast<std::uint16_t>(start), static_cast<std::uint16_t>(end - start)});
    }
  };
  for (std::size_t i : order) {
    const ModbusRegister& reg = map[i];
    const std::uint32_t a = reg.address;
    const std::uint32_t b = a + model::register_count(reg.type);
    const bool joins =
        open && reg.table == table && a <= end && std::max(end, b) - start <= max_per_read;
    if (!joins) {
      close();
      open = true;
      table = reg.table;
      start = a;
      end = b;
    } else {
      end = std::max(end, b);
    }
    plan.slots[i] = {plan.blocks.size(), static_cast<std::uint16_t>(a - start)};
  }
  close();
  return plan;
}

double decode_modbus_raw(const ModbusRegister& reg, std::span<const std::uint16_t> words) {
  const std::uint16_t w0 = device_word(reg, words[0]);
  switch (reg.type) {
    case RegisterType::int16:
      return static_cast<std::int16_t>(w0);
    case RegisterType::uint16:
      return w0;
    default:
      break;
  }
  const std::uint16_t w1 = device_word(reg, words[1]);
  const std::uint32_t v = reg.word_order == ByteOrder::big ? (std::uint32_t{w0} << 16) | w1
                                                           : (std::uint32_t{w1} << 16) | w0;
  switch (reg.type) {
    case RegisterType::int32:
      return static_cast<std::int32_t>(v);
    case RegisterType::uint32:
      return v;
    default:
      return std::bit_cast<float>(v);
  }
}

double decode_modbus_value(const ModbusRegister& reg, std::span<const std::uint16_t> words) {
  return decode_modbus_raw(reg, words) * reg.scale + reg.offset;
}

Result<std::vector<std::uint16_t>> encode_modbus_value(const ModbusRegister& reg, double value) {
  const double raw = (value - reg.offset) / reg.scale;
  auto out_of_range = [&](std::string_view range) {
    return Error::of(modbus_errc::value_out_of_range,
                     fmt::format("telemetry '{}': value {} is out of range for a {} register with "
                                 "scale {} and offset {} (raw {}, the type holds {})",
                                 reg.telemetry, value, register_type_name(reg.type), reg.scale,
                                 reg.offset, raw, range));
  };
  if (!std::isfinite(raw)) return out_of_range("finite numbers only");
  std::uint32_t bits = 0;
  switch (reg.type) {
    case RegisterType::int16:
    case RegisterType::uint16:
    case RegisterType::int32:
    case RegisterType::uint32: {
      const double r = std::nearbyint(raw);
      double lo = 0;
      double hi = 0;
      const char* range = "";
      switch (reg.type) {
        case RegisterType::int16:
          lo = -32768, hi = 32767, range = "-32768..32767";
          break;
        case RegisterType::uint16:
          lo = 0, hi = 65535, range = "0..65535";
          break;
        case RegisterType::int32:
          lo = -2147483648.0, hi = 2147483647.0, range = "-2147483648..2147483647";
          break;
        default:
          lo = 0, hi = 4294967295.0, range = "0..4294967295";
          break;
      }
      if (r < lo || r > hi) return out_of_range(range);
      bits = static_cast<std::uint32_t>(static_cast<std::int64_t>(r));
      break;
    }
    case RegisterType::float32: {
      if (std::fabs(raw) > std::numeric_limits<float>::max()) {
        return out_of_range("±3.4028235e38");
      }
      bits = std::bit_cast<std::uint32_t>(static_cast<float>(raw));
      break;
    }
  }
  if (model::register_count(reg.type) == 1) {
    return std::vector<std::uint16_t>{wire_word(reg, static_cast<std::uint16_t>(bits))};
  }
  const auto high = static_cast<std::uint16_t>(bits >> 16);
  const auto low = static_cast<std::uint16_t>(bits & 0xFFFFu);
  if (reg.word_order == ByteOrder::big) {
    return std::vector<std::uint16_t>{wire_word(reg, high), wire_word(reg, low)};
  }
  return std::vector<std::uint16_t>{wire_word(reg, low), wire_word(reg, high)};
}

void append_modbus_dump(std::string& dump, RegisterTable table, std::uint16_t start,
                        std::span<const std::uint16_t> words) {
  if (!dump.empty()) dump += '\n';
  dump += table == RegisterTable::holding ? "hr@" : "ir@";
  dump += std::to_string(start);
  dump += ':';
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::uint16_t w : words) {
    dump += ' ';
    for (int shift = 12; shift >= 0; shift -= 4) dump += kHex[(w >> shift) & 0xF];
  }
}

}  // namespace strata::ingest
