#pragma once
// PC Client PCR attributes: which localities may extend and reset each PCR, which PCRs keep
// their value across Shutdown(STATE)/Startup(STATE), their initial values, and which a D-RTM
// event resets.

#include <cstddef>
#include <cstdint>

#include "engine/base/tpm_rc.h"
#include "engine/wire/types.h"

namespace tpm2emu::engine {
class Tpm;
}

namespace tpm2emu::engine::pcr {

struct PcrAttributes {
  bool state_save;        // restored by Startup(STATE)
  uint8_t reset_mask;     // bit n: locality n may PCR_Reset
  uint8_t extend_mask;    // bit n: locality n may extend
  uint8_t initial_octet;  // every octet of the value after a TPM Reset
  bool drtm_reset;        // set to zero by a D-RTM event (Part 1 §31.2; TPM_PT_PCR_DRTM_RESET)
};

// Part 1 §31: an H-CRTM Event Sequence before TPM2_Startup measures into PCR[0]; after it (a
// D-RTM) into PCR[17], which PCR_Allocate must leave allocated in some bank.
inline constexpr uint32_t kHcrtmPcr = 0;
inline constexpr uint32_t kDrtmPcr = 17;

// The attributes of PCR n (n < 24).
const PcrAttributes& AttributesOf(size_t n);

inline bool LocalityAllowed(uint8_t mask, uint8_t locality) {
  return locality <= 4 && (mask & (1u << locality)) != 0;
}
inline bool CanExtend(uint32_t pcr, uint8_t locality) {
  return LocalityAllowed(AttributesOf(pcr).extend_mask, locality);
}
// Whether an extend or reset of PCR n changes pcrUpdateCounter (Part 1 §14.9: the PC Client
// debug and application PCRs 16 and 23 do not).
inline bool CountsUpdates(size_t n) { return n != 16 && n != 23; }

// Extends PCR `pcr` in every allocated bank named in `digests` (others are ignored) and counts
// the change in pcrUpdateCounter where the PCR is counted.
RcStatus ExtendAll(Tpm& tpm, uint32_t pcr, const wire::TpmlDigestValues& digests);
// The same extension without counting (TPM2_Startup's PCR initialisation).
void ExtendBanks(Tpm& tpm, uint32_t pcr, const wire::TpmlDigestValues& digests);

}  // namespace tpm2emu::engine::pcr
