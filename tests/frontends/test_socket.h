#pragma once
// A blocking loopback TCP client for frontend tests, with a receive timeout so a broken server
// fails the test instead of hanging it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "engine/base/bytes.h"
#include "engine/base/endian.h"

namespace tpm2emu::testing {

class TestSocket {
 public:
  // Connects to 127.0.0.1:port; ok() tells whether it worked.
  explicit TestSocket(uint16_t port, int timeout_ms = 5000) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  TestSocket(const TestSocket&) = delete;
  TestSocket& operator=(const TestSocket&) = delete;
  ~TestSocket() { Close(); }

  bool ok() const { return connected_; }
  void Close() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  // Half-closes: the peer reads EOF after what was sent.
  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

  bool Send(std::span<const uint8_t> data) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return false;
      }
      done += static_cast<size_t>(n);
    }
    return true;
  }
  bool SendU32(uint32_t v) {
    Bytes b;
    AppendBe32(b, v);
    return Send(b);
  }

  // Exactly n bytes, or nullopt on EOF, error or timeout.
  std::optional<Bytes> Recv(size_t n) {
    Bytes out(n);
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::recv(fd_, out.data() + done, n - done, 0);
      if (r < 0 && errno == EINTR) {
        continue;
      }
      if (r <= 0) {
        return std::nullopt;
      }
      done += static_cast<size_t>(r);
    }
    return out;
  }
  std::optional<uint32_t> RecvU32() {
    auto b = Recv(4);
    if (!b) {
      return std::nullopt;
    }
    return LoadBe32(b->data());
  }

  // True when the peer closed the connection (EOF or reset) within the timeout, after any
  // bytes it still sent.
  bool WaitClosed() {
    uint8_t buf[256];
    for (;;) {
      ssize_t r = ::recv(fd_, buf, sizeof(buf), 0);
      if (r < 0 && errno == EINTR) {
        continue;
      }
      if (r == 0) {
        return true;
      }
      if (r < 0) {
        return errno == ECONNRESET;
      }
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

}  // namespace tpm2emu::testing
