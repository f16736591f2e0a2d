#include "frontends/backend/serialized_backend.h"

namespace tpm2emu::backend {

Bytes SerializedBackend::Execute(std::span<const uint8_t> command, uint8_t locality) {
  std::lock_guard lock(mu_);
  return inner_.Execute(command, locality);
}

Status SerializedBackend::PowerOn() {
  std::lock_guard lock(mu_);
  return inner_.PowerOn();
}

Status SerializedBackend::PowerOff() {
  std::lock_guard lock(mu_);
  return inner_.PowerOff();
}

Status SerializedBackend::Reset() {
  std::lock_guard lock(mu_);
  return inner_.Reset();
}

bool SerializedBackend::IsPoweredOn() {
  std::lock_guard lock(mu_);
  return inner_.IsPoweredOn();
}

Status SerializedBackend::SetNvAvailable(bool on) {
  std::lock_guard lock(mu_);
  return inner_.SetNvAvailable(on);
}

Status SerializedBackend::SetPhysicalPresence(bool on) {
  std::lock_guard lock(mu_);
  return inner_.SetPhysicalPresence(on);
}

void SerializedBackend::SetCancel(bool on) {
  inner_.SetCancel(on);
}

StatusOr<Bytes> SerializedBackend::SaveState(StateBlob which) {
  std::lock_guard lock(mu_);
  return inner_.SaveState(which);
}

Status SerializedBackend::RestoreState(StateBlob which, std::span<const uint8_t> blob) {
  std::lock_guard lock(mu_);
  return inner_.RestoreState(which, blob);
}

StatusOr<bool> SerializedBackend::TpmEstablished() {
  std::lock_guard lock(mu_);
  return inner_.TpmEstablished();
}

Status SerializedBackend::ResetEstablished(uint8_t locality) {
  std::lock_guard lock(mu_);
  return inner_.ResetEstablished(locality);
}

Status SerializedBackend::HashStart() {
  std::lock_guard lock(mu_);
  return inner_.HashStart();
}

Status SerializedBackend::HashData(std::span<const uint8_t> data) {
  std::lock_guard lock(mu_);
  return inner_.HashData(data);
}

Status SerializedBackend::HashEnd() {
  std::lock_guard lock(mu_);
  return inner_.HashEnd();
}

Status SerializedBackend::Flush() {
  std::lock_guard lock(mu_);
  return inner_.Flush();
}

}  // namespace tpm2emu::backend
