#pragma once
// RandomCutForest: robust random cut forests (Guha et al., ICML 2016), the detector behind AWS's
// streaming anomaly detection. Points are shingles — the last `shingle` values as one vector — and
// every tree holds the last `samples` shingles. A tree is built by random cuts: a dimension chosen
// in proportion to the bounding box's extent along it, a value uniform within it. Inserting a point
// descends from the root, drawing a cut on the box grown by the point; where the cut separates the
// point from a subtree, a new branch is placed there (so the tree is distributed as if built from
// scratch). The oldest shingle is deleted from every tree first (its sibling takes its parent's
// place). The score of a point is its collusive displacement (CoDisp): along the path from its leaf
// to the root, the largest ratio of the sibling subtree's size to its own side's — how many points
// would move up if it were removed — averaged over the trees and scored c/(c + c_half).
// Cost: O(trees · depth · shingle) per point, ~log2(samples) deep; memory
// trees · 2·samples · (24 + 16·shingle) bytes plus the shingles (≈ 0.5 MiB with the defaults), so
// it is a detector for the series that deserve it, not the default.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include "analytics/detector.hpp"
#include "analytics/stats.hpp"

namespace strata::analytics {

class RandomCutForest {
 public:
  static constexpr std::string_view kName = "rcf";
  static constexpr DetectorKind kKind = DetectorKind::random_cut_forest;

  // Tuning of RandomCutForest.
  struct Config {
    double trees = 30;     // trees in the forest, 1..256
    double samples = 128;  // shingles each tree holds (the window), 8..4096
    double shingle = 4;    // values a point is made of, 1..32
    double c_half = 16;    // CoDisp that scores 0.5, > 0
    double seed = 1;       // of the cuts' random numbers, a whole number
    template <class F>
    void each(F&& f) {
      f("trees", trees);
      f("samples", samples);
      f("shingle", shingle);
      f("c_half", c_half);
      f("seed", seed);
    }
  };

  [[nodiscard]] static Status validate(const Config& c) {
    auto whole = [](double v, double lo, double hi) {
      return v >= lo && v <= hi && v == std::floor(v);
    };
    if (!whole(c.trees, 1, 256)) return bad_param(kName, "trees", c.trees, "use 1..256 trees");
    if (!whole(c.samples, 8, 4096))
      return bad_param(kName, "samples", c.samples, "use 8..4096 points a tree");
    if (!whole(c.shingle, 1, 32))
      return bad_param(kName, "shingle", c.shingle, "use 1..32 values a point");
    if (!(c.c_half > 0)) return bad_param(kName, "c_half", c.c_half, "use a positive CoDisp");
    if (!whole(c.seed, 0, 9007199254740992.0))
      return bad_param(kName, "seed", c.seed, "use a whole number >= 0");
    return {};
  }

  [[nodiscard]] static Result<RandomCutForest> create(const Config& c) {
    if (auto s = validate(c); !s) return s.error();
    RandomCutForest f;
    f.config_ = c;
    f.dim_ = static_cast<std::size_t>(c.shingle);
    f.cap_ = static_cast<std::size_t>(c.samples);
    f.rng_ = static_cast<std::uint64_t>(c.seed) * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    f.recent_.assign(f.dim_, 0.0);
    f.points_.assign(f.cap_ * f.dim_, 0.0);
    f.trees_.resize(static_cast<std::size_t>(c.trees));
    for (auto& t : f.trees_) t.init(f.cap_, f.dim_);
    return f;
  }

  Assessment update(Timestamp, double x) {
    recent_[seen_ % dim_] = x;
    ++seen_;
    if (seen_ < dim_) return Assessment::plain(0.0, x, 0.0);
    const std::size_t slot = stored_ % cap_;
    if (stored_ >= cap_)
      for (auto& t : trees_) t.remove(slot, dim_);
    for (std::size_t k = 0; k < dim_; ++k) points_[slot * dim_ + k] = recent_[(seen_ + k) % dim_];
    ++stored_;
    double codisp = 0;
    for (auto& t : trees_) {
      t.insert(slot, points_, dim_, rng_);
      codisp += t.codisp(slot);
    }
    codisp /= static_cast<double>(trees_.size());
    const double score = stored_ < cap_ / 4 ? 0.0 : ratio_score(codisp, config_.c_half);
    return Assessment::plain(score, x, 0.0);
  }

  void save(std::vector<std::uint8_t>& out) const { save_state(*this, out); }
  [[nodiscard]] static Result<RandomCutForest> restore(std::span<const std::uint8_t> in) {
    return restore_state<RandomCutForest>(in);
  }
  [[nodiscard]] const Config& config() const { return config_; }
  // Whether restored state is usable: every tree a consistent tree over exactly the stored slots.
  [[nodiscard]] bool state_valid() const {
    if (recent_.size() != dim_ || points_.size() != cap_ * dim_) return false;
    const std::size_t filled = std::min<std::uint64_t>(stored_, cap_);
    for (const auto& t : trees_)
      if (!t.valid(cap_, dim_, filled)) return false;
    return true;
  }
  [[nodiscard]] std::size_t memory_bytes() const {
    std::size_t n = sizeof(*this) + (recent_.capacity() + points_.capacity()) * sizeof(double);
    for (const auto& t : trees_) n += t.memory_bytes();
    return n;
  }

  template <class Io>
  void visit(Io& io) {
    config_.each([&](std::string_view, auto& f) { io.field(f); });
    io.field(seen_);
    io.field(stored_);
    io.field(rng_);
    io.array(recent_, dim_);
    io.array(points_, cap_ * dim_);
    for (auto& t : trees_) t.visit(io, cap_, dim_);
  }

 private:
  // One robust random cut tree over slots of the shared point ring; nodes in parallel arrays.
  struct Tree {
    std::int32_t root = -1;
    std::vector<std::int32_t> left, right, parent;  // leaf: left = −1, right = its point slot
    std::vector<std::int32_t> leaf_of;              // slot → leaf node
    std::vector<std::uint32_t> count;               // points below (a leaf: its duplicates)
    std::vector<std::uint32_t> cut_dim;
    std::vector<double> cut;
    std::vector<double> lo, hi;      // bounding box, dim a node
    std::vector<std::int32_t> free;  // unused node ids

    void init(std::size_t cap, std::size_t dim) {
      const std::size_t nodes = 2 * cap;
      left.assign(nodes, -1);
      right.assign(nodes, -1);
      parent.assign(nodes, -1);
      leaf_of.assign(cap, -1);
      count.assign(nodes, 0);
      cut_dim.assign(nodes, 0);
      cut.assign(nodes, 0.0);
      lo.assign(nodes * dim, 0.0);
      hi.assign(nodes * dim, 0.0);
      free.clear();
      for (std::size_t i = nodes; i-- > 0;) free.push_back(static_cast<std::int32_t>(i));
    }

    std::int32_t take() {
      const std::int32_t id = free.back();
      free.pop_back();
      return id;
    }

    std::int32_t new_leaf(std::size_t slot, const std::vector<double>& pts, std::size_t dim) {
      const std::int32_t id = take();
      left[id] = -1;
      right[id] = static_cast<std::int32_t>(slot);
      count[id] = 1;
      for (std::size_t k = 0; k < dim; ++k)
        lo[id * dim + k] = hi[id * dim + k] = pts[slot * dim + k];
      leaf_of[slot] = id;
      return id;
    }

    static double uniform(std::uint64_t& s) {
      s ^= s << 7;
      s ^= s >> 9;
      return static_cast<double>(s >> 11) * 0x1.0p-53;
    }

    void insert(std::size_t slot, const std::vector<double>& pts, std::size_t dim,
                std::uint64_t& rng) {
      const double* p = &pts[slot * dim];
      if (root < 0) {
        root = new_leaf(slot, pts, dim);
        parent[root] = -1;
        return;
      }
      std::int32_t node = root;
      while (true) {
        const double* nlo = &lo[node * dim];
        const double* nhi = &hi[node * dim];
        double total = 0;
        for (std::size_t k = 0; k < dim; ++k)
          total += std::max(nhi[k], p[k]) - std::min(nlo[k], p[k]);
        if (total == 0) {        // the same point as this leaf: count it there (the ancestors
          leaf_of[slot] = node;  // were counted on the way down)
          ++count[node];
          return;
        }
        double r = uniform(rng) * total;
        std::size_t d = 0;
        double v = 0;
        for (std::size_t k = 0; k < dim; ++k) {
          const double l = std::min(nlo[k], p[k]);
          const double span = std::max(nhi[k], p[k]) - l;
          if (span <= 0) continue;
          d = k;
          v = l + r;
          if (r < span) break;
          r -= span;
        }
        bool left_of = p[d] <= v && v < nlo[d];
        bool right_of = nhi[d] <= v && v < p[d];
        if (!left_of && !right_of && left[node] < 0) {
          // Rounding put the cut at the box's edge; a leaf is always separable along d.
          left_of = p[d] < nlo[d];
          right_of = !left_of;
          v = std::min(p[d], nlo[d]);
        }
        if (left_of || right_of) {
          const std::int32_t leaf = new_leaf(slot, pts, dim);
          const std::int32_t b = take();
          const std::int32_t up = parent[node];
          cut_dim[b] = static_cast<std::uint32_t>(d);
          cut[b] = v;
          left[b] = left_of ? leaf : node;
          right[b] = left_of ? node : leaf;
          count[b] = count[node] + 1;
          for (std::size_t k = 0; k < dim; ++k) {
            lo[b * dim + k] = std::min(nlo[k], p[k]);
            hi[b * dim + k] = std::max(nhi[k], p[k]);
          }
          parent[b] = up;
          parent[node] = b;
          parent[leaf] = b;
          if (up < 0)
            root = b;
          else if (left[up] == node)
            left[up] = b;
          else
            right[up] = b;
          return;
        }
        // Not separated here: the point joins this subtree.
        for (std::size_t k = 0; k < dim; ++k) {
          lo[node * dim + k] = std::min(nlo[k], p[k]);
          hi[node * dim + k] = std::max(nhi[k], p[k]);
        }
        ++count[node];
        node = p[cut_dim[node]] <= cut[node] ? left[node] : right[node];
      }
    }

    void remove(std::size_t slot, std::size_t dim) {
      const std::int32_t leaf = leaf_of[slot];
      leaf_of[slot] = -1;
      if (count[leaf] > 1) {  // a duplicate goes; the leaf stays
        for (std::int32_t a = leaf; a >= 0; a = parent[a]) --count[a];
        return;
      }
      const std::int32_t up = parent[leaf];
      free.push_back(leaf);
      if (up < 0) {
        root = -1;
        return;
      }
      const std::int32_t sib = left[up] == leaf ? right[up] : left[up];
      const std::int32_t g = parent[up];
      parent[sib] = g;
      free.push_back(up);
      if (g < 0) {
        root = sib;
        return;
      }
      if (left[g] == up)
        left[g] = sib;
      else
        right[g] = sib;
      for (std::int32_t a = g; a >= 0; a = parent[a]) {
        --count[a];
        for (std::size_t k = 0; k < dim; ++k) {
          lo[a * dim + k] = std::min(lo[left[a] * dim + k], lo[right[a] * dim + k]);
          hi[a * dim + k] = std::max(hi[left[a] * dim + k], hi[right[a] * dim + k]);
        }
      }
    }

    [[nodiscard]] double codisp(std::size_t slot) const {
      double best = 0;
      for (std::int32_t node = leaf_of[slot]; parent[node] >= 0; node = parent[node]) {
        const std::int32_t up = parent[node];
        const std::int32_t sib = left[up] == node ? right[up] : left[up];
        best = std::max(best, static_cast<double>(count[sib]) / count[node]);
      }
      return best;
    }

    [[nodiscard]] bool valid(std::size_t cap, std::size_t dim, std::size_t filled) const {
      const std::size_t nodes = 2 * cap;
      if (left.size() != nodes || right.size() != nodes || parent.size() != nodes ||
          count.size() != nodes || cut_dim.size() != nodes || cut.size() != nodes ||
          lo.size() != nodes * dim || hi.size() != nodes * dim || leaf_of.size() != cap)
        return false;
      auto in = [&](std::int32_t i) { return i >= 0 && static_cast<std::size_t>(i) < nodes; };
      std::vector<char> seen(nodes, 0);
      std::vector<std::uint32_t> slots(nodes, 0);
      for (std::size_t s = 0; s < cap; ++s) {
        if (s >= filled) {
          if (leaf_of[s] != -1) return false;
          continue;
        }
        if (!in(leaf_of[s])) return false;
        ++slots[leaf_of[s]];
      }
      std::size_t reached = 0;
      if (root != -1) {
        if (!in(root) || parent[root] != -1) return false;
        std::vector<std::int32_t> stack{root};
        while (!stack.empty()) {
          const std::int32_t n = stack.back();
          stack.pop_back();
          if (seen[n]) return false;
          seen[n] = 1;
          ++reached;
          if (left[n] < 0) {
            if (count[n] == 0 || count[n] != slots[n]) return false;
            continue;
          }
          if (!in(left[n]) || !in(right[n]) || left[n] == right[n] || parent[left[n]] != n ||
              parent[right[n]] != n || cut_dim[n] >= dim)
            return false;
          stack.push_back(left[n]);
          stack.push_back(right[n]);
        }
        for (std::size_t n = 0; n < nodes; ++n)
          if (seen[n] && left[n] >= 0 &&
              count[n] != static_cast<std::uint64_t>(count[left[n]]) + count[right[n]])
            return false;
      } else if (filled != 0) {
        return false;
      }
      for (std::size_t n = 0; n < nodes; ++n)
        if (slots[n] != 0 && (!seen[n] || left[n] >= 0)) return false;  // a slot names a leaf
      for (std::int32_t f : free) {
        if (!in(f) || seen[f]) return false;
        seen[f] = 1;
      }
      return reached + free.size() == nodes;
    }

    [[nodiscard]] std::size_t memory_bytes() const {
      return (left.capacity() + right.capacity() + parent.capacity() + leaf_of.capacity() +
              free.capacity()) *
                 sizeof(std::int32_t) +
             (count.capacity() + cut_dim.capacity()) * sizeof(std::uint32_t) +
             (cut.capacity() + lo.capacity() + hi.capacity()) * sizeof(double);
    }

    template <class Io>
    void visit(Io& io, std::size_t cap, std::size_t dim) {
      const std::size_t nodes = 2 * cap;
      io.field(root);
      io.array(left, nodes);
      io.array(right, nodes);
      io.array(parent, nodes);
      io.array(leaf_of, cap);
      io.array(count, nodes);
      io.array(cut_dim, nodes);
      io.array(cut, nodes);
      io.array(lo, nodes * dim);
      io.array(hi, nodes * dim);
      io.array_up_to(free, nodes);
    }
  };

  Config config_;
  std::size_t dim_ = 1, cap_ = 8;
  std::uint64_t seen_ = 0, stored_ = 0, rng_ = 1;
  std::vector<double> recent_;  // the last `shingle` values, a ring
  std::vector<double> points_;  // the window's shingles, `shingle` values each, a ring of slots
  std::vector<Tree> trees_;
};

}  // namespace strata::analytics
