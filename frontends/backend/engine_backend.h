#pragma once
// EngineBackend: the Backend over one of our own TPMs (engine::TpmInstance).
//
// It owns the TpmInstance and nothing else: the Store, Clock and EntropySource the instance was
// created over must outlive the EngineBackend. Like the engine, it is single-threaded (wrap it
// in SerializedBackend to share it between threads), except SetCancel.

#include <memory>

#include "engine/tpm_api.h"
#include "frontends/backend/backend.h"

namespace tpm2emu::backend {

class EngineBackend final : public Backend {
 public:
  // `tpm` must not be null.
  explicit EngineBackend(std::unique_ptr<engine::TpmInstance> tpm);

  Bytes Execute(std::span<const uint8_t> command, uint8_t locality) override;
  Status PowerOn() override;
  Status PowerOff() override;
  Status Reset() override;
  bool IsPoweredOn() override;
  Status SetNvAvailable(bool on) override;
  Status SetPhysicalPresence(bool on) override;
  void SetCancel(bool on) override;
  // kVolatile maps to TpmInstance::SaveVolatile/RestoreVolatile. The permanent state lives in
  // the Store and kSaveState (a Shutdown(STATE) image) has no blob form yet: both give
  // kUnsupported.
  StatusOr<Bytes> SaveState(StateBlob which) override;
  Status RestoreState(StateBlob which, std::span<const uint8_t> blob) override;
  StatusOr<bool> TpmEstablished() override;
  // Only localities 3 and 4 may reset the flag (PC Client); others give kInvalidArgument.
  Status ResetEstablished(uint8_t locality) override;
  Status HashStart() override;
  Status HashData(std::span<const uint8_t> data) override;
  Status HashEnd() override;
  Status Flush() override;

  engine::TpmInstance& tpm() { return *tpm_; }

 private:
  std::unique_ptr<engine::TpmInstance> tpm_;
};

}  // namespace tpm2emu::backend
