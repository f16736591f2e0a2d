// Part 3 §19 ephemeral EC keys (TPM2_Commit, TPM2_EC_Ephemeral) and the commit mechanism that
// split and two-phase operations share (Part 1 §44.2): pseudo-random commit values derived from
// a per-Reset nonce and a counter, with a bit array marking which counters are still pending.

#include "crypto/ecc.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "engine/commands/commands.h"
#include "engine/tpm.h"

namespace tpm2emu::engine::ephemeral {
namespace {

constexpr uint64_t kIndexMask = kCommitArrayBits - 1;

// [k]P (or [k]G) as a response point; TPM_RC_NO_RESULT at infinity (Part 1 §44.2.3 step 12).
Result<wire::Tpm2bEccPoint> Multiply(uint16_t curve, ByteSpan k, const crypto::EccPoint* p) {
  TRY_ASSIGN(crypto::EccPoint point, crypto::EccMultiply(curve, k, p));
  return wire::Tpm2bEccPoint{std::move(point.x), std::move(point.y)};
}

}  // namespace

Result<SecretBytes> CommitValue(Tpm& tpm, uint16_t hash_alg, ByteSpan name, uint16_t curve,
                                uint64_t count) {
  ResetState& rs = tpm.reset_state();
  if (rs.commit_nonce.empty()) {  // a state saved before the commit state existed
    rs.commit_nonce = tpm.RandomSecret(kCommitNonceSize);
  }
  // Part 1 §44.2.2 (equation 60); bits(n) rounded up to octets is the key size on every
  // supported curve.
  const size_t bytes = crypto::EccKeyBytes(curve);
  if (bytes == 0) {
    return Rc::Curve;
  }
  Bytes count_bytes;
  AppendBe64(count_bytes, count);
  TRY_ASSIGN(SecretBytes r, crypto::KdfA(hash_alg, rs.commit_nonce, "ECDAA Commit", name,
                                         count_bytes, static_cast<uint32_t>(bytes * 8)));
  return crypto::EccReduceModN(curve, r);  // §44.2.3 step 8
}

uint16_t RecordCommit(Tpm& tpm) {
  ResetState& rs = tpm.reset_state();
  const uint64_t count = rs.commit_count++;
  rs.commit_array |= uint64_t{1} << (count & kIndexMask);
  return static_cast<uint16_t>(count);
}

Result<SecretBytes> PendingCommitValue(Tpm& tpm, uint16_t hash_alg, ByteSpan name, uint16_t curve,
                                       uint16_t counter, uint32_t param) {
  const ResetState& rs = tpm.reset_state();
  // Part 1 §44.2.5 step 2: t - 2^N < counter < t, in 16-bit arithmetic.
  const auto t = static_cast<uint16_t>(rs.commit_count);
  const auto age = static_cast<uint16_t>(t - counter);
  if (age == 0 || age >= kCommitArrayBits) {
    return Rc::Range.Param(param);
  }
  // Steps 3-4. A count before the first commit never had its bit set.
  if (age > rs.commit_count || (rs.commit_array & (uint64_t{1} << (counter & kIndexMask))) == 0) {
    return Rc::Value.Param(param);
  }
  // Steps 5-8: the full count is the age back from commitCount.
  return CommitValue(tpm, hash_alg, name, curve, rs.commit_count - age);
}

void ReleaseCommit(Tpm& tpm, uint16_t counter) {
  tpm.reset_state().commit_array &= ~(uint64_t{1} << (counter & kIndexMask));
}

RcStatus Unmarshal(wire::Reader& r, CommitPoint& v) {
  wire::Reader peek = r;
  uint16_t size = 0;
  TRY(peek.U16(size));
  if (size == 0) {
    return Rc::Insufficient;
  }
  return wire::Unmarshal(r, v.point);
}

// Part 3 §19.2 TPM2_Commit, with the algorithm of Part 1 §44.2.3.
Result<CommitOut> Commit(Tpm& tpm, const CommitIn& in) {
  TRY_ASSIGN(Object * key, tpm.FindObject(in.sign_handle, 1));
  if (key->sequence || key->pub.type != TpmAlg::Ecc || key->public_only) {
    return Rc::Key.Handle(1);
  }
  const auto& detail = std::get<wire::EccDetail>(key->pub.detail);
  // §19.2.1: the key's scheme must be anonymous; ECDAA is the only one.
  if (detail.scheme.scheme != TpmAlg::EcDaa) {
    return Rc::Scheme.Handle(1);
  }
  const uint16_t curve = detail.curve;
  // Step 1: s2 and y2 come together.
  if (in.s2.data.empty() != in.y2.data.empty()) {
    return Rc::Size.Param(3);
  }
  // Steps 2-4: B := (H_nameAlg(s2) mod p, y2) must be on the curve.
  std::optional<crypto::EccPoint> b;
  if (!in.s2.data.empty()) {
    TRY_ASSIGN(Bytes h, crypto::Hash(key->pub.name_alg, in.s2.span()));
    TRY_ASSIGN(Bytes x2, crypto::EccReduceModP(curve, h));
    b = crypto::EccPoint{std::move(x2), in.y2.data};
    if (!crypto::EccIsOnCurve(curve, *b)) {
      return Rc::EccPoint.Param(2);
    }
  }
  // Step 5.
  const wire::Tpm2bEccPoint& p1 = in.p1.point;
  const bool p1_empty = p1.x.empty() && p1.y.empty();
  const crypto::EccPoint p1_point{p1.x, p1.y};
  if (!p1_empty && !crypto::EccIsOnCurve(curve, p1_point)) {
    return Rc::EccPoint.Param(1);
  }
  // Steps 6-12; a product at infinity is TPM_RC_NO_RESULT (EccMultiply's answer).
  ResetState& rs = tpm.reset_state();
  TRY_ASSIGN(SecretBytes r,
             CommitValue(tpm, key->pub.name_alg, key->name, curve, rs.commit_count));
  CommitOut out;
  if (b) {
    TRY_ASSIGN(out.k, Multiply(curve, key->sensitive, &*b));
    TRY_ASSIGN(out.l, Multiply(curve, r, &*b));
  }
  if (!p1_empty) {
    TRY_ASSIGN(out.e, Multiply(curve, r, &p1_point));
  } else if (!b) {
    TRY_ASSIGN(out.e, Multiply(curve, r, nullptr));
  }
  // Steps 13-15.
  out.counter = RecordCommit(tpm);
  return out;
}

// Part 3 §19.3 TPM2_EC_Ephemeral (Part 1 §44.2.4): Q := [r]G for a commit value r that no key
// is bound to (the context hash and an empty name); TPM2_ZGen_2Phase recovers r from counter.
Result<EcEphemeralOut> EcEphemeral(Tpm& tpm, const EcEphemeralIn& in) {
  if (!crypto::IsEccCurveSupported(in.curve_id)) {
    return Rc::Curve.Param(1);
  }
  TRY_ASSIGN(SecretBytes r, CommitValue(tpm, kContextHashAlg, {}, in.curve_id,
                                        tpm.reset_state().commit_count));
  EcEphemeralOut out;
  TRY_ASSIGN(out.q, Multiply(in.curve_id, r, nullptr));
  out.counter = RecordCommit(tpm);
  return out;
}

}  // namespace tpm2emu::engine::ephemeral
