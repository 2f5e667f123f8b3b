#include "detect/plan.hpp"

#include <gtest/gtest.h>

#include "detect_fixture.hpp"

namespace strata::detect {
namespace {

TEST(DetectorChoice, VersionsNameEveryParameter) {
  auto a = choose_detector("ensemble");
  auto b = choose_detector("ensemble:rest=30");  // the default, written out
  auto c = choose_detector("ensemble:rest=2");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->version.size(), std::string("ensemble@").size() + 8);
  EXPECT_EQ(a->version.rfind("ensemble@", 0), 0u);
  EXPECT_TRUE(a->same_as(*b));
  EXPECT_FALSE(a->same_as(*c));
  EXPECT_EQ(b->text, "ensemble:rest=30");
  auto unknown = choose_detector("ensembel");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("no detector named 'ensembel'"), std::string::npos);
  auto param = choose_detector("cusum:kk=1");
  ASSERT_FALSE(param);
  EXPECT_NE(param.error().message.find("cusum: no parameter 'kk'"), std::string::npos);
  auto range = choose_detector("cusum:k=-1");
  ASSERT_TRUE(range);  // parsed; its value is checked by building it
  auto built = check_buildable(*range);
  ASSERT_FALSE(built);
  EXPECT_NE(built.error().message.find("cusum: k=-1 is out of range"), std::string::npos)
      << built.error().message;
  EXPECT_FALSE(choose_detector("mahalanobis"));  // multivariate only
}

TEST(DetectorChoice, MultivariateCoversItsSignals) {
  const std::vector<std::string> ab = {"a", "b"}, ba = {"b", "a"}, abc = {"a", "b", "c"};
  auto x = choose_multivariate("mahalanobis", ab);
  ASSERT_TRUE(x) << x.error().message;
  EXPECT_FALSE(x->same_as(*choose_multivariate("mahalanobis", ba)));
  EXPECT_FALSE(x->same_as(*choose_multivariate("mahalanobis", abc)));
  EXPECT_TRUE(x->same_as(*choose_multivariate("mahalanobis:alpha=0.01", ab)));
  auto c = multivariate_config(*x, 2);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->signals, 2);
  auto not_mv = choose_multivariate("ensemble", ab);
  ASSERT_FALSE(not_mv);
  EXPECT_NE(not_mv.error().message.find("'ensemble' is not a multivariate detector"),
            std::string::npos);
  auto signals = choose_multivariate("mahalanobis:signals=3", ab);
  ASSERT_FALSE(signals);
  EXPECT_NE(signals.error().message.find("'signals' is the length"), std::string::npos);
  auto alpha = choose_multivariate("mahalanobis:alpha=0", ab);
  ASSERT_FALSE(alpha);
  EXPECT_NE(alpha.error().message.find("mahalanobis: alpha=0 is out of range"), std::string::npos);
}

TEST(DetectorSpecValidator, RefusesWhatCannotBeBuiltWithThePathAndTheParameter) {
  DetectorSpecValidator v;
  auto model = [](const std::string& detector, bool mv = false) {
    return *model::parse_device_model(testing::machine_model(detector, mv));
  };
  EXPECT_TRUE(v.check_model(model("ensemble")));
  EXPECT_TRUE(v.check_model(model("", true)));
  auto bad = v.check_model(model("ensemble:spatial_tolerance=11"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message.rfind("$.contents[0]['strata:detector']: telemetry 'temperature': "
                                      "ensemble: spatial_tolerance=11 is out of range",
                                      0),
            0u)
      << bad.error().message;
  auto m = model("", true);
  m.multivariate->detector = "mahalanobis:z_half=0";
  auto mv = v.check_model(m);
  ASSERT_FALSE(mv);
  EXPECT_EQ(mv.error().message.rfind("$['strata:multivariate'].detector: mahalanobis: z_half=0", 0),
            0u)
      << mv.error().message;

  model::Device d;
  d.id = "m-1";
  d.model_id = "dtmi:test:machine;1";
  d.detectors = {{"temperature", "off"}, {"current", "baseline:alpha=0.2"}};
  EXPECT_TRUE(v.check_device(d, model("")));
  d.detectors = {{"current", "baseline:alpha=2"}};
  auto range = v.check_device(d, model(""));
  ASSERT_FALSE(range);
  EXPECT_EQ(
      range.error().message.rfind("$.detectors.current: baseline: alpha=2 is out of range", 0), 0u)
      << range.error().message;
  d.detectors = {{"pressure", "ensemble"}};
  auto missing = v.check_device(d, model(""));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message,
            "$.detectors.pressure: model dtmi:test:machine;1 has no telemetry 'pressure'");
  d.detectors = {{"odd name", "ensemble"}};
  EXPECT_EQ(v.check_device(d, model("")).error().message.rfind("$.detectors['odd name']: ", 0), 0u);
}

TEST(DetectorText, TheDeviceWinsOverTheModel) {
  auto m = model::parse_device_model(testing::machine_model("ensemble", true));
  ASSERT_TRUE(m);
  pipeline::DeviceContext ctx;
  ctx.device.id = "m-1";
  ctx.model = std::make_shared<const model::CompiledModel>(*model::CompiledModel::create(*m));
  EXPECT_EQ(detector_text(ctx, "temperature"), "ensemble");
  EXPECT_FALSE(detector_text(ctx, "current"));
  EXPECT_FALSE(detector_text(ctx, "nope"));
  EXPECT_TRUE(is_signal(ctx, "current"));
  EXPECT_FALSE(is_signal(ctx, "note"));
  ctx.device.detectors = {{"current", "cusum"}, {"temperature", "off"}};
  EXPECT_FALSE(detector_text(ctx, "temperature"));
  EXPECT_EQ(detector_text(ctx, "current"), "cusum");
}

}  // namespace
}  // namespace strata::detect
