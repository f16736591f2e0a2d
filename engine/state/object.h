#pragma once
// Loaded objects (Part 1 §23-§27): keys, sealed data and sequence objects.

#include <cstdint>
#include <optional>
#include <vector>

#include "crypto/resumable_hash.h"
#include "engine/base/bytes.h"
#include "engine/wire/public.h"

namespace tpm2emu::engine {

// A hash, HMAC or event sequence (Part 1 §32.4). Its running digests can be exported, so a
// sequence can be context-saved (Part 1 §27.8) and kept in the saved volatile state.
struct SequenceObject {
  bool is_event = false;
  bool is_hmac = false;
  // One per implemented hash (wire::kHashAlgs order) for events, one for a hash sequence, none
  // for an HMAC sequence.
  std::vector<crypto::ResumableHash> contexts;
  crypto::ResumableHmac hmac;
  // Whether the first block of data started with TPM_GENERATED_VALUE (no ticket then).
  bool first_block_seen = false;
  bool generated_prefix = false;
};

struct Object {
  wire::TpmtPublic pub;
  Bytes name;  // nameAlg || H(TPMT_PUBLIC); the handle when nameAlg is NULL; empty for sequences
  Bytes qualified_name;  // Part 1 §23.5
  uint32_t hierarchy = 0x40000007;  // TPM_RH_NULL
  SecretBytes auth;
  SecretBytes seed_value;
  SecretBytes sensitive;  // RSA prime, ECC private scalar, HMAC key / sealed data, AES key
  bool public_only = false;
  bool is_primary = false;
  std::optional<SequenceObject> sequence;

  bool IsStorageParent() const {
    return !public_only && !sequence && pub.Has(wire::TpmaObject::Restricted) &&
           pub.Has(wire::TpmaObject::Decrypt) && !pub.Has(wire::TpmaObject::SignEncrypt);
  }
};

}  // namespace tpm2emu::engine
