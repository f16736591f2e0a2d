#pragma once
// Symmetric primitives for session parameter encryption (Part 1 §18): AES in CFB mode
// (Part 1 §18.3) and XOR obfuscation (Part 1 §8.4.7.3, §18.2).
//
// Thread-safe free functions; the AES ciphers are fetched once per process into an immutable
// cache. No input is retained.

#include <cstdint>

#include "engine/base/bytes.h"
#include "engine/base/tpm_rc.h"

namespace tpm2emu::crypto {

// AES in CFB mode with a 128-bit feedback segment (CFB128; what the TPM calls TPM_ALG_CFB), no
// padding: the output has data's length. The key length selects AES-128, -192 or -256.
// Errors: TPM_RC_KEY_SIZE for a key that is not 16, 24 or 32 octets; TPM_RC_SIZE for an IV that
// is not 16 octets; TPM_RC_FAILURE (logged) if OpenSSL fails.
Result<Bytes> AesCfbEncrypt(ByteSpan key, ByteSpan iv, ByteSpan data);
Result<Bytes> AesCfbDecrypt(ByteSpan key, ByteSpan iv, ByteSpan data);

// Part 1 §8.4.7.3 / §18.2 XOR obfuscation: data XOR KDFa(hash_alg, key, "XOR", nonce_newer,
// nonce_older, data.size() * 8). Its own inverse. For commands nonce_newer is nonceCaller and
// nonce_older nonceTPM; for responses the other way round.
// Returns an empty Bytes on failure (hash_alg unsupported, data over 2^29 - 1 octets, or an
// OpenSSL fault, logged); callers pass a session hash they already validated, so for non-empty
// data an empty result is a failure-mode fault.
Bytes XorObfuscate(uint16_t hash_alg, ByteSpan key, ByteSpan nonce_newer, ByteSpan nonce_older,
                   ByteSpan data);

}  // namespace tpm2emu::crypto
