// Part 3 §24 Hierarchy commands.

#include <algorithm>

#include "crypto/hash.h"
#include "engine/commands/commands.h"
#include "engine/tpm.h"

namespace tpm2emu::engine::hierarchy {

// Part 3 §24.8 TPM2_HierarchyChangeAuth
Result<Empty> HierarchyChangeAuth(Tpm& tpm, const HierarchyChangeAuthIn& in) {
  // The new value may not be longer than the context integrity digest.
  if (in.new_auth.size() > crypto::DigestSize(kContextHashAlg)) {
    return Rc::Size.Param(1);
  }
  SecretBytes* auth = tpm.AuthValueFor(in.auth_handle);
  if (auth == nullptr) {
    return Rc::Hierarchy.Handle(1);
  }
  *auth = SecretBytes(TrimTrailingZeros(in.new_auth.span()));
  return Empty{};  // the dispatcher's response uses the new value for any HMAC
}

}  // namespace tpm2emu::engine::hierarchy

namespace tpm2emu::engine::hierarchy {
namespace {

// Drops every loaded object of `hierarchy` (its proof or seed has changed).
void FlushHierarchy(Tpm& tpm, uint32_t hierarchy) {
  auto& objects = tpm.reset_state().objects;
  for (auto it = objects.begin(); it != objects.end();) {
    if (!it->second.sequence && it->second.hierarchy == hierarchy) {
      it = objects.erase(it);
    } else {
      ++it;
    }
  }
}

// Evicts every persistent object of `hierarchy`.
void EvictHierarchy(Tpm& tpm, uint32_t hierarchy) {
  auto& objects = tpm.persistent().objects;
  for (auto it = objects.begin(); it != objects.end();) {
    if (it->second.hierarchy == hierarchy) {
      it = objects.erase(it);
    } else {
      ++it;
    }
  }
}

wire::TpmtHa NullPolicy() { return wire::TpmtHa{TpmAlg::Null, {}}; }

}  // namespace

// Part 3 §24.2 TPM2_HierarchyControl: platformAuth may switch any hierarchy; ownerAuth and
// endorsementAuth may only switch their own hierarchy off.
Result<Empty> HierarchyControl(Tpm& tpm, const HierarchyControlIn& in) {
  if (in.enable != TpmRh::Owner && in.enable != TpmRh::Endorsement &&
      in.enable != TpmRh::Platform && in.enable != TpmRh::PlatformNv) {
    return Rc::Value.Param(1);
  }
  if (in.state > 1) {
    return Rc::Value.Param(2);
  }
  if (in.auth_handle != TpmRh::Platform && (in.state == 1 || in.enable != in.auth_handle)) {
    return Rc::AuthType;
  }
  ClearState& c = tpm.clear_state();
  bool on = in.state == 1;
  switch (in.enable) {
    case TpmRh::Owner:
      c.sh_enable = on;
      break;
    case TpmRh::Endorsement:
      c.eh_enable = on;
      break;
    case TpmRh::Platform:
      if (on) {
        return Rc::Value.Param(2);  // only a TPM Reset or Restart turns it back on
      }
      c.ph_enable = false;
      break;
    default:
      c.ph_enable_nv = on;
      break;
  }
  if (!on && in.enable != TpmRh::PlatformNv) {
    FlushHierarchy(tpm, in.enable);
  }
  return Empty{};
}

// Part 3 §24.3 TPM2_SetPrimaryPolicy
Result<Empty> SetPrimaryPolicy(Tpm& tpm, const SetPrimaryPolicyIn& in) {
  size_t want = in.hash_alg == TpmAlg::Null ? 0 : crypto::DigestSize(in.hash_alg);
  if (in.auth_policy.size() != want) {
    return Rc::Size.Param(1);
  }
  wire::TpmtHa policy{in.hash_alg, in.auth_policy.data};
  if (in.hash_alg == TpmAlg::Null) {
    policy = NullPolicy();
  }
  PersistentState& p = tpm.persistent();
  switch (in.auth_handle) {
    case TpmRh::Owner:
      p.owner_policy = policy;
      break;
    case TpmRh::Endorsement:
      p.endorsement_policy = policy;
      break;
    case TpmRh::Lockout:
      p.lockout_policy = policy;
      break;
    default:
      tpm.clear_state().platform_policy = policy;
      break;
  }
  return Empty{};
}

// Part 3 §24.4 TPM2_ChangePPS
Result<Empty> ChangePps(Tpm& tpm, const PlatformIn& /*in*/) {
  PersistentState& p = tpm.persistent();
  p.pps = tpm.RandomSecret(kSeedSize);
  p.ph_proof = tpm.RandomSecret(kProofSize);
  tpm.clear_state().platform_policy = NullPolicy();
  FlushHierarchy(tpm, TpmRh::Platform);
  EvictHierarchy(tpm, TpmRh::Platform);
  return Empty{};
}

// Part 3 §24.5 TPM2_ChangeEPS
Result<Empty> ChangeEps(Tpm& tpm, const PlatformIn& /*in*/) {
  PersistentState& p = tpm.persistent();
  p.eps = tpm.RandomSecret(kSeedSize);
  p.eh_proof = tpm.RandomSecret(kProofSize);
  p.endorsement_auth = SecretBytes();
  p.endorsement_policy = NullPolicy();
  FlushHierarchy(tpm, TpmRh::Endorsement);
  EvictHierarchy(tpm, TpmRh::Endorsement);
  return Empty{};
}

// Part 3 §24.6 TPM2_Clear
Result<Empty> Clear(Tpm& tpm, const ClearIn& in) {
  if (in.auth_handle != TpmRh::Lockout && in.auth_handle != TpmRh::Platform) {
    return Rc::Value.Handle(1);
  }
  PersistentState& p = tpm.persistent();
  if (p.disable_clear) {
    return Rc::Disabled;
  }
  FlushHierarchy(tpm, TpmRh::Owner);
  FlushHierarchy(tpm, TpmRh::Endorsement);
  EvictHierarchy(tpm, TpmRh::Owner);
  EvictHierarchy(tpm, TpmRh::Endorsement);
  p.sps = tpm.RandomSecret(kSeedSize);
  p.sh_proof = tpm.RandomSecret(kProofSize);
  p.eh_proof = tpm.RandomSecret(kProofSize);
  ClearState& c = tpm.clear_state();
  c.sh_enable = true;
  c.eh_enable = true;
  p.owner_auth = SecretBytes();
  p.endorsement_auth = SecretBytes();
  p.lockout_auth = SecretBytes();
  p.owner_policy = p.endorsement_policy = p.lockout_policy = NullPolicy();
  p.failed_tries = 0;
  tpm.SetClock(0);
  p.reset_count = 0;
  p.restart_count = 0;
  tpm.SetClockSafe(true);
  ++tpm.reset_state().pcr_update_counter;
  nv::OnClear(tpm);
  // Part 1 §32: TPM2_Clear resets the audit counter; the open audit log ends with it.
  p.audit_counter = 0;
  p.audit_digest.clear();
  return Empty{};
}

// Part 3 §24.7 TPM2_ClearControl: lockoutAuth may only disable TPM2_Clear.
Result<Empty> ClearControl(Tpm& tpm, const ClearControlIn& in) {
  if (in.auth != TpmRh::Lockout && in.auth != TpmRh::Platform) {
    return Rc::Value.Handle(1);
  }
  if (in.disable > 1) {
    return Rc::Value.Param(1);
  }
  if (in.auth == TpmRh::Lockout && in.disable == 0) {
    return Rc::AuthFail;
  }
  tpm.persistent().disable_clear = in.disable == 1;
  return Empty{};
}

// Part 3 §25.2 TPM2_DictionaryAttackLockReset
Result<Empty> DictionaryAttackLockReset(Tpm& tpm, const LockoutIn& in) {
  if (in.lock_handle != TpmRh::Lockout) {
    return Rc::Value.Handle(1);
  }
  tpm.persistent().failed_tries = 0;
  // Part 1 §16.8.5: lockoutPolicy (which is not subject to the lockoutAuth lockout) ends it.
  if (tpm.AuthorizedByPolicy(0)) {
    tpm.persistent().lockout_auth_locked_until_ms = 0;
  }
  return Empty{};
}

// Part 3 §25.3 TPM2_DictionaryAttackParameters
Result<Empty> DictionaryAttackParameters(Tpm& tpm, const DictionaryAttackParametersIn& in) {
  if (in.lock_handle != TpmRh::Lockout) {
    return Rc::Value.Handle(1);
  }
  PersistentState& p = tpm.persistent();
  p.max_tries = in.new_max_tries;
  p.recovery_time_s = in.new_recovery_time;
  p.lockout_recovery_s = in.lockout_recovery;
  p.failed_tries = std::min(p.failed_tries, p.max_tries);
  p.last_recovery_ms = tpm.time_ms();
  return Empty{};
}

}  // namespace tpm2emu::engine::hierarchy
