// Part 3 §14 asymmetric primitives and §20 signing and signature verification.

#include "crypto/ecc.h"
#include "crypto/hash.h"
#include "crypto/rsa.h"
#include "engine/commands/commands.h"
#include "engine/tpm.h"

namespace tpm2emu::engine::asym {
namespace {

using wire::TpmaObject::Decrypt;
using wire::TpmaObject::Restricted;
using wire::TpmaObject::SignEncrypt;

crypto::RsaPublicKey RsaPublic(const Object& obj) {
  const auto& d = std::get<wire::RsaDetail>(obj.pub.detail);
  return crypto::RsaPublicKey{d.unique, d.exponent};
}

Result<crypto::RsaPrivateKey> RsaPrivate(const Object& obj) {
  return crypto::RsaFromPrime(RsaPublic(obj), obj.sensitive);
}

const wire::TpmtScheme* KeyScheme(const Object& obj) {
  if (const auto* r = std::get_if<wire::RsaDetail>(&obj.pub.detail)) {
    return &r->scheme;
  }
  if (const auto* e = std::get_if<wire::EccDetail>(&obj.pub.detail)) {
    return &e->scheme;
  }
  if (const auto* k = std::get_if<wire::KeyedHashDetail>(&obj.pub.detail)) {
    return &k->scheme;
  }
  return nullptr;
}

// Part 3 §20.2.1 / §14.2.1: the key's own scheme wins; a caller's scheme may only repeat it,
// and is needed when the key has none. An ECDAA scheme's count is not part of the key's
// choice: it names the caller's commit (Part 1 §44.3.3.3), so the caller's count is used.
Result<wire::TpmtScheme> PickScheme(const Object& key, const wire::TpmtScheme& in,
                                    uint32_t param) {
  const wire::TpmtScheme* own = KeyScheme(key);
  if (own != nullptr && own->scheme != TpmAlg::Null) {
    if (in.scheme == TpmAlg::Null) {
      return *own;
    }
    wire::TpmtScheme in_without_count = in;
    in_without_count.count = own->count;
    if (in_without_count != *own) {
      return Rc::Scheme.Param(param);
    }
    return in;
  }
  return in;
}

Result<Object*> FindKey(Tpm& tpm, uint32_t handle) {
  TRY_ASSIGN(Object * key, tpm.FindObject(handle, 1));
  if (key->sequence) {
    return Rc::Type.Handle(1);
  }
  return key;
}

}  // namespace

Result<wire::TpmtSignature> SignDigest(const Object& key, const wire::TpmtScheme& scheme,
                                       ByteSpan digest, uint32_t scheme_param) {
  wire::TpmtSignature sig;
  sig.sig_alg = scheme.scheme;
  sig.hash_alg = scheme.hash_alg;
  switch (key.pub.type) {
    case TpmAlg::Rsa: {
      if (scheme.scheme != TpmAlg::RsaSsa && scheme.scheme != TpmAlg::RsaPss) {
        return Rc::Scheme.Param(scheme_param);
      }
      TRY_ASSIGN(auto priv, RsaPrivate(key));
      TRY_ASSIGN(sig.rsa_or_hmac, crypto::RsaSign(priv, scheme.scheme, scheme.hash_alg, digest));
      break;
    }
    case TpmAlg::Ecc: {
      const auto& d = std::get<wire::EccDetail>(key.pub.detail);
      std::pair<Bytes, Bytes> rs;
      if (scheme.scheme == TpmAlg::EcDsa) {
        TRY_ASSIGN(rs, crypto::EcdsaSign(d.curve, key.sensitive, digest));
      } else if (scheme.scheme == TpmAlg::EcSchnorr) {
        TRY_ASSIGN(rs, crypto::EcSchnorrSign(d.curve, scheme.hash_alg, key.sensitive, digest));
      } else {
        return Rc::Scheme.Param(scheme_param);
      }
      sig.r = std::move(rs.first);
      sig.s = std::move(rs.second);
      break;
    }
    case TpmAlg::KeyedHash: {
      if (scheme.scheme != TpmAlg::Hmac) {
        return Rc::Scheme.Param(scheme_param);
      }
      TRY_ASSIGN(sig.rsa_or_hmac, crypto::Hmac(scheme.hash_alg, key.sensitive, digest));
      break;
    }
    default:
      return Rc::Key.Handle(1);
  }
  return sig;
}

// Part 1 §44.3.3.3: the second half of an ECDAA split signing operation, with the commit value
// of the pending commit named by scheme.count (TPM_RC_RANGE / TPM_RC_VALUE at the scheme's
// parameter when it is not pending); the commit is used up only when the signature is made.
Result<wire::TpmtSignature> EcdaaSignDigest(Tpm& tpm, const Object& key,
                                            const wire::TpmtScheme& scheme, ByteSpan digest,
                                            uint32_t scheme_param) {
  if (key.pub.type != TpmAlg::Ecc) {
    return Rc::Scheme.Param(scheme_param);
  }
  const auto& d = std::get<wire::EccDetail>(key.pub.detail);
  TRY_ASSIGN(SecretBytes r, ephemeral::PendingCommitValue(tpm, key.pub.name_alg, key.name, d.curve,
                                                          scheme.count, scheme_param));
  TRY_ASSIGN(auto ks, crypto::EcdaaSign(d.curve, scheme.hash_alg, key.sensitive, r, digest,
                                        tpm.RandomSource()));
  ephemeral::ReleaseCommit(tpm, scheme.count);
  wire::TpmtSignature sig;
  sig.sig_alg = TpmAlg::EcDaa;
  sig.hash_alg = scheme.hash_alg;
  sig.r = std::move(ks.first);  // the nonce k travels in R (§44.3.3.3)
  sig.s = std::move(ks.second);
  return sig;
}

Result<wire::TpmtScheme> SigningScheme(const Object& key, const wire::TpmtScheme& in,
                                       uint32_t scheme_param) {
  TRY_ASSIGN(wire::TpmtScheme scheme, PickScheme(key, in, scheme_param));
  if (scheme.scheme == TpmAlg::Null) {
    return Rc::Scheme.Param(scheme_param);
  }
  return scheme;
}

// Part 3 §20.2 TPM2_Sign
Result<SignOut> Sign(Tpm& tpm, const SignIn& in) {
  TRY_ASSIGN(Object * key, FindKey(tpm, in.key_handle));
  if (!key->pub.Has(SignEncrypt) || key->public_only) {
    return Rc::Key.Handle(1);
  }
  // Part 2 §8.3.3.15: an x509sign key signs only through TPM2_CertifyX509 and attestations.
  if (key->pub.Has(wire::TpmaObject::X509Sign)) {
    return Rc::Attributes.Handle(1);
  }
  TRY_ASSIGN(wire::TpmtScheme scheme, SigningScheme(*key, in.in_scheme.value, 2));
  if (in.digest.size() != crypto::DigestSize(scheme.hash_alg)) {
    return Rc::Size.Param(1);
  }
  // A restricted key signs only digests the TPM computed itself (Part 3 §20.2: the hashcheck
  // ticket from TPM2_Hash or a hash sequence).
  if (key->pub.Has(Restricted)) {
    const wire::TpmtTkHashcheck& t = in.validation;
    if (t.tag != TpmSt::Hashcheck || t.hierarchy == TpmRh::Null ||
        !ConstantTimeEqual(t.digest.span(),
                           tpm.Ticket(t.hierarchy, TpmSt::Hashcheck, in.digest.span()))) {
      return Rc::Ticket.Param(3);
    }
  }
  SignOut out;
  if (scheme.scheme == TpmAlg::EcDaa) {
    TRY_ASSIGN(out.signature, EcdaaSignDigest(tpm, *key, scheme, in.digest.span(), 2));
    return out;
  }
  TRY_ASSIGN(out.signature, SignDigest(*key, scheme, in.digest.span(), 2));
  return out;
}

// Part 3 §20.1 TPM2_VerifySignature: the ticket is
// HMAC(proof, TPM_ST_VERIFIED || digest || keyName), NULL for the null hierarchy.
Result<VerifySignatureOut> VerifySignature(Tpm& tpm, const VerifySignatureIn& in) {
  TRY_ASSIGN(Object * key, FindKey(tpm, in.key_handle));
  if (!key->pub.Has(SignEncrypt)) {
    return Rc::Attributes.Handle(1);
  }
  const wire::TpmtSignature& sig = in.signature;
  if (in.digest.size() != crypto::DigestSize(sig.hash_alg)) {
    return Rc::Signature.Param(2);
  }
  switch (key->pub.type) {
    case TpmAlg::Rsa:
      if (sig.sig_alg != TpmAlg::RsaSsa && sig.sig_alg != TpmAlg::RsaPss) {
        return Rc::Scheme.Param(2);
      }
      if (!crypto::RsaVerify(RsaPublic(*key), sig.sig_alg, sig.hash_alg, in.digest.span(),
                             sig.rsa_or_hmac)
               .ok()) {
        return Rc::Signature.Param(2);
      }
      break;
    case TpmAlg::Ecc: {
      const auto& d = std::get<wire::EccDetail>(key->pub.detail);
      RcStatus verified;
      if (sig.sig_alg == TpmAlg::EcDsa) {
        verified =
            crypto::EcdsaVerify(d.curve, crypto::EccPoint{d.x, d.y}, in.digest.span(), sig.r, sig.s);
      } else if (sig.sig_alg == TpmAlg::EcSchnorr) {
        verified = crypto::EcSchnorrVerify(d.curve, sig.hash_alg, crypto::EccPoint{d.x, d.y},
                                           in.digest.span(), sig.r, sig.s);
      } else {
        // Includes ECDAA: "The TPM may not be used to verify an ECDAA signature" (Part 1
        // §44.3.3.1); a verifier needs the commit's base point and K, not the key.
        return Rc::Scheme.Param(2);
      }
      if (!verified.ok()) {
        return Rc::Signature.Param(2);
      }
      break;
    }
    case TpmAlg::KeyedHash: {
      if (sig.sig_alg != TpmAlg::Hmac || key->public_only) {
        return Rc::Scheme.Param(2);
      }
      TRY_ASSIGN(Bytes mac, crypto::Hmac(sig.hash_alg, key->sensitive, in.digest.span()));
      if (!ConstantTimeEqual(mac, sig.rsa_or_hmac)) {
        return Rc::Signature.Param(2);
      }
      break;
    }
    default:
      return Rc::Key.Handle(1);
  }
  VerifySignatureOut out;
  out.validation.tag = TpmSt::Verified;
  out.validation.hierarchy = key->hierarchy;
  if (key->hierarchy != TpmRh::Null) {
    Bytes data = ToBytes(in.digest.span());
    data.insert(data.end(), key->name.begin(), key->name.end());
    out.validation.digest.data = tpm.Ticket(key->hierarchy, TpmSt::Verified, data);
  }
  return out;
}

// Part 3 §14.2 TPM2_RSA_Encrypt
Result<RsaEncryptOut> RsaEncrypt(Tpm& tpm, const RsaEncryptIn& in) {
  TRY_ASSIGN(Object * key, FindKey(tpm, in.key_handle));
  if (key->pub.type != TpmAlg::Rsa) {
    return Rc::Key.Handle(1);
  }
  if (!key->pub.Has(Decrypt)) {
    return Rc::Attributes.Handle(1);
  }
  TRY_ASSIGN(wire::TpmtScheme scheme, PickScheme(*key, in.in_scheme.value, 2));
  if (scheme.scheme != TpmAlg::Oaep && scheme.scheme != TpmAlg::RsaEs &&
      scheme.scheme != TpmAlg::Null) {
    return Rc::Scheme.Param(2);
  }
  auto out = crypto::RsaEncrypt(RsaPublic(*key), scheme.scheme, scheme.hash_alg, in.label.span(),
                                in.message.span());
  if (!out.ok()) {
    return out.error().Param(1);
  }
  RsaEncryptOut r;
  r.out_data.data = std::move(out).value();
  return r;
}

// Part 3 §14.3 TPM2_RSA_Decrypt
Result<RsaEncryptOut> RsaDecrypt(Tpm& tpm, const RsaDecryptIn& in) {
  TRY_ASSIGN(Object * key, FindKey(tpm, in.key_handle));
  if (key->pub.type != TpmAlg::Rsa || key->public_only) {
    return Rc::Key.Handle(1);
  }
  if (!key->pub.Has(Decrypt) || key->pub.Has(Restricted)) {
    return Rc::Attributes.Handle(1);
  }
  TRY_ASSIGN(wire::TpmtScheme scheme, PickScheme(*key, in.in_scheme.value, 2));
  if (scheme.scheme != TpmAlg::Oaep && scheme.scheme != TpmAlg::RsaEs &&
      scheme.scheme != TpmAlg::Null) {
    return Rc::Scheme.Param(2);
  }
  TRY_ASSIGN(auto priv, RsaPrivate(*key));
  auto msg = crypto::RsaDecrypt(priv, scheme.scheme, scheme.hash_alg, in.label.span(),
                                in.cipher_text.span());
  if (!msg.ok()) {
    return msg.error().Param(1);
  }
  RsaEncryptOut r;
  r.out_data.data = ToBytes(msg->span());
  return r;
}

// Part 3 §14.4 TPM2_ECDH_KeyGen: an ephemeral key pair and the shared point with the key.
Result<EcdhKeyGenOut> EcdhKeyGen(Tpm& tpm, const EcdhKeyGenIn& in) {
  TRY_ASSIGN(Object * key, FindKey(tpm, in.key_handle));
  if (key->pub.type != TpmAlg::Ecc) {
    return Rc::Key.Handle(1);
  }
  const auto& d = std::get<wire::EccDetail>(key->pub.detail);
  TRY_ASSIGN(auto eph, crypto::EccEphemeral(d.curve, tpm.RandomSource()));
  TRY_ASSIGN(crypto::EccPoint z, crypto::EcdhZ(d.curve, eph.first, crypto::EccPoint{d.x, d.y}));
  EcdhKeyGenOut out;
  out.z_point = wire::Tpm2bEccPoint{z.x, z.y};
  out.pub_point = wire::Tpm2bEccPoint{eph.second.x, eph.second.y};
  return out;
}

// Part 3 §14.5 TPM2_ECDH_ZGen
Result<EcdhZGenOut> EcdhZGen(Tpm& tpm, const EcdhZGenIn& in) {
  TRY_ASSIGN(Object * key, FindKey(tpm, in.key_handle));
  if (key->pub.type != TpmAlg::Ecc || key->public_only) {
    return Rc::Key.Handle(1);
  }
  if (!key->pub.Has(Decrypt) || key->pub.Has(Restricted)) {
    return Rc::Attributes.Handle(1);
  }
  const auto& d = std::get<wire::EccDetail>(key->pub.detail);
  if (d.scheme.scheme != TpmAlg::Null && d.scheme.scheme != TpmAlg::EcDh) {
    return Rc::Scheme.Handle(1);
  }
  auto z = crypto::EcdhZ(d.curve, key->sensitive, crypto::EccPoint{in.in_point.x, in.in_point.y});
  if (!z.ok()) {
    return Rc::EccPoint.Param(1);
  }
  EcdhZGenOut out;
  out.out_point = wire::Tpm2bEccPoint{z->x, z->y};
  return out;
}

// Part 3 §14.6 TPM2_ECC_Parameters: TPMS_ALGORITHM_DETAIL_ECC for an implemented curve.
Result<EccParametersOut> EccParameters(Tpm& /*tpm*/, const EccParametersIn& in) {
  auto info = crypto::EccCurve(in.curve_id);
  if (!info.ok()) {
    return Rc::Curve.Param(1);  // TPMI_ECC_CURVE
  }
  wire::Writer w;
  w.U16(in.curve_id);
  w.U16(info->key_bits);
  w.U16(TpmAlg::Null);  // kdf
  w.U16(TpmAlg::Null);  // sign
  for (const Bytes* b : {&info->p, &info->a, &info->b, &info->gx, &info->gy, &info->n, &info->h}) {
    w.U16(static_cast<uint16_t>(b->size()));
    w.Raw(*b);
  }
  EccParametersOut out;
  out.parameters.data = w.Take();
  return out;
}

// Part 3 §14.7 TPM2_ZGen_2Phase: keyA's static key and the ephemeral key of
// TPM2_EC_Ephemeral (recovered from counter, Part 1 §44.2.5) against party B's static and
// ephemeral public keys. ECDH gives Zs := [dsA]QsB and Ze := [deA]QeB (SP 800-56A §6.1.1.2);
// ECMQV gives the MQV point in outZ1 and an Empty Point in outZ2. SM2 is not implemented.
Result<ZGen2PhaseOut> ZGen2Phase(Tpm& tpm, const ZGen2PhaseIn& in) {
  // TPMI_ECC_KEY_EXCHANGE: an unmarshaling error, so it comes before the key checks.
  if (in.in_scheme != TpmAlg::EcDh && in.in_scheme != TpmAlg::EcMqv) {
    return Rc::Scheme.Param(3);
  }
  TRY_ASSIGN(Object * key, FindKey(tpm, in.key_a));
  if (key->pub.type != TpmAlg::Ecc || key->public_only) {
    return Rc::Key.Handle(1);
  }
  if (!key->pub.Has(Decrypt) || key->pub.Has(Restricted)) {
    return Rc::Attributes.Handle(1);
  }
  const auto& d = std::get<wire::EccDetail>(key->pub.detail);
  if (d.scheme.scheme != TpmAlg::Null && d.scheme.scheme != in.in_scheme) {
    return Rc::Scheme.Param(3);
  }
  const crypto::EccPoint qs_b{in.in_qs_b.x, in.in_qs_b.y};
  const crypto::EccPoint qe_b{in.in_qe_b.x, in.in_qe_b.y};
  if (!crypto::EccIsOnCurve(d.curve, qs_b)) {
    return Rc::EccPoint.Param(1);
  }
  if (!crypto::EccIsOnCurve(d.curve, qe_b)) {
    return Rc::EccPoint.Param(2);
  }
  TRY_ASSIGN(SecretBytes de,
             ephemeral::PendingCommitValue(tpm, kContextHashAlg, {}, d.curve, in.counter, 4));
  // §14.7.1: a Z at infinity is returned as an Empty Point.
  auto to_wire = [](Result<crypto::EccPoint> z) -> Result<wire::Tpm2bEccPoint> {
    if (!z.ok()) {
      if (z.error() == Rc::NoResult) {
        return wire::Tpm2bEccPoint{};
      }
      return z.error();
    }
    return wire::Tpm2bEccPoint{std::move(z->x), std::move(z->y)};
  };
  ZGen2PhaseOut out;
  if (in.in_scheme == TpmAlg::EcDh) {
    TRY_ASSIGN(out.out_z1, to_wire(crypto::EcdhZ(d.curve, key->sensitive, qs_b)));
    TRY_ASSIGN(out.out_z2, to_wire(crypto::EcdhZ(d.curve, de, qe_b)));
  } else {
    TRY_ASSIGN(out.out_z1, to_wire(crypto::EcMqvZ(d.curve, key->sensitive, de, qs_b, qe_b)));
  }
  ephemeral::ReleaseCommit(tpm, in.counter);
  return out;
}

}  // namespace tpm2emu::engine::asym
