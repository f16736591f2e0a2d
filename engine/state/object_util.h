#pragma once
// Object construction and protection (Part 1 §23-§27): template checks, sensitive generation
// (deterministic from the hierarchy seed for primary objects), Names, the wrapped private area
// (symmetric protection plus an integrity HMAC keyed from the parent's seedValue), and
// creation data.

#include <functional>
#include <span>

#include "engine/base/bytes.h"
#include "engine/base/tpm_rc.h"
#include "engine/state/object.h"
#include "engine/wire/public.h"

namespace tpm2emu::engine {

class Tpm;

using RandomFn = std::function<void(std::span<uint8_t>)>;

// Part 1 §13: nameAlg || H_nameAlg(TPMT_PUBLIC).
Result<Bytes> ComputeName(const wire::TpmtPublic& pub);
// Part 1 §23.5: nameAlg || H_nameAlg(QN(parent) || Name(object)).
Result<Bytes> ComputeQualifiedName(uint16_t name_alg, ByteSpan parent_qn, ByteSpan name);

// Part 2 §8.3.3.15: x509sign may only be SET on an asymmetric key with sign SET (checked at
// creation, Load, LoadExternal and Import alike).
bool X509SignConsistent(const wire::TpmtPublic& pub);

// Checks a creation template (Part 3 §12.1.1 and §24.1.1). `parent` is null for a primary
// object. Errors carry their parameter position (inSensitive P1, inPublic P2).
RcStatus CheckTemplate(const wire::TpmtPublic& pub, const Object* parent,
                       const wire::Tpm2bSensitiveCreate& sensitive);

// Fills obj.seed_value, obj.sensitive and the unique field of obj.pub, drawing every random
// octet from `rng` (so a primary key is a function of its seed and template).
RcStatus GenerateObject(Object& obj, const wire::Tpm2bSensitiveCreate& sensitive,
                        const RandomFn& rng);

// Part 1 §26.2: the public area must be the one that belongs with the sensitive area.
RcStatus CheckBinding(const Object& obj);

// Wraps `obj`'s sensitive area under `parent` (a storage parent): TPM2B_PRIVATE contents,
// integrityHMAC || TPM2B_IV || encSensitive (Part 1 §19.4, §19.5) with a fresh IV from `rng`
// (the key depends only on the parent and the Name, so ObjectChangeAuth reuses it).
Result<Bytes> ProtectSensitive(const Object& parent, const Object& obj, const RandomFn& rng);
// Unwraps a TPM2B_PRIVATE's contents for a child with `child_name` under `parent`.
// TPM_RC_INTEGRITY when the HMAC fails; TPM_RC_SENSITIVE when the contents don't parse.
Result<wire::TpmtSensitive> UnprotectSensitive(const Object& parent, ByteSpan child_name,
                                               ByteSpan private_blob);

// TPM2B(TPMT_SENSITIVE) of an object: what protection, duplication and import wrap.
Bytes EncodeSensitiveArea(const Object& obj);
// The symmetric key size (bits) a storage parent protects its children with.
uint16_t ProtectionKeyBits(const Object& parent);
// A copy of a key object without any sequence state (sequence objects cannot be copied).
Object CopyKeyObject(const Object& obj);

// A key or data object's explicit encoding, for persistent objects, context blobs and saved
// volatile state. Precondition: `obj` is not a sequence object (use EncodeLoadedObject).
Bytes EncodeObject(const Object& obj);
// Any loaded object's encoding: EncodeObject() for a key or data object; for a sequence object
// its own layout (auth value, event/HMAC flags, whether the first block was seen and started
// with TPM_GENERATED_VALUE, and the exported running state of each digest or of the HMAC).
// TPM_RC_FAILURE only when a digest's state cannot be exported (a sequence whose OpenSSL
// state was lost). The result holds secrets: callers wipe it.
Result<Bytes> EncodeLoadedObject(const Object& obj);
// Decodes either encoding. Any malformed or inconsistent input is an error (never a partly
// decoded object): a sequence must have the shape HashSequenceStart or HMAC_Start gives.
Result<Object> DecodeObject(ByteSpan data);

}  // namespace tpm2emu::engine
