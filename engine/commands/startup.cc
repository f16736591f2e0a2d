// Part 3 §9 Start-up: TPM2_Startup and TPM2_Shutdown.

#include "engine/commands/commands.h"
#include "engine/tpm.h"

namespace tpm2emu::engine::startup {

// Part 3 §9.3 TPM2_Startup. The kind of startup (Part 1 §12.2.3) follows from the type and
// the last Shutdown: Startup(CLEAR) after Shutdown(STATE) is a TPM Restart, Startup(STATE)
// a TPM Resume, anything else a TPM Reset.
Result<Empty> Startup(Tpm& tpm, const StartupIn& in) {
  PersistentState& p = tpm.persistent();
  if (in.startup_type != TpmSu::Clear && in.startup_type != TpmSu::State) {
    return Rc::Value.Param(1);
  }
  bool saved = p.orderly && p.shutdown_type == TpmSu::State;
  if (in.startup_type == TpmSu::State && (!saved || p.pending_allocation != p.pcr_allocation)) {
    return Rc::Value.Param(1);
  }
  bool resume = in.startup_type == TpmSu::State;
  bool restart = !resume && saved;
  // §9.3.1: a TPM Resume must initialise PCR[0] the same way as the Startup before it (an
  // H-CRTM then, or the same locality; Part 1 §31.3).
  if (resume && p.startup_method != kStartupUnknown && p.startup_method != tpm.StartupMethod()) {
    return Rc::Locality;
  }
  if (!p.orderly) {
    tpm.SetClockSafe(false);  // the NV copy of Clock may lag what was reported before
    p.audit_digest.clear();   // Part 1 §32: an unorderly power loss ends the audit log
  }
  if (resume || restart) {
    ++p.restart_count;
  } else {
    ++p.reset_count;
    p.restart_count = 0;
    ResetState& r = tpm.reset_state();
    r.null_proof = tpm.RandomSecret(kProofSize);
    r.null_seed = tpm.RandomSecret(kSeedSize);
    r.pcr_update_counter = 0;
    r.commit_nonce = tpm.RandomSecret(ephemeral::kCommitNonceSize);  // Part 1 §44.2.2
    r.commit_count = 0;
    r.commit_array = 0;
  }
  if (!resume) {
    p.pcr_allocation = p.pending_allocation;
    tpm.clear_state() = ClearState{};
  } else {
    ClearState& c = tpm.clear_state();
    c.platform_auth = SecretBytes();
    c.platform_policy = wire::TpmtHa{TpmAlg::Null, {}};
    c.ph_enable = true;
  }
  tpm.clear_state().orderly_startup = p.orderly;
  tpm.RestartDaTimers();
  tpm.InitPcrs(resume);
  p.startup_method = tpm.StartupMethod();
  tpm.hcrtm().pre_startup.reset();
  nv::OnStartup(tpm, !resume);
  p.saved_pcrs.clear();
  p.shutdown_type = 0xFFFF;
  p.orderly = false;  // until the next Shutdown
  tpm.set_started(true);
  return Empty{};
}

// Part 3 §9.4 TPM2_Shutdown
Result<Empty> Shutdown(Tpm& tpm, const ShutdownIn& in) {
  PersistentState& p = tpm.persistent();
  if (in.shutdown_type != TpmSu::Clear && in.shutdown_type != TpmSu::State) {
    return Rc::Value.Param(1);
  }
  if (in.shutdown_type == TpmSu::State) {
    p.saved_pcrs = tpm.pcr_values();
    p.saved_pcr_update_counter = tpm.reset_state().pcr_update_counter;
  } else {
    p.saved_pcrs.clear();
  }
  p.shutdown_type = in.shutdown_type;
  p.orderly = true;
  TRY(tpm.SaveClockToNv());
  return Empty{};
}

}  // namespace tpm2emu::engine::startup
