#include "analytics/nab.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/time_format.hpp"

namespace strata::analytics::nab {

namespace {

namespace fs = std::filesystem;

Result<std::string> read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error::of(errc::io, "cannot open '" + path.string() + "': check the path (--data)");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Error::of(errc::io, "cannot read '" + path.string() + "'");
  return ss.str();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

// Splits a CSV text of plain cells (NAB's files quote nothing) into rows of cells.
std::vector<std::vector<std::string_view>> split_csv(std::string_view text) {
  std::vector<std::vector<std::string_view>> rows;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = trim(text.substr(pos, end - pos));
    pos = end + 1;
    if (line.empty()) continue;
    std::vector<std::string_view> cells;
    std::size_t c = 0;
    while (true) {
      const std::size_t comma = line.find(',', c);
      cells.push_back(
          trim(line.substr(c, comma == std::string_view::npos ? line.npos : comma - c)));
      if (comma == std::string_view::npos) break;
      c = comma + 1;
    }
    rows.push_back(std::move(cells));
  }
  return rows;
}

bool parse_number(std::string_view s, double& out) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(out);
}

Result<nlohmann::json> read_json(const fs::path& path) {
  auto text = read_text(path);
  if (!text) return text.error();
  try {
    return nlohmann::json::parse(*text);
  } catch (const std::exception& e) {
    return Error::of(errc::format, "'" + path.string() + "' is not valid JSON: " + e.what());
  }
}

// The row of the first timestamp equal to t (NAB's list.index); if none is equal, the first row
// after t (for a window's start) or the last row before it (for its end).
std::size_t row_of(const std::vector<Timestamp>& ts, Timestamp t, bool start) {
  for (std::size_t i = 0; i < ts.size(); ++i)
    if (ts[i] == t) return i;
  if (start) {
    for (std::size_t i = 0; i < ts.size(); ++i)
      if (ts[i] > t) return i;
    return ts.size();
  }
  for (std::size_t i = ts.size(); i-- > 0;)
    if (ts[i] < t) return i;
  return ts.size();
}

}  // namespace

std::size_t Corpus::window_count() const {
  std::size_t n = 0;
  for (const auto& f : files) n += f.windows.size();
  return n;
}

std::size_t Corpus::row_count() const {
  std::size_t n = 0;
  for (const auto& f : files) n += f.values.size();
  return n;
}

Result<Corpus> load_corpus(const fs::path& nab_dir) {
  const fs::path data = nab_dir / "data";
  std::error_code ec;
  if (!fs::is_directory(data, ec))
    return Error::of(errc::missing, "'" + data.string() +
                                        "' is not a directory: --data must name the NAB folder "
                                        "holding data/ and labels/");
  Corpus corpus;
  std::vector<fs::path> paths;
  for (const auto& cat : fs::directory_iterator(data, ec)) {
    if (!cat.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(cat.path(), ec))
      if (f.path().extension() == ".csv") paths.push_back(f.path());
  }
  if (ec) return Error::of(errc::io, "cannot list '" + data.string() + "': " + ec.message());
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) {
    auto text = read_text(p);
    if (!text) return text.error();
    DataFile file;
    file.name = p.parent_path().filename().string() + "/" + p.filename().string();
    const auto rows = split_csv(*text);
    for (std::size_t r = 1; r < rows.size(); ++r) {
      const auto& cells = rows[r];
      double v = 0;
      const auto t = cells.size() >= 2 ? parse_iso8601(cells[0]) : std::nullopt;
      if (!t || !parse_number(cells[1], v))
        return Error::of(errc::format, file.name + " line " + std::to_string(r + 1) +
                                           ": expected 'timestamp,value'");
      file.timestamp_text.emplace_back(cells[0]);
      file.timestamps.push_back(*t);
      file.values.push_back(v);
    }
    if (file.values.empty())
      return Error::of(errc::format, file.name + ": no data rows after the header");
    corpus.files.push_back(std::move(file));
  }
  if (corpus.files.empty())
    return Error::of(errc::missing, "'" + data.string() + "' holds no <category>/<file>.csv");

  const fs::path labels_path = nab_dir / "labels" / "combined_windows.json";
  auto labels = read_json(labels_path);
  if (!labels) return labels.error();
  for (auto& file : corpus.files) {
    const auto it = labels->find(file.name);
    if (it == labels->end() || !it->is_array())
      return Error::of(errc::format,
                       labels_path.string() + ": no window list for '" + file.name + "'");
    for (const auto& w : *it) {
      if (!w.is_array() || w.size() != 2 || !w[0].is_string() || !w[1].is_string())
        return Error::of(errc::format, labels_path.string() + ": a window of '" + file.name +
                                           "' is not [start, end]");
      const auto a = parse_iso8601(w[0].get<std::string>());
      const auto b = parse_iso8601(w[1].get<std::string>());
      if (!a || !b || *b < *a)
        return Error::of(errc::format,
                         labels_path.string() + ": window of '" + file.name + "' has bad times");
      const std::size_t first = row_of(file.timestamps, *a, true);
      const std::size_t last = row_of(file.timestamps, *b, false);
      if (first >= file.values.size() || last >= file.values.size() || last < first)
        return Error::of(errc::format, labels_path.string() + ": window of '" + file.name +
                                           "' holds no row of the file");
      file.windows.push_back({first, last});
    }
    std::sort(file.windows.begin(), file.windows.end(),
              [](const Window& x, const Window& y) { return x.first < y.first; });
  }
  return corpus;
}

std::vector<Profile> default_profiles() {
  return {{"standard", 1.0, 1.0, 0.11},
          {"reward_low_FP_rate", 1.0, 1.0, 0.22},
          {"reward_low_FN_rate", 1.0, 2.0, 0.11}};
}

Result<std::vector<Profile>> load_profiles(const fs::path& file) {
  auto j = read_json(file);
  if (!j) return j.error();
  std::vector<Profile> out;
  try {
    for (const auto& name : {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}) {
      const auto& cm = j->at(name).at("CostMatrix");
      out.push_back({name, cm.at("tpWeight").get<double>(), cm.at("fnWeight").get<double>(),
                     cm.at("fpWeight").get<double>()});
    }
  } catch (const std::exception& e) {
    return Error::of(errc::format, file.string() +
                                       ": expected the three NAB profiles with a "
                                       "CostMatrix each: " +
                                       e.what());
  }
  return out;
}

Result<double> load_threshold(const fs::path& file, const std::string& detector,
                              const std::string& profile) {
  auto j = read_json(file);
  if (!j) return j.error();
  try {
    return j->at(detector).at(profile).at("threshold").get<double>();
  } catch (const std::exception&) {
    return Error::of(errc::missing,
                     file.string() + ": no threshold for '" + detector + "', '" + profile + "'");
  }
}

Result<CorpusScores> load_results(const Corpus& corpus, const fs::path& results_dir,
                                  const std::string& detector) {
  CorpusScores out;
  for (const auto& f : corpus.files) {
    const auto slash = f.name.find('/');
    const fs::path p = results_dir / detector / f.name.substr(0, slash) /
                       (detector + "_" + f.name.substr(slash + 1));
    auto text = read_text(p);
    if (!text) return text.error();
    const auto rows = split_csv(*text);
    if (rows.empty()) return Error::of(errc::format, p.string() + ": empty");
    const auto col = std::find(rows[0].begin(), rows[0].end(), "anomaly_score");
    if (col == rows[0].end())
      return Error::of(errc::format, p.string() + ": no anomaly_score column in the header");
    const std::size_t c = static_cast<std::size_t>(col - rows[0].begin());
    if (rows.size() - 1 != f.values.size())
      return Error::of(errc::mismatch, p.string() + ": " + std::to_string(rows.size() - 1) +
                                           " rows, the data file has " +
                                           std::to_string(f.values.size()));
    std::vector<double> scores(f.values.size());
    for (std::size_t r = 1; r < rows.size(); ++r) {
      if (rows[r].size() <= c || !parse_number(rows[r][c], scores[r - 1]))
        return Error::of(errc::format,
                         p.string() + " line " + std::to_string(r + 1) + ": bad anomaly_score");
      if (rows[r][0] != f.timestamp_text[r - 1]) {
        const auto t = parse_iso8601(rows[r][0]);
        if (!t || *t != f.timestamps[r - 1])
          return Error::of(errc::mismatch, p.string() + " line " + std::to_string(r + 1) +
                                               ": timestamp differs from the data file");
      }
    }
    out.push_back(std::move(scores));
  }
  return out;
}

Status write_results(const Corpus& corpus, const CorpusScores& scores, const fs::path& out_dir,
                     const std::string& detector) {
  if (scores.size() != corpus.files.size())
    return Error::of(errc::mismatch, "results cover " + std::to_string(scores.size()) +
                                         " files, the corpus has " +
                                         std::to_string(corpus.files.size()));
  for (std::size_t k = 0; k < corpus.files.size(); ++k) {
    const auto& f = corpus.files[k];
    const auto slash = f.name.find('/');
    const fs::path dir = out_dir / detector / f.name.substr(0, slash);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
      return Error::of(errc::io,
                       "cannot create '" + dir.string() + "': " + ec.message() + " (check --out)");
    const fs::path p = dir / (detector + "_" + f.name.substr(slash + 1));
    std::string text = "timestamp,value,anomaly_score,label\n";
    std::vector<char> label(f.values.size(), 0);
    for (const auto& w : f.windows)
      for (std::size_t i = w.first; i <= w.last; ++i) label[i] = 1;
    char buf[64];
    for (std::size_t i = 0; i < f.values.size(); ++i) {
      text += f.timestamp_text[i];
      text += ',';
      auto r = std::to_chars(buf, buf + sizeof buf, f.values[i]);
      text.append(buf, r.ptr);
      text += ',';
      r = std::to_chars(buf, buf + sizeof buf, scores[k][i]);
      text.append(buf, r.ptr);
      text += label[i] ? ",1\n" : ",0\n";
    }
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return Error::of(errc::io, "cannot write '" + p.string() + "'");
  }
  return {};
}

double scaled_sigmoid(double y) {
  if (y > 3.0) return -1.0;
  return 2.0 / (1.0 + std::exp(5.0 * y)) - 1.0;
}

std::size_t probation_rows(std::size_t rows) { return std::min<std::size_t>(rows * 15 / 100, 750); }

double normalised_score(double raw, const Profile& profile, std::size_t windows) {
  const double null = -profile.fn * static_cast<double>(windows);
  const double perfect = profile.tp * static_cast<double>(windows);
  return 100.0 * (raw - null) / (perfect - null);
}

Result<Scorer> Scorer::create(const Corpus& corpus, const CorpusScores& scores,
                              const Profile& profile) {
  if (scores.size() != corpus.files.size())
    return Error::of(errc::mismatch, "scores cover " + std::to_string(scores.size()) +
                                         " files, the corpus has " +
                                         std::to_string(corpus.files.size()));
  Scorer s;
  s.profile_ = profile;
  s.rows_.reserve(corpus.row_count());
  const double max_tp = scaled_sigmoid(-1.0);
  for (std::size_t k = 0; k < corpus.files.size(); ++k) {
    const auto& f = corpus.files[k];
    const auto& sc = scores[k];
    if (sc.size() != f.values.size())
      return Error::of(errc::mismatch, f.name + ": " + std::to_string(sc.size()) + " scores for " +
                                           std::to_string(f.values.size()) + " rows");
    s.file_names_.push_back(f.name);
    std::size_t negatives = 0, positives = 0;
    const std::size_t probation = probation_rows(f.values.size());
    std::size_t next_window = 0;
    bool in_window = false;
    std::int32_t window_id = -1;
    Window cur{}, prev{};
    bool have_prev = false;
    for (std::size_t i = 0; i < f.values.size(); ++i) {
      if (std::isnan(sc[i]))
        return Error::of(errc::mismatch,
                         f.name + " row " + std::to_string(i + 1) + ": the anomaly score is NaN");
      if (!in_window && next_window < f.windows.size() && f.windows[next_window].first == i) {
        cur = f.windows[next_window++];
        in_window = true;
        window_id = -1;
      }
      double weight;
      if (in_window) {
        const double width = static_cast<double>(cur.last - cur.first + 1);
        const double y = -(static_cast<double>(cur.last) - static_cast<double>(i) + 1.0) / width;
        weight = scaled_sigmoid(y) * profile.tp / max_tp;
      } else if (!have_prev) {
        weight = -1.0 * profile.fp;
      } else {
        const double y = std::abs(static_cast<double>(prev.last) - static_cast<double>(i)) /
                         (static_cast<double>(prev.last - prev.first + 1) - 1.0);
        weight = scaled_sigmoid(y) * profile.fp;
      }
      if (i >= probation) {
        if (in_window && window_id < 0) {
          window_id = static_cast<std::int32_t>(s.window_file_.size());
          s.window_file_.push_back(static_cast<std::int32_t>(k));
        }
        s.rows_.push_back(
            {sc[i], weight, in_window ? window_id : -1, static_cast<std::int32_t>(k)});
        (in_window ? positives : negatives)++;
      }
      if (in_window && i == cur.last) {
        prev = cur;
        have_prev = true;
        in_window = false;
      }
    }
    s.file_negatives_.push_back(negatives);
    s.file_positives_.push_back(positives);
  }
  return s;
}

double Scorer::normalise(double raw) const {
  return normalised_score(raw, profile_, window_file_.size());
}

ProfileScore Scorer::at(double threshold) const {
  ProfileScore out;
  out.profile = profile_;
  out.threshold = threshold;
  out.windows = window_file_.size();
  std::vector<double> best(window_file_.size(), -profile_.fn);
  std::vector<char> hit(window_file_.size(), 0);
  out.files.resize(file_names_.size());
  for (std::size_t k = 0; k < file_names_.size(); ++k) {
    out.files[k].name = file_names_[k];
    out.files[k].tn = file_negatives_[k];
    out.files[k].fn = file_positives_[k];
  }
  for (const auto& r : rows_) {
    if (!(r.score >= threshold)) continue;
    auto& fs = out.files[static_cast<std::size_t>(r.file)];
    if (r.window < 0) {
      fs.raw += r.weight;
      ++fs.fp;
      --fs.tn;
    } else {
      auto& b = best[static_cast<std::size_t>(r.window)];
      b = std::max(b, r.weight);
      hit[static_cast<std::size_t>(r.window)] = 1;
      ++fs.tp;
      --fs.fn;
    }
  }
  for (std::size_t w = 0; w < best.size(); ++w) {
    auto& fs = out.files[static_cast<std::size_t>(window_file_[w])];
    fs.raw += best[w];
    ++fs.windows;
    fs.detected += hit[w];
  }
  for (const auto& fs : out.files) {
    out.raw += fs.raw;
    out.tp += fs.tp;
    out.fp += fs.fp;
    out.tn += fs.tn;
    out.fn += fs.fn;
    out.detected += fs.detected;
  }
  out.normalised = normalise(out.raw);
  return out;
}

ProfileScore Scorer::optimise() const {
  std::vector<std::uint32_t> order(rows_.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::uint32_t a, std::uint32_t b) { return rows_[a].score > rows_[b].score; });
  std::vector<double> best(window_file_.size(), -profile_.fn);
  double raw = -profile_.fn * static_cast<double>(window_file_.size());
  // Above every score nothing is detected: the null detector's score.
  double best_raw = raw;
  double best_threshold = rows_.empty() ? 1.0 : rows_[order[0]].score + 1.0;
  std::size_t i = 0;
  while (i < order.size()) {
    const double t = rows_[order[i]].score;
    for (; i < order.size() && rows_[order[i]].score == t; ++i) {
      const auto& r = rows_[order[i]];
      if (r.window < 0) {
        raw += r.weight;
      } else {
        double& b = best[static_cast<std::size_t>(r.window)];
        if (r.weight > b) {
          raw += r.weight - b;
          b = r.weight;
        }
      }
    }
    if (raw > best_raw) {
      best_raw = raw;
      best_threshold = t;
    }
  }
  return at(best_threshold);
}

}  // namespace strata::analytics::nab
