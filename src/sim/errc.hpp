#pragma once
// The error codes of the simulator's Results (Error::code), in a header of their own so every part
// of the module can name them without including another part.
namespace strata::sim {

enum class errc {
  profile = 1,  // the plant profile is not valid TOML or names something unknown
  fault,        // a fault specification cannot be read or names an unknown device or metric
  io,           // a file could not be read or written
  transport,    // a client library could not be set up (MQTT, HTTP, CoAP, Modbus)
  provision,    // the server refused a model or device registration
};

}  // namespace strata::sim
