#include "server/route_helpers.hpp"

#include <gtest/gtest.h>

namespace strata::server {
namespace {

std::string pointer_of(const std::string& message) {
  const auto p = validation_problem(message);
  EXPECT_EQ(p.status, 422);
  return p.extensions["errors"][0]["path"].get<std::string>();
}

TEST(RouteHelpers, ValidationMessagesBecomeJsonPointers) {
  EXPECT_EQ(pointer_of("$.contents[3].schema: expected double"), "/contents/3/schema");
  EXPECT_EQ(pointer_of("$.contents[0]['strata:min']: 10 is greater than strata:max 5.5"),
            "/contents/0/strata:min");
  EXPECT_EQ(pointer_of("$.tags['a/b~c']: too long"), "/tags/a~1b~0c");
  EXPECT_EQ(pointer_of("$: expected an object"), "");
  const auto p = validation_problem("device 'x': no device model 'y'");
  EXPECT_EQ(p.extensions["errors"][0]["path"], "");
  EXPECT_EQ(p.extensions["errors"][0]["reason"], "device 'x': no device model 'y'");
  EXPECT_EQ(p.extensions["errors"][0]["reason"], p.detail);
}

}  // namespace
}  // namespace strata::server
