#pragma once
// DocumentValidator: a check the registry runs on every model and device before it writes them,
// for rules that belong to a layer the registry may not call (which anomaly detectors exist and
// what their parameters allow is analytics', through detect/). The server installs the checks at
// start; a model or device they refuse is not written, and the caller gets errc::invalid with the
// check's message (a JSONPath into the document, then the reason: the REST surface answers 422).
#include "core/result.hpp"
#include "model/device.hpp"
#include "model/device_model.hpp"

namespace strata::registry {

class DocumentValidator {
 public:
  virtual ~DocumentValidator() = default;
  // A model about to be added or replaced. The message of a refusal starts with the JSONPath of
  // the offending value ("$.contents[3]['strata:detector']: ...").
  [[nodiscard]] virtual Status check_model(const model::DeviceModel& m) const = 0;
  // A device about to be added or updated, with the model it follows ("$.detectors.temp: ...").
  [[nodiscard]] virtual Status check_device(const model::Device& d,
                                            const model::DeviceModel& m) const = 0;
};

}  // namespace strata::registry
