#pragma once
// SeriesKey: what names a series everywhere — (device, metric) plus tags. The registry in store/
// maps it to a dense SeriesId. Tags are kept sorted by key so that equal keys compare equal.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace strata {

struct SeriesKey {
  std::string device;
  std::string metric;
  std::vector<std::pair<std::string, std::string>> tags;  // sorted by key, keys unique

  // Sorts tags by key; a later duplicate key replaces an earlier one.
  void normalise() {
    std::stable_sort(tags.begin(), tags.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::pair<std::string, std::string>> out;
    for (auto& t : tags) {
      if (!out.empty() && out.back().first == t.first)
        out.back().second = std::move(t.second);
      else
        out.push_back(std::move(t));
    }
    tags = std::move(out);
  }
  [[nodiscard]] const std::string* tag(const std::string& key) const {
    for (const auto& [k, v] : tags)
      if (k == key) return &v;
    return nullptr;
  }
  // "device/metric{k=v,k2=v2}": how a series is shown to people.
  [[nodiscard]] std::string to_string() const {
    std::string s = device + "/" + metric;
    if (!tags.empty()) {
      s += '{';
      for (std::size_t i = 0; i < tags.size(); ++i) {
        if (i) s += ',';
        s += tags[i].first + "=" + tags[i].second;
      }
      s += '}';
    }
    return s;
  }
  friend bool operator==(const SeriesKey&, const SeriesKey&) = default;
};

}  // namespace strata
