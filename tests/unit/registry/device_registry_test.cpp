#include "registry/device_registry.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "test_plant.hpp"

namespace strata::registry {
namespace {

class DeviceRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("registry-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    reopen();
  }
  void TearDown() override {
    reg_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void reopen() {
    reg_.reset();
    db_.reset();
    auto db = meta::Database::open(dir_ / "entities.db");
    ASSERT_TRUE(db);
    db_ = std::move(*db);
    auto r = DeviceRegistry::create(*db_, clock_);
    ASSERT_TRUE(r) << r.error().message;
    reg_ = std::move(*r);
  }
  model::DeviceModel compressor() {
    auto m = model::parse_device_model(testing::kCompressorModel);
    EXPECT_TRUE(m) << m.error().message;
    return *m;
  }
  model::Device device(std::string id) {
    model::Device d;
    d.id = std::move(id);
    d.model_id = "dtmi:test:compressor;1";
    d.site = "plant-a";
    return d;
  }
  std::filesystem::path dir_;
  SimulatedClock clock_{1'700'000'000'000'000};
  std::unique_ptr<meta::Database> db_;
  std::unique_ptr<DeviceRegistry> reg_;
};

TEST_F(DeviceRegistryTest, DevicesAuthenticateByTokenAcrossRestartsUntilRotated) {
  ASSERT_TRUE(reg_->add_model(compressor()));
  auto d = reg_->add_device(device("cmp-1"));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->token.rfind("dvt_", 0), 0u);
  ASSERT_TRUE(reg_->by_token(d->token));
  EXPECT_EQ(reg_->by_token(d->token)->device_id, "cmp-1");
  reopen();
  ASSERT_TRUE(reg_->by_token(d->token));
  auto ctx = reg_->device("cmp-1");
  ASSERT_TRUE(ctx);
  ASSERT_TRUE(ctx->model);
  EXPECT_EQ(ctx->model->model_id(), "dtmi:test:compressor;1");
  EXPECT_EQ(ctx->device.site, "plant-a");
  auto fresh = reg_->rotate_token("cmp-1");
  ASSERT_TRUE(fresh);
  EXPECT_FALSE(reg_->by_token(d->token));
  EXPECT_EQ(reg_->by_token(*fresh)->device_id, "cmp-1");
  reopen();
  EXPECT_FALSE(reg_->by_token(d->token));
  EXPECT_TRUE(reg_->by_token(*fresh));
}

TEST_F(DeviceRegistryTest, SecretsAreCheckedAgainstArgon2Hashes) {
  ASSERT_TRUE(reg_->add_model(compressor()));
  ASSERT_TRUE(reg_->add_device(device("cmp-1")));
  EXPECT_FALSE(reg_->by_secret("cmp-1", "anything"));  // no secret set: no password login
  EXPECT_FALSE(reg_->set_secret("cmp-1", "short"));
  ASSERT_TRUE(reg_->set_secret("cmp-1", "long enough secret"));
  EXPECT_TRUE(reg_->by_secret("cmp-1", "long enough secret"));
  EXPECT_FALSE(reg_->by_secret("cmp-1", "long enough secreT"));
  EXPECT_FALSE(reg_->by_secret("cmp-2", "long enough secret"));
}

TEST_F(DeviceRegistryTest, RefusesWhatWouldBreakTheRegistry) {
  auto no_model = reg_->add_device(device("cmp-1"));
  ASSERT_FALSE(no_model);
  EXPECT_TRUE(no_model.error().is(errc::invalid));
  EXPECT_NE(no_model.error().message.find("POST it to /api/v1/models first"), std::string::npos);
  ASSERT_TRUE(reg_->add_model(compressor()));
  EXPECT_TRUE(reg_->add_model(compressor()).error().is(errc::conflict));
  ASSERT_TRUE(reg_->add_device(device("cmp-1")));
  EXPECT_TRUE(reg_->add_device(device("cmp-1")).error().is(errc::conflict));
  // A batch with one duplicate creates none of its devices.
  auto batch = reg_->add_devices({device("cmp-2"), device("cmp-1")});
  ASSERT_FALSE(batch);
  EXPECT_FALSE(reg_->device_by_id("cmp-2"));
  auto in_use = reg_->remove_model("dtmi:test:compressor;1");
  ASSERT_FALSE(in_use);
  EXPECT_TRUE(in_use.error().is(errc::in_use));
  ASSERT_TRUE(reg_->remove_device("cmp-1"));
  EXPECT_TRUE(reg_->remove_model("dtmi:test:compressor;1"));
  EXPECT_TRUE(reg_->remove_device("cmp-1").error().is(errc::not_found));
}

TEST_F(DeviceRegistryTest, ReplacingAModelRecompilesItsDevicesAndNotifies) {
  ASSERT_TRUE(reg_->add_model(compressor()));
  ASSERT_TRUE(reg_->add_device(device("cmp-1")));
  std::vector<std::string> changed;
  reg_->on_device_change(
      [&](const std::string& id, const model::Device*) { changed.push_back(id); });
  auto before = reg_->device("cmp-1");
  auto m = compressor();
  m.telemetry.pop_back();  // drop "firmware"
  ASSERT_TRUE(reg_->replace_model(m));
  auto after = reg_->device("cmp-1");
  EXPECT_NE(before, after);
  EXPECT_TRUE(before->model->find("firmware"));
  EXPECT_FALSE(after->model->find("firmware"));
  EXPECT_EQ(changed, std::vector<std::string>{"cmp-1"});
  reopen();
  EXPECT_FALSE(reg_->device("cmp-1")->model->find("firmware"));
}

}  // namespace
}  // namespace strata::registry

namespace strata::registry {
namespace {

// A check that refuses models whose first telemetry is called "forbidden" and devices with a
// detector override other than "off" (what the detection stage's check does, in miniature).
class PickyValidator final : public DocumentValidator {
 public:
  Status check_model(const model::DeviceModel& m) const override {
    if (!m.telemetry.empty() && m.telemetry[0].name == "forbidden")
      return Error{1, m.telemetry_path(0) + ".name: not allowed here"};
    return {};
  }
  Status check_device(const model::Device& d, const model::DeviceModel& m) const override {
    for (const auto& [metric, spec] : d.detectors) {
      if (spec != "off") return Error{1, "$.detectors." + metric + ": only off"};
      if (!m.find_telemetry(metric)) return Error{1, "$.detectors." + metric + ": no such metric"};
    }
    return {};
  }
};

TEST_F(DeviceRegistryTest, ValidatorsRefuseModelsAndDevicesBeforeTheyAreWritten) {
  PickyValidator v;
  reg_->add_validator(&v);
  ASSERT_TRUE(reg_->add_model(compressor()));
  auto m = compressor();
  m.id = "dtmi:test:other;1";
  m.telemetry[0].name = "forbidden";
  auto refused = reg_->add_model(m);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().is(errc::invalid));
  EXPECT_EQ(refused.error().message, "$.contents[0].name: not allowed here");
  EXPECT_EQ(reg_->model("dtmi:test:other;1"), nullptr);

  auto d = device("cmp-1");
  d.detectors = {{"discharge_temperature", "ensemble"}};
  auto bad = reg_->add_device(d);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "$.detectors.discharge_temperature: only off");
  EXPECT_FALSE(reg_->device_by_id("cmp-1"));
  // In an import, the message names the element.
  auto ok = device("cmp-0");
  auto many = reg_->add_devices({ok, d});
  ASSERT_FALSE(many);
  EXPECT_EQ(many.error().message, "$[1].detectors.discharge_temperature: only off");
  EXPECT_FALSE(reg_->device_by_id("cmp-0"));  // all or none

  d.detectors = {{"discharge_temperature", "off"}};
  ASSERT_TRUE(reg_->add_device(d));
  d.detectors = {{"discharge_temperature", "cusum"}};
  auto upd = reg_->update_device(d);
  ASSERT_FALSE(upd);
  EXPECT_EQ(upd.error().message, "$.detectors.discharge_temperature: only off");
  EXPECT_EQ(reg_->device_by_id("cmp-1")->detectors[0].second, "off");

  // A model replaced must still suit the overrides of the devices following it.
  auto without = compressor();
  without.telemetry.erase(without.telemetry.begin());  // discharge_temperature
  auto rep = reg_->replace_model(without);
  ASSERT_FALSE(rep);
  EXPECT_EQ(rep.error().message,
            "device 'cmp-1' follows this model: $.detectors.discharge_temperature: no such metric");
}

}  // namespace
}  // namespace strata::registry
