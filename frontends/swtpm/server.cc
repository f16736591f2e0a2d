#include "frontends/swtpm/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>
#include <exception>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "engine/base/endian.h"
#include "frontends/net/accept.h"
#include "frontends/net/listen.h"

namespace tpm2emu::swtpm {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

enum class Port { kData, kCtrl };

constexpr size_t kTpmHeaderSize = 10;
constexpr uint32_t kTpmRcFailure = 0x101;
// GET/SET_STATEBLOB flag: the blob is encrypted with a key we do not have.
constexpr uint32_t kBlobFlagEncrypted = 2;

// What a data-port command gets while the TPM is stopped: a bare TPM_RC_FAILURE response.
Bytes StoppedResponse() {
  Bytes r;
  AppendBe16(r, 0x8001);
  AppendBe32(r, kTpmHeaderSize);
  AppendBe32(r, kTpmRcFailure);
  return r;
}

Bytes ResultOnly(uint32_t res) {
  Bytes b;
  AppendBe32(b, res);
  return b;
}

// A Backend status as a control result; `unsupported` for what the Backend cannot do.
uint32_t ResultOf(const Status& status, uint32_t unsupported = result::kFail) {
  if (status.ok()) {
    return result::kOk;
  }
  return status.code() == StatusCode::kUnsupported ? unsupported : result::kFail;
}

std::optional<backend::StateBlob> BlobType(uint32_t type) {
  if (type < 1 || type > 3) {
    return std::nullopt;
  }
  return static_cast<backend::StateBlob>(type);
}

class Connection;

}  // namespace

struct Server::Shared {
  Shared(asio::io_context& io_context, backend::Backend& be, ServerOptions opts)
      : io(io_context),
        backend(be),
        options(std::move(opts)),
        data_acceptor(io_context),
        ctrl_acceptor(io_context) {}

  void Log(backend::LogLevel level, const std::string& message) const {
    if (options.logger != nullptr) {
      options.logger->Log(level, "swtpm: " + message);
    }
  }
  bool Running() { return !tpm_stopped && backend.IsPoweredOn(); }
  void CloseAll();

  asio::io_context& io;
  backend::Backend& backend;
  ServerOptions options;
  tcp::acceptor data_acceptor;
  tcp::acceptor ctrl_acceptor;
  std::unordered_set<Connection*> connections;
  bool closing = false;
  // The control channel's state, shared by every connection.
  uint8_t locality = 0;
  uint32_t buffer_size = kMinBufferSize;
  bool tpm_stopped = false;            // STOP or SHUTDOWN until the next INIT
  std::optional<Bytes> kept_volatile;  // STORE_VOLATILE / SET_STATEBLOB, resumed by INIT
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Server::Shared> shared, tcp::socket socket, Port port)
      : shared_(std::move(shared)),
        socket_(std::move(socket)),
        port_(port),
        deadline_(socket_.get_executor()) {
    shared_->connections.insert(this);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { shared_->connections.erase(this); }

  void Start() { asio::co_spawn(socket_.get_executor(), Run(shared_from_this()), asio::detached); }

  void Close() {
    closed_ = true;
    error_code ignored;
    deadline_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  awaitable<void> Run(std::shared_ptr<Connection> self) {
    (void)self;  // keeps the connection alive while the coroutine runs
    try {
      if (port_ == Port::kData) {
        co_await ServeData();
      } else {
        co_await ServeCtrl();
      }
    } catch (const std::exception& e) {
      shared_->Log(backend::LogLevel::kWarn, std::string("connection failed: ") + e.what());
    }
    Close();
  }

  // From a request's first byte to the end of its answer: past the deadline, close.
  void ArmDeadline() {
    deadline_.expires_after(shared_->options.frame_timeout);
    deadline_.async_wait([weak = weak_from_this()](const error_code& ec) {
      auto self = weak.lock();
      if (!ec && self && !self->closed_) {
        self->shared_->Log(backend::LogLevel::kInfo, "request timed out, closing connection");
        self->Close();
      }
    });
  }

  awaitable<bool> ReadExact(std::span<uint8_t> out) {
    error_code ec;
    co_await asio::async_read(socket_, asio::buffer(out.data(), out.size()),
                              asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec && !closed_;
  }

  // Appends at least one read's worth to frame_; false on EOF, error or close.
  awaitable<bool> ReadSome() {
    error_code ec;
    size_t n = co_await socket_.async_read_some(asio::buffer(chunk_),
                                                asio::redirect_error(asio::use_awaitable, ec));
    if (ec || n == 0 || closed_) {
      co_return false;
    }
    net::SetTcpOption(socket_, TCP_QUICKACK);
    frame_.insert(frame_.end(), chunk_.begin(), chunk_.begin() + static_cast<ptrdiff_t>(n));
    co_return true;
  }

  // Makes frame_ hold at least `size` bytes of the current control message.
  awaitable<bool> Need(size_t size) {
    while (frame_.size() < size) {
      bool more = co_await ReadSome();
      if (!more) {
        co_return false;
      }
    }
    co_return true;
  }

  awaitable<bool> Write(const Bytes& answer) {
    error_code ec;
    co_await asio::async_write(socket_, asio::buffer(answer),
                               asio::redirect_error(asio::use_awaitable, ec));
    deadline_.cancel();
    co_return !ec && !closed_;
  }

  awaitable<void> ServeData() {
    auto& shared = *shared_;
    for (;;) {
      std::array<uint8_t, 6> head{};
      // The first byte may take forever (an idle connection); the rest is on the clock.
      bool got_first = co_await ReadExact(std::span(head).first(1));
      if (!got_first) {
        co_return;
      }
      ArmDeadline();
      bool got_head = co_await ReadExact(std::span(head).subspan(1));
      if (!got_head) {
        co_return;
      }
      uint32_t size = LoadBe32(head.data() + 2);
      if (size < kTpmHeaderSize || size > shared.buffer_size) {
        shared.Log(backend::LogLevel::kInfo,
                   "command size " + std::to_string(size) + " out of range, closing connection");
        co_return;
      }
      Bytes command(size);
      std::copy(head.begin(), head.end(), command.begin());
      bool got_body = co_await ReadExact(std::span(command).subspan(head.size()));
      if (!got_body) {
        co_return;
      }
      Bytes response =
          shared.Running() ? shared.backend.Execute(command, shared.locality) : StoppedResponse();
      bool sent = co_await Write(response);
      if (!sent) {
        co_return;
      }
    }
  }

  awaitable<void> ServeCtrl() {
    for (;;) {
      frame_.clear();
      bool got = co_await ReadSome();
      if (!got) {
        co_return;
      }
      ArmDeadline();
      bool got_code = co_await Need(4);
      if (!got_code) {
        co_return;
      }
      uint32_t request = LoadBe32(frame_.data());
      if (shared_->options.logger != nullptr &&
          shared_->options.logger->Enabled(backend::LogLevel::kDebug)) {
        shared_->Log(backend::LogLevel::kDebug, "control code " + std::to_string(request));
      }
      std::optional<Bytes> answer = co_await HandleCtrl(request);
      if (!answer) {
        co_return;
      }
      bool written = co_await Write(*answer);
      if (!written) {
        co_return;
      }
      if (stop_after_answer_) {
        shared_->Log(backend::LogLevel::kInfo, "SHUTDOWN received");
        if (shared_->options.on_stop) {
          shared_->options.on_stop();
        } else {
          shared_->CloseAll();
        }
        co_return;
      }
    }
  }

  // The u8 body of SET_LOCALITY and RESET_TPMESTABLISHED; nullopt when the peer went away.
  awaitable<std::optional<uint8_t>> LocalityByte() {
    bool got = co_await Need(5);
    if (!got) {
      co_return std::nullopt;
    }
    co_return frame_[4];
  }

  uint32_t Body32(size_t offset) const { return LoadBe32(frame_.data() + 4 + offset); }

  // One control message (its code already in frame_); nullopt closes the connection.
  awaitable<std::optional<Bytes>> HandleCtrl(uint32_t request) {
    auto& shared = *shared_;
    auto& be = shared.backend;
    switch (request) {
      case code::kGetCapability: {
        Bytes answer = ResultOnly(result::kOk);
        AppendBe32(answer, kCapabilities);
        co_return answer;
      }
      case code::kInit: {
        bool ok = co_await Need(8);
        if (!ok) {
          co_return std::nullopt;
        }
        bool delete_volatile = (Body32(0) & kInitDeleteVolatile) != 0;
        std::optional<Bytes> kept = std::move(shared.kept_volatile);
        shared.kept_volatile.reset();
        Status status;
        if (kept && !delete_volatile) {
          status = be.RestoreState(backend::StateBlob::kVolatile, *kept);
        } else if (be.IsPoweredOn()) {
          status = be.Reset();
        } else {
          status = be.PowerOn();
        }
        LogIfFailed("INIT", status);
        if (status.ok()) {
          shared.tpm_stopped = false;
        }
        co_return ResultOnly(ResultOf(status));
      }
      case code::kShutdown:
      case code::kStop: {
        Status status = be.Flush();
        Status off = be.PowerOff();
        if (status.ok()) {
          status = off;
        }
        LogIfFailed(request == code::kStop ? "STOP" : "SHUTDOWN", status);
        shared.tpm_stopped = true;
        stop_after_answer_ = request == code::kShutdown;
        co_return ResultOnly(ResultOf(status));
      }
      case code::kGetTpmEstablished: {
        auto established = be.TpmEstablished();
        if (!established.ok()) {
          LogIfFailed("GET_TPMESTABLISHED", established.error());
          co_return ResultOnly(ResultOf(established.error()));
        }
        Bytes answer = ResultOnly(result::kOk);
        answer.push_back(*established ? 1 : 0);
        answer.insert(answer.end(), 3, 0);
        co_return answer;
      }
      case code::kSetLocality: {
        auto locality = co_await LocalityByte();
        if (!locality) {
          co_return std::nullopt;
        }
        if (*locality > 4) {
          co_return ResultOnly(result::kBadLocality);
        }
        shared.locality = *locality;
        co_return ResultOnly(result::kOk);
      }
      case code::kHashStart:
        co_return ResultOnly(Checked("HASH_START", be.HashStart()));
      case code::kHashData: {
        bool got_len = co_await Need(8);
        if (!got_len) {
          co_return std::nullopt;
        }
        uint32_t len = Body32(0);
        if (len > kMaxHashData) {
          shared.Log(backend::LogLevel::kInfo, "HASH_DATA of " + std::to_string(len) + " bytes");
          co_await Write(ResultOnly(result::kSize));
          co_return std::nullopt;
        }
        bool got_data = co_await Need(8 + len);
        if (!got_data) {
          co_return std::nullopt;
        }
        co_return ResultOnly(Checked("HASH_DATA", be.HashData(std::span(frame_).subspan(8, len))));
      }
      case code::kHashEnd:
        co_return ResultOnly(Checked("HASH_END", be.HashEnd()));
      case code::kCancelTpmCmd:
        co_return ResultOnly(result::kOk);
      case code::kStoreVolatile: {
        if (!shared.Running()) {
          co_return ResultOnly(result::kFail);
        }
        auto blob = be.SaveState(backend::StateBlob::kVolatile);
        if (!blob.ok()) {
          LogIfFailed("STORE_VOLATILE", blob.error());
          co_return ResultOnly(ResultOf(blob.error()));
        }
        shared.kept_volatile = std::move(*blob);
        co_return ResultOnly(result::kOk);
      }
      case code::kResetTpmEstablished: {
        auto locality = co_await LocalityByte();
        if (!locality) {
          co_return std::nullopt;
        }
        Status status =
            *locality > 4 ? InvalidArgument("no such locality") : be.ResetEstablished(*locality);
        if (status.code() == StatusCode::kInvalidArgument) {
          co_return ResultOnly(result::kBadLocality);
        }
        co_return ResultOnly(Checked("RESET_TPMESTABLISHED", status));
      }
      case code::kGetStateBlob:
        co_return co_await GetStateBlob();
      case code::kSetStateBlob:
        co_return co_await SetStateBlob();
      case code::kGetConfig: {
        Bytes answer = ResultOnly(result::kOk);
        AppendBe32(answer, 0);  // neither a state key nor a migration key
        co_return answer;
      }
      case code::kSetBufferSize: {
        bool ok = co_await Need(8);
        if (!ok) {
          co_return std::nullopt;
        }
        uint32_t wanted = Body32(0);
        uint32_t max = std::max(kMinBufferSize, shared.options.max_buffer_size);
        if (wanted != 0) {
          if (shared.Running()) {
            co_return ResultOnly(result::kFail);  // only while stopped, as QEMU does it
          }
          shared.buffer_size = std::clamp(wanted, kMinBufferSize, max);
        }
        Bytes answer = ResultOnly(result::kOk);
        AppendBe32(answer, shared.buffer_size);
        AppendBe32(answer, kMinBufferSize);
        AppendBe32(answer, max);
        co_return answer;
      }
      default:
        // SET_DATAFD (needs a unix socket), GET_INFO, LOCK_STORAGE and unknown codes.
        shared.Log(backend::LogLevel::kInfo,
                   "control code " + std::to_string(request) + " not supported over TCP");
        co_return ResultOnly(result::kBadOrdinal);
    }
  }

  // GET_STATEBLOB: u32 flags, u32 type, u32 offset -> res, flags, total, len, data.
  awaitable<std::optional<Bytes>> GetStateBlob() {
    bool got_head = co_await Need(16);
    if (!got_head) {
      co_return std::nullopt;
    }
    auto type = BlobType(Body32(4));
    uint32_t offset = Body32(8);
    if (!type) {
      co_return ResultOnly(result::kBadParameter);
    }
    auto blob = shared_->backend.SaveState(*type);
    if (!blob.ok()) {
      LogIfFailed("GET_STATEBLOB", blob.error());
      co_return ResultOnly(ResultOf(blob.error(), result::kBadParameter));
    }
    size_t start = std::min<size_t>(offset, blob->size());
    Bytes answer = ResultOnly(result::kOk);
    AppendBe32(answer, 0);  // flags: not encrypted
    AppendBe32(answer, static_cast<uint32_t>(blob->size()));
    AppendBe32(answer, static_cast<uint32_t>(blob->size() - start));
    answer.insert(answer.end(), blob->begin() + static_cast<ptrdiff_t>(start), blob->end());
    co_return answer;
  }

  // SET_STATEBLOB: u32 flags, u32 type, u32 len, data -> res.
  awaitable<std::optional<Bytes>> SetStateBlob() {
    auto& shared = *shared_;
    bool got_head = co_await Need(16);
    if (!got_head) {
      co_return std::nullopt;
    }
    uint32_t flags = Body32(0);
    auto type = BlobType(Body32(4));
    uint32_t len = Body32(8);
    if (len > shared.options.max_state_blob) {
      shared.Log(backend::LogLevel::kInfo, "state blob of " + std::to_string(len) +
                                               " bytes is over the limit, closing connection");
      co_await Write(ResultOnly(result::kSize));
      co_return std::nullopt;
    }
    bool got_blob = co_await Need(16 + static_cast<size_t>(len));
    if (!got_blob) {
      co_return std::nullopt;
    }
    if (!type || (flags & kBlobFlagEncrypted) != 0) {
      co_return ResultOnly(result::kBadParameter);
    }
    std::span<const uint8_t> blob = std::span(frame_).subspan(16, len);
    if (*type == backend::StateBlob::kVolatile) {
      // Resumed by the next INIT, so only while stopped (QEMU sends STOP first).
      if (shared.Running()) {
        shared.Log(backend::LogLevel::kInfo, "SET_STATEBLOB while the TPM runs; send STOP first");
        co_return ResultOnly(result::kFail);
      }
      shared.kept_volatile = Bytes(blob.begin(), blob.end());
      co_return ResultOnly(result::kOk);
    }
    Status status = shared.backend.RestoreState(*type, blob);
    LogIfFailed("SET_STATEBLOB", status);
    co_return ResultOnly(ResultOf(status, result::kBadParameter));
  }

  void LogIfFailed(const char* what, const Status& status) {
    if (!status.ok()) {
      shared_->Log(backend::LogLevel::kWarn, std::string(what) + " failed: " + status.message());
    }
  }
  uint32_t Checked(const char* what, const Status& status) {
    LogIfFailed(what, status);
    return ResultOf(status);
  }

  std::shared_ptr<Server::Shared> shared_;
  tcp::socket socket_;
  Port port_;
  asio::steady_timer deadline_;
  bool closed_ = false;
  bool stop_after_answer_ = false;
  Bytes frame_;  // the control message being handled
  std::array<uint8_t, 4096> chunk_{};
};

net::AcceptHandler Accepting(std::shared_ptr<Server::Shared> shared, Port port) {
  net::AcceptHandler h;
  h.stopped = [shared] { return shared->closing; };
  h.full = [shared] { return shared->connections.size() >= shared->options.max_connections; };
  h.warn = [shared](const std::string& message) {
    shared->Log(backend::LogLevel::kWarn, message);  // Log adds "swtpm: "
  };
  h.start = [shared, port](tcp::socket socket) {
    std::make_shared<Connection>(shared, std::move(socket), port)->Start();
  };
  return h;
}

}  // namespace

void Server::Shared::CloseAll() {
  closing = true;
  error_code ignored;
  data_acceptor.close(ignored);
  ctrl_acceptor.close(ignored);
  std::vector<Connection*> open(connections.begin(), connections.end());
  for (Connection* c : open) {
    c->Close();
  }
}

StatusOr<std::unique_ptr<Server>> Server::Listen(asio::io_context& io, backend::Backend& backend,
                                                 ServerOptions options) {
  try {
    if (!options.ctrl_port && options.data_port == 65535) {
      return InvalidArgument("data port 65535 leaves no room for the control port (+1)");
    }
    auto shared = std::make_shared<Shared>(io, backend, std::move(options));
    TRY(net::ListenPair(io, shared->options.host, shared->options.data_port,
                        shared->options.ctrl_port, shared->data_acceptor, shared->ctrl_acceptor));
    return std::unique_ptr<Server>(new Server(std::move(shared)));
  } catch (const std::exception& e) {
    return IoError(std::string("cannot set up the swtpm listeners (") + e.what() + ")");
  }
}

Server::Server(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

Server::~Server() {
  shared_->closing = true;
  error_code ignored;
  shared_->data_acceptor.close(ignored);
  shared_->ctrl_acceptor.close(ignored);
}

void Server::Start() {
  asio::co_spawn(shared_->io,
                 net::AcceptLoop(shared_->data_acceptor, Accepting(shared_, Port::kData)),
                 asio::detached);
  asio::co_spawn(shared_->io,
                 net::AcceptLoop(shared_->ctrl_acceptor, Accepting(shared_, Port::kCtrl)),
                 asio::detached);
}

void Server::Stop() {
  shared_->CloseAll();
}

uint16_t Server::data_port() const {
  error_code ec;
  return shared_->data_acceptor.local_endpoint(ec).port();
}

uint16_t Server::ctrl_port() const {
  error_code ec;
  return shared_->ctrl_acceptor.local_endpoint(ec).port();
}

std::string Server::data_endpoint() const {
  error_code ec;
  return net::FormatEndpoint(shared_->data_acceptor.local_endpoint(ec));
}

std::string Server::ctrl_endpoint() const {
  error_code ec;
  return net::FormatEndpoint(shared_->ctrl_acceptor.local_endpoint(ec));
}

}  // namespace tpm2emu::swtpm
