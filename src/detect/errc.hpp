#pragma once
// Why the detection stage refused something.
namespace strata::detect {

enum class errc { bad_spec = 1, io, corrupt, bad_option };

}  // namespace strata::detect
