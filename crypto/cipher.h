#pragma once
// AES block-cipher modes for TPM2_EncryptDecrypt and TPM2_EncryptDecrypt2 (Part 3 §15.2, §15.3),
// with the chaining conventions of Part 3 §15.1 (the mode table): no padding, and an IV that is
// carried from one call to the next so that a long buffer can be processed in pieces.
//
// Thread-safe free function; the ciphers are fetched once per process into an immutable cache.
// Nothing is retained between calls: the chaining state lives in the caller's IV.

#include <cstdint>

#include "engine/base/bytes.h"
#include "engine/base/tpm_rc.h"

namespace tpm2emu::crypto {

// AES (the key's length selects AES-128, -192 or -256) in `mode`, encrypting or decrypting
// `data`; the result has data's length. `iv_inout` is the IV on entry (ivIn) and the chaining
// value on return (ivOut), so that calls on consecutive pieces give the same output as one call
// on the whole when every piece but the last is a multiple of 16 octets:
//   TPM_ALG_CBC  data must be a multiple of 16 octets; ivOut is the last ciphertext block.
//   TPM_ALG_CFB  CFB-128; ivOut is the last ciphertext block (the input to the next block's
//                encryption, which is what makes chaining work). After a partial last block of
//                j octets it is those j ciphertext octets followed by the unused 16 - j octets of
//                that block's keystream, as the TPM computes it in place.
//   TPM_ALG_OFB  ivOut is the last keystream block (the value XORed with the last data block).
//   TPM_ALG_CTR  the IV is a 128-bit big-endian counter, incremented (with carry through all
//                16 octets) once per block, a partial last block included; ivOut is the counter
//                for the next block.
//   TPM_ALG_ECB  data must be a multiple of 16 octets; the IV is not used (Part 3 says ivIn
//                should be the Empty Buffer; any value is ignored) and ivOut is empty.
// Empty data gives empty output and leaves the IV unchanged (ECB: empty).
// Errors (iv_inout is unchanged on error): TPM_RC_MODE for any other mode (TPM_ALG_NULL
// included: the caller resolves the key's default first); TPM_RC_KEY_SIZE for a key that is not
// 16, 24 or 32 octets; TPM_RC_SIZE for an IV that is not 16 octets (except ECB) or, for CBC and
// ECB, data that is not a multiple of 16 octets; TPM_RC_FAILURE (logged) if OpenSSL fails.
Result<Bytes> SymCrypt(uint16_t mode, bool decrypt, ByteSpan key, Bytes& iv_inout, ByteSpan data);

}  // namespace tpm2emu::crypto
