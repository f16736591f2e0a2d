#pragma once
// The TSS2 TCTI (TCG TSS 2.0 TCTI specification) context machinery behind
// libtss2-tcti-tpm2emu.so, independent of what answers the commands: a Session supplies the
// Backend and is told when the context is finalized. The shared library plugs in a Session over
// our engine; tests plug in a fake.
//
// The context begins with TSS2_TCTI_CONTEXT_COMMON_V2 (version 2). Commands run synchronously
// in transmit, so a response is always ready when receive is called and the timeout never
// expires. State machine: transmit is allowed when no response is pending, receive only after a
// transmit (else TSS2_TCTI_RC_BAD_SEQUENCE). No function throws.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include <tss2/tss2_tcti.h>

#include "engine/base/status.h"
#include "frontends/backend/backend.h"

namespace tpm2emu::tcti {

// What one TCTI context drives.
class Session {
 public:
  virtual ~Session() = default;
  virtual backend::Backend& backend() = 0;
  // Called once by finalize, before the Session is destroyed: keep what the next process
  // needs. An error is reported on stderr (finalize cannot return one).
  virtual Status Close() = 0;
};

// Opens a Session for an init config string (never null here; "" when none was given).
// Errors are reported on stderr by Init and map to TSS2 codes: kInvalidArgument ->
// TSS2_TCTI_RC_BAD_VALUE, kIo/kBusy/kCorrupt -> TSS2_TCTI_RC_IO_ERROR, others ->
// TSS2_TCTI_RC_GENERAL_FAILURE.
using SessionOpener = StatusOr<std::unique_ptr<Session>> (*)(std::string_view config);

inline constexpr uint64_t kContextMagic = 0x74706d32656d7501;  // "tpm2emu" + 1

// The TSS2_TCTI_INIT_FUNC contract: with a null context, stores the context size in *size;
// otherwise initializes the context (*size must be at least that size) over open(config).
TSS2_RC InitContext(TSS2_TCTI_CONTEXT* context, size_t* size, const char* config,
                    SessionOpener open) noexcept;

// Size of the context InitContext needs.
size_t ContextSize() noexcept;

// Closes (Session::Close, then destroys) the Session of every live context; those contexts
// then fail every call with TSS2_TCTI_RC_GENERAL_FAILURE and finalize only frees them. For an
// exit handler: clients such as tpm2-tools finalize their TCTI from atexit, after libraries
// they use (OpenSSL) may already have torn themselves down.
void CloseAllSessions() noexcept;

}  // namespace tpm2emu::tcti
