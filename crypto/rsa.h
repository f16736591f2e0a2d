#pragma once
// RSA for the TPM (Part 1 §43, with the schemes of RFC 8017 / PKCS #1 v2.2): deterministic
// key generation from a caller-supplied random stream, the encryption schemes of TPM2_RSA_Encrypt
// and TPM2_RSA_Decrypt (Part 3 §14.2, §14.3), and the RSASSA and RSAPSS signature schemes.
//
// Keys are plain values in the TPM's representation (big-endian octet strings, one prime in the
// private part as Part 2 §12.3.2.3 TPMU_SENSITIVE_COMPOSITE keeps it); each operation builds the
// OpenSSL key it needs and drops it. No OpenSSL type appears here.
//
// Supported key sizes: 1024, 2048, 3072 and 4096 bits (a modulus of any other octet length gives
// TPM_RC_KEY_SIZE). Supported hashes: those of crypto/hash.h (an unsupported one gives
// TPM_RC_HASH). Every OpenSSL failure is logged and gives TPM_RC_FAILURE.
//
// Thread safety: free functions with no shared mutable state; call from any thread. `rng` is
// only called from the calling thread, during the call, and is not retained.

#include <cstdint>
#include <functional>
#include <span>

#include "engine/base/bytes.h"
#include "engine/base/tpm_rc.h"

namespace tpm2emu::crypto {

// A source of random octets: fills the span. Key generation reads from it in a fixed order, so a
// deterministic stream (a DRBG seeded from a primary seed, Part 1 §24.6.3) gives a
// deterministic key. The same alias is declared in crypto/ecc.h (redeclaring an alias to the same
// type is allowed), so either header can be used alone.
using RandomFn = std::function<void(std::span<uint8_t>)>;

// Part 2 §12.2.3.4 TPMS_RSA_PARMS.exponent and §11.2.4.6 TPM2B_PUBLIC_KEY_RSA. `modulus` is n as
// a big-endian octet string of exactly key_bits / 8 octets (leading zero octets are tolerated
// and ignored). `exponent` 0 means the default 2^16 + 1, as in the TPM.
struct RsaPublicKey {
  Bytes modulus;
  uint32_t exponent = 0;
};

// The private key as the TPM stores it: the public key and one prime factor p (big-endian, half
// the modulus size). q, d and the CRT values are recomputed when the key is used.
struct RsaPrivateKey {
  RsaPublicKey pub;
  SecretBytes prime;
};

// Deterministic RSA key generation, after Part 1 §43.8 (which leaves the details to the
// implementation; what matters is that the same stream gives the same key). Our construction:
//   e := exponent, or 65537 when exponent is 0. e must be odd and at least 3 (else
//     TPM_RC_RANGE); it need not be prime.
//   half := key_bits / 2. A candidate prime is `half` bits drawn from `rng` as half / 8 octets
//     (big-endian), with the two most significant bits and the least significant bit set (so
//     p * q has exactly key_bits bits). It is rejected if it has a prime factor below 2000, if
//     gcd(candidate - 1, e) != 1, or if it fails OpenSSL's BN_check_prime (trial division plus
//     Miller-Rabin with enough rounds for a 2^-128 error bound); a rejected candidate is
//     discarded and a fresh one drawn (no incremental search).
//   p := the first accepted candidate; q := the next accepted candidate with
//     |p - q| > 2^(half - 100) (Part 1 §43.8.3 step 4), otherwise drawn again.
//   n := p * q; d := e^-1 mod (p - 1)(q - 1); if d < 2^half, start over from a new p (step 7).
//   The result stores p as `prime`.
// Because a candidate is accepted or rejected by its value alone (the Miller-Rabin witnesses
// come from OpenSSL's RNG, but only change the odds of a false "prime", below 2^-128), the key
// is a function of the rng stream only: the same stream gives the same key on every build.
// Errors: TPM_RC_KEY_SIZE for another key_bits; TPM_RC_RANGE for a bad exponent.
Result<RsaPrivateKey> RsaGenerate(uint16_t key_bits, uint32_t exponent, const RandomFn& rng);

// Rebuilds a private key from its public part and one prime (either factor), e.g. when loading
// a TPMT_SENSITIVE. Errors: TPM_RC_KEY_SIZE for an unsupported modulus size; TPM_RC_BINDING when
// `prime` does not divide the modulus (or the factors do not fit the exponent), the error
// TPM2_Load gives for public and sensitive areas that do not belong together (Part 3 §12.2).
Result<RsaPrivateKey> RsaFromPrime(const RsaPublicKey& pub, ByteSpan prime);

// RSA encryption (Part 3 §14.2 TPM2_RSA_Encrypt, RFC 8017 §7):
//   TPM_ALG_OAEP  RSAES-OAEP with `hash_alg` for the label hash and MGF1; `label` is used exactly
//                 as given (the caller includes the TPM's terminating zero octet). The message
//                 may be at most k - 2 hLen - 2 octets.
//   TPM_ALG_RSAES RSAES-PKCS1-v1_5; message at most k - 11 octets. `hash_alg` and `label` unused.
//   TPM_ALG_NULL  raw RSAEP: message (at most k octets) is left-padded with zeros to k octets
//                 and its numeric value must be less than n.
// The result is k octets. Randomness (the OAEP seed, the PKCS #1 v1.5 padding string) comes from
// `rng`, or from OpenSSL's RNG when `rng` is empty, so a caller may make encryption repeatable.
// Errors: TPM_RC_SCHEME for another scheme or an OAEP hash too large for the key; TPM_RC_HASH;
// TPM_RC_VALUE for a message too long for the scheme or (raw) not less than n; TPM_RC_KEY_SIZE.
Result<Bytes> RsaEncrypt(const RsaPublicKey& pub, uint16_t scheme, uint16_t hash_alg,
                         ByteSpan label, ByteSpan message, const RandomFn& rng = {});

// RSA decryption (Part 3 §14.3 TPM2_RSA_Decrypt), the inverse of RsaEncrypt. For TPM_ALG_NULL
// the result is k octets (leading zeros kept); otherwise the recovered message.
// Errors: TPM_RC_SIZE when ciphertext is not k octets; TPM_RC_VALUE when its value is not less
// than n or the padding does not check (a wrong OAEP label included); TPM_RC_SCHEME;
// TPM_RC_HASH; TPM_RC_KEY_SIZE; TPM_RC_BINDING for an inconsistent private key.
Result<SecretBytes> RsaDecrypt(const RsaPrivateKey& priv, uint16_t scheme, uint16_t hash_alg,
                               ByteSpan label, ByteSpan ciphertext);

// Signs `digest` (already hashed with `hash_alg`; it must be DigestSize(hash_alg) octets) with
// RSASSA-PKCS1-v1_5 (TPM_ALG_RSASSA) or RSASSA-PSS (TPM_ALG_RSAPSS, MGF1 with the same hash).
// PSS uses a salt as long as the digest, the largest FIPS 186-5 allows (Part 1 §43.7),
// shortened to the largest salt the key size allows (only for 1024-bit keys with SHA-512); the salt
// comes from OpenSSL's RNG. The result is k octets. Errors: TPM_RC_SCHEME; TPM_RC_HASH; TPM_RC_SIZE
// for a digest of the wrong size; TPM_RC_KEY_SIZE; TPM_RC_BINDING.
Result<Bytes> RsaSign(const RsaPrivateKey& priv, uint16_t scheme, uint16_t hash_alg,
                      ByteSpan digest);

// Verifies a signature made as by RsaSign; PSS accepts any salt length (the salt length is
// recovered from the encoding). Errors: TPM_RC_SIGNATURE when the signature does not verify
// (including a signature that is not k octets or a digest of the wrong size); TPM_RC_SCHEME;
// TPM_RC_HASH; TPM_RC_KEY_SIZE.
RcStatus RsaVerify(const RsaPublicKey& pub, uint16_t scheme, uint16_t hash_alg, ByteSpan digest,
                   ByteSpan signature);

}  // namespace tpm2emu::crypto
