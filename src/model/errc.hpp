#pragma once
// The error codes of the model module (Error::code of its Results). In a header of its own so that
// a caller can branch on them without pulling in the parser.
namespace strata::model {

enum class errc {
  invalid_json = 1,    // the document is not JSON at all (the message has the byte offset)
  invalid_model,       // JSON, but not a valid device model: "$.path: reason"
  unknown_unit,        // a unit name or symbol the catalogue does not know
  incompatible_units,  // a conversion between units of different dimensions
  unknown_metric,      // a reading names a metric the device's model does not have
  wrong_type,          // a reading's value does not fit its schema (text for a number, 2.5 for an
                       // integer, an enum name the model does not list, NaN)
  out_of_range,        // a reading outside the model's [strata:min, strata:max]
  invalid_device,      // a device document that is not valid: "$.path: reason"
};

}  // namespace strata::model
