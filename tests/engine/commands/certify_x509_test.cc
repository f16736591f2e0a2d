// TPM2_CertifyX509 (Part 3 §18.8) through ESYS. The partial certificate is made with OpenSSL;
// the full certificate is put together as a client would (partialCertificate and
// addedToCertificate merged into a TBSCertificate, then signatureAlgorithm and the signature)
// and OpenSSL parses it and checks the signature (X509_verify). Bad partial certificates and
// key usages get the spec's codes; mutated DER never crashes the TPM.

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/hash.h"
#include "engine/wire/der.h"
#include "tests/engine/esys_keys.h"

namespace tpm2emu::engine::test {
namespace {

namespace der = wire::der;

constexpr TPMA_OBJECT kSigner = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                TPMA_OBJECT_SIGN_ENCRYPT;

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

// The top-level elements (whole encodings) of a DER SEQUENCE, split with OpenSSL's parser.
std::vector<Bytes> Elements(ByteSpan sequence) {
  std::vector<Bytes> out;
  const unsigned char* p = sequence.data();
  long len = 0;
  int tag = 0, cls = 0;
  if (ASN1_get_object(&p, &len, &tag, &cls, static_cast<long>(sequence.size())) != 0x20) {
    ADD_FAILURE() << "not a constructed element";
    return out;
  }
  const unsigned char* end = p + len;
  while (p < end) {
    const unsigned char* start = p;
    if (ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80) {
      ADD_FAILURE() << "bad element";
      return {};
    }
    p += len;
    out.emplace_back(start, p);
  }
  return out;
}

template <class T, class F>
Bytes I2d(const T* v, F i2d) {
  int n = i2d(v, nullptr);
  Bytes out(static_cast<size_t>(n > 0 ? n : 0));
  unsigned char* p = out.data();
  i2d(v, &p);
  return out;
}

Bytes Name(const char* cn) {
  X509_NAME* name = X509_NAME_new();
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("tpm2emu test"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  Bytes out = I2d(name, i2d_X509_NAME);
  X509_NAME_free(name);
  return out;
}

// [3] EXPLICIT Extensions with a KeyUsage (`usage`, e.g. "digitalSignature") and, if given, a
// TPMA_OBJECT extension (OID 2.23.133.10.1.1.1: OCTET STRING of a 32-bit BIT STRING).
Bytes Extensions(const char* usage, std::optional<uint32_t> tpma = std::nullopt) {
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  if (usage != nullptr) {
    sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(nullptr, nullptr, NID_key_usage, usage));
  }
  sk_X509_EXTENSION_push(
      exts, X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:FALSE"));
  if (tpma) {
    Bytes bits;
    AppendBe32(bits, *tpma);
    Bytes value = der::BitString(bits);
    ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(os, value.data(), static_cast<int>(value.size()));
    ASN1_OBJECT* oid = OBJ_txt2obj("2.23.133.10.1.1.1", 1);
    sk_X509_EXTENSION_push(exts, X509_EXTENSION_create_by_OBJ(nullptr, oid, 0, os));
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(os);
  }
  Bytes seq = I2d(exts, i2d_X509_EXTENSIONS);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  return der::Explicit(3, seq);
}

Bytes Validity() {
  ASN1_TIME* t = ASN1_TIME_new();
  ASN1_TIME_set_string(t, "20250101000000Z");
  Bytes not_before = I2d(t, i2d_ASN1_TIME);
  ASN1_TIME_set_string(t, "20351231235959Z");
  Bytes not_after = I2d(t, i2d_ASN1_TIME);
  ASN1_TIME_free(t);
  return der::Sequence({not_before, not_after});
}

struct Partial {
  std::optional<Bytes> signature_algorithm;
  Bytes issuer = Name("tpm2emu signer");
  Bytes validity = Validity();
  Bytes subject = Name("tpm2emu subject");
  Bytes extensions = Extensions("critical,digitalSignature");
  Bytes Encode() const {
    if (signature_algorithm) {
      return der::Sequence({*signature_algorithm, issuer, validity, subject, extensions});
    }
    return der::Sequence({issuer, validity, subject, extensions});
  }
};

// The X.509 signatureValue octets of a TPMT_SIGNATURE.
Bytes SignatureValue(const TPMT_SIGNATURE& sig) {
  if (sig.sigAlg == TPM2_ALG_RSASSA || sig.sigAlg == TPM2_ALG_RSAPSS) {
    return Buf(sig.signature.rsassa.sig);
  }
  return der::Sequence({der::UnsignedInteger(Buf(sig.signature.ecdsa.signatureR)),
                        der::UnsignedInteger(Buf(sig.signature.ecdsa.signatureS))});
}

struct Certified {
  TSS2_RC rc = 0;
  Bytes added;
  Bytes tbs_digest;
  X509Ptr cert;
  Bytes tbs;
};

class CertifyX509Test : public EsysKeysTest {
 protected:
  void SetUp() override {
    EsysKeysTest::SetUp();
    srk_ = Primary(KeyTemplate(TPM2_ALG_ECC, kStorageAttrs));
  }
  Certified Certify(ESYS_TR object, ESYS_TR signer, const Partial& partial, TPMI_ALG_SIG_SCHEME alg,
                    ByteSpan reserved = {}) {
    return CertifyRaw(object, signer, partial.Encode(), alg, reserved);
  }
  Certified CertifyRaw(ESYS_TR object, ESYS_TR signer, ByteSpan encoded, TPMI_ALG_SIG_SCHEME alg,
                       ByteSpan reserved = {}) {
    TPMT_SIG_SCHEME scheme{};
    scheme.scheme = alg;
    scheme.details.any.hashAlg = TPM2_ALG_SHA256;
    TPM2B_DATA reserved2b{};
    reserved2b.size = static_cast<uint16_t>(reserved.size());
    std::copy(reserved.begin(), reserved.end(), reserved2b.buffer);
    TPM2B_MAX_BUFFER partial2b{};
    partial2b.size =
        static_cast<uint16_t>(std::min<size_t>(encoded.size(), sizeof(partial2b.buffer)));
    std::copy(encoded.begin(), encoded.begin() + partial2b.size, partial2b.buffer);
    TPM2B_MAX_BUFFER* added = nullptr;
    TPM2B_DIGEST* digest = nullptr;
    TPMT_SIGNATURE* sig = nullptr;
    Certified out;
    out.rc =
        Esys_CertifyX509(ctx_, object, signer, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                         &reserved2b, &scheme, &partial2b, &added, &digest, &sig);
    if (out.rc == TSS2_RC_SUCCESS) {
      out.added = Buf(*added);
      out.tbs_digest = Buf(*digest);
      // Part 3 §18.8.1: the TPM's fields go in RFC 5280 order around the caller's: version,
      // serialNumber, signature (the caller's if given), issuer, validity, subject,
      // subjectPublicKeyInfo, extensions.
      std::vector<Bytes> a = Elements(out.added);
      std::vector<Bytes> p = Elements(encoded);
      EXPECT_EQ(a.size() + p.size(), 8u);
      if (a.size() + p.size() == 8) {
        bool tpm_alg = a.size() == 4;
        const Bytes& alg_id = tpm_alg ? a[2] : p[0];
        size_t i = tpm_alg ? 0 : 1;
        out.tbs = der::Sequence({a[0], a[1], alg_id, p[i], p[i + 1], p[i + 2], a.back(), p[i + 3]});
        Bytes cert = der::Sequence({out.tbs, alg_id, der::BitString(SignatureValue(*sig))});
        const unsigned char* q = cert.data();
        out.cert.reset(d2i_X509(nullptr, &q, static_cast<long>(cert.size())));
        EXPECT_TRUE(out.cert != nullptr || !expect_parse_) << "OpenSSL does not parse it";
      }
    }
    Esys_Free(added);
    Esys_Free(digest);
    Esys_Free(sig);
    return out;
  }
  // A self-certificate of `signer`: its public key (checked against the TPM's public area) is
  // what verifies the others.
  EVP_PKEY* SignerKey(ESYS_TR signer, const TPM2B_PUBLIC& pub, TPMI_ALG_SIG_SCHEME alg) {
    Partial partial;
    partial.subject = partial.issuer;
    partial.extensions =
        Extensions("critical,digitalSignature,keyCertSign", pub.publicArea.objectAttributes);
    Certified c = Certify(signer, signer, partial, alg);
    EXPECT_EQ(c.rc, TSS2_RC_SUCCESS);
    if (c.cert == nullptr) {
      return nullptr;
    }
    self_.push_back(std::move(c.cert));
    EVP_PKEY* key = X509_get0_pubkey(self_.back().get());
    EXPECT_EQ(X509_verify(self_.back().get(), key), 1);
    if (pub.publicArea.type == TPM2_ALG_RSA) {
      BIGNUM* n = nullptr;
      EXPECT_EQ(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n), 1);
      Bytes modulus(static_cast<size_t>(BN_num_bytes(n)));
      BN_bn2bin(n, modulus.data());
      BN_free(n);
      EXPECT_EQ(modulus, Buf(pub.publicArea.unique.rsa));
    } else {
      uint8_t point[133];
      size_t len = 0;
      EXPECT_EQ(
          EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &len),
          1);
      Bytes expected{0x04};
      Bytes x = Buf(pub.publicArea.unique.ecc.x), y = Buf(pub.publicArea.unique.ecc.y);
      expected.insert(expected.end(), x.begin(), x.end());
      expected.insert(expected.end(), y.begin(), y.end());
      EXPECT_EQ(Bytes(point, point + len), expected);
    }
    return key;
  }

  ESYS_TR srk_ = ESYS_TR_NONE;
  std::vector<X509Ptr> self_;
  bool expect_parse_ = true;  // false for mutated partial certificates
};

TEST_F(CertifyX509Test, CertificatesParseAndVerifyWithTheSignersKey) {
  struct Case {
    TPM2_ALG_ID type;
    TPMI_ALG_SIG_SCHEME scheme;
  };
  for (Case c : {Case{TPM2_ALG_RSA, TPM2_ALG_RSASSA}, Case{TPM2_ALG_RSA, TPM2_ALG_RSAPSS},
                 Case{TPM2_ALG_ECC, TPM2_ALG_ECDSA}}) {
    SCOPED_TRACE(c.scheme);
    TPM2B_PUBLIC signer_pub{};
    ESYS_TR signer = Child(srk_, KeyTemplate(c.type, kSigner), &signer_pub);
    EVP_PKEY* signer_key = SignerKey(signer, signer_pub, c.scheme);
    ASSERT_NE(signer_key, nullptr);
    for (TPM2_ALG_ID subject_type : {TPM2_ALG_RSA, TPM2_ALG_ECC}) {
      TPM2B_PUBLIC subject_pub{};
      ESYS_TR subject = Child(srk_, KeyTemplate(subject_type, kSigner), &subject_pub);
      Partial partial;
      partial.extensions = Extensions("critical,digitalSignature,nonRepudiation",
                                      subject_pub.publicArea.objectAttributes);
      Certified cert = Certify(subject, signer, partial, c.scheme);
      ASSERT_EQ(cert.rc, TSS2_RC_SUCCESS);
      ASSERT_NE(cert.cert, nullptr);
      EXPECT_EQ(X509_verify(cert.cert.get(), signer_key), 1);
      EXPECT_EQ(cert.tbs_digest, *crypto::Hash(TpmAlg::Sha256, cert.tbs));
      EXPECT_EQ(X509_get_version(cert.cert.get()), X509_VERSION_3);
      const ASN1_INTEGER* serial = X509_get0_serialNumber(cert.cert.get());
      EXPECT_EQ(ASN1_STRING_length(serial), 20);
      EXPECT_EQ(serial->type, V_ASN1_INTEGER);  // positive
      EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(cert.cert.get()),
                              X509_get_subject_name(self_.back().get())),
                0);
      EXPECT_EQ(X509_get_key_usage(cert.cert.get()),
                static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION));
      EVP_PKEY* subject_key = X509_get0_pubkey(cert.cert.get());
      EXPECT_EQ(EVP_PKEY_get_base_id(subject_key),
                subject_type == TPM2_ALG_RSA ? EVP_PKEY_RSA : EVP_PKEY_EC);
      Esys_FlushContext(ctx_, subject);
    }
    Esys_FlushContext(ctx_, signer);
  }
}

TEST_F(CertifyX509Test, CallersSignatureAlgorithmIsUsedAndNotAdded) {
  ESYS_TR signer = Child(srk_, KeyTemplate(TPM2_ALG_ECC, kSigner));
  Partial partial;
  partial.signature_algorithm = der::Sequence({der::Oid({1, 2, 840, 10045, 4, 3, 2})});
  Certified cert = Certify(signer, signer, partial, TPM2_ALG_ECDSA);
  ASSERT_EQ(cert.rc, TSS2_RC_SUCCESS);
  EXPECT_EQ(Elements(cert.added).size(), 3u);
  ASSERT_NE(cert.cert, nullptr);
  EXPECT_EQ(X509_verify(cert.cert.get(), X509_get0_pubkey(cert.cert.get())), 1);
  // Two certificates of one key with different contents get different serial numbers.
  partial.subject = Name("another subject");
  Certified other = Certify(signer, signer, partial, TPM2_ALG_ECDSA);
  ASSERT_NE(other.cert, nullptr);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(cert.cert.get()),
                             X509_get0_serialNumber(other.cert.get())),
            0);
}

TEST_F(CertifyX509Test, KeyUsageAndTpmaObjectMustMatchTheKey) {
  TPM2B_PUBLIC pub{};
  ESYS_TR signer = Child(srk_, KeyTemplate(TPM2_ALG_RSA, kSigner), &pub);
  auto rc = [&](Bytes extensions) {
    Partial partial;
    partial.extensions = std::move(extensions);
    return TpmCode(Certify(signer, signer, partial, TPM2_ALG_RSASSA).rc);
  };
  uint32_t attributes = pub.publicArea.objectAttributes;
  EXPECT_EQ(rc(Extensions("digitalSignature", attributes)), 0u);
  EXPECT_EQ(rc(Extensions("digitalSignature", attributes ^ TPMA_OBJECT_NODA)),
            Rc::Attributes.Handle(1).value());
  EXPECT_EQ(rc(Extensions("dataEncipherment")), Rc::Attributes.Handle(1).value());
  EXPECT_EQ(rc(Extensions("keyEncipherment")), Rc::Attributes.Handle(1).value());
  EXPECT_EQ(rc(Extensions("keyAgreement")), Rc::Attributes.Handle(1).value());
  EXPECT_EQ(rc(Extensions(nullptr)), Rc::Value.Param(3).value());  // KeyUsage is required
  // nonRepudiation asks for fixedTPM.
  ESYS_TR loose = Child(
      srk_, KeyTemplate(TPM2_ALG_RSA, kSigner & ~(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT)));
  Partial partial;
  partial.extensions = Extensions("nonRepudiation");
  EXPECT_EQ(TpmCode(Certify(loose, signer, partial, TPM2_ALG_RSASSA).rc),
            Rc::Attributes.Handle(1).value());
  // A storage key may be certified for keyEncipherment, not for signing.
  partial.extensions = Extensions("keyEncipherment,dataEncipherment");
  EXPECT_EQ(TpmCode(Certify(srk_, signer, partial, TPM2_ALG_RSASSA).rc), 0u);
  partial.extensions = Extensions("digitalSignature");
  EXPECT_EQ(TpmCode(Certify(srk_, signer, partial, TPM2_ALG_RSASSA).rc),
            Rc::Attributes.Handle(1).value());
}

TEST_F(CertifyX509Test, SignerReservedAndSchemeChecks) {
  ESYS_TR signer = Child(srk_, KeyTemplate(TPM2_ALG_ECC, kSigner));
  Partial partial;
  EXPECT_EQ(TpmCode(Certify(signer, srk_, partial, TPM2_ALG_ECDSA).rc), Rc::Key.Handle(2).value());
  // ESYS refuses a non-empty reserved buffer itself; send the command raw.
  TPM2_HANDLE handle = 0;
  ASSERT_EQ(Esys_TR_GetTpmHandle(ctx_, signer, &handle), TSS2_RC_SUCCESS);
  auto rsp = tpm_.Run(Command(TpmCc::CertifyX509)
                          .Handle(handle)
                          .Handle(handle)
                          .Password()
                          .Password()
                          .Sized(Bytes{1})
                          .U16(TpmAlg::EcDsa)
                          .U16(TpmAlg::Sha256)
                          .Sized(partial.Encode()));
  EXPECT_RC(rsp, Rc::Size.Param(1));
  // No OID for an ECSchnorr signature: the caller must supply the AlgorithmIdentifier.
  EXPECT_EQ(TpmCode(Certify(signer, signer, partial, TPM2_ALG_ECSCHNORR).rc),
            Rc::Scheme.Param(2).value());
  partial.signature_algorithm = der::Sequence({der::Oid({1, 2, 3, 4})});
  EXPECT_EQ(TpmCode(Certify(signer, signer, partial, TPM2_ALG_ECSCHNORR).rc), 0u);
}

// Part 2 §8.3.3.15: an x509sign key signs certificates (and attestations) but not a digest
// given to TPM2_Sign; the attribute belongs only on asymmetric signing keys.
TEST_F(CertifyX509Test, X509SignKeysSignCertificatesButNotDigests) {
  ESYS_TR signer = Child(srk_, KeyTemplate(TPM2_ALG_ECC, kSigner | TPMA_OBJECT_X509SIGN));
  ASSERT_NE(signer, ESYS_TR_NONE);
  Partial partial;
  Certified cert = Certify(signer, signer, partial, TPM2_ALG_ECDSA);
  ASSERT_EQ(cert.rc, TSS2_RC_SUCCESS);
  ASSERT_NE(cert.cert, nullptr);
  EXPECT_EQ(X509_verify(cert.cert.get(), X509_get0_pubkey(cert.cert.get())), 1);

  TPM2B_DIGEST digest{};
  digest.size = 32;
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_ECDSA;
  scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  TPMT_TK_HASHCHECK ticket{};
  ticket.tag = TPM2_ST_HASHCHECK;
  ticket.hierarchy = TPM2_RH_NULL;
  TPMT_SIGNATURE* sig = nullptr;
  EXPECT_EQ(TpmCode(Esys_Sign(ctx_, signer, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest,
                              &scheme, &ticket, &sig)),
            Rc::Attributes.Handle(1).value());
  EXPECT_EQ(sig, nullptr);
  // The same key without the attribute signs the digest.
  ESYS_TR plain = Child(srk_, KeyTemplate(TPM2_ALG_ECC, kSigner));
  EXPECT_EQ(Esys_Sign(ctx_, plain, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &scheme,
                      &ticket, &sig),
            TSS2_RC_SUCCESS);
  Esys_Free(sig);

  // Creation refuses x509sign on a decryption key and on a keyed-hash key.
  auto create = [&](const TPM2B_PUBLIC& tmpl) {
    TPM2B_SENSITIVE_CREATE sens{};
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    TPM2B_PRIVATE* priv = nullptr;
    TPM2B_PUBLIC* pub = nullptr;
    TSS2_RC rc = Esys_Create(ctx_, srk_, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
                             &outside, &pcrs, &priv, &pub, nullptr, nullptr, nullptr);
    Esys_Free(priv);
    Esys_Free(pub);
    return TpmCode(rc);
  };
  TPMA_OBJECT decrypt = (kSigner & ~TPMA_OBJECT_SIGN_ENCRYPT) | TPMA_OBJECT_DECRYPT;
  EXPECT_EQ(create(KeyTemplate(TPM2_ALG_RSA, decrypt | TPMA_OBJECT_X509SIGN)),
            Rc::Attributes.Param(2).value());
  TPM2B_PUBLIC hmac = HmacKeyTemplate(TPM2_ALG_SHA256, kSigner | TPMA_OBJECT_X509SIGN);
  EXPECT_EQ(create(hmac), Rc::Attributes.Param(2).value());
  hmac.publicArea.objectAttributes = kSigner;
  EXPECT_EQ(create(hmac), 0u);
}

TEST_F(CertifyX509Test, MalformedPartialCertificatesAreRefused) {
  ESYS_TR signer = Child(srk_, KeyTemplate(TPM2_ALG_ECC, kSigner));
  Partial good;
  Bytes encoded = good.Encode();
  auto rc = [&](ByteSpan partial) {
    return TpmCode(CertifyRaw(signer, signer, partial, TPM2_ALG_ECDSA).rc);
  };
  const uint32_t size = Rc::Size.Param(3).value();
  const uint32_t value = Rc::Value.Param(3).value();
  EXPECT_EQ(rc({}), size);
  EXPECT_EQ(rc(Bytes{0x04, 0x00}), size);  // not a SEQUENCE
  Bytes trailing = encoded;
  trailing.push_back(0);
  EXPECT_EQ(rc(trailing), size);
  EXPECT_EQ(rc(ByteSpan(encoded).first(encoded.size() - 1)), size);  // truncated
  Bytes indefinite = encoded;
  indefinite[1] = 0x80;
  EXPECT_EQ(rc(indefinite), size);
  // A long-form length where the short form would do.
  Bytes small = der::Sequence({good.issuer});
  Bytes non_minimal{0x30, 0x81, static_cast<uint8_t>(small.size() - 2)};
  non_minimal.insert(non_minimal.end(), small.begin() + 2, small.end());
  EXPECT_EQ(rc(non_minimal), size);
  // Wrong element counts and kinds.
  EXPECT_EQ(rc(der::Sequence({good.issuer, good.validity, good.subject})), value);
  EXPECT_EQ(rc(der::Sequence({good.issuer, good.issuer, good.validity, good.subject, good.subject,
                              good.extensions})),
            value);
  EXPECT_EQ(rc(der::Sequence({good.issuer, good.validity, good.subject, good.subject})), value);
  EXPECT_EQ(rc(der::Sequence({der::Integer(1), good.validity, good.subject, good.extensions})),
            value);
  EXPECT_EQ(rc(der::Sequence({good.issuer, good.validity, good.subject,
                              der::Explicit(1, der::BitString(Bytes{1})), good.extensions})),
            value);  // issuerUniqueID is not allowed
  EXPECT_EQ(rc(der::Sequence(
                {good.issuer, good.validity, good.subject, der::Explicit(3, der::Integer(5))})),
            value);
  Bytes bad_usage = der::Explicit(
      3, der::Sequence({der::Sequence(
             {der::Oid({2, 5, 29, 15}), der::Tlv(der::tag::kOctetString, der::Integer(1))})}));
  EXPECT_EQ(rc(der::Sequence({good.issuer, good.validity, good.subject, bad_usage})), value);
  // Every single-octet corruption gets an answer (success or an error), never a crash.
  expect_parse_ = false;
  for (size_t i = 0; i < encoded.size(); ++i) {
    for (int flip : {0x01, 0x80, 0xFF}) {
      Bytes mutated = encoded;
      mutated[i] = static_cast<uint8_t>(mutated[i] ^ flip);
      uint32_t code = rc(mutated);
      EXPECT_TRUE(code == 0 || code == size || code == value ||
                  code == Rc::Attributes.Handle(1).value())
          << "octet " << i << ": " << std::hex << code;
    }
  }
}

}  // namespace
}  // namespace tpm2emu::engine::test
