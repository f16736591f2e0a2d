#pragma once
// Authorization sessions (Part 1 §16.6 and §16.7): HMAC, policy and trial sessions.

#include <cstdint>

#include "engine/base/bytes.h"
#include "engine/wire/types.h"

namespace tpm2emu::engine {

// Part 2 §6.11 TPM_SE
namespace TpmSe {
inline constexpr uint8_t Hmac = 0x00;
inline constexpr uint8_t Policy = 0x01;
inline constexpr uint8_t Trial = 0x03;
}  // namespace TpmSe

// What Session::cp_hash holds (Part 3 §23.13, §23.14, §23.21).
namespace PolicyHashKind {
inline constexpr uint8_t kNone = 0;
inline constexpr uint8_t kCpHash = 1;
inline constexpr uint8_t kNameHash = 2;
inline constexpr uint8_t kTemplate = 3;
}  // namespace PolicyHashKind
inline constexpr uint64_t kNoPolicyTimeout = ~uint64_t{0};

struct Session {
  uint32_t handle = 0;
  uint8_t type = TpmSe::Hmac;
  uint16_t auth_hash = TpmAlg::Sha256;
  SecretBytes session_key;
  Bytes nonce_tpm;
  Bytes nonce_caller;
  wire::TpmtSymDef symmetric;
  // Binding (Part 1 §16.6.10): the bound entity's Name and its authValue when the session
  // started; a later change of that authValue ends the binding's effect.
  bool bound = false;
  Bytes bind_name;
  SecretBytes bind_auth;
  // Policy state (Part 1 §16.7); a fresh session has a zero digest of the authHash size.
  Bytes policy_digest;
  bool needs_auth_value = false;  // TPM2_PolicyAuthValue
  bool needs_password = false;    // TPM2_PolicyPassword
  // The rest of the policy context (Part 1 §16.7.8). Times are Clock values in milliseconds.
  Bytes cp_hash;  // cpHash, nameHash or templateHash (they exclude each other); empty: none
  uint8_t cp_hash_kind = PolicyHashKind::kNone;
  uint32_t command_code = 0;     // 0: any command
  uint8_t command_locality = 0;  // TPMA_LOCALITY; 0: any locality
  bool pp_required = false;
  bool check_nv_written = false;
  bool nv_written_state = false;
  bool has_pcr_update_counter = false;
  uint32_t pcr_update_counter = 0;
  uint64_t start_time_ms = 0;  // when nonceTPM was last set
  uint64_t timeout_ms = kNoPolicyTimeout;
  // Context management (Part 1 §30): a saved session stays active but is not loaded, and only
  // the context with this sequence number can load it again.
  bool loaded = true;
  uint64_t context_sequence = 0;
  // Audit (Part 1 §17): set once the session has audited a command; its digest is extended
  // with cpHash || rpHash of each command it audits.
  bool audit = false;
  Bytes audit_digest;
  bool is_policy() const { return type == TpmSe::Policy || type == TpmSe::Trial; }
  // Back to the policy context of a new session (TPM2_PolicyRestart), keeping startTime.
  void ResetPolicy() {
    policy_digest.assign(policy_digest.size(), 0);
    needs_auth_value = needs_password = pp_required = check_nv_written = nv_written_state = false;
    has_pcr_update_counter = false;
    pcr_update_counter = 0;
    cp_hash.clear();
    cp_hash_kind = PolicyHashKind::kNone;
    command_code = 0;
    command_locality = 0;
    timeout_ms = kNoPolicyTimeout;
  }
};

}  // namespace tpm2emu::engine
