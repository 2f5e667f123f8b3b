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
