#include "frontends/mssim/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <exception>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "engine/base/endian.h"
#include "frontends/net/accept.h"
#include "frontends/net/listen.h"

namespace tpm2emu::mssim {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

enum class PortKind { kCommand, kPlatform };

// True for the first word of a bare TPM command: TPM_ST_NO_SESSIONS / TPM_ST_SESSIONS.
bool IsTpmTag(uint32_t first_word) {
  uint32_t tag = first_word >> 16;
  return tag == 0x8001 || tag == 0x8002;
}

class Connection;

}  // namespace

struct Server::Shared {
  Shared(asio::io_context& io_context, backend::Backend& be, ServerOptions opts)
      : io(io_context),
        backend(be),
        options(std::move(opts)),
        command_acceptor(io_context),
        platform_acceptor(io_context) {}

  void Log(backend::LogLevel level, std::string_view message) const {
    if (options.logger != nullptr) {
      options.logger->Log(level, message);
    }
  }
  bool LogEnabled(backend::LogLevel level) const {
    return options.logger != nullptr && options.logger->Enabled(level);
  }

  void StopAll();

  asio::io_context& io;
  backend::Backend& backend;
  ServerOptions options;
  tcp::acceptor command_acceptor;
  tcp::acceptor platform_acceptor;
  std::string command_endpoint;
  std::string platform_endpoint;
  std::unordered_set<Connection*> connections;
  bool stopped = false;
};

namespace {

constexpr auto kNoDeadline = asio::steady_timer::time_point::max();

// One client connection. Owned by its coroutines (shared_from_this); registered in Shared so
// Stop() can close it.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Server::Shared> shared, tcp::socket socket, PortKind kind)
      : shared_(std::move(shared)),
        socket_(std::move(socket)),
        kind_(kind),
        timer_(socket_.get_executor()) {
    timer_.expires_at(kNoDeadline);
    shared_->connections.insert(this);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { shared_->connections.erase(this); }

  void Start() {
    auto self = shared_from_this();
    asio::co_spawn(socket_.get_executor(), self->Watchdog(self), asio::detached);
    asio::co_spawn(socket_.get_executor(), self->Run(self), asio::detached);
  }

  void Close() {
    closed_ = true;
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    timer_.cancel();
  }

 private:
  // `self` keeps the connection alive for the coroutine's lifetime.
  awaitable<void> Run(std::shared_ptr<Connection> self) {
    (void)self;
    try {
      if (kind_ == PortKind::kCommand) {
        co_await ServeCommandPort();
      } else {
        co_await ServePlatformPort();
      }
    } catch (const std::exception& e) {
      shared_->Log(backend::LogLevel::kWarn, std::string("mssim connection failed: ") + e.what());
    } catch (...) {
      shared_->Log(backend::LogLevel::kWarn, "mssim connection failed (unknown exception)");
    }
    Close();
  }

  // Closes the connection when a started request does not complete in time.
  awaitable<void> Watchdog(std::shared_ptr<Connection> self) {
    (void)self;
    while (!closed_) {
      error_code ec;
      co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (closed_) {
        break;
      }
      if (timer_.expiry() <= asio::steady_timer::clock_type::now()) {
        shared_->Log(backend::LogLevel::kInfo, "mssim: request timed out, closing connection");
        Close();
      }
    }
  }

  void ArmDeadline() { timer_.expires_after(shared_->options.frame_timeout); }
  void DisarmDeadline() { timer_.expires_at(kNoDeadline); }

  // Reads exactly out.size() bytes. A request's first read waits without a deadline until some
  // byte arrives; from then on the request is on the clock. False on EOF, error or close.
  awaitable<bool> ReadExact(std::span<uint8_t> out, bool request_start = false) {
    size_t done = 0;
    while (done < out.size()) {
      if (rpos_ < rlen_) {
        size_t n = std::min(rlen_ - rpos_, out.size() - done);
        std::memcpy(out.data() + done, rbuf_.data() + rpos_, n);
        rpos_ += n;
        done += n;
        continue;
      }
      error_code ec;
      size_t n = co_await socket_.async_read_some(asio::buffer(rbuf_),
                                                  asio::redirect_error(asio::use_awaitable, ec));
      if (ec || n == 0 || closed_) {
        co_return false;
      }
      // Linux turns quick-ack mode off again after a while; re-arm it after every read so
      // our acks never wait for the delayed-ack timer.
      net::SetTcpOption(socket_, TCP_QUICKACK);
      rpos_ = 0;
      rlen_ = n;
      if (request_start) {
        ArmDeadline();
        request_start = false;
      }
    }
    if (request_start) {
      ArmDeadline();  // the whole request start was already buffered
    }
    co_return true;
  }

  awaitable<std::optional<uint32_t>> ReadU32(bool request_start = false) {
    std::array<uint8_t, 4> b{};
    bool ok = co_await ReadExact(b, request_start);
    if (!ok) {
      co_return std::nullopt;
    }
    co_return LoadBe32(b.data());
  }

  // Writes one whole answer with one write, on a fresh deadline (the Backend call before it may
  // have taken a while), then ends the request's deadline.
  awaitable<bool> Write(const Bytes& answer) {
    ArmDeadline();
    error_code ec;
    co_await asio::async_write(socket_, asio::buffer(answer),
                               asio::redirect_error(asio::use_awaitable, ec));
    DisarmDeadline();
    co_return !ec && !closed_;
  }

  awaitable<bool> WriteU32(uint32_t value) {
    Bytes b;
    AppendBe32(b, value);
    co_return co_await Write(b);
  }

  // Reads a u32 length and that many bytes, refusing lengths above the cap before allocating.
  awaitable<std::optional<Bytes>> ReadSized(const char* what) {
    auto len = co_await ReadU32();
    if (!len) {
      co_return std::nullopt;
    }
    if (*len > shared_->options.max_command_size) {
      shared_->Log(backend::LogLevel::kInfo, std::string("mssim: ") + what + " of " +
                                                 std::to_string(*len) +
                                                 " bytes is over the limit, closing connection");
      co_return std::nullopt;
    }
    Bytes data(*len);
    bool ok = co_await ReadExact(data);
    if (!ok) {
      co_return std::nullopt;
    }
    co_return data;
  }

  void LogBackendError(const char* what, const Status& status) {
    if (!status.ok()) {
      shared_->Log(backend::LogLevel::kWarn,
                   std::string("mssim: ") + what + " failed: " + status.message());
    }
  }

  awaitable<void> ServeCommandPort() {
    for (;;) {
      auto request = co_await ReadU32(/*request_start=*/true);
      if (!request) {
        co_return;
      }
      bool keep_going = false;
      if (IsTpmTag(*request)) {
        keep_going = co_await ServeRawCommand(*request);
      } else {
        keep_going = co_await ServeCommandCode(*request);
      }
      if (!keep_going) {
        co_return;
      }
    }
  }

  // A bare TPM command (swtpm-style raw mode): `first_word` holds the tag and the upper half
  // of the command size. Answered with the bare response.
  awaitable<bool> ServeRawCommand(uint32_t first_word) {
    std::array<uint8_t, 2> size_low{};
    bool ok = co_await ReadExact(size_low);
    if (!ok) {
      co_return false;
    }
    uint32_t size = ((first_word & 0xFFFF) << 16) | LoadBe16(size_low.data());
    if (size < 10 || size > shared_->options.max_command_size) {
      shared_->Log(backend::LogLevel::kInfo, "mssim: raw command size " + std::to_string(size) +
                                                 " out of range, closing connection");
      co_return false;
    }
    Bytes command(size);
    StoreBe32(command.data(), first_word);
    command[4] = size_low[0];
    command[5] = size_low[1];
    ok = co_await ReadExact(std::span<uint8_t>(command).subspan(6));
    if (!ok) {
      co_return false;
    }
    Bytes response = shared_->backend.Execute(command, 0);
    co_return co_await Write(response);
  }

  awaitable<bool> ServeCommandCode(uint32_t request) {
    auto& backend = shared_->backend;
    switch (request) {
      case code::kSendCommand: {
        std::array<uint8_t, 1> locality{};
        bool ok = co_await ReadExact(locality);
        if (!ok) {
          co_return false;
        }
        auto command = co_await ReadSized("command");
        if (!command) {
          co_return false;
        }
        Bytes answer;
        if (!backend.IsPoweredOn()) {
          AppendBe32(answer, 0);  // powered off: a zero-length response
        } else {
          Bytes response = backend.Execute(*command, locality[0]);
          answer.reserve(response.size() + 8);
          AppendBe32(answer, static_cast<uint32_t>(response.size()));
          answer.insert(answer.end(), response.begin(), response.end());
        }
        AppendBe32(answer, 0);
        co_return co_await Write(answer);
      }
      case code::kRemoteHandshake: {
        auto client_version = co_await ReadU32();
        if (!client_version) {
          co_return false;
        }
        Bytes answer;
        AppendBe32(answer, kServerVersion);
        AppendBe32(answer, kFlagPlatformAvailable | kFlagRawMode | kFlagSupportsPp);
        AppendBe32(answer, 0);
        co_return co_await Write(answer);
      }
      // The H-CRTM / D-RTM indications: no result on the wire, always 0.
      case code::kHashStart:
        LogBackendError("_TPM_Hash_Start", backend.HashStart());
        co_return co_await WriteU32(0);
      case code::kHashEnd:
        LogBackendError("_TPM_Hash_End", backend.HashEnd());
        co_return co_await WriteU32(0);
      case code::kHashData: {
        auto data = co_await ReadSized("hash data");
        if (!data) {
          co_return false;
        }
        LogBackendError("_TPM_Hash_Data", backend.HashData(*data));
        co_return co_await WriteU32(0);
      }
      case code::kSetAlternativeResult: {
        auto value = co_await ReadU32();
        if (!value) {
          co_return false;
        }
        co_return co_await WriteU32(0);
      }
      case code::kSessionEnd:
        co_return false;
      case code::kStop:
        RequestStop();
        co_return false;
      default:
        shared_->Log(backend::LogLevel::kInfo, "mssim: unknown command-port request " +
                                                   std::to_string(request) +
                                                   ", closing connection");
        co_return false;
    }
  }

  awaitable<void> ServePlatformPort() {
    auto& backend = shared_->backend;
    for (;;) {
      auto request = co_await ReadU32(/*request_start=*/true);
      if (!request) {
        co_return;
      }
      bool known = true;
      switch (*request) {
        case code::kPowerOn:
          LogBackendError("power on", backend.PowerOn());
          break;
        case code::kPowerOff:
          LogBackendError("power off", backend.PowerOff());
          break;
        case code::kPhysPresOn:
        case code::kPhysPresOff:
          LogBackendError("physical presence",
                          backend.SetPhysicalPresence(*request == code::kPhysPresOn));
          break;
        case code::kCancelOn:
        case code::kCancelOff:
          backend.SetCancel(*request == code::kCancelOn);
          break;
        case code::kNvOn:
        case code::kNvOff:
          LogBackendError("NV on/off", backend.SetNvAvailable(*request == code::kNvOn));
          break;
        case code::kReset:
        case code::kRestart:
          // _TPM_Init happens only while powered; otherwise the next power-on does it.
          if (backend.IsPoweredOn()) {
            LogBackendError("reset", backend.Reset());
          }
          break;
        case code::kSessionEnd:
        case code::kStop:
          break;
        default:
          known = false;
          break;
      }
      if (!known) {
        shared_->Log(
            backend::LogLevel::kInfo,
            "mssim: unknown platform request " + std::to_string(*request) + ", closing connection");
        (void)co_await WriteU32(1);
        co_return;
      }
      bool ok = co_await WriteU32(0);
      if (*request == code::kStop) {
        RequestStop();
        co_return;
      }
      if (!ok || *request == code::kSessionEnd) {
        co_return;
      }
    }
  }

  void RequestStop() {
    shared_->Log(backend::LogLevel::kInfo, "mssim: STOP received");
    if (shared_->options.on_stop) {
      shared_->options.on_stop();
    } else {
      shared_->StopAll();
    }
  }

  std::shared_ptr<Server::Shared> shared_;
  tcp::socket socket_;
  PortKind kind_;
  asio::steady_timer timer_;
  bool closed_ = false;
  std::array<uint8_t, 8192> rbuf_{};
  size_t rpos_ = 0;
  size_t rlen_ = 0;
};

net::AcceptHandler Accepting(std::shared_ptr<Server::Shared> shared, PortKind kind) {
  net::AcceptHandler h;
  h.stopped = [shared] { return shared->stopped; };
  h.full = [shared] { return shared->connections.size() >= shared->options.max_connections; };
  h.warn = [shared](const std::string& message) {
    shared->Log(backend::LogLevel::kWarn, "mssim: " + message);
  };
  h.start = [shared, kind](tcp::socket socket) {
    if (shared->LogEnabled(backend::LogLevel::kDebug)) {
      error_code ec;
      auto peer = socket.remote_endpoint(ec);
      shared->Log(backend::LogLevel::kDebug,
                  std::string("mssim: ") + (kind == PortKind::kCommand ? "command" : "platform") +
                      " connection from " + (ec ? std::string("?") : net::FormatEndpoint(peer)));
    }
    std::make_shared<Connection>(shared, std::move(socket), kind)->Start();
  };
  return h;
}

}  // namespace

void Server::Shared::StopAll() {
  stopped = true;
  error_code ignored;
  command_acceptor.close(ignored);
  platform_acceptor.close(ignored);
  // Close() does not unregister (the destructor does, later), but copy anyway: closing may
  // let other handlers run only after we return, yet the set must not change under the loop.
  std::vector<Connection*> open(connections.begin(), connections.end());
  for (Connection* c : open) {
    c->Close();
  }
}

StatusOr<std::unique_ptr<Server>> Server::Listen(asio::io_context& io, backend::Backend& backend,
                                                 ServerOptions options) {
  try {
    uint16_t command_port = options.command_port;
    if (!options.platform_port && command_port == 65535) {
      return InvalidArgument("command port 65535 leaves no room for the platform port (+1)");
    }
    auto shared = std::make_shared<Shared>(io, backend, std::move(options));
    TRY(net::ListenPair(io, shared->options.host, command_port, shared->options.platform_port,
                        shared->command_acceptor, shared->platform_acceptor));
    shared->command_endpoint = net::FormatEndpoint(shared->command_acceptor.local_endpoint());
    shared->platform_endpoint = net::FormatEndpoint(shared->platform_acceptor.local_endpoint());
    return std::unique_ptr<Server>(new Server(std::move(shared)));
  } catch (const std::exception& e) {
    return IoError(std::string("cannot set up the mssim listeners (") + e.what() + ")");
  }
}

Server::Server(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

Server::~Server() {
  // Connections keep Shared alive; the listeners must not accept for a Server that is gone.
  error_code ignored;
  shared_->stopped = true;
  shared_->command_acceptor.close(ignored);
  shared_->platform_acceptor.close(ignored);
}

void Server::Start() {
  asio::co_spawn(shared_->io,
                 net::AcceptLoop(shared_->command_acceptor, Accepting(shared_, PortKind::kCommand)),
                 asio::detached);
  asio::co_spawn(
      shared_->io,
      net::AcceptLoop(shared_->platform_acceptor, Accepting(shared_, PortKind::kPlatform)),
      asio::detached);
}

void Server::Stop() {
  shared_->StopAll();
}

uint16_t Server::command_port() const {
  error_code ec;
  return shared_->command_acceptor.local_endpoint(ec).port();
}

uint16_t Server::platform_port() const {
  error_code ec;
  return shared_->platform_acceptor.local_endpoint(ec).port();
}

std::string Server::command_endpoint() const {
  return shared_->command_endpoint;
}
std::string Server::platform_endpoint() const {
  return shared_->platform_endpoint;
}

}  // namespace tpm2emu::mssim
