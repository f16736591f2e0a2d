#pragma once
// The TPM's key derivation functions: KDFa (Part 1 §8.4.10.2), KDFe (Part 1 §8.4.10.3) and MGF1
// (the mask generation function of PKCS #1 / RFC 8017 §B.2.1, used by RSA-OAEP and RSA-PSS).
//
// All three are deterministic, thread-safe free functions. Errors: an unsupported `hash_alg`
// gives TPM_RC_HASH; an OpenSSL failure is logged and gives TPM_RC_FAILURE. Results are
// SecretBytes because they are keys, masks over secrets or seeds.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/base/bytes.h"
#include "engine/base/tpm_rc.h"

namespace tpm2emu::crypto {

// Part 1 §8.4.10.2 KDFa: SP 800-108 counter mode with HMAC-`hash_alg` as the PRF, keyed with
// `key`; the fixed input is label, a zero octet, contextU.buffer || contextV.buffer and [bits]32.
// The zero octet is added unless `label` already ends with one, so "ATH" and "ATH\0"
// (string_view of size 4) derive the same key; an empty label is a single zero octet.
// Returns (bits + 7) / 8 octets; when bits is not a multiple of 8 the unused high-order bits of
// octet 0 are cleared (masked, not shifted). bits == 0 gives an empty result.
Result<SecretBytes> KdfA(uint16_t hash_alg, ByteSpan key, std::string_view label,
                         ByteSpan context_u, ByteSpan context_v, uint32_t bits);

// Part 1 §8.4.10.3 KDFe: the SP 800-56A concatenation KDF, digest_i = H([i]32 || Z || OtherInfo)
// for i = 1, 2, ..., with OtherInfo = Use || PartyUInfo.buffer || PartyVInfo.buffer. Use is the
// null-terminated label: `label` is followed by a zero octet unless it already ends with one (as
// in KdfA; "SECRET" hashes as the 7 octets "SECRET\0"). Output length and masking as in KdfA.
Result<SecretBytes> KdfE(uint16_t hash_alg, ByteSpan z, std::string_view label, ByteSpan party_u,
                         ByteSpan party_v, uint32_t bits);

// MGF1 (RFC 8017 §B.2.1): the first `length` octets of H(seed || [0]32) || H(seed || [1]32) || ...
// TPM_RC_VALUE when length exceeds 2^32 digests.
Result<SecretBytes> Mgf1(uint16_t hash_alg, ByteSpan seed, size_t length);

}  // namespace tpm2emu::crypto
