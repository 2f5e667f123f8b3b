#include "bench/peers/peer_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>
#include <utility>

#include "bench/peers/http_client.hpp"
#include "bench/peers/peer.hpp"

namespace strata::bench {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Closes a descriptor when it goes out of scope.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Writes a C string with write(2) only: usable between fork and exec.
void write_raw(int fd, const char* text) {
  std::size_t n = 0;
  while (text[n]) ++n;
  while (n > 0) {
    const ssize_t w = ::write(fd, text, n);
    if (w <= 0) return;
    text += w;
    n -= static_cast<std::size_t>(w);
  }
}

void write_errno(int fd, int err) {
  char digits[16];
  int i = 15;
  digits[i] = '\0';
  do {
    digits[--i] = static_cast<char>('0' + err % 10);
    err /= 10;
  } while (err > 0 && i > 0);
  write_raw(fd, digits + i);
}

}  // namespace

// ---- ScratchDir -------------------------------------------------------------------------------

Result<ScratchDir> ScratchDir::create(const std::filesystem::path& parent,
                                      std::string_view prefix) {
  std::error_code ec;
  // Absolute, because the peer runs with its scratch directory as working directory.
  const std::filesystem::path base = std::filesystem::absolute(parent, ec);
  if (ec)
    return Error::of(PeerErrc::spawn, "cannot resolve '" + parent.string() + "': " + ec.message());
  std::filesystem::create_directories(base, ec);
  if (ec)
    return Error::of(PeerErrc::spawn,
                     "cannot create work directory '" + base.string() + "': " + ec.message());
  std::string pattern = (base / (std::string(prefix) + "XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr)
    return Error::of(PeerErrc::spawn, "cannot create a scratch directory under '" +
                                          parent.string() + "': " + errno_text(errno));
  return ScratchDir(std::filesystem::path(pattern));
}

ScratchDir::ScratchDir(ScratchDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

ScratchDir& ScratchDir::operator=(ScratchDir&& other) noexcept {
  if (this != &other) {
    ScratchDir old(std::move(*this));
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

ScratchDir::~ScratchDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);  // best effort: a destructor has nobody to tell
}

// ---- ports ------------------------------------------------------------------------------------

Result<std::uint16_t> pick_free_port() {
  Fd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (sock.fd < 0) return Error::of(PeerErrc::spawn, "socket(): " + errno_text(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(sock.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return Error::of(PeerErrc::spawn, "cannot bind 127.0.0.1:0: " + errno_text(errno));
  socklen_t len = sizeof addr;
  if (::getsockname(sock.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return Error::of(PeerErrc::spawn, "getsockname(): " + errno_text(errno));
  return static_cast<std::uint16_t>(ntohs(addr.sin_port));
}

// ---- PeerProcess ------------------------------------------------------------------------------

Result<PeerProcess> PeerProcess::spawn(const ProcessSpec& spec,
                                       std::chrono::milliseconds stop_grace) {
  if (::access(spec.program.c_str(), X_OK) != 0)
    return Error::of(PeerErrc::spawn, spec.name + ": cannot execute '" + spec.program.string() +
                                          "' (" + errno_text(errno) +
                                          "); install its Debian package (scripts/packages, "
                                          "group bench) or pass another program path");
  Fd log(::open(spec.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (log.fd < 0)
    return Error::of(PeerErrc::spawn, spec.name + ": cannot open log file '" +
                                          spec.log_file.string() + "': " + errno_text(errno));
  Fd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (devnull.fd < 0)
    return Error::of(PeerErrc::spawn, "cannot open /dev/null: " + errno_text(errno));

  // Everything the child needs is made before fork: after it only async-signal-safe calls.
  std::string program = spec.program.string();
  std::string workdir = spec.working_dir.empty() ? std::string() : spec.working_dir.string();
  std::vector<std::string> storage;
  storage.reserve(spec.args.size() + 1);
  storage.push_back(program);
  for (const auto& a : spec.args) storage.push_back(a);
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) return Error::of(PeerErrc::spawn, spec.name + ": fork(): " + errno_text(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);  // the parent died before prctl took effect
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (const int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_DFL);
    if (::dup2(devnull.fd, 0) < 0 || ::dup2(log.fd, 1) < 0 || ::dup2(log.fd, 2) < 0) ::_exit(126);
    ::close_range(3, ~0U, 0);
    if (!workdir.empty() && ::chdir(workdir.c_str()) != 0) {
      const int err = errno;
      write_raw(2, "strata bench: chdir failed, errno ");
      write_errno(2, err);
      write_raw(2, "\n");
      ::_exit(126);
    }
    ::execv(program.c_str(), argv.data());
    const int err = errno;
    write_raw(2, "strata bench: execv failed, errno ");
    write_errno(2, err);
    write_raw(2, "\n");
    ::_exit(127);
  }
  return PeerProcess(spec.name, pid, spec.log_file, stop_grace);
}

PeerProcess::PeerProcess(PeerProcess&& other) noexcept
    : name_(std::move(other.name_)),
      log_file_(std::move(other.log_file_)),
      stop_grace_(other.stop_grace_),
      pid_(std::exchange(other.pid_, -1)),
      last_pid_(other.last_pid_),
      wait_status_(other.wait_status_),
      ended_(other.ended_),
      killed_(other.killed_) {}

PeerProcess& PeerProcess::operator=(PeerProcess&& other) noexcept {
  if (this != &other) {
    (void)stop();
    name_ = std::move(other.name_);
    log_file_ = std::move(other.log_file_);
    stop_grace_ = other.stop_grace_;
    pid_ = std::exchange(other.pid_, -1);
    last_pid_ = other.last_pid_;
    wait_status_ = other.wait_status_;
    ended_ = other.ended_;
    killed_ = other.killed_;
  }
  return *this;
}

PeerProcess::~PeerProcess() { (void)stop(); }

bool PeerProcess::reap(bool block) {
  if (pid_ <= 0) return true;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
    if (r == pid_) {
      wait_status_ = status;
      ended_ = true;
      last_pid_ = pid_;
      pid_ = -1;
      return true;
    }
    if (r == 0) return false;
    if (errno == EINTR) continue;
    // ECHILD: not our child any more (someone else reaped it); treat it as gone.
    ended_ = true;
    last_pid_ = pid_;
    pid_ = -1;
    return true;
  }
}

bool PeerProcess::running() { return pid_ > 0 && !reap(false); }

Status PeerProcess::stop() {
  if (pid_ <= 0) return {};
  if (reap(false)) return {};
  const pid_t pid = pid_;
  if (::kill(pid, SIGTERM) != 0 && errno != ESRCH)
    return Error::of(PeerErrc::spawn,
                     name_ + " (pid " + std::to_string(pid) + "): SIGTERM: " + errno_text(errno));
  const auto deadline = std::chrono::steady_clock::now() + stop_grace_;
  while (std::chrono::steady_clock::now() < deadline) {
    if (reap(false)) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  killed_ = true;
  if (::kill(pid, SIGKILL) != 0 && errno != ESRCH)
    return Error::of(PeerErrc::spawn,
                     name_ + " (pid " + std::to_string(pid) + "): SIGKILL: " + errno_text(errno));
  reap(true);
  return {};
}

std::string PeerProcess::exit_description() const {
  if (!ended_) return "running";
  if (WIFEXITED(wait_status_)) return "exit status " + std::to_string(WEXITSTATUS(wait_status_));
  if (WIFSIGNALED(wait_status_))
    return "killed by signal " + std::to_string(WTERMSIG(wait_status_));
  return "ended";
}

std::string PeerProcess::log_tail(std::size_t lines) const {
  std::ifstream in(log_file_, std::ios::binary);
  if (!in) return "(no log at " + log_file_.string() + ")";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff from = size > 8192 ? size - 8192 : 0;
  in.seekg(from);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string_view> all;
  std::string_view rest(text);
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    all.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
  }
  if (from > 0 && !all.empty()) all.erase(all.begin());  // cut in the middle of a line
  std::string tail;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    tail += all[i];
    tail += '\n';
  }
  if (tail.empty()) return "(log " + log_file_.string() + " is empty)";
  tail.pop_back();
  return tail;
}

Status PeerProcess::wait_ready(const std::string& url, std::chrono::milliseconds timeout) {
  auto client = HttpClient::create(
      HttpTimeouts{std::chrono::milliseconds(500), std::chrono::milliseconds(2'000)});
  if (!client) return client.error();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last_problem = "no answer yet";
  for (;;) {
    if (!running()) {
      return Error::of(PeerErrc::exited, name_ + " (pid " + std::to_string(last_pid_) +
                                             ") ended (" + exit_description() +
                                             ") before answering " + url + "; last lines of " +
                                             log_file_.string() + ":\n" + log_tail());
    }
    auto response = client->get(url);
    if (response && response->ok()) return {};
    last_problem = response ? "HTTP " + std::to_string(response->status) + " " + response->body
                            : response.error().message;
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error::of(PeerErrc::not_ready,
                       name_ + " (pid " + std::to_string(pid_) + ") did not answer " + url +
                           " within " + std::to_string(timeout.count()) + " ms (" + last_problem +
                           "); last lines of " + log_file_.string() + ":\n" + log_tail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// ---- files ------------------------------------------------------------------------------------

Result<TreeBytes> tree_bytes(const std::filesystem::path& root,
                             const std::function<bool(const std::filesystem::path&)>& select,
                             bool with_directories) {
  namespace fs = std::filesystem;
  TreeBytes out;
  std::set<std::pair<dev_t, ino_t>> linked;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  if (ec) return Error::of(PeerErrc::io, "cannot list '" + root.string() + "': " + ec.message());
  if (with_directories) {
    struct stat st {};
    if (::lstat(root.c_str(), &st) == 0)
      out.allocated += static_cast<std::uint64_t>(st.st_blocks) * 512;
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      if (ec == std::errc::no_such_file_or_directory) {
        ec.clear();
        continue;
      }
      return Error::of(PeerErrc::io, "cannot walk '" + root.string() + "': " + ec.message());
    }
    const fs::path& p = it->path();
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return Error::of(PeerErrc::io, "cannot stat '" + p.string() + "': " + errno_text(errno));
    }
    if (S_ISDIR(st.st_mode)) {
      if (with_directories) out.allocated += static_cast<std::uint64_t>(st.st_blocks) * 512;
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    if (select && !select(p)) continue;
    if (st.st_nlink > 1 && !linked.emplace(st.st_dev, st.st_ino).second) continue;
    out.size += static_cast<std::uint64_t>(st.st_size);
    out.allocated += static_cast<std::uint64_t>(st.st_blocks) * 512;
    ++out.files;
  }
  if (ec && ec != std::errc::no_such_file_or_directory)
    return Error::of(PeerErrc::io, "cannot walk '" + root.string() + "': " + ec.message());
  return out;
}

std::string debian_package_version(std::string_view package) {
  std::ifstream in("/var/lib/dpkg/status");
  if (!in) return {};
  std::string line;
  bool in_stanza = false;
  bool installed = false;
  std::string version;
  auto finish = [&]() -> std::string {
    if (!in_stanza || !installed) return {};
    if (const auto colon = version.find(':'); colon != std::string::npos)
      version.erase(0, colon + 1);
    if (const auto cut = version.find_first_of("+-"); cut != std::string::npos) version.erase(cut);
    return version;
  };
  while (std::getline(in, line)) {
    if (line.empty()) {
      if (auto v = finish(); !v.empty()) return v;
      in_stanza = installed = false;
      version.clear();
    } else if (line.starts_with("Package: ")) {
      in_stanza = std::string_view(line).substr(9) == package;
    } else if (line.starts_with("Status: ")) {
      installed = line.ends_with(" installed");
    } else if (line.starts_with("Version: ")) {
      version = line.substr(9);
    }
  }
  return finish();
}

// ---- shared by the peer implementations ------------------------------------------------------

std::string excerpt(std::string_view text, std::size_t limit) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (text.size() <= limit) return std::string(text);
  return std::string(text.substr(0, limit)) + "...";
}

Result<double> post_batches(HttpClient& http, const std::string& url,
                            const std::vector<std::string>& batches, std::string_view peer_name) {
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < batches.size(); ++i) {
    auto response = http.post(url, batches[i], "text/plain; charset=utf-8");
    if (!response) return response.error();
    if (!response->ok())
      return Error::of(PeerErrc::http_status,
                       std::string(peer_name) + " refused batch " + std::to_string(i + 1) + " of " +
                           std::to_string(batches.size()) + " (HTTP " +
                           std::to_string(response->status) + "): " + excerpt(response->body));
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Result<std::vector<std::pair<Timestamp, Timestamp>>> query_windows(Timestamp from, Timestamp to) {
  if (from >= to)
    return Error::of(PeerErrc::bad_argument, "aggregate query: empty range [" +
                                                 std::to_string(from) + ", " + std::to_string(to) +
                                                 ") µs; `from` must be before `to`");
  if (from % kBucketWidth != 0 || to % kBucketWidth != 0)
    return Error::of(PeerErrc::bad_argument,
                     "aggregate query: range [" + std::to_string(from) + ", " + std::to_string(to) +
                         ") µs is not in whole minutes; round `from` down and `to` up to a minute "
                         "so every peer cuts the same 1-minute buckets");
  std::vector<std::pair<Timestamp, Timestamp>> windows;
  for (Timestamp a = from; a < to; a += kQueryWindow)
    windows.emplace_back(a, std::min(to, a + kQueryWindow));
  return windows;
}

void summarise_runs(QueryTiming& timing) {
  if (timing.runs_ms.empty()) return;
  timing.cold_ms = timing.runs_ms.front();
  std::vector<double> sorted = timing.runs_ms;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  timing.median_ms = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

}  // namespace strata::bench
