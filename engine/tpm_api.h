#pragma once
// The public face of the engine, for frontends and tools: create a Tpm over a Store and run
// commands. Everything inside stays in engine/tpm.h.

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "engine/base/bytes.h"
#include "engine/base/status.h"
#include "engine/host.h"
#include "nvstore/store.h"

namespace tpm2emu::engine {

// Fixed facts a TPM reports about itself (TPM_PT_MANUFACTURER etc.).
struct Profile {
  std::string manufacturer = "EMU ";  // four characters
  std::string vendor = "tpm2emu";     // up to 16 characters
  uint32_t firmware_version_1 = 0x00010000;
  uint32_t firmware_version_2 = 0;
};

class TpmInstance {
 public:
  virtual ~TpmInstance() = default;
  // Runs one command; always returns a complete response. Never throws.
  virtual Bytes Execute(std::span<const uint8_t> command, uint8_t locality) noexcept = 0;
  virtual void PowerOn() = 0;   // _TPM_Init if off; no-op if already on
  virtual void PowerOff() = 0;  // volatile state not saved by Shutdown is lost
  virtual void Reset() = 0;     // _TPM_Init while powered
  virtual bool IsPoweredOn() const = 0;
  virtual void SetNvAvailable(bool on) = 0;
  virtual void SetPhysicalPresence(bool on) = 0;
  virtual void SetCancel(bool on) = 0;
  // PC Client tpmEstablishment: set by HashStart(), kept across power cycles; the platform
  // clears it (from locality 3 or 4, which the caller checks).
  virtual bool TpmEstablished() const = 0;
  virtual Status ResetEstablished() = 0;
  // The H-CRTM / D-RTM indications of the TPM interface, _TPM_Hash_Start, _TPM_Hash_Data and
  // _TPM_Hash_End (Part 3 §22.9-§22.11), which a PC sends at locality 4. Before TPM2_Startup
  // the sequence measures into PCR[0] (applied by the Startup); after it, it is a D-RTM: PCRs
  // 17-22 are reset and PCR[17] extended. Any order is safe: HashData and HashEnd without a
  // HashStart are discarded, a second HashStart or any command abandons the sequence, and all
  // three do nothing while the TPM is off or in failure mode. HashStart may flush a loaded
  // object to make room. An error means the changed state could not be committed (the TPM is
  // then in failure mode).
  virtual Status HashStart() = 0;
  virtual void HashData(std::span<const uint8_t> data) = 0;
  virtual Status HashEnd() = 0;
  // Persists the clock and anything else a clean stop keeps.
  virtual Status Flush() = 0;
  // The powered-on volatile state (PCRs, startup state, clock), to resume in a later process.
  virtual StatusOr<Bytes> SaveVolatile() = 0;
  // Restores a SaveVolatile() blob; the TPM is then powered on and in the saved state.
  virtual Status RestoreVolatile(std::span<const uint8_t> blob) = 0;
};

// Loads (or on first use creates) the TPM state held by `store`. The store, clock and entropy
// must outlive the instance. Fails with a clear message when the stored state is unusable.
StatusOr<std::unique_ptr<TpmInstance>> CreateTpm(nvstore::Store& store, Clock& clock,
                                                 EntropySource& entropy,
                                                 const Profile& profile = {});

}  // namespace tpm2emu::engine
