#pragma once
// The Microsoft simulator ("mssim") socket protocol, as tpm2-tss's mssim TCTI, the IBM TSS and
// the simulator's own tools speak it: a command port and a platform port (DESIGN.md, "Wire
// protocols"). A thin adapter: every request becomes one Backend call.
//
// Both listeners and all connections run on the caller's io_context; Backend calls happen on
// the thread(s) running it (run it on one thread, or hand in a SerializedBackend). Each
// connection is a coroutine of its own, so a slow or stalled client never holds up another;
// anything malformed (an unknown code, an oversized length, a frame stalled for longer than
// frame_timeout) ends that connection only.
//
// Hash start/data/end (codes 5-7) run the TPM's _TPM_Hash_Start/Data/End indications
// (Backend::HashStart/HashData/HashEnd) and are always acknowledged with 0.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "engine/base/status.h"
#include "frontends/backend/backend.h"
#include "frontends/backend/log.h"

namespace tpm2emu::mssim {

// Request codes (TpmTcpProtocol.h of the reference simulator).
namespace code {
inline constexpr uint32_t kPowerOn = 1;
inline constexpr uint32_t kPowerOff = 2;
inline constexpr uint32_t kPhysPresOn = 3;
inline constexpr uint32_t kPhysPresOff = 4;
inline constexpr uint32_t kHashStart = 5;
inline constexpr uint32_t kHashData = 6;
inline constexpr uint32_t kHashEnd = 7;
inline constexpr uint32_t kSendCommand = 8;
inline constexpr uint32_t kCancelOn = 9;
inline constexpr uint32_t kCancelOff = 10;
inline constexpr uint32_t kNvOn = 11;
inline constexpr uint32_t kNvOff = 12;
inline constexpr uint32_t kRemoteHandshake = 15;
inline constexpr uint32_t kSetAlternativeResult = 16;
inline constexpr uint32_t kReset = 17;
inline constexpr uint32_t kRestart = 18;
inline constexpr uint32_t kSessionEnd = 20;
inline constexpr uint32_t kStop = 21;
}  // namespace code

// REMOTE_HANDSHAKE answer.
inline constexpr uint32_t kServerVersion = 1;
inline constexpr uint32_t kFlagPlatformAvailable = 1;
inline constexpr uint32_t kFlagRawMode = 4;
inline constexpr uint32_t kFlagSupportsPp = 8;

struct ServerOptions {
  // A numeric address or a name resolved once at Listen.
  std::string host = "127.0.0.1";
  uint16_t command_port = 2321;
  // nullopt: command_port + 1. With command_port 0, a free pair (P, P + 1) if one is found
  // quickly, as mssim clients assume, else any free port.
  std::optional<uint16_t> platform_port;
  // Largest TPM command (and hash-data chunk) accepted; a bigger length closes the connection.
  size_t max_command_size = 8192;
  // Once the first bytes of a request arrived, the rest (and our answer's write) must complete
  // within this time, or the connection is closed. Idle connections are never closed.
  std::chrono::milliseconds frame_timeout{30000};
  // Connections beyond this many are closed as soon as they are accepted.
  size_t max_connections = 256;
  // Called (on the io thread) when a client sends STOP; by default the server Stop()s itself.
  std::function<void()> on_stop;
  // Where to log; null for silence. Must outlive the server.
  const backend::Logger* logger = nullptr;
};

class Server {
 public:
  // Binds and listens on both ports; accepting starts with Start(). `backend` must outlive
  // every coroutine on `io` (the server's own state is kept alive by its connections).
  // Errors: "cannot listen on HOST:PORT (reason)", "cannot resolve HOST (reason)".
  static StatusOr<std::unique_ptr<Server>> Listen(boost::asio::io_context& io,
                                                  backend::Backend& backend, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Starts accepting on both ports. Call once.
  void Start();
  // Closes both listeners and every open connection. Call on the io thread (or post it).
  void Stop();

  uint16_t command_port() const;
  uint16_t platform_port() const;
  // "127.0.0.1:2321" / "[::1]:2321" with the bound port.
  std::string command_endpoint() const;
  std::string platform_endpoint() const;

  struct Shared;

 private:
  explicit Server(std::shared_ptr<Shared> shared);
  std::shared_ptr<Shared> shared_;
};

}  // namespace tpm2emu::mssim
