#pragma once
// How a device's samples go on the wire: which of its metrics its model declares, in which JSON
// form (number, boolean, or an enum's text), and the ThingsBoard telemetry document that carries
// one or more samples:
//
//   one sample:   {"ts":1764071234000,"values":{"state":"running","discharge_pressure":7.12,...}}
//   several:      [{"ts":...,"values":{...}},{"ts":...,"values":{...}}]
//
// ts is in milliseconds since the epoch (samples fall on whole milliseconds). A value is sent in
// the unit its model declares (a compressor model may say degreeFahrenheit: the simulator converts
// its degreeCelsius), with the sensor's resolution carried over to that unit.
//
// ModelCatalog reads the device models (DTDL JSON, examples/models/*.json) with the model
// module's parser: their text is what provisioning registers, their telemetry is what a device
// sends, and their "strata:modbus" entries are the Modbus server's register maps.
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "model/device_model.hpp"
#include "sim/device_kind.hpp"
#include "sim/plant.hpp"

namespace strata::sim {

struct WireMetric {
  std::size_t index = 0;  // into Emission::values
  std::string name;
  enum class Form : std::uint8_t { number, boolean, text } form = Form::number;
  std::vector<std::string> texts;  // text: texts[n] is sent for the value n
  bool quoted = true;              // text: as a JSON string (an integer enum's values are not)
  bool integer = false;            // the model's schema is integer or long
  int decimals = 2;                // on the wire, in the model's unit
  model::LinearConversion to_model_unit;  // from the simulated unit to the unit the model names
  // The value as sent: converted into the model's unit and rounded to `decimals`.
  [[nodiscard]] double wire_value(double simulated) const;
};

// The metrics a device of `kind` sends under `model` (every metric when model is null), and the
// names on either side that the other lacks, so a mismatch is reported rather than refused later.
struct WireModel {
  std::vector<WireMetric> metrics;
  std::vector<std::string> not_in_model;   // simulated but not declared: not sent
  std::vector<std::string> not_simulated;  // declared but not simulated
  std::vector<std::string> problems;       // units that could not be converted (sent unconverted)
  // The index in `metrics` of a telemetry name, or -1.
  [[nodiscard]] int find(std::string_view name) const;
};
WireModel wire_model(DeviceKind kind, const model::DeviceModel* model);

// The ThingsBoard telemetry document of the given samples (all of one device), as above.
std::string telemetry_json(const WireModel& wire, std::span<const Emission* const> samples);

struct CatalogEntry {
  model::DeviceModel model;
  std::string text;  // the file as read: the body of POST /api/v1/models
  std::filesystem::path path;
};

// The device models of a directory, by DTMI.
class ModelCatalog {
 public:
  // Reads every *.json of `dir`; a file that is not a valid model fails with its path and the
  // parser's message.
  static Result<ModelCatalog> load(const std::filesystem::path& dir);
  [[nodiscard]] const CatalogEntry* find(std::string_view id) const;
  [[nodiscard]] const std::map<std::string, CatalogEntry, std::less<>>& entries() const {
    return entries_;
  }

 private:
  std::map<std::string, CatalogEntry, std::less<>> entries_;
};

}  // namespace strata::sim
