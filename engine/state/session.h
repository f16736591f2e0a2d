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
  // Context management (Part 1 §30): a saved session stays active but is not loaded, and only
  // the context with this sequence number can load it again.
  bool loaded = true;
  uint64_t context_sequence = 0;
  bool is_policy() const { return type == TpmSe::Policy || type == TpmSe::Trial; }
};

}  // namespace tpm2emu::engine
