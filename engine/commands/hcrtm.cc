// Part 3 §22.9-§22.11 the H-CRTM indications _TPM_Hash_Start, _TPM_Hash_Data and _TPM_Hash_End
// (Part 1 §31), and the PC Client tpmEstablishment flag the first of them sets.

#include <algorithm>
#include <iterator>

#include "engine/commands/commands.h"
#include "engine/commands/pcr_attributes.h"
#include "engine/tpm.h"

namespace tpm2emu::engine {

// Part 3 §22.9 _TPM_Hash_Start
Status Tpm::HashStart() {
  if (!powered_ || failure_mode_) {
    return Status::Ok();
  }
  // Part 1 §31.1: any indication but _TPM_Hash_Data abandons a sequence in progress, so a
  // second Start begins afresh.
  hcrtm_.sequence.reset();
  if (!persistent_.tpm_established) {
    persistent_.tpm_established = true;
    TRY(CommitOutsideCommand());
  }
  // The sequence takes an object slot; when none is free, one object is flushed (the vendor's
  // choice: the one with the highest handle, usually the last loaded). Before TPM2_Startup
  // every slot is free.
  if (reset_.objects.size() >= kMaxLoadedObjects) {
    reset_.objects.erase(std::prev(reset_.objects.end()));
  }
  Result<SequenceObject> seq = hash::StartEventSequence();
  if (!seq.ok()) {
    EnterFailureMode("cannot start the H-CRTM event sequence's digests");
    return Status(StatusCode::kInternal, "the H-CRTM event sequence cannot be started");
  }
  hcrtm_.sequence = std::move(seq).value();
  return Status::Ok();
}

// Part 3 §22.10 _TPM_Hash_Data
void Tpm::HashData(std::span<const uint8_t> data) {
  if (hcrtm_.sequence) {
    hash::UpdateSequence(*hcrtm_.sequence, data);
  }
}

// Part 3 §22.11 _TPM_Hash_End
Status Tpm::HashEnd() {
  if (!hcrtm_.sequence || failure_mode_) {
    hcrtm_.sequence.reset();
    return Status::Ok();  // no H-CRTM Event Sequence: discarded
  }
  wire::TpmlDigestValues digests = hash::FinishEventSequence(*hcrtm_.sequence);
  hcrtm_.sequence.reset();
  if (!started_) {
    // Before TPM2_Startup: the Startup sets PCR[0] to 0...04 and extends these (equation 2;
    // Part 1 §31.3). A later H-CRTM before the same Startup replaces them.
    hcrtm_.pre_startup = std::move(digests);
    return Status::Ok();
  }
  // A D-RTM (Part 1 §31.2): the PCRs the platform designates (PC Client: 17-22) are reset to
  // zero, then PCR[17] = H(0...0 || H(hash_data)) in every bank. The extension counts once in
  // pcrUpdateCounter, and restartCount records the discontinuity. Part 3 §22.11 and Part 1's
  // table of the fields changed by Startup put that at _TPM_Hash_End; Part 1 §33.5 names
  // _TPM_Hash_Start, but an abandoned sequence changes nothing (§31.1), so it counts here.
  for (size_t bank = 0; bank < pcr_values_.size(); ++bank) {
    for (uint32_t n = 0; n < kPcrCount; ++n) {
      if (pcr::AttributesOf(n).drtm_reset && IsPcrAllocated(bank, n)) {
        std::fill(pcr_values_[bank][n].begin(), pcr_values_[bank][n].end(), 0);
      }
    }
  }
  (void)pcr::ExtendAll(*this, pcr::kDrtmPcr, digests);
  ++persistent_.restart_count;
  return CommitOutsideCommand();
}

uint8_t Tpm::StartupMethod() const {
  if (hcrtm_.pre_startup) {
    return kStartupHcrtm;
  }
  return locality_ == 3 ? 3 : 0;
}

Status Tpm::ResetEstablished() {
  if (!persistent_.tpm_established) {
    return Status::Ok();
  }
  persistent_.tpm_established = false;
  return CommitOutsideCommand();
}

}  // namespace tpm2emu::engine
