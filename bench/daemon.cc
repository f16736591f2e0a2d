#include "bench/daemon.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace tpm2emu::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kReadyTimeout = std::chrono::seconds(30);  // the ASan build starts slowly
constexpr auto kStopTimeout = std::chrono::seconds(20);
constexpr int kStartAttempts = 3;

// Binds a loopback TCP socket to `port` (0: any) and returns the bound port, or 0.
uint16_t TryBind(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return 0;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  uint16_t bound = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    bound = ntohs(addr.sin_port);
  }
  ::close(fd);
  return bound;
}

// A port P with P and P+1 free on 127.0.0.1 right now (another process may still take them).
StatusOr<uint16_t> FreePortPair() {
  for (int i = 0; i < 200; ++i) {
    uint16_t port = TryBind(0);
    if (port != 0 && port < 65535 && TryBind(port) == port &&
        TryBind(static_cast<uint16_t>(port + 1)) == port + 1) {
      return port;
    }
  }
  return Status(StatusCode::kBusy, "no free pair of adjacent ports on 127.0.0.1");
}

// The port in "KEY=HOST:PORT" within `line`.
std::optional<uint16_t> PortOf(std::string_view line, std::string_view key) {
  size_t start = line.find(key);
  if (start == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view value = line.substr(start + key.size());
  value = value.substr(0, value.find(' '));
  size_t colon = value.rfind(':');
  if (colon == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view digits = value.substr(colon + 1);
  uint16_t port = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || port == 0) {
    return std::nullopt;
  }
  return port;
}

// The first line on `fd` (without the newline); "" at EOF or after the timeout.
std::string ReadFirstLine(int fd) {
  std::string line;
  auto deadline = Clock::now() + kReadyTimeout;
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, 100);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r <= 0) {
      continue;
    }
    char c = 0;
    if (::read(fd, &c, 1) != 1) {
      break;
    }
    if (c == '\n') {
      return line;
    }
    line += c;
  }
  return line;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Waits for `pid` to exit for up to `timeout`; its wait status, or nullopt if still running.
std::optional<int> WaitFor(pid_t pid, Clock::duration timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) {
      return status;
    }
    if (Clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

struct Spawned {
  pid_t pid;
  int stdout_fd;
};

StatusOr<Spawned> Spawn(std::vector<std::string> argv, const std::string& stderr_path) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    return IoError(std::string("cannot create a pipe (") + std::strerror(errno) + ")");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  std::vector<char*> args;
  for (std::string& a : argv) {
    args.push_back(a.data());
  }
  args.push_back(nullptr);
  // The bench ignores SIGPIPE; the daemon gets the default disposition back.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    return IoError("cannot run " + argv[0] + " (" + std::strerror(rc) + ")");
  }
  return Spawned{pid, out[0]};
}

}  // namespace

StatusOr<std::unique_ptr<Daemon>> Daemon::Start(const std::string& path,
                                                const std::string& state_dir,
                                                const std::string& stderr_path) {
  for (int attempt = 1;; ++attempt) {
    TRY_ASSIGN(uint16_t port, FreePortPair());
    std::vector<std::string> argv = {path,      "serve",   "--state",
                                     state_dir, "--mssim", "127.0.0.1:" + std::to_string(port)};
    TRY_ASSIGN(Spawned child, Spawn(argv, stderr_path));
    std::string line = ReadFirstLine(child.stdout_fd);
    std::optional<uint16_t> cmd = PortOf(line, " mssim=");
    std::optional<uint16_t> platform = PortOf(line, " platform=");
    if (line.rfind("tpm2emu: ready ", 0) == 0 && cmd == port && platform == port + 1) {
      return std::unique_ptr<Daemon>(new Daemon(child.pid, child.stdout_fd, port, stderr_path));
    }
    ::kill(child.pid, SIGKILL);
    std::optional<int> status = WaitFor(child.pid, kStopTimeout);
    ::close(child.stdout_fd);
    std::string err = ReadFile(stderr_path);
    if (attempt < kStartAttempts && err.find("Address already in use") != std::string::npos) {
      continue;  // lost the race for the ports
    }
    std::string how = status && WIFEXITED(*status)
                          ? "exit status " + std::to_string(WEXITSTATUS(*status))
                          : "killed";
    return Status(StatusCode::kFailedPrecondition,
                  path + " serve: expected a ready line 'tpm2emu: ready mssim=127.0.0.1:" +
                      std::to_string(port) + " platform=127.0.0.1:" + std::to_string(port + 1) +
                      " ...', got '" + line + "' (" + how + ")" +
                      (err.empty() ? "; nothing on stderr" : "; stderr:\n" + err));
  }
}

Daemon::~Daemon() {
  if (!exited_) {
    ::kill(pid_, SIGKILL);
    WaitFor(pid_, kStopTimeout);
  }
  ::close(stdout_fd_);
}

std::string Daemon::Stderr() const {
  return ReadFile(stderr_path_);
}

Status Daemon::Stop() {
  if (exited_) {
    return Status::Ok();
  }
  ::kill(pid_, SIGTERM);
  std::optional<int> status = WaitFor(pid_, kStopTimeout);
  if (!status) {
    ::kill(pid_, SIGKILL);
    WaitFor(pid_, kStopTimeout);
    exited_ = true;
    return Status(StatusCode::kInternal, "tpm2emu serve did not stop within 20 s of SIGTERM");
  }
  exited_ = true;
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return Status(StatusCode::kInternal, "tpm2emu serve ended with wait status " +
                                             std::to_string(*status) +
                                             " on SIGTERM (expected exit status 0)");
  }
  return Status::Ok();
}

StatusOr<uint64_t> PeakRssKib(const std::string& pid) {
  std::string path = "/proc/" + pid + "/status";
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      uint64_t kib = 0;
      if (fields >> kib) {
        return kib;
      }
    }
  }
  return IoError("no VmHWM line in " + path);
}

}  // namespace tpm2emu::bench
