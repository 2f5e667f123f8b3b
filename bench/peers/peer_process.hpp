#pragma once
// What a peer is made of on this machine: a scratch directory, a free port on 127.0.0.1, a server
// process we forked, and the bytes its files take. Each owns what it made and undoes it when
// destroyed (RAII), so an early return on an error path leaves no process and no directory behind.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"

namespace strata::bench {

class HttpClient;
struct QueryTiming;

// A directory made with mkdtemp under a parent; removed with everything in it when destroyed.
class ScratchDir {
 public:
  // Makes parent (and its parents) if needed, then parent/<prefix>XXXXXX; path() is absolute.
  static Result<ScratchDir> create(const std::filesystem::path& parent, std::string_view prefix);

  ScratchDir(ScratchDir&& other) noexcept;
  ScratchDir& operator=(ScratchDir&& other) noexcept;
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir();

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  explicit ScratchDir(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

// A TCP port that was free on 127.0.0.1 a moment ago: binds 127.0.0.1:0, reads the port the
// kernel chose, closes. Another process may take it before the peer binds it; the peers' start
// functions therefore retry with a new port when the server exits during start-up.
Result<std::uint16_t> pick_free_port();

// What to run: program and arguments, where its output goes, where it runs.
struct ProcessSpec {
  std::string name;                   // for messages: "victoria-metrics"
  std::filesystem::path program;      // absolute path; no PATH search
  std::vector<std::string> args;      // argv[1...]
  std::filesystem::path log_file;     // stdout and stderr, appended
  std::filesystem::path working_dir;  // the child chdir()s here
};

// A server process we forked. Stops it by PID when destroyed: SIGTERM, then SIGKILL once the
// grace period is over, then reaps it (so its PID is gone when the destructor returns). The child
// also gets PR_SET_PDEATHSIG=SIGKILL, so it dies with the thread that started it even if this
// process is killed before any destructor runs. Not thread-safe; move-only.
class PeerProcess {
 public:
  // fork + execv with stdin from /dev/null, stdout/stderr appended to spec.log_file, every other
  // descriptor closed, signal mask and SIGPIPE/SIGINT/SIGTERM/SIGHUP dispositions reset.
  static Result<PeerProcess> spawn(const ProcessSpec& spec,
                                   std::chrono::milliseconds stop_grace = std::chrono::seconds(10));

  PeerProcess(PeerProcess&& other) noexcept;
  PeerProcess& operator=(PeerProcess&& other) noexcept;
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;
  ~PeerProcess();

  // Polls `url` with GET until it answers 2xx. Fails with PeerErrc::exited if the process ends
  // first and PeerErrc::not_ready after `timeout`; both messages end with the log's last lines.
  Status wait_ready(const std::string& url, std::chrono::milliseconds timeout);

  // SIGTERM, wait up to the grace period, SIGKILL if still there, reap. Idempotent. Fails only if
  // the process could not be signalled or reaped (then its PID is reported in the message).
  Status stop();

  [[nodiscard]] pid_t pid() const { return pid_; }
  // True while the process has not been seen to end (reaps it if it has).
  [[nodiscard]] bool running();
  // True if the last stop() had to use SIGKILL.
  [[nodiscard]] bool was_killed() const { return killed_; }
  // How the process ended ("exit status 0", "killed by signal 9"), or "running".
  [[nodiscard]] std::string exit_description() const;
  // The last `lines` lines of the log file, for error messages.
  [[nodiscard]] std::string log_tail(std::size_t lines = 15) const;

 private:
  PeerProcess(std::string name, pid_t pid, std::filesystem::path log_file,
              std::chrono::milliseconds stop_grace)
      : name_(std::move(name)),
        log_file_(std::move(log_file)),
        stop_grace_(stop_grace),
        pid_(pid) {}
  bool reap(bool block);

  std::string name_;
  std::filesystem::path log_file_;
  std::chrono::milliseconds stop_grace_;
  pid_t pid_ = -1;       // -1 once reaped or moved from
  pid_t last_pid_ = -1;  // what pid_ was, for messages after reaping
  int wait_status_ = 0;
  bool ended_ = false;
  bool killed_ = false;
};

// Bytes under a directory tree, counted two ways (see PeerDiskUsage).
struct TreeBytes {
  std::uint64_t size = 0;       // Σ st_size of the selected regular files
  std::uint64_t allocated = 0;  // Σ st_blocks·512 of the selected files (+ directories if asked)
  std::uint64_t files = 0;
};
// Walks `root` without following symlinks, counting each inode once (hard links). `select` picks
// the regular files to count (all when empty); `with_directories` adds directories' allocated
// blocks, as `du` does. Files that vanish during the walk are skipped.
Result<TreeBytes> tree_bytes(const std::filesystem::path& root,
                             const std::function<bool(const std::filesystem::path&)>& select = {},
                             bool with_directories = false);

// The upstream version of an installed Debian package ("1.79.5" for "1.79.5+ds1-2+b5"), read from
// /var/lib/dpkg/status; empty when it is not installed or not a Debian system.
std::string debian_package_version(std::string_view package);

// ---- shared by the peer implementations, so both are fed and timed by the same code ----------

// POSTs each batch in order to `url` as text/plain and returns the wall seconds from the first
// request until the last answer. Fails (PeerErrc::http_status) on the first non-2xx answer,
// naming the batch and quoting the peer's message.
Result<double> post_batches(HttpClient& http, const std::string& url,
                            const std::vector<std::string>& batches, std::string_view peer_name);

// [from, to) cut into consecutive windows of at most kQueryWindow. Fails (bad_argument) unless
// from < to and both are whole minutes.
Result<std::vector<std::pair<Timestamp, Timestamp>>> query_windows(Timestamp from, Timestamp to);

// Sets cold_ms and median_ms from runs_ms.
void summarise_runs(QueryTiming& timing);

// The first `limit` characters of a peer's answer, for an error message.
std::string excerpt(std::string_view text, std::size_t limit = 400);

}  // namespace strata::bench
