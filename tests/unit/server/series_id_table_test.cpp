// Tests of server/series_id_table: every inserted key is found with its id across growth, keys
// sharing a prefix or differing only in their last byte are told apart, a key whose hash collides
// in the slot index probes on, absent keys are absent, clear() forgets everything.
#include "server/series_id_table.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strata::server {
namespace {

std::string key_of(int i) {
  return "synthetic,device=dev-" + std::to_string(i) + ",site=a" + std::string(1, '\0') + "value";
}

TEST(SeriesIdTable, EveryKeyIsFoundWithItsIdAcrossGrowth) {
  SeriesIdTable t;
  for (int i = 0; i < 5000; ++i) {
    const std::string k = key_of(i);
    ASSERT_FALSE(t.find(k, SeriesIdTable::hash(k))) << i;
    t.insert(k, SeriesIdTable::hash(k), static_cast<SeriesId>(i * 7));
  }
  for (int i = 0; i < 5000; ++i) {
    const std::string k = key_of(i);
    const auto id = t.find(k, SeriesIdTable::hash(k));
    ASSERT_TRUE(id) << i;
    EXPECT_EQ(*id, static_cast<SeriesId>(i * 7));
  }
  EXPECT_FALSE(t.find(key_of(5000), SeriesIdTable::hash(key_of(5000))));
}

TEST(SeriesIdTable, NearKeysAndEqualHashesAreToldApart) {
  // Keys of every length up to 20 that differ only in their last byte hash differently.
  for (std::size_t n = 1; n <= 20; ++n) {
    std::string a(n, 'x'), b(n, 'x');
    b.back() = 'y';
    EXPECT_NE(SeriesIdTable::hash(a), SeriesIdTable::hash(b)) << n;
    EXPECT_NE(SeriesIdTable::hash(a), SeriesIdTable::hash(a + '\0')) << n;
  }
  // Two keys given the same hash: the second probes to the next slot, each finds its own id.
  SeriesIdTable t;
  t.insert("a", 42, 1);
  t.insert("b", 42, 2);
  EXPECT_EQ(t.find("a", 42), std::optional<SeriesId>(1));
  EXPECT_EQ(t.find("b", 42), std::optional<SeriesId>(2));
  EXPECT_FALSE(t.find("c", 42));
  t.clear();
  EXPECT_FALSE(t.find("a", 42));
}

}  // namespace
}  // namespace strata::server
