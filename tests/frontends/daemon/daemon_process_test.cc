// Runs the built tpm2emu executable: command-line errors, busy ports, the ready line, SIGTERM.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include "engine/base/bytes.h"
#include "engine/base/endian.h"
#include "tests/frontends/test_socket.h"

#ifndef TPM2EMU_PATH
#error "TPM2EMU_PATH must name the built tpm2emu executable"
#endif

extern char** environ;

namespace tpm2emu::daemon {
namespace {

// A child process with its stdout and stderr on pipes.
class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    args.insert(args.begin(), TPM2EMU_PATH);
    int out[2];
    int err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    if (::posix_spawn(&pid_, TPM2EMU_PATH, &actions, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    ::close(err[1]);
    out_ = out[0];
    err_ = err[0];
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
    ::close(out_);
    ::close(err_);
  }

  bool started() const { return pid_ > 0; }
  void Signal(int sig) { ::kill(pid_, sig); }

  // The first stdout line, or "" after timeout/EOF.
  std::string ReadLine(int timeout_ms = 20000) {
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) {
        continue;
      }
      char c;
      if (::read(out_, &c, 1) != 1) {
        break;
      }
      if (c == '\n') {
        return line;
      }
      line += c;
    }
    return line;
  }

  // Waits for exit (killing after 20 s); returns the exit status (-1 if by signal).
  int Wait() {
    int status = 0;
    for (int i = 0; i < 200; ++i) {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    exited_ = true;
    return -1;
  }

  std::string Drain(int fd) {
    std::string s;
    char buf[512];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof(buf))) > 0) {
      s.append(buf, static_cast<size_t>(n));
    }
    return s;
  }
  std::string Stdout() { return Drain(out_); }
  std::string Stderr() { return Drain(err_); }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
  bool exited_ = false;
};

struct Result {
  int exit_code;
  std::string out;
  std::string err;
};

Result RunToExit(std::vector<std::string> args) {
  Child child(std::move(args));
  EXPECT_TRUE(child.started());
  int code = child.Wait();
  return {code, child.Stdout(), child.Stderr()};
}

struct ReadyLine {
  uint16_t cmd_port;
  uint16_t plat_port;
  std::string state;
};

// "tpm2emu: ready mssim=127.0.0.1:P platform=127.0.0.1:Q state=DIR" (std::regex trips
// -Wmaybe-uninitialized in the sanitizer build).
std::optional<ReadyLine> ParseReadyLine(const std::string& line) {
  const std::string head = "tpm2emu: ready mssim=127.0.0.1:";
  const std::string mid = " platform=127.0.0.1:";
  const std::string tail = " state=";
  if (line.rfind(head, 0) != 0) {
    return std::nullopt;
  }
  size_t p = head.size();
  size_t q = line.find(mid, p);
  if (q == std::string::npos) {
    return std::nullopt;
  }
  size_t r = line.find(tail, q + mid.size());
  if (r == std::string::npos) {
    return std::nullopt;
  }
  try {
    ReadyLine ready;
    ready.cmd_port = static_cast<uint16_t>(std::stoi(line.substr(p, q - p)));
    ready.plat_port =
        static_cast<uint16_t>(std::stoi(line.substr(q + mid.size(), r - q - mid.size())));
    ready.state = line.substr(r + tail.size());
    return ready;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

class DaemonProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tpm2emu-daemon-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(DaemonProcessTest, UnknownOptionFailsWithMessage) {
  Result r = RunToExit({"serve", "--foo"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err, "tpm2emu: unknown option --foo (see tpm2emu --help)\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(DaemonProcessTest, BadValuesFail) {
  Result r = RunToExit({"serve", "--log-level", "loud"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--log-level"), std::string::npos) << r.err;
  r = RunToExit({"serve", "--mssim", "127.0.0.1:99999"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("127.0.0.1:99999"), std::string::npos) << r.err;
  r = RunToExit({"frobnicate"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err, "tpm2emu: unknown command 'frobnicate' (see tpm2emu --help)\n");
}

TEST_F(DaemonProcessTest, HelpAndVersionSucceed) {
  Result r = RunToExit({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("serve"), std::string::npos);
  r = RunToExit({"serve", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--state DIR"), std::string::npos);
  r = RunToExit({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("tpm2emu ", 0), 0u);
}

TEST_F(DaemonProcessTest, BusyPortGivesMessage) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor taken(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  std::string port = std::to_string(taken.local_endpoint().port());
  Result r = RunToExit({"serve", "--state", dir_ + "/state", "--mssim", "127.0.0.1:" + port});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err, "tpm2emu: cannot listen on 127.0.0.1:" + port + " (Address already in use)\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(DaemonProcessTest, StateThatIsAFileFailsNamingIt) {
  std::string file = dir_ + "/file";
  FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  Result r = RunToExit({"serve", "--state", file, "--mssim", "127.0.0.1:0"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
}

TEST_F(DaemonProcessTest, ReadyLineServeAndSigterm) {
  std::string state = dir_ + "/state";
  Child child({"serve", "--state", state, "--mssim", "127.0.0.1:0"});
  ASSERT_TRUE(child.started());
  std::string line = child.ReadLine();
  auto ready = ParseReadyLine(line);
  ASSERT_TRUE(ready) << line << child.Stderr();
  EXPECT_EQ(ready->state, state);
  EXPECT_TRUE(std::filesystem::is_directory(state));
  uint16_t cmd_port = ready->cmd_port;
  uint16_t plat_port = ready->plat_port;

  testing::TestSocket platform(plat_port);
  ASSERT_TRUE(platform.SendU32(1));  // power on (already on: a no-op)
  EXPECT_EQ(platform.RecvU32(), 0u);
  testing::TestSocket s(cmd_port);
  Bytes startup = {0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0};
  Bytes frame;
  AppendBe32(frame, 8);
  frame.push_back(0);
  AppendBe32(frame, static_cast<uint32_t>(startup.size()));
  frame.insert(frame.end(), startup.begin(), startup.end());
  ASSERT_TRUE(s.Send(frame));
  auto len = s.RecvU32();
  ASSERT_TRUE(len);
  auto response = s.Recv(*len);
  ASSERT_TRUE(response);
  EXPECT_EQ(LoadBe32(response->data() + 6), 0u);  // Startup(CLEAR) succeeded
  EXPECT_EQ(s.RecvU32(), 0u);

  child.Signal(SIGTERM);
  EXPECT_EQ(child.Wait(), 0) << child.Stderr();
}

TEST_F(DaemonProcessTest, SecondDaemonOnSameStateIsRefused) {
  std::string state = dir_ + "/state";
  Child first({"serve", "--state", state, "--mssim", "127.0.0.1:0"});
  ASSERT_NE(first.ReadLine().find("ready"), std::string::npos);
  Result r = RunToExit({"serve", "--state", state, "--mssim", "127.0.0.1:0"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(state), std::string::npos) << r.err;
  first.Signal(SIGTERM);
  EXPECT_EQ(first.Wait(), 0);
}

TEST_F(DaemonProcessTest, EphemeralWritesNothing) {
  std::string cwd = std::filesystem::current_path();
  Child child({"serve", "--ephemeral", "--mssim", "127.0.0.1:0"});
  std::string line = child.ReadLine();
  EXPECT_NE(line.find("state=(ephemeral)"), std::string::npos) << line;
  EXPECT_FALSE(std::filesystem::exists(cwd + "/tpm2emu-state"));
  child.Signal(SIGINT);
  EXPECT_EQ(child.Wait(), 0);
}

}  // namespace
}  // namespace tpm2emu::daemon
