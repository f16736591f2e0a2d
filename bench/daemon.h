#pragma once
// A `tpm2emu serve` child process for the bench, on free loopback ports.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "engine/base/status.h"

namespace tpm2emu::bench {

class Daemon {
 public:
  // Runs `path serve --state state_dir --mssim 127.0.0.1:P` with stderr appended to
  // stderr_path and returns once its ready line has been read. P is picked so that P+1 is free
  // too, because tpm2-tss's mssim TCTI always takes P+1 as the platform port; a lost race for
  // the ports is retried with new ones. Fails with the daemon's stderr when it exits or stays
  // silent instead.
  static StatusOr<std::unique_ptr<Daemon>> Start(const std::string& path,
                                                 const std::string& state_dir,
                                                 const std::string& stderr_path);
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  // Kills the process (SIGKILL) if Stop() did not end it.
  ~Daemon();

  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }

  // What the daemon wrote on stderr so far.
  std::string Stderr() const;

  // SIGTERM, then waits (SIGKILL after 20 s); fails unless it exits with status 0.
  Status Stop();

 private:
  Daemon(pid_t pid, int stdout_fd, uint16_t port, std::string stderr_path)
      : pid_(pid), stdout_fd_(stdout_fd), port_(port), stderr_path_(std::move(stderr_path)) {}

  pid_t pid_;
  int stdout_fd_;  // kept open so that a late line on stdout never meets a closed pipe
  uint16_t port_;
  std::string stderr_path_;
  bool exited_ = false;
};

// The peak resident set (VmHWM in /proc/<pid>/status) of a process, "self" for this one, in KiB.
StatusOr<uint64_t> PeakRssKib(const std::string& pid);

}  // namespace tpm2emu::bench
