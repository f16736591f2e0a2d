#pragma once
// Elliptic-curve cryptography for the TPM (Part 1 §44) on prime curves: key derivation from a
// caller-supplied random stream (Part 1 §44.6), public points, ECDSA (§44.3.1), EC Schnorr
// (§44.3.4), the ECDH primitive (§44.8.3, TPM2_ECDH_ZGen) and ephemeral keys (TPM2_ECDH_KeyGen),
// the point arithmetic of split operations (§44.2: TPM2_Commit, TPM2_EC_Ephemeral), ECDAA
// signing (§44.3.3) and ECC MQV (TPM2_ZGen_2Phase), plus the curve parameters
// TPM2_ECC_Parameters reports (Part 3 §14.6).
//
// Curves (Part 2 §6.4 TPM_ECC_CURVE): TPM_ECC_NIST_P256, TPM_ECC_NIST_P384, TPM_ECC_NIST_P521
// and TPM_ECC_BN_P256 (the Barreto-Naehrig curve of the TCG algorithm registry; OpenSSL has no
// name for it, so its group is built from explicit parameters, which a known-answer test and
// the group checks pin). Any other curve gives TPM_RC_CURVE.
//
// Representation (Part 1 §44.5): scalars and coordinates are big-endian octet strings. Results
// are left-padded with zeros to the curve's key size (32, 48, 66 or 32 octets). Inputs may be
// shorter (they are read as numbers) but not longer than the key size.
//
// Errors, unless a function says otherwise: TPM_RC_CURVE for an unsupported curve; TPM_RC_VALUE
// for a private scalar outside [1, n - 1]; TPM_RC_ECC_POINT for a point that is not on the curve;
// TPM_RC_FAILURE (logged) when OpenSSL fails.
//
// Thread safety: free functions over process-wide immutable curve data (built on first use);
// call from any thread. `rng` is called only during the call and not retained. Private scalars
// are multiplied with OpenSSL's constant-time ladder.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <utility>

#include "engine/base/bytes.h"
#include "engine/base/tpm_rc.h"

namespace tpm2emu::crypto {

// A source of random octets (the same alias as in crypto/rsa.h).
using RandomFn = std::function<void(std::span<uint8_t>)>;

// Part 2 §11.2.5.2 TPMS_ECC_POINT: affine coordinates, each key-size octets when we produce it.
struct EccPoint {
  Bytes x;
  Bytes y;
};

// The values of Part 2 §11.2.5.8 TPMS_ALGORITHM_DETAIL_ECC that describe the curve itself
// (the scheme and KDF fields are the caller's). p, a, b, gx, gy and n are key-size octets; h is
// its minimal encoding (one octet, 01, for every supported curve). Part 1 §44.5.3 allows either.
struct EccCurveInfo {
  uint16_t curve = 0;
  uint16_t key_bits = 0;
  Bytes p, a, b, gx, gy, n, h;
};

// Whether `curve` is supported (its group could be built).
bool IsEccCurveSupported(uint16_t curve);

// The key size in octets of `curve` (32 for P-256), or 0 when it is not supported.
size_t EccKeyBytes(uint16_t curve);

Result<EccCurveInfo> EccCurve(uint16_t curve);

// Part 1 §44.6 key derivation (FIPS 186-5 A.2.1, extra random bits): c := the next
// bits(n) + 64 bits of `rng` (ceil((bits(n) + 64) / 8) octets, big-endian, with the excess
// leading bits cleared), d := (c mod (n - 1)) + 1. One draw; deterministic for a deterministic
// stream. TPM_RC_FAILURE if `rng` is empty (a caller bug).
Result<SecretBytes> EccDerivePrivate(uint16_t curve, const RandomFn& rng);

// Q := [d]G. Also the pairing check for a loaded key (Part 1 §44.1): compare with its public
// point.
Result<EccPoint> EccPublicFromPrivate(uint16_t curve, ByteSpan d);

// Whether `point` is a finite point of `curve` with coordinates below p (false for an
// unsupported curve, over-long coordinates or empty ones: the point at infinity is not a
// valid key or peer point).
bool EccIsOnCurve(uint16_t curve, const EccPoint& point);

// ECDSA (Part 1 §44.3.1, ISO/IEC 14888-3 / FIPS 186-5) over `digest`, which is used as given
// and truncated to the bit length of n as ECDSA requires. The nonce comes from OpenSSL's RNG.
// Returns (r, s), each key-size octets.
Result<std::pair<Bytes, Bytes>> EcdsaSign(uint16_t curve, ByteSpan d, ByteSpan digest);

// TPM_RC_SIGNATURE when (r, s) is not a valid signature of `digest` under `q` (including r or s
// outside [1, n - 1] or longer than the key size); TPM_RC_ECC_POINT when `q` is not on the curve.
RcStatus EcdsaVerify(uint16_t curve, const EccPoint& q, ByteSpan digest, ByteSpan r, ByteSpan s);

// EC Schnorr (Part 1 §44.3.4.2) with the scheme hash `hash_alg`: E := [k]G,
// r := TRUNC(H(FE2BS(xE) || digest), n) (the leading octets, at most key-size many),
// s := (k + r d) mod n. Returns (r, s), each left-padded to key-size octets (verification
// compares r as a number, so padding does not matter, §44.3.4.3).
// With a nonce `k` (in [1, n - 1], else TPM_RC_VALUE) the result is deterministic; the
// negligible degenerate cases (s = 0 or s = k) give TPM_RC_NO_RESULT. With `rng` (OpenSSL's RNG
// when empty) k is drawn as in EccDerivePrivate and redrawn in those cases.
// TPM_RC_HASH for an unsupported hash.
Result<std::pair<Bytes, Bytes>> EcSchnorrSignWithNonce(uint16_t curve, uint16_t hash_alg,
                                                       ByteSpan d, ByteSpan digest, ByteSpan k);
Result<std::pair<Bytes, Bytes>> EcSchnorrSign(uint16_t curve, uint16_t hash_alg, ByteSpan d,
                                              ByteSpan digest, const RandomFn& rng = {});

// Part 1 §44.3.4.3: checks 0 < s < n, E := [s]G + [-r]Q, r' := TRUNC(H(FE2BS(xE) || digest), n)
// and r' = r as numbers. TPM_RC_SIGNATURE on mismatch; TPM_RC_ECC_POINT; TPM_RC_HASH.
RcStatus EcSchnorrVerify(uint16_t curve, uint16_t hash_alg, const EccPoint& q, ByteSpan digest,
                         ByteSpan r, ByteSpan s);

// The ECDH primitive (Part 1 §44.8.3, SP 800-56A §5.7.1.2): Z := [h d]peer, both coordinates
// (TPM2_ECDH_ZGen returns the point; KDFe uses Z.x). TPM_RC_ECC_POINT when `peer` is not on the
// curve; TPM_RC_NO_RESULT if Z is the point at infinity.
Result<EccPoint> EcdhZ(uint16_t curve, ByteSpan d, const EccPoint& peer);

// A fresh key pair (d, [d]G) with d drawn as in EccDerivePrivate (TPM2_ECDH_KeyGen,
// TPM2_EC_Ephemeral). TPM_RC_FAILURE if `rng` is empty.
Result<std::pair<SecretBytes, EccPoint>> EccEphemeral(uint16_t curve, const RandomFn& rng);

// --- Split and two-phase operations (Part 1 §44.2, TPM2_Commit, TPM2_ZGen_2Phase) ------------

// v mod n and v mod p as key-size octets (any length of v): the commit value r := r mod n
// (Part 1 §44.2.3 step 8) and x2 := H(s2) mod p (step 3).
Result<SecretBytes> EccReduceModN(uint16_t curve, ByteSpan v);
Result<Bytes> EccReduceModP(uint16_t curve, ByteSpan v);

// [k]P, or [k]G when `p` is null. k is read as a number of at most key-size octets (longer:
// TPM_RC_VALUE) and taken mod n. TPM_RC_ECC_POINT when P is not a finite point of the curve;
// TPM_RC_NO_RESULT when the product is the point at infinity (k = 0 mod n).
Result<EccPoint> EccMultiply(uint16_t curve, ByteSpan k, const EccPoint* p);

// ECDAA signing (Part 1 §44.3.3.3), the second half of a split signing operation with the
// commit value `r` (a number below n, key-size octets at most): a nonce k in [1, n - 1]
// (drawn as in EccDerivePrivate from `rng`, OpenSSL's RNG when empty), T := H(k || digest)
// mod n with k as key-size octets and H the scheme hash, s := (r + T d) mod n. Returns (k, s),
// each key-size octets. A verifier checks [s]B = [r]B + [T]([d]B) for the base point B of the
// commit. TPM_RC_VALUE for d or r out of range; TPM_RC_HASH for an unsupported hash.
Result<std::pair<Bytes, Bytes>> EcdaaSign(uint16_t curve, uint16_t hash_alg, ByteSpan d,
                                          ByteSpan r, ByteSpan digest, const RandomFn& rng = {});

// The ECC MQV primitive (SP 800-56A §5.7.2.3) for party A with static private key ds_a and
// ephemeral private key de_a (QeA := [de_a]G), and party B's static and ephemeral public keys:
// implicitsig := (de_a + avg(QeA) ds_a) mod n, Z := [h implicitsig](QeB + [avg(QeB)]QsB), with
// avg(Q) := (x_Q mod 2^f) + 2^f and f := ceil(bits(n) / 2). Returns the point Z (TPM2_ZGen_2Phase
// outputs the point; the KDF uses its x). TPM_RC_VALUE for a private key out of range;
// TPM_RC_ECC_POINT for a public key off the curve; TPM_RC_NO_RESULT if Z is the point at infinity.
Result<EccPoint> EcMqvZ(uint16_t curve, ByteSpan ds_a, ByteSpan de_a, const EccPoint& qs_b,
                        const EccPoint& qe_b);

}  // namespace tpm2emu::crypto
