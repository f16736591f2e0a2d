#pragma once
// The swtpm-compatible transport over TCP, as swtpm's `socket` mode offers it and tpm2-tss's
// swtpm TCTI uses it (DESIGN.md, "swtpm-compatible control channel"): a data port for bare TPM
// commands and a control port (data port + 1 by default). A thin adapter over one Backend.
//
// Data port: each request is one bare TPM command (tag, u32 size, rest), answered with the bare
// response in one write. Clients may connect per command or keep the connection. A size below
// 10 or above the buffer size (SET_BUFFERSIZE) closes the connection. While the TPM is stopped
// (STOP, or powered off) a command is answered with a TPM_RC_FAILURE response.
//
// Control port: `u32 code` + body, answered with `u32 result` + body. Like swtpm, a message is
// what one read delivers: a body longer than the code needs (QEMU pads small bodies to 4 bytes)
// is accepted and the excess discarded (so a client waits for each answer before it sends the
// next message, as swtpm's clients do); a short one waits for the rest within frame_timeout.
// A failed request is answered with the result word alone. Unknown and unsupported codes
// answer kBadOrdinal and keep the connection; an oversized HASH_DATA or SET_STATEBLOB length
// answers kSize and closes it. The supported codes are exactly the bits of kCapabilities:
//   GET_CAPABILITY, INIT (flag bit 0: drop a volatile state kept by STORE_VOLATILE or
//   SET_STATEBLOB), SHUTDOWN (stops the TPM, then the server: on_stop), GET_TPMESTABLISHED,
//   SET_LOCALITY (0-4, for later data-port commands on any connection), HASH_START/DATA/END,
//   CANCEL_TPM_CMD (answers 0: commands run to completion on the io thread before the next
//   control message is read, so there is never one to cancel), STORE_VOLATILE (keeps the
//   volatile state in memory for the next INIT), RESET_TPMESTABLISHED, GET_STATEBLOB and
//   SET_STATEBLOB (whatever blob types the Backend supports; others answer kBadParameter;
//   SET_STATEBLOB of the volatile state is applied at the next INIT, as swtpm does), STOP
//   (makes the state durable and powers the TPM off; the server keeps running, INIT restarts
//   it), GET_CONFIG (no keys: flags 0), SET_BUFFERSIZE.
// Not supported (kBadOrdinal): SET_DATAFD (it passes a descriptor, which needs a unix socket),
// GET_INFO, LOCK_STORAGE and the send-command-header mode.
//
// Threading and lifetime as mssim::Server: everything runs on the caller's io_context; each
// connection is its own coroutine; malformed input ends that connection only.

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

namespace tpm2emu::swtpm {

// Control codes.
namespace code {
inline constexpr uint32_t kGetCapability = 1;
inline constexpr uint32_t kInit = 2;
inline constexpr uint32_t kShutdown = 3;
inline constexpr uint32_t kGetTpmEstablished = 4;
inline constexpr uint32_t kSetLocality = 5;
inline constexpr uint32_t kHashStart = 6;
inline constexpr uint32_t kHashData = 7;
inline constexpr uint32_t kHashEnd = 8;
inline constexpr uint32_t kCancelTpmCmd = 9;
inline constexpr uint32_t kStoreVolatile = 10;
inline constexpr uint32_t kResetTpmEstablished = 11;
inline constexpr uint32_t kGetStateBlob = 12;
inline constexpr uint32_t kSetStateBlob = 13;
inline constexpr uint32_t kStop = 14;
inline constexpr uint32_t kGetConfig = 15;
inline constexpr uint32_t kSetDataFd = 16;
inline constexpr uint32_t kSetBufferSize = 17;
inline constexpr uint32_t kGetInfo = 18;
inline constexpr uint32_t kLockStorage = 19;
}  // namespace code

// Result codes (the first word of every answer).
namespace result {
inline constexpr uint32_t kOk = 0;
inline constexpr uint32_t kBadParameter = 3;
inline constexpr uint32_t kFail = 9;
inline constexpr uint32_t kBadOrdinal = 10;
inline constexpr uint32_t kSize = 0x17;
inline constexpr uint32_t kIoError = 0x1f;
inline constexpr uint32_t kBadLocality = 0x3d;
}  // namespace result

// GET_CAPABILITY bits.
namespace cap {
inline constexpr uint32_t kInit = 1u << 0;
inline constexpr uint32_t kShutdown = 1u << 1;
inline constexpr uint32_t kGetTpmEstablished = 1u << 2;
inline constexpr uint32_t kSetLocality = 1u << 3;
inline constexpr uint32_t kHashing = 1u << 4;
inline constexpr uint32_t kCancelTpmCmd = 1u << 5;
inline constexpr uint32_t kStoreVolatile = 1u << 6;
inline constexpr uint32_t kResetTpmEstablished = 1u << 7;
inline constexpr uint32_t kGetStateBlob = 1u << 8;
inline constexpr uint32_t kSetStateBlob = 1u << 9;
inline constexpr uint32_t kStop = 1u << 10;
inline constexpr uint32_t kGetConfig = 1u << 11;
inline constexpr uint32_t kSetDataFd = 1u << 12;
inline constexpr uint32_t kSetBufferSize = 1u << 13;
inline constexpr uint32_t kGetInfo = 1u << 14;
inline constexpr uint32_t kSendCommandHeader = 1u << 15;
inline constexpr uint32_t kLockStorage = 1u << 16;
}  // namespace cap

// What this server implements over TCP.
inline constexpr uint32_t kCapabilities =
    cap::kInit | cap::kShutdown | cap::kGetTpmEstablished | cap::kSetLocality | cap::kHashing |
    cap::kCancelTpmCmd | cap::kStoreVolatile | cap::kResetTpmEstablished | cap::kGetStateBlob |
    cap::kSetStateBlob | cap::kStop | cap::kGetConfig | cap::kSetBufferSize;

// INIT flag: forget the kept volatile state instead of resuming it.
inline constexpr uint32_t kInitDeleteVolatile = 1;
// The largest HASH_DATA body.
inline constexpr size_t kMaxHashData = 4096;
// SET_BUFFERSIZE bounds: the engine's largest command is the smallest buffer we allow.
inline constexpr uint32_t kMinBufferSize = 4096;

struct ServerOptions {
  // A numeric address or a name resolved once at Listen.
  std::string host = "127.0.0.1";
  uint16_t data_port = 2321;
  // nullopt: data_port + 1. With data_port 0, a free pair (P, P + 1) if one is found quickly,
  // as the swtpm TCTI assumes, else any free port.
  std::optional<uint16_t> ctrl_port;
  // Largest buffer SET_BUFFERSIZE may set; the buffer starts at kMinBufferSize.
  uint32_t max_buffer_size = 8192;
  // Largest SET_STATEBLOB accepted; a larger one answers kSize and closes the connection.
  size_t max_state_blob = 4 << 20;
  // Once a request's first bytes arrived, the rest and our answer must complete within this.
  std::chrono::milliseconds frame_timeout{30000};
  size_t max_connections = 256;
  // Called (on the io thread) after SHUTDOWN; by default the server Stop()s itself.
  std::function<void()> on_stop;
  // Where to log; null for silence. Must outlive the server.
  const backend::Logger* logger = nullptr;
};

class Server {
 public:
  // Binds and listens on both ports; accepting starts with Start(). `backend` must outlive
  // every coroutine on `io`. Errors: "cannot listen on HOST:PORT (reason)", "cannot resolve
  // HOST (reason)".
  static StatusOr<std::unique_ptr<Server>> Listen(boost::asio::io_context& io,
                                                  backend::Backend& backend, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void Start();  // call once
  // Closes both listeners and every open connection. Call on the io thread (or post it).
  void Stop();

  uint16_t data_port() const;
  uint16_t ctrl_port() const;
  // "127.0.0.1:2321" / "[::1]:2321" with the bound port.
  std::string data_endpoint() const;
  std::string ctrl_endpoint() const;

  struct Shared;

 private:
  explicit Server(std::shared_ptr<Shared> shared);
  std::shared_ptr<Shared> shared_;
};

}  // namespace tpm2emu::swtpm
