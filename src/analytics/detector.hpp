#pragma once
// The plug point of streaming anomaly detection: a detector is anything that satisfies the
// `Detector` concept below (a compile-time plug point on the hot path, no virtual calls). Every
// detector of this module:
//
// - scores each point as it arrives, from the past only (causal), in O(1) or O(window) time;
// - holds bounded memory per series, fixed by its configuration (`memory_bytes()`);
// - is built by `create(config)`, which refuses a bad configuration with a message naming the
//   parameter, its value and the allowed range;
// - saves its whole state (configuration included) as bytes and is rebuilt from them by
//   `restore(bytes)`; a restored detector gives bit-identical scores to the one that was saved.
//
// State bytes (little-endian), the same frame for every detector:
//
//   offset  size  field
//   0       4     magic "SDET"
//   4       1     format version (1)
//   5       1     detector kind (DetectorKind)
//   6       2     reserved, 0
//   8       4     body length B (u32)
//   12      B     body: the configuration's fields, then the state's, in the detector's order;
//                 f64 as IEEE-754 bits, integers as u64/u32/u8, arrays as u32 count + elements
//   12+B    4     CRC-32C of bytes [0, 12+B)
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"

namespace strata::analytics {

// Why a detector could not be built or restored.
enum class errc { bad_config = 1, bad_state, unknown_detector };

// What a detector says about one point.
struct Assessment {
  double score = 0;     // anomaly score in [0, 1]: what thresholds and events use
  double expected = 0;  // the value the detector expected here
  double band = 0;      // half-width of the normal band around `expected`, in the value's units
  // What decided `score`, for an event's explanation: the deciding part of a composite detector
  // and that part's score before the anomaly likelihood calibrated it.
  double raw_score = 0;
  std::string_view driver;

  // The assessment of a detector without parts: its score is its raw score, and no part drove it.
  static Assessment plain(double score, double expected, double band) {
    return {score, expected, band, score, {}};
  }
};

// Which detector a state frame holds.
enum class DetectorKind : std::uint8_t {
  robust_baseline = 1,
  holt_winters = 2,
  spectral_residual = 3,
  random_cut_forest = 4,
  contextual = 5,
  change_point = 6,
  likelihood = 7,
  ensemble = 8,
  multivariate = 9,
  mean_shift = 10,
  rank_context = 11,
};

// Appends a detector's state frame (layout above) to a byte vector.
class StateWriter {
 public:
  StateWriter(std::vector<std::uint8_t>& out, DetectorKind kind);
  void field(double v) { put(&v, 8); }
  void field(float v) { put(&v, 4); }
  void field(std::uint64_t v) { put(&v, 8); }
  void field(std::int64_t v) { put(&v, 8); }
  void field(std::uint32_t v) { put(&v, 4); }
  void field(std::int32_t v) { put(&v, 4); }
  void field(std::uint16_t v) { put(&v, 2); }
  void field(std::uint8_t v) { put(&v, 1); }
  void field(bool v) { field(static_cast<std::uint8_t>(v)); }
  template <class T>
  void array(const std::vector<T>& v, std::size_t /*size*/) {
    field(static_cast<std::uint32_t>(v.size()));
    for (const T& x : v) field(x);
  }
  template <class T>
  void array_up_to(const std::vector<T>& v, std::size_t max) {
    array(v, max);
  }
  // Closes the frame: body length and CRC.
  void finish();

 private:
  void put(const void* p, std::size_t n);
  std::vector<std::uint8_t>& out_;
  std::size_t start_;
};

// Reads a state frame back; any short, corrupt or foreign frame makes status() an error and every
// later read a no-op, so a detector's visit() needs no checks of its own.
class StateReader {
 public:
  StateReader(std::span<const std::uint8_t> bytes, DetectorKind kind);
  void field(double& v) {
    get(&v, 8);
    if (!std::isfinite(v))
      fail("detector state holds a non-finite number: the checkpoint is corrupt");
  }
  void field(float& v) {
    get(&v, 4);
    if (!std::isfinite(v))
      fail("detector state holds a non-finite number: the checkpoint is corrupt");
  }
  void field(std::uint64_t& v) { get(&v, 8); }
  void field(std::int64_t& v) { get(&v, 8); }
  void field(std::uint32_t& v) { get(&v, 4); }
  void field(std::int32_t& v) { get(&v, 4); }
  void field(std::uint16_t& v) { get(&v, 2); }
  void field(std::uint8_t& v) { get(&v, 1); }
  void field(bool& v) {
    std::uint8_t b = 0;
    get(&b, 1);
    v = b != 0;
  }
  // An array of exactly `size` elements (what the configuration makes).
  template <class T>
  void array(std::vector<T>& v, std::size_t size) {
    read_array(v, size, true);
  }
  // An array of at most `max` elements.
  template <class T>
  void array_up_to(std::vector<T>& v, std::size_t max) {
    read_array(v, max, false);
  }
  [[nodiscard]] bool ok() const { return error_.empty(); }
  // The frame's error, if any.
  [[nodiscard]] Status status() const;
  // status(), and an error too when body bytes are left unread.
  [[nodiscard]] Status finish() const;
  void fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
  }

 private:
  template <class T>
  void read_array(std::vector<T>& v, std::size_t limit, bool exact) {
    std::uint32_t n = 0;
    field(n);
    if (exact ? n != limit : n > limit)
      return fail("an array holds " + std::to_string(n) + " elements, " +
                  (exact ? "the configuration makes " : "at most ") + std::to_string(limit) +
                  ": the checkpoint does not match its configuration");
    if (!ok()) return;
    v.assign(n, T{});
    for (T& x : v) field(x);
  }
  void get(void* p, std::size_t n);
  std::span<const std::uint8_t> body_;
  std::size_t pos_ = 0;
  std::string error_;
};

// A configuration parameter as a user sets it: `name=value`.
struct Param {
  std::string name;
  double value = 0;
};

// Sets the field called `name` of a configuration whose fields are listed by
// `config.each(f)` (f(name, field&)); errc::bad_config naming the known fields otherwise.
template <class Config>
Status set_param(Config& config, std::string_view detector, const Param& p) {
  bool found = false;
  std::string known;
  config.each([&](std::string_view name, auto& field) {
    if (!known.empty()) known += ", ";
    known += name;
    if (name != p.name) return;
    found = true;
    field = static_cast<std::remove_reference_t<decltype(field)>>(p.value);
  });
  if (!found)
    return Error::of(errc::bad_config, std::string(detector) + ": no parameter '" + p.name +
                                           "' (known: " + known + ")");
  return {};
}

// A refusal for a parameter outside its range.
inline Error bad_param(std::string_view detector, std::string_view name, double value,
                       std::string_view allowed) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", value);
  return Error::of(errc::bad_config, std::string(detector) + ": " + std::string(name) + "=" + buf +
                                         " is out of range; " + std::string(allowed));
}

// Whether two configurations hold the same values (a composite's restored parts must carry the
// configuration the composite was validated with).
template <class Config>
bool same_config(Config a, Config b) {
  std::vector<double> x, y;
  a.each([&](std::string_view, auto& v) { x.push_back(static_cast<double>(v)); });
  b.each([&](std::string_view, auto& v) { y.push_back(static_cast<double>(v)); });
  return x == y;
}

// The hot-path plug point: a streaming, checkpointable scorer of one series.
template <class D>
concept Detector = requires(D& d, const D& cd, Timestamp ts, double v,
                            std::vector<std::uint8_t>& out, std::span<const std::uint8_t> in,
                            const typename D::Config& config) {
  { D::kName } -> std::convertible_to<std::string_view>;
  { D::create(config) } -> std::same_as<Result<D>>;
  { d.update(ts, v) } -> std::same_as<Assessment>;
  { cd.save(out) } -> std::same_as<void>;
  { D::restore(in) } -> std::same_as<Result<D>>;
  { cd.config() } -> std::same_as<const typename D::Config&>;
  { cd.memory_bytes() } -> std::same_as<std::size_t>;
};

// save() and restore() of a detector whose configuration and state are listed by one
// `template <class Io> void visit(Io&)` (fields in order) and that is rebuilt from its
// configuration by create().
template <class D>
void save_state(const D& d, std::vector<std::uint8_t>& out) {
  StateWriter w(out, D::kKind);
  const_cast<D&>(d).visit(w);  // the writer only reads the fields
  w.finish();
}

template <class D>
Result<D> restore_state(std::span<const std::uint8_t> bytes) {
  StateReader r(bytes, D::kKind);
  typename D::Config config;
  config.each([&](std::string_view, auto& f) { r.field(f); });
  if (auto s = r.status(); !s) return s.error();
  auto d = D::create(config);
  if (!d)
    return Error::of(errc::bad_state, "state of " + std::string(D::kName) +
                                          " holds a bad configuration: " + d.error().message);
  StateReader again(bytes, D::kKind);
  d->visit(again);
  if (auto s = again.finish(); !s) return s.error();
  if constexpr (requires { d->state_valid(); }) {
    if (!d->state_valid())
      return Error::of(errc::bad_state, "state of " + std::string(D::kName) +
                                            " is inconsistent (an index or a structure out of "
                                            "range): the checkpoint is corrupt");
  }
  return d;
}

}  // namespace strata::analytics
