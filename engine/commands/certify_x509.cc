// Part 3 §18.8 TPM2_CertifyX509, kept apart from attest.cc for its X.509 (RFC 5280) work: the
// caller's partialCertificate gives issuer, validity, subject and extensions (optionally
// preceded by the signature AlgorithmIdentifier); the TPM adds version, serialNumber, the
// AlgorithmIdentifier when absent and subjectPublicKeyInfo, and signs the TBSCertificate.

#include <algorithm>
#include <optional>

#include "crypto/ecc.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "engine/commands/commands.h"
#include "engine/tpm.h"
#include "engine/wire/der.h"

namespace tpm2emu::engine::attest {
namespace {

namespace der = wire::der;
using wire::TpmaObject::Decrypt;
using wire::TpmaObject::FixedTpm;
using wire::TpmaObject::Restricted;
using wire::TpmaObject::SignEncrypt;

constexpr uint32_t kPartialParam = 3;

// The elements of partialCertificate, as encoded by the caller (whole TLVs).
struct PartialCertificate {
  ByteSpan signature;  // AlgorithmIdentifier; empty when the TPM is to supply it
  ByteSpan issuer;
  ByteSpan validity;
  ByteSpan subject;
  ByteSpan extensions;  // [3] EXPLICIT Extensions
};

// The partial certificate is one SEQUENCE filling the buffer (else TPM_RC_SIZE) of four or
// five elements in the §18.8.1 order (else TPM_RC_VALUE). Validity is not parsed, as §18.8.1
// permits; unique identifiers ([1], [2]) are refused.
Result<PartialCertificate> SplitPartial(ByteSpan data) {
  auto outer = der::ParseOne(data, der::tag::kSequence);
  if (!outer) {
    return Rc::Size.Param(kPartialParam);
  }
  der::Parser p(outer->contents);
  der::Element elements[5];
  size_t n = 0;
  while (!p.empty()) {
    auto e = p.Next();
    if (!e || n == 5) {
      return Rc::Value.Param(kPartialParam);
    }
    elements[n++] = *e;
  }
  if (n != 4 && n != 5) {
    return Rc::Value.Param(kPartialParam);
  }
  const der::Element* e = elements;
  PartialCertificate out;
  if (n == 5) {
    out.signature = (e++)->encoding;
  }
  for (const der::Element* s = e; s != e + 3; ++s) {
    if (s->tag != der::tag::kSequence) {
      return Rc::Value.Param(kPartialParam);
    }
  }
  if (e[3].tag != der::tag::Context(3) ||
      (!out.signature.empty() && elements[0].tag != der::tag::kSequence)) {
    return Rc::Value.Param(kPartialParam);
  }
  out.issuer = e[0].encoding;
  out.validity = e[1].encoding;
  out.subject = e[2].encoding;
  out.extensions = e[3].encoding;
  return out;
}

// DER OBJECT IDENTIFIER contents (no tag or length) of the extensions we read.
constexpr uint8_t kOidKeyUsage[] = {0x55, 0x1D, 0x0F};  // 2.5.29.15
constexpr uint8_t kOidTpmaObject[] = {0x67, 0x81, 0x05, 0x0A,
                                      0x01, 0x01, 0x01};  // 2.23.133.10.1.1.1

bool SameOid(ByteSpan contents, ByteSpan oid) {
  return contents.size() == oid.size() && std::equal(oid.begin(), oid.end(), contents.begin());
}

// A BIT STRING's first (up to) four octets as a big-endian 32-bit value (bit 0 of the string
// is bit 31), as TPMA_X509_KEY_USAGE (Part 2 §8.11) and the TPMA_OBJECT extension lay them out.
std::optional<uint32_t> BitStringBits(ByteSpan encoded, size_t max_octets) {
  auto bits = der::ParseOne(encoded, der::tag::kBitString);
  if (!bits || bits->contents.empty() || bits->contents[0] > 7 ||
      bits->contents.size() - 1 > max_octets) {
    return std::nullopt;
  }
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) {
    v = (v << 8) | (i + 1 < bits->contents.size() ? bits->contents[i + 1] : 0u);
  }
  return v;
}

// Part 2 §8.11 Table 45: each KeyUsage bit asks something of the certified key.
RcStatus CheckKeyUsage(const Object& obj, uint32_t usage) {
  constexpr uint32_t kDecipherOnly = 1u << 23, kEncipherOnly = 1u << 24, kCrlSign = 1u << 25,
                     kKeyCertSign = 1u << 26, kKeyAgreement = 1u << 27,
                     kDataEncipherment = 1u << 28, kKeyEncipherment = 1u << 29,
                     kNonRepudiation = 1u << 30, kDigitalSignature = 1u << 31;
  if (usage == 0 || (usage & ((1u << 23) - 1)) != 0) {
    return Rc::Value.Param(kPartialParam);  // RFC 5280 §4.2.1.3 defines nine bits, one needed
  }
  const wire::TpmtPublic& pub = obj.pub;
  bool asymmetric = pub.type == TpmAlg::Rsa || pub.type == TpmAlg::Ecc;
  bool ok = true;
  if (usage & (kDigitalSignature | kKeyCertSign | kCrlSign)) {
    ok = ok && pub.Has(SignEncrypt);
  }
  if (usage & (kDataEncipherment | kKeyAgreement | kEncipherOnly | kDecipherOnly)) {
    ok = ok && pub.Has(Decrypt);
  }
  if (usage & kKeyEncipherment) {
    ok = ok && asymmetric && pub.Has(Decrypt) && pub.Has(Restricted);
  }
  if (usage & kNonRepudiation) {
    ok = ok && pub.Has(FixedTpm);
  }
  return ok ? RcStatus{} : RcStatus{Rc::Attributes.Handle(1)};
}

// §18.8.1: Extensions must hold a KeyUsage consistent with the key, and may hold a TPMA_OBJECT
// extension equal to the key's attributes. Malformed DER: TPM_RC_VALUE; a mismatch with the
// key: TPM_RC_ATTRIBUTES (on objectHandle).
RcStatus CheckExtensions(const Object& obj, ByteSpan extensions) {
  auto explicit3 = der::ParseOne(extensions, der::tag::Context(3));
  auto list = explicit3 ? der::ParseOne(explicit3->contents, der::tag::kSequence) : std::nullopt;
  if (!list) {
    return Rc::Value.Param(kPartialParam);
  }
  std::optional<uint32_t> key_usage;
  bool seen_tpma = false;
  der::Parser exts(list->contents);
  while (!exts.empty()) {
    auto ext = exts.Next();
    if (!ext || ext->tag != der::tag::kSequence) {
      return Rc::Value.Param(kPartialParam);
    }
    // Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
    der::Parser f(ext->contents);
    auto id = f.Next();
    auto value = f.Next();
    if (value && value->tag == der::tag::kBoolean) {
      value = f.Next();
    }
    if (!id || id->tag != der::tag::kOid || !value || value->tag != der::tag::kOctetString ||
        !f.empty()) {
      return Rc::Value.Param(kPartialParam);
    }
    if (SameOid(id->contents, kOidKeyUsage)) {
      if (key_usage) {
        return Rc::Value.Param(kPartialParam);
      }
      key_usage = BitStringBits(value->contents, 2);
      if (!key_usage) {
        return Rc::Value.Param(kPartialParam);
      }
    } else if (SameOid(id->contents, kOidTpmaObject)) {
      auto attributes = BitStringBits(value->contents, 4);
      if (seen_tpma || !attributes) {
        return Rc::Value.Param(kPartialParam);
      }
      seen_tpma = true;
      if (*attributes != obj.pub.attributes) {
        return Rc::Attributes.Handle(1);
      }
    }
  }
  if (!key_usage) {
    return Rc::Value.Param(kPartialParam);  // §18.8.1: KeyUsage is required
  }
  return CheckKeyUsage(obj, *key_usage);
}

std::optional<Bytes> HashOid(uint16_t hash_alg) {
  switch (hash_alg) {
    case TpmAlg::Sha1:
      return der::Oid({1, 3, 14, 3, 2, 26});
    case TpmAlg::Sha256:
      return der::Oid({2, 16, 840, 1, 101, 3, 4, 2, 1});
    case TpmAlg::Sha384:
      return der::Oid({2, 16, 840, 1, 101, 3, 4, 2, 2});
    case TpmAlg::Sha512:
      return der::Oid({2, 16, 840, 1, 101, 3, 4, 2, 3});
    default:
      return std::nullopt;
  }
}

// The AlgorithmIdentifier of the signature `key` makes with `scheme` (RFC 4055 and RFC 5758
// OIDs); TPM_RC_SCHEME when the TPM knows none (§18.8.1), e.g. ECSchnorr.
Result<Bytes> SignatureAlgorithm(const Object& key, const wire::TpmtScheme& scheme) {
  auto hash_oid = HashOid(scheme.hash_alg);
  if (!hash_oid) {
    return Rc::Scheme.Param(2);
  }
  uint16_t h = scheme.hash_alg;
  uint32_t hash_index = h == TpmAlg::Sha1     ? 0
                        : h == TpmAlg::Sha256 ? 1
                        : h == TpmAlg::Sha384 ? 2
                                              : 3;
  if (scheme.scheme == TpmAlg::RsaSsa) {
    constexpr uint32_t kRsaSsaArc[] = {5, 11, 12, 13};
    return der::Sequence(
        {der::Oid({1, 2, 840, 113549, 1, 1, kRsaSsaArc[hash_index]}), der::Null()});
  }
  if (scheme.scheme == TpmAlg::EcDsa) {
    if (h == TpmAlg::Sha1) {
      return der::Sequence({der::Oid({1, 2, 840, 10045, 4, 1})});
    }
    return der::Sequence({der::Oid({1, 2, 840, 10045, 4, 3, hash_index + 1})});
  }
  if (scheme.scheme == TpmAlg::RsaPss && h != TpmAlg::Sha1) {
    // RFC 4055 RSASSA-PSS-params with the salt length the signer uses (crypto::RsaSign: the
    // digest size, less when the modulus is too small for it).
    size_t digest = crypto::DigestSize(h);
    size_t em_len = (std::get<wire::RsaDetail>(key.pub.detail).key_bits + 6u) / 8u;
    size_t salt = em_len >= digest + 2 ? std::min(digest, em_len - digest - 2) : 0;
    Bytes hash_alg_id = der::Sequence({*hash_oid, der::Null()});
    Bytes mgf = der::Sequence({der::Oid({1, 2, 840, 113549, 1, 1, 8}), hash_alg_id});
    Bytes params = der::Sequence({der::Explicit(0, hash_alg_id), der::Explicit(1, mgf),
                                  der::Explicit(2, der::Integer(salt))});
    return der::Sequence({der::Oid({1, 2, 840, 113549, 1, 1, 10}), params});
  }
  return Rc::Scheme.Param(2);
}

// RFC 5280 §4.1.2.7 SubjectPublicKeyInfo of an RSA (RFC 3279 §2.3.1) or NIST-curve ECC
// (RFC 5480) key; TPM_RC_TYPE for other objects, TPM_RC_CURVE for curves without an OID here.
Result<Bytes> SubjectPublicKeyInfo(const Object& obj) {
  if (const auto* rsa = std::get_if<wire::RsaDetail>(&obj.pub.detail)) {
    Bytes key = der::Sequence({der::UnsignedInteger(rsa->unique),
                               der::Integer(rsa->exponent == 0 ? 65537u : rsa->exponent)});
    return der::Sequence({der::Sequence({der::Oid({1, 2, 840, 113549, 1, 1, 1}), der::Null()}),
                          der::BitString(key)});
  }
  if (const auto* ecc = std::get_if<wire::EccDetail>(&obj.pub.detail)) {
    Bytes curve;
    switch (ecc->curve) {
      case TpmEccCurve::NistP256:
        curve = der::Oid({1, 2, 840, 10045, 3, 1, 7});
        break;
      case TpmEccCurve::NistP384:
        curve = der::Oid({1, 3, 132, 0, 34});
        break;
      case TpmEccCurve::NistP521:
        curve = der::Oid({1, 3, 132, 0, 35});
        break;
      default:
        return Rc::Curve.Handle(1);
    }
    size_t size = crypto::EccKeyBytes(ecc->curve);
    if (ecc->x.size() > size || ecc->y.size() > size) {
      return Rc::Curve.Handle(1);
    }
    Bytes point{0x04};  // uncompressed, coordinates at full size
    point.resize(1 + size - ecc->x.size(), 0);
    point.insert(point.end(), ecc->x.begin(), ecc->x.end());
    point.resize(1 + 2 * size - ecc->y.size(), 0);
    point.insert(point.end(), ecc->y.begin(), ecc->y.end());
    return der::Sequence(
        {der::Sequence({der::Oid({1, 2, 840, 10045, 2, 1}), curve}), der::BitString(point)});
  }
  return Rc::Type.Handle(1);
}

}  // namespace

// Part 3 §18.8 TPM2_CertifyX509
Result<CertifyX509Out> CertifyX509(Tpm& tpm, const CertifyX509In& in) {
  TRY_ASSIGN(Object * obj, tpm.FindObject(in.object_handle, 1));
  TRY_ASSIGN(Object * key, tpm.FindObject(in.sign_handle, 2));
  if (key->sequence || key->public_only || !key->pub.Has(SignEncrypt)) {
    return Rc::Key.Handle(2);
  }
  if (obj->sequence) {
    return Rc::Type.Handle(1);
  }
  if (!in.reserved.empty()) {
    return Rc::Size.Param(1);
  }
  TRY_ASSIGN(wire::TpmtScheme scheme, asym::SigningScheme(*key, in.in_scheme.value, 2));
  TRY_ASSIGN(PartialCertificate partial, SplitPartial(in.partial_certificate.span()));
  TRY(CheckExtensions(*obj, partial.extensions));
  TRY_ASSIGN(Bytes spki, SubjectPublicKeyInfo(*obj));
  Bytes generated_signature;
  if (partial.signature.empty()) {
    TRY_ASSIGN(generated_signature, SignatureAlgorithm(*key, scheme));
  }
  ByteSpan signature =
      partial.signature.empty() ? ByteSpan(generated_signature) : partial.signature;
  // serialNumber: 160 bits (RFC 5280 §4.1.2.2) derived from the signer's hierarchy proof, the
  // signer's and subject's Names and the partial certificate, so that each distinct
  // certificate a signer issues gets its own; positive and minimally encoded.
  const SecretBytes* proof = tpm.HierarchyProof(key->hierarchy);
  Bytes context = obj->name;
  context.insert(context.end(), in.partial_certificate.data.begin(),
                 in.partial_certificate.data.end());
  TRY_ASSIGN(SecretBytes serial_bits,
             crypto::KdfA(key->pub.name_alg, proof != nullptr ? proof->span() : ByteSpan{},
                          "X509 SERIAL", key->name, context, 160));
  Bytes serial_value(serial_bits.data(), serial_bits.data() + serial_bits.size());
  serial_value[0] = static_cast<uint8_t>((serial_value[0] & 0x7F) | 0x40);
  Bytes version = der::Explicit(0, der::Integer(2));  // v3
  Bytes serial = der::UnsignedInteger(serial_value);
  CertifyX509Out out;
  out.added_to_certificate.data = partial.signature.empty()
                                      ? der::Sequence({version, serial, generated_signature, spki})
                                      : der::Sequence({version, serial, spki});
  if (out.added_to_certificate.size() > wire::Tpm2bMaxBuffer::kMax) {
    return Rc::Size.Param(kPartialParam);
  }
  Bytes tbs = der::Sequence({version, serial, signature, partial.issuer, partial.validity,
                             partial.subject, spki, partial.extensions});
  TRY_ASSIGN(out.tbs_digest.data, crypto::Hash(scheme.hash_alg, tbs));
  TRY_ASSIGN(out.signature, asym::SignDigest(*key, scheme, out.tbs_digest.data, 2));
  return out;
}

}  // namespace tpm2emu::engine::attest
