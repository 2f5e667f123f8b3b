// Fuzz target for the Modbus register codec (src/ingest/modbus/register_codec.hpp): a register map
// and the words a device returns, both from the input. Each map entry takes 4 bytes (table, type
// and orders; address high and low; scale/offset choice); a zero byte ends the map and the rest
// are register words. Checks:
//  - plan_modbus_reads either refuses with bad_register_map or covers every entry exactly: each
//    entry lies whole inside its block at its own address, blocks hold at most 125 registers, and
//    blocks of one table do not overlap;
//  - decoding never crashes, and re-encoding a decoded value gives back the same words wherever the
//    arithmetic is exact (integer types; float32 with scale a power of two and no offset).
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ingest/modbus/register_codec.hpp"

namespace {

using namespace strata::ingest;
using strata::model::ByteOrder;
using strata::model::ModbusRegister;
using strata::model::RegisterTable;
using strata::model::RegisterType;

void check(bool ok, const char* invariant) {
  if (ok) return;
  std::fprintf(stderr, "modbus_register_fuzz: invariant broken: %s\n", invariant);
  std::abort();
}

constexpr double kScales[] = {1, 0.5, 2, -4, 0.1, 0.01, 10, 0};
constexpr double kOffsets[] = {0, 0, -40, 273.15};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<ModbusRegister> map;
  std::size_t i = 0;
  while (i + 4 <= size && data[i] != 0 && map.size() < 64) {
    ModbusRegister r;
    const std::uint8_t k = data[i];
    r.telemetry = "m" + std::to_string(map.size() + ((k & 0x80) != 0 && !map.empty() ? 0 : 1));
    r.table = (k & 1) != 0 ? RegisterTable::input : RegisterTable::holding;
    r.type = static_cast<RegisterType>((k >> 1) % 5);
    r.byte_order = (k & 0x20) != 0 ? ByteOrder::little : ByteOrder::big;
    r.word_order = (k & 0x40) != 0 ? ByteOrder::little : ByteOrder::big;
    r.address = static_cast<std::uint16_t>(data[i + 1] << 8 | data[i + 2]);
    r.scale = kScales[data[i + 3] & 7];
    r.offset = kOffsets[(data[i + 3] >> 3) & 3];
    map.push_back(r);
    i += 4;
  }
  if (i < size && data[i] == 0) ++i;
  std::vector<std::uint16_t> words;
  for (; i + 2 <= size; i += 2)
    words.push_back(static_cast<std::uint16_t>(data[i] << 8 | data[i + 1]));
  if (words.empty()) words.push_back(0);

  auto plan = plan_modbus_reads(map);
  if (!plan) {
    check(plan.error().is(modbus_errc::bad_register_map), "a refusal is bad_register_map");
    check(!plan.error().message.empty(), "a refusal says why");
    return 0;
  }
  check(plan->slots.size() == map.size(), "one slot per entry");
  for (std::size_t b = 0; b < plan->blocks.size(); ++b) {
    const ModbusReadBlock& block = plan->blocks[b];
    check(block.count >= 1 && block.count <= kMaxRegistersPerRead, "block size within 1..125");
    check(block.start + block.count <= 65536u, "block ends by register 65535");
    for (std::size_t c = b + 1; c < plan->blocks.size(); ++c) {
      const ModbusReadBlock& other = plan->blocks[c];
      if (other.table != block.table) continue;
      check(other.start >= block.start + block.count || block.start >= other.start + other.count,
            "blocks of a table do not overlap");
    }
  }
  for (std::size_t e = 0; e < map.size(); ++e) {
    const ModbusRegister& r = map[e];
    const ModbusSlot& slot = plan->slots[e];
    check(slot.block < plan->blocks.size(), "slot names a block");
    const ModbusReadBlock& block = plan->blocks[slot.block];
    const unsigned n = strata::model::register_count(r.type);
    check(block.table == r.table, "entry read from its own table");
    check(block.start + slot.offset == r.address, "entry at its own address");
    check(slot.offset + n <= block.count, "entry whole inside its block");

    std::uint16_t at[2] = {words[(e * 2) % words.size()], words[(e * 2 + 1) % words.size()]};
    const double value = decode_modbus_value(r, std::span<const std::uint16_t>(at, n));
    const double raw = decode_modbus_raw(r, std::span<const std::uint16_t>(at, n));
    const bool exact_float =
        r.offset == 0 && (r.scale == 1 || r.scale == 0.5 || r.scale == 2 || r.scale == -4);
    if (!std::isfinite(raw) || raw == 0) continue;
    if (r.type == RegisterType::float32 && !exact_float) continue;
    auto encoded = encode_modbus_value(r, value);
    check(encoded.ok(), "a decoded value encodes");
    check(encoded->size() == n, "encoding spans the type's registers");
    check((*encoded)[0] == at[0] && (n == 1 || (*encoded)[1] == at[1]),
          "encoding gives back the words decoded");
  }
  return 0;
}
