#pragma once
// DeviceCatalog: what the pipeline needs to know of a device to validate and store its readings —
// the device (site, line, tags, state) and its compiled model. The device registry implements it;
// a context is an immutable snapshot, replaced whole when the device or its model changes, so
// shard threads hold it without locks.
#include <memory>
#include <string_view>

#include "model/compiled_model.hpp"
#include "model/device.hpp"

namespace strata::pipeline {

struct DeviceContext {
  model::Device device;
  std::shared_ptr<const model::CompiledModel> model;  // null when the device's model is missing
};

class DeviceCatalog {
 public:
  virtual ~DeviceCatalog() = default;
  // The device's current context, or null for an unknown device.
  [[nodiscard]] virtual std::shared_ptr<const DeviceContext> device(std::string_view id) const = 0;
};

}  // namespace strata::pipeline
