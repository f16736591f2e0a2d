#pragma once
// The one seam between transports and TPMs. A frontend parses its transport and calls a
// Backend; it knows no TPM semantics. Implementations: EngineBackend (our Tpm), later a
// pass-through to a real device. Not thread-safe unless wrapped in SerializedBackend, except
// SetCancel.

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>

#include "engine/base/bytes.h"
#include "engine/base/status.h"

namespace tpm2emu::backend {

enum class StateBlob { kPermanent = 1, kVolatile = 2, kSaveState = 3 };

class Backend {
 public:
  virtual ~Backend() = default;
  // Runs one command and returns a complete response (a TPM error response if need be).
  virtual Bytes Execute(std::span<const uint8_t> command, uint8_t locality) = 0;
  virtual Status PowerOn() = 0;  // runs _TPM_Init; a no-op when already on
  virtual Status PowerOff() = 0;
  virtual Status Reset() = 0;  // _TPM_Init while powered
  virtual bool IsPoweredOn() = 0;
  virtual Status SetNvAvailable(bool on) = 0;
  virtual Status SetPhysicalPresence(bool on) = 0;
  virtual void SetCancel(bool on) = 0;  // the one call allowed from any thread
  virtual StatusOr<Bytes> SaveState(StateBlob which) = 0;
  virtual Status RestoreState(StateBlob which, std::span<const uint8_t> blob) = 0;
  virtual StatusOr<bool> TpmEstablished() = 0;
  virtual Status ResetEstablished(uint8_t locality) = 0;
  // The H-CRTM / D-RTM indications _TPM_Hash_Start, _TPM_Hash_Data, _TPM_Hash_End (locality 4
  // on a PC); safe in any order, discarded where they make no sense.
  virtual Status HashStart() = 0;
  virtual Status HashData(std::span<const uint8_t> data) = 0;
  virtual Status HashEnd() = 0;
  // Makes everything durable that a clean stop must keep (e.g. the clock). Called on SIGTERM.
  virtual Status Flush() = 0;
};

}  // namespace tpm2emu::backend
