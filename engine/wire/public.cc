#include "engine/wire/public.h"

namespace tpm2emu::wire {
namespace {

bool IsHash(uint16_t alg) { return IsImplementedHash(alg); }

RcStatus ReadHash(Reader& r, uint16_t& alg, bool allow_null) {
  TRY(r.U16(alg));
  if (IsHash(alg) || (allow_null && alg == TpmAlg::Null)) {
    return {};
  }
  return Rc::Hash;
}

// Part 2 §11.1.7: AES in any implemented mode, or NULL where allowed.
RcStatus ReadSymDefObject(Reader& r, TpmtSymDefObject& v, bool allow_null) {
  TRY(r.U16(v.algorithm));
  v.key_bits = 0;
  v.mode = TpmAlg::Null;
  if (v.algorithm == TpmAlg::Null && allow_null) {
    return {};
  }
  if (v.algorithm != TpmAlg::Aes) {
    return Rc::Symmetric;
  }
  TRY(r.U16(v.key_bits));
  if (v.key_bits != 128 && v.key_bits != 192 && v.key_bits != 256) {
    return Rc::Value;
  }
  TRY(r.U16(v.mode));
  switch (v.mode) {
    case TpmAlg::Cfb:
    case TpmAlg::Cbc:
    case TpmAlg::Ctr:
    case TpmAlg::Ofb:
    case TpmAlg::Ecb:
    case TpmAlg::Null:
      return {};
    default:
      return Rc::Mode;
  }
}

void WriteSymDefObject(Writer& w, const TpmtSymDefObject& v) {
  w.U16(v.algorithm);
  if (v.algorithm != TpmAlg::Null) {
    w.U16(v.key_bits);
    w.U16(v.mode);
  }
}

RcStatus ReadSized(Reader& r, Bytes& out, size_t max) {
  uint16_t n = 0;
  TRY(r.U16(n));
  if (n > max) {
    return Rc::Size;
  }
  TRY_ASSIGN(auto s, r.Take(n));
  out.assign(s.begin(), s.end());
  return {};
}

void WriteSized(Writer& w, ByteSpan b) {
  w.U16(static_cast<uint16_t>(b.size()));
  w.Raw(b);
}

}  // namespace

RcStatus UnmarshalScheme(Reader& r, TpmtScheme& v, SchemeKind kind) {
  v = TpmtScheme{};
  TRY(r.U16(v.scheme));
  uint16_t s = v.scheme;
  bool sign = s == TpmAlg::RsaSsa || s == TpmAlg::RsaPss || s == TpmAlg::EcDsa ||
              s == TpmAlg::EcSchnorr || s == TpmAlg::EcDaa || s == TpmAlg::Sm2 ||
              s == TpmAlg::Hmac;
  bool ok = false;
  TpmRc bad = Rc::Value;
  switch (kind) {
    case SchemeKind::kRsa:  // TPMI_ALG_RSA_SCHEME+
      ok = s == TpmAlg::RsaSsa || s == TpmAlg::RsaPss || s == TpmAlg::RsaEs ||
           s == TpmAlg::Oaep || s == TpmAlg::Null;
      break;
    case SchemeKind::kEcc:  // TPMI_ALG_ECC_SCHEME+ (the implemented ones: no SM2)
      ok = s == TpmAlg::EcDsa || s == TpmAlg::EcSchnorr || s == TpmAlg::EcDaa ||
           s == TpmAlg::EcDh || s == TpmAlg::EcMqv || s == TpmAlg::Null;
      bad = Rc::Scheme;
      break;
    case SchemeKind::kKeyedHash:  // TPMI_ALG_KEYEDHASH_SCHEME+
      ok = s == TpmAlg::Hmac || s == TpmAlg::Xor || s == TpmAlg::Null;
      break;
    case SchemeKind::kSig:  // TPMI_ALG_SIG_SCHEME+
      ok = s == TpmAlg::RsaSsa || s == TpmAlg::RsaPss || s == TpmAlg::EcDsa ||
           s == TpmAlg::EcSchnorr || s == TpmAlg::EcDaa || s == TpmAlg::Hmac ||
           s == TpmAlg::Null;
      bad = Rc::Scheme;
      break;
    case SchemeKind::kRsaDecrypt:  // TPMI_ALG_RSA_DECRYPT+
      ok = s == TpmAlg::RsaEs || s == TpmAlg::Oaep || s == TpmAlg::Null;
      break;
    case SchemeKind::kKdf:  // TPMI_ALG_KDF+
      ok = s == TpmAlg::Mgf1 || s == TpmAlg::Kdf1Sp800_56a || s == TpmAlg::Kdf1Sp800_108 ||
           s == TpmAlg::Kdf2 || s == TpmAlg::Null;
      bad = Rc::Kdf;
      break;
    case SchemeKind::kAsym:
      ok = sign || s == TpmAlg::RsaEs || s == TpmAlg::Oaep || s == TpmAlg::EcDh ||
           s == TpmAlg::Null;
      break;
  }
  if (!ok) {
    return bad;
  }
  if (s == TpmAlg::Null || s == TpmAlg::RsaEs) {
    return {};
  }
  TRY(ReadHash(r, v.hash_alg, false));
  if (s == TpmAlg::EcDaa) {
    TRY(r.U16(v.count));
  }
  if (s == TpmAlg::Xor) {
    TRY(r.U16(v.kdf));
    if (v.kdf != TpmAlg::Kdf1Sp800_108 && v.kdf != TpmAlg::Null) {
      return Rc::Kdf;
    }
  }
  return {};
}

void MarshalScheme(Writer& w, const TpmtScheme& v) {
  w.U16(v.scheme);
  if (v.scheme == TpmAlg::Null || v.scheme == TpmAlg::RsaEs) {
    return;
  }
  w.U16(v.hash_alg);
  if (v.scheme == TpmAlg::EcDaa) {
    w.U16(v.count);
  }
  if (v.scheme == TpmAlg::Xor) {
    w.U16(v.kdf);
  }
}

namespace {

RcStatus ReadType(Reader& r, TpmtPublic& v) {
  TRY(r.U16(v.type));
  if (v.type != TpmAlg::Rsa && v.type != TpmAlg::Ecc && v.type != TpmAlg::KeyedHash &&
      v.type != TpmAlg::SymCipher) {
    return Rc::Type;
  }
  return {};
}

// The parameters for v.type, and the unique field when `with_unique`.
RcStatus ReadDetail(Reader& r, TpmtPublic& v, bool with_unique);

}  // namespace

RcStatus UnmarshalPublicParms(Reader& r, TpmtPublic& v) {
  TRY(ReadType(r, v));
  return ReadDetail(r, v, false);
}

RcStatus Unmarshal(Reader& r, TpmtPublic& v) {
  TRY(ReadType(r, v));
  TRY(ReadHash(r, v.name_alg, true));
  TRY(r.U32(v.attributes));
  if ((v.attributes & TpmaObject::Reserved) != 0) {
    return Rc::ReservedBits;
  }
  TRY(ReadSized(r, v.auth_policy, kMaxDigestSize));
  return ReadDetail(r, v, true);
}

namespace {

RcStatus ReadDetail(Reader& r, TpmtPublic& v, bool with_unique) {
  auto read_unique = [&](Bytes& out, size_t max) -> RcStatus {
    return with_unique ? ReadSized(r, out, max) : RcStatus{};
  };
  switch (v.type) {
    case TpmAlg::Rsa: {
      RsaDetail d;
      TRY(ReadSymDefObject(r, d.symmetric, true));
      TRY(UnmarshalScheme(r, d.scheme, SchemeKind::kRsa));
      TRY(r.U16(d.key_bits));
      if (d.key_bits != 1024 && d.key_bits != 2048 && d.key_bits != 3072 && d.key_bits != 4096) {
        return Rc::Value;
      }
      TRY(r.U32(d.exponent));
      TRY(read_unique(d.unique, kMaxRsaKeyBytes));
      v.detail = std::move(d);
      break;
    }
    case TpmAlg::Ecc: {
      EccDetail d;
      TRY(ReadSymDefObject(r, d.symmetric, true));
      TRY(UnmarshalScheme(r, d.scheme, SchemeKind::kEcc));
      TRY(r.U16(d.curve));
      if (d.curve != TpmEccCurve::NistP256 && d.curve != TpmEccCurve::NistP384 &&
          d.curve != TpmEccCurve::NistP521 && d.curve != TpmEccCurve::BnP256) {
        return Rc::Curve;
      }
      TRY(UnmarshalScheme(r, d.kdf, SchemeKind::kKdf));
      TRY(read_unique(d.x, kMaxEccKeyBytes));
      TRY(read_unique(d.y, kMaxEccKeyBytes));
      v.detail = std::move(d);
      break;
    }
    case TpmAlg::KeyedHash: {
      KeyedHashDetail d;
      TRY(UnmarshalScheme(r, d.scheme, SchemeKind::kKeyedHash));
      TRY(read_unique(d.unique, kMaxDigestSize));
      v.detail = std::move(d);
      break;
    }
    default: {
      SymCipherDetail d;
      TRY(ReadSymDefObject(r, d.sym, false));
      TRY(read_unique(d.unique, kMaxDigestSize));
      v.detail = std::move(d);
      break;
    }
  }
  return {};
}

}  // namespace

void Marshal(Writer& w, const TpmtPublic& v) {
  w.U16(v.type);
  w.U16(v.name_alg);
  w.U32(v.attributes);
  WriteSized(w, v.auth_policy);
  if (const auto* d = std::get_if<RsaDetail>(&v.detail)) {
    WriteSymDefObject(w, d->symmetric);
    MarshalScheme(w, d->scheme);
    w.U16(d->key_bits);
    w.U32(d->exponent);
    WriteSized(w, d->unique);
  } else if (const auto* e = std::get_if<EccDetail>(&v.detail)) {
    WriteSymDefObject(w, e->symmetric);
    MarshalScheme(w, e->scheme);
    w.U16(e->curve);
    MarshalScheme(w, e->kdf);
    WriteSized(w, e->x);
    WriteSized(w, e->y);
  } else if (const auto* k = std::get_if<KeyedHashDetail>(&v.detail)) {
    MarshalScheme(w, k->scheme);
    WriteSized(w, k->unique);
  } else if (const auto* s = std::get_if<SymCipherDetail>(&v.detail)) {
    WriteSymDefObject(w, s->sym);
    WriteSized(w, s->unique);
  }
}

RcStatus Unmarshal(Reader& r, Tpm2bPublic& v) {
  uint16_t n = 0;
  TRY(r.U16(n));
  if (n == 0) {
    return Rc::Size;
  }
  TRY_ASSIGN(auto sub, r.Sub(n));
  TRY(Unmarshal(sub, v.value));
  if (!sub.empty()) {
    return Rc::Size;
  }
  return {};
}

void Marshal(Writer& w, const Tpm2bPublic& v) {
  size_t mark = w.BeginSize16();
  Marshal(w, v.value);
  w.EndSize16(mark);
}

RcStatus Unmarshal(Reader& r, TpmtSensitive& v) {
  TRY(r.U16(v.type));
  TRY(ReadSized(r, v.auth_value, kMaxDigestSize));
  TRY(ReadSized(r, v.seed_value, kMaxDigestSize));
  size_t max = 0;
  switch (v.type) {
    case TpmAlg::Rsa:
      max = kRsaPrivateSize;
      break;
    case TpmAlg::Ecc:
      max = kMaxEccKeyBytes;
      break;
    case TpmAlg::KeyedHash:
      max = kMaxSymData;
      break;
    case TpmAlg::SymCipher:
      max = kMaxSymKeyBytes;
      break;
    default:
      return Rc::Type;
  }
  return ReadSized(r, v.sensitive, max);
}

void Marshal(Writer& w, const TpmtSensitive& v) {
  w.U16(v.type);
  WriteSized(w, v.auth_value);
  WriteSized(w, v.seed_value);
  WriteSized(w, v.sensitive);
}

RcStatus Unmarshal(Reader& r, Tpm2bSensitiveCreate& v) {
  uint16_t n = 0;
  TRY(r.U16(n));
  TRY_ASSIGN(auto sub, r.Sub(n));
  if (n == 0) {
    v = {};
    return {};
  }
  TRY(ReadSized(sub, v.user_auth, kMaxDigestSize));
  TRY(ReadSized(sub, v.data, kMaxSymData));
  if (!sub.empty()) {
    return Rc::Size;
  }
  return {};
}

RcStatus Unmarshal(Reader& r, TpmtSignature& v) {
  // TPMI_ALG_SIG_SCHEME+ then the hash of TPMU_SIGNATURE's member: for ECDAA a signature
  // (TPMS_SIGNATURE_ECDAA) has no count, unlike the scheme (TPMS_SCHEME_ECDAA).
  TpmtScheme scheme;
  Reader peek = r;
  TRY(UnmarshalScheme(peek, scheme, SchemeKind::kSig));
  TRY(r.U16(v.sig_alg));
  v.hash_alg = TpmAlg::Null;
  if (v.sig_alg == TpmAlg::Null) {
    return {};
  }
  TRY(ReadHash(r, v.hash_alg, false));
  switch (v.sig_alg) {
    case TpmAlg::RsaSsa:
    case TpmAlg::RsaPss:
      return ReadSized(r, v.rsa_or_hmac, kMaxRsaKeyBytes);
    case TpmAlg::EcDsa:
    case TpmAlg::EcDaa:
    case TpmAlg::EcSchnorr:
      TRY(ReadSized(r, v.r, kMaxEccKeyBytes));
      return ReadSized(r, v.s, kMaxEccKeyBytes);
    case TpmAlg::Hmac: {
      // TPMT_HA: the digest's size follows from the hash.
      TRY_ASSIGN(auto d, r.Take(v.hash_alg == TpmAlg::Sha1     ? 20
                                : v.hash_alg == TpmAlg::Sha256 ? 32
                                : v.hash_alg == TpmAlg::Sha384 ? 48
                                                               : 64));
      v.rsa_or_hmac.assign(d.begin(), d.end());
      return {};
    }
    default:
      return {};
  }
}

void Marshal(Writer& w, const TpmtSignature& v) {
  w.U16(v.sig_alg);
  if (v.sig_alg == TpmAlg::Null) {
    return;
  }
  w.U16(v.hash_alg);
  switch (v.sig_alg) {
    case TpmAlg::RsaSsa:
    case TpmAlg::RsaPss:
      WriteSized(w, v.rsa_or_hmac);
      break;
    case TpmAlg::EcDsa:
    case TpmAlg::EcDaa:
    case TpmAlg::EcSchnorr:
      WriteSized(w, v.r);
      WriteSized(w, v.s);
      break;
    default:
      w.Raw(v.rsa_or_hmac);
      break;
  }
}

RcStatus Unmarshal(Reader& r, Tpm2bEccPoint& v) {
  uint16_t n = 0;
  TRY(r.U16(n));
  if (n == 0) {
    return Rc::Size;
  }
  TRY_ASSIGN(auto sub, r.Sub(n));
  TRY(ReadSized(sub, v.x, kMaxEccKeyBytes));
  TRY(ReadSized(sub, v.y, kMaxEccKeyBytes));
  if (!sub.empty()) {
    return Rc::Size;
  }
  return {};
}

void Marshal(Writer& w, const Tpm2bEccPoint& v) {
  size_t mark = w.BeginSize16();
  WriteSized(w, v.x);
  WriteSized(w, v.y);
  w.EndSize16(mark);
}

}  // namespace tpm2emu::wire
