#include "model/json_document.hpp"

#include <set>
#include <vector>

#include "model/errc.hpp"

namespace strata::model::detail {
namespace {

// Where the SAX callback is: one frame per open object or array.
struct Frame {
  bool array = false;
  std::size_t index = 0;  // arrays: elements seen so far
  std::string key;        // objects: the key being read
  std::set<std::string> keys;
};

struct Refusal {
  std::string message;
};

std::string path_of(const std::vector<Frame>& frames, std::size_t depth) {
  std::string path = "$";
  for (std::size_t i = 0; i + 1 < depth && i < frames.size(); ++i) {
    if (frames[i].array)
      path = element_path(path, frames[i].index - 1);
    else
      path = member_path(path, frames[i].key);
  }
  return path;
}

bool is_identifier(std::string_view key) {
  if (key.empty()) return false;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

}  // namespace

std::string member_path(std::string_view parent, std::string_view key) {
  std::string p(parent);
  if (is_identifier(key)) {
    p += '.';
    p += key;
    return p;
  }
  p += "['";
  for (char c : key) {
    if (c == '\'' || c == '\\') p += '\\';
    p += c;
  }
  p += "']";
  return p;
}

std::string element_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

std::string shown(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::string: {
      const auto& s = value.get_ref<const std::string&>();
      if (s.size() <= 64)
        return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return nlohmann::json(s.substr(0, 64))
                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
             "...";
    }
    default:
      return value.dump();
  }
}

Result<nlohmann::json> parse_json_strictly(std::string_view text, int duplicate_code) {
  std::vector<Frame> frames;
  using Event = nlohmann::json::parse_event_t;
  // The callback keeps a path of open containers so that a duplicate key can be named. It is
  // called with the depth of the event; an element of an array counts when it starts.
  auto element_starts = [&frames]() {
    if (!frames.empty() && frames.back().array) ++frames.back().index;
  };
  auto callback = [&](int depth, Event event, nlohmann::json& parsed) -> bool {
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        element_starts();
        if (frames.size() >= static_cast<std::size_t>(kMaxJsonDepth))
          throw Refusal{path_of(frames, frames.size() + 1) + ": nested deeper than " +
                        std::to_string(kMaxJsonDepth) + " levels"};
        frames.push_back(Frame{event == Event::array_start, 0, {}, {}});
        break;
      case Event::object_end:
      case Event::array_end:
        if (!frames.empty()) frames.pop_back();
        break;
      case Event::key: {
        Frame& f = frames.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second)
          throw Refusal{path_of(frames, frames.size()) + ": key " + shown(parsed) +
                        " appears twice"};
        break;
      }
      case Event::value:
        element_starts();
        break;
    }
    (void)depth;
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), callback);
  } catch (const Refusal& r) {
    return Error{duplicate_code, r.message};
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
    if (const auto end = what.find("] "); end != std::string::npos) what = what.substr(end + 2);
    return Error::of(errc::invalid_json, "not JSON: " + what);
  } catch (const std::exception& e) {
    return Error::of(errc::invalid_json, std::string("not JSON: ") + e.what());
  }
}

}  // namespace strata::model::detail
