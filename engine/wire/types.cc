#include "engine/wire/types.h"

namespace tpm2emu::wire {

namespace {
size_t HashDigestSize(uint16_t alg) {
  switch (alg) {
    case TpmAlg::Sha1:
      return 20;
    case TpmAlg::Sha256:
      return 32;
    case TpmAlg::Sha384:
      return 48;
    case TpmAlg::Sha512:
      return 64;
    default:
      return 0;
  }
}
}  // namespace

// Part 2 §10.3.2: the selector picks the digest size; TPM_ALG_NULL carries no digest.
RcStatus Unmarshal(Reader& r, TpmtHa& v) {
  TpmiAlgHashOrNull alg;
  TRY(Unmarshal(r, alg));
  v.hash_alg = alg;
  TRY_ASSIGN(auto digest, r.Take(HashDigestSize(alg)));
  v.digest.assign(digest.begin(), digest.end());
  return {};
}

void Marshal(Writer& w, const TpmtHa& v) {
  w.U16(v.hash_alg);
  w.Raw(v.digest);
}

RcStatus Unmarshal(Reader& r, TpmsPcrSelection& v) {
  TRY(Unmarshal(r, v.hash));
  uint8_t n = 0;
  TRY(r.U8(n));
  if (n < kPcrSelectMin || n > kPcrSelectMax) {
    return Rc::Value;
  }
  TRY_ASSIGN(auto bits, r.Take(n));
  v.pcr_select.assign(bits.begin(), bits.end());
  return {};
}

void Marshal(Writer& w, const TpmsPcrSelection& v) {
  w.U16(v.hash);
  w.U8(static_cast<uint8_t>(v.pcr_select.size()));
  w.Raw(v.pcr_select);
}

}  // namespace tpm2emu::wire
