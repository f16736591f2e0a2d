#pragma once
// SerializedBackend: makes a Backend safe to call from several threads by holding a mutex
// around every call but SetCancel, which goes straight through (it must be able to reach a
// command that is running).

#include <memory>
#include <mutex>
#include <utility>

#include "frontends/backend/backend.h"

namespace tpm2emu::backend {

class SerializedBackend final : public Backend {
 public:
  // Wraps `inner`, which must outlive this object.
  explicit SerializedBackend(Backend& inner) : inner_(inner) {}
  // Wraps and owns `inner` (not null).
  explicit SerializedBackend(std::unique_ptr<Backend> inner)
      : owned_(std::move(inner)), inner_(*owned_) {}

  Bytes Execute(std::span<const uint8_t> command, uint8_t locality) override;
  Status PowerOn() override;
  Status PowerOff() override;
  Status Reset() override;
  bool IsPoweredOn() override;
  Status SetNvAvailable(bool on) override;
  Status SetPhysicalPresence(bool on) override;
  void SetCancel(bool on) override;
  StatusOr<Bytes> SaveState(StateBlob which) override;
  Status RestoreState(StateBlob which, std::span<const uint8_t> blob) override;
  StatusOr<bool> TpmEstablished() override;
  Status ResetEstablished(uint8_t locality) override;
  Status HashStart() override;
  Status HashData(std::span<const uint8_t> data) override;
  Status HashEnd() override;
  Status Flush() override;

 private:
  std::unique_ptr<Backend> owned_;
  Backend& inner_;
  std::mutex mu_;
};

}  // namespace tpm2emu::backend
