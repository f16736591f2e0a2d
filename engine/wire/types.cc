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

// Part 2 §11.1.6: the algorithm selects which of keyBits and mode follow. The supported
// algorithms are AES (128, 192, 256 bits) and XOR; TPM_ALG_NULL is allowed (TPMT_SYM_DEF+).
RcStatus Unmarshal(Reader& r, TpmtSymDef& v) {
  TRY(r.U16(v.algorithm));
  v.key_bits = 0;
  v.mode = TpmAlg::Null;
  switch (v.algorithm) {
    case TpmAlg::Null:
      return {};
    case TpmAlg::Xor: {
      TpmiAlgHash hash;
      TRY(Unmarshal(r, hash));
      v.key_bits = hash;
      return {};
    }
    case TpmAlg::Aes:
      TRY(r.U16(v.key_bits));
      if (v.key_bits != 128 && v.key_bits != 192 && v.key_bits != 256) {
        return Rc::KeySize;
      }
      TRY(r.U16(v.mode));
      if (v.mode != TpmAlg::Cfb && v.mode != TpmAlg::Cbc && v.mode != TpmAlg::Ctr &&
          v.mode != TpmAlg::Ofb && v.mode != TpmAlg::Ecb && v.mode != TpmAlg::Null) {
        return Rc::Mode;
      }
      return {};
    default:
      return Rc::Symmetric;
  }
}

void Marshal(Writer& w, const TpmtSymDef& v) {
  w.U16(v.algorithm);
  if (v.algorithm == TpmAlg::Null) {
    return;
  }
  w.U16(v.key_bits);
  if (v.algorithm != TpmAlg::Xor) {
    w.U16(v.mode);
  }
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
