#include "frontends/backend/engine_backend.h"

#include <string>
#include <utility>

namespace tpm2emu::backend {
namespace {

Status Unsupported(std::string what) {
  return Status(StatusCode::kUnsupported, std::move(what));
}

const char* BlobName(StateBlob which) {
  switch (which) {
    case StateBlob::kPermanent:
      return "permanent";
    case StateBlob::kVolatile:
      return "volatile";
    case StateBlob::kSaveState:
      return "savestate";
  }
  return "unknown";
}

}  // namespace

EngineBackend::EngineBackend(std::unique_ptr<engine::TpmInstance> tpm) : tpm_(std::move(tpm)) {}

Bytes EngineBackend::Execute(std::span<const uint8_t> command, uint8_t locality) {
  return tpm_->Execute(command, locality);
}

Status EngineBackend::PowerOn() {
  tpm_->PowerOn();
  return Status::Ok();
}

Status EngineBackend::PowerOff() {
  tpm_->PowerOff();
  return Status::Ok();
}

Status EngineBackend::Reset() {
  if (!tpm_->IsPoweredOn()) {
    return Status(StatusCode::kFailedPrecondition, "reset needs the TPM powered on");
  }
  tpm_->Reset();
  return Status::Ok();
}

bool EngineBackend::IsPoweredOn() {
  return tpm_->IsPoweredOn();
}

Status EngineBackend::SetNvAvailable(bool on) {
  tpm_->SetNvAvailable(on);
  return Status::Ok();
}

Status EngineBackend::SetPhysicalPresence(bool on) {
  tpm_->SetPhysicalPresence(on);
  return Status::Ok();
}

void EngineBackend::SetCancel(bool on) {
  tpm_->SetCancel(on);
}

StatusOr<Bytes> EngineBackend::SaveState(StateBlob which) {
  if (which == StateBlob::kVolatile) {
    return tpm_->SaveVolatile();
  }
  return Unsupported(std::string("the ") + BlobName(which) + " state blob is not supported");
}

Status EngineBackend::RestoreState(StateBlob which, std::span<const uint8_t> blob) {
  if (which == StateBlob::kVolatile) {
    return tpm_->RestoreVolatile(blob);
  }
  return Unsupported(std::string("the ") + BlobName(which) + " state blob is not supported");
}

StatusOr<bool> EngineBackend::TpmEstablished() {
  return tpm_->TpmEstablished();
}

Status EngineBackend::ResetEstablished(uint8_t locality) {
  if (locality != 3 && locality != 4) {
    return InvalidArgument("tpmEstablished can be reset from locality 3 or 4 only, not " +
                           std::to_string(locality));
  }
  return tpm_->ResetEstablished();
}

Status EngineBackend::HashStart() {
  return tpm_->HashStart();
}

Status EngineBackend::HashData(std::span<const uint8_t> data) {
  tpm_->HashData(data);
  return Status::Ok();
}

Status EngineBackend::HashEnd() {
  return tpm_->HashEnd();
}

Status EngineBackend::Flush() {
  return tpm_->Flush();
}

}  // namespace tpm2emu::backend
