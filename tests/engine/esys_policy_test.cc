// Policy flows through ESYS, which computes names, cpHashes and session HMACs in software:
// sealed objects that unseal only when their policy is satisfied, signed and secret
// authorizations with tickets, PolicyAuthorize with a TPM2_VerifySignature ticket, and the
// deferred assertions. Expected policy digests are computed here with crypto::Hash.

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <tss2/tss2_mu.h>

#include "crypto/hash.h"
#include "crypto/rsa.h"
#include "engine/tpm.h"
#include "tests/engine/esys_client.h"
#include "tests/engine/test_util.h"

namespace tpm2emu::engine::test {
namespace {

Bytes Be32(uint32_t v) {
  Bytes b;
  AppendBe32(b, v);
  return b;
}

Bytes Cat(std::initializer_list<ByteSpan> parts) {
  Bytes out;
  for (ByteSpan p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

Bytes H(ByteSpan data) {
  return *crypto::Hash(TpmAlg::Sha256, data);
}

// A SHA-256 policy digest computed in software.
struct Digest {
  Bytes value = Bytes(32, 0);
  Digest& Extend(uint32_t cc, ByteSpan args = {}) {
    value = H(Cat({value, Be32(cc), args}));
    return *this;
  }
  Digest& Update(uint32_t cc, ByteSpan name, ByteSpan ref) {
    Extend(cc, name);
    value = H(Cat({value, ref}));
    return *this;
  }
  Digest& Reset() {
    value.assign(32, 0);
    return *this;
  }
};

template <class T>
Bytes Buf(const T& b) {
  return Bytes(b.buffer, b.buffer + b.size);
}
template <class T>
T To2b(ByteSpan data) {
  T out{};
  out.size = static_cast<uint16_t>(data.size());
  if (!data.empty()) {
    std::copy(data.begin(), data.end(), out.buffer);
  }
  return out;
}

// TPM_RC without the layer: what the TPM answered.
uint32_t TpmCode(TSS2_RC rc) {
  return rc & 0xFFFF;
}

crypto::RsaPrivateKey& SignerKey() {
  static crypto::RsaPrivateKey key = [] {
    // A fixed stream (SHA-256 of a counter) makes the key the same in every run.
    uint32_t counter = 0;
    auto rng = [&counter](std::span<uint8_t> out) {
      for (size_t i = 0; i < out.size(); i += 32) {
        Bytes block = H(Be32(counter++));
        std::copy_n(block.begin(), std::min<size_t>(32, out.size() - i),
                    out.begin() + static_cast<std::ptrdiff_t>(i));
      }
    };
    return *crypto::RsaGenerate(2048, 0, rng);
  }();
  return key;
}

class EsysPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = std::make_unique<EsysClient>(tpm_.tpm());
    ASSERT_EQ(client_->init_rc(), TSS2_RC_SUCCESS);
    ctx_ = client_->ctx();
  }

  ESYS_TR StartSession(TPM2_SE type = TPM2_SE_POLICY) {
    TPMT_SYM_DEF sym{};
    sym.algorithm = TPM2_ALG_NULL;
    ESYS_TR session = ESYS_TR_NONE;
    EXPECT_EQ(Esys_StartAuthSession(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    ESYS_TR_NONE, nullptr, type, &sym, TPM2_ALG_SHA256, &session),
              TSS2_RC_SUCCESS);
    return session;
  }

  Bytes GetDigest(ESYS_TR session) {
    TPM2B_DIGEST* d = nullptr;
    EXPECT_EQ(Esys_PolicyGetDigest(ctx_, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &d),
              TSS2_RC_SUCCESS);
    Bytes out = d != nullptr ? Buf(*d) : Bytes{};
    Esys_Free(d);
    return out;
  }

  Bytes NonceTpm(ESYS_TR session) {
    TPM2B_NONCE* n = nullptr;
    EXPECT_EQ(Esys_TRSess_GetNonceTPM(ctx_, session, &n), TSS2_RC_SUCCESS);
    Bytes out = n != nullptr ? Buf(*n) : Bytes{};
    Esys_Free(n);
    return out;
  }

  Bytes NameOf(ESYS_TR handle) {
    TPM2B_NAME* name = nullptr;
    EXPECT_EQ(Esys_TR_GetName(ctx_, handle, &name), TSS2_RC_SUCCESS);
    Bytes out = name != nullptr ? Bytes(name->name, name->name + name->size) : Bytes{};
    Esys_Free(name);
    return out;
  }

  // An ECC P-256 storage primary in the owner hierarchy, with an optional authPolicy.
  ESYS_TR Parent(ByteSpan policy = {}) {
    TPM2B_PUBLIC t{};
    t.publicArea.type = TPM2_ALG_ECC;
    t.publicArea.nameAlg = TPM2_ALG_SHA256;
    t.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    t.publicArea.authPolicy = To2b<TPM2B_DIGEST>(policy);
    auto& p = t.publicArea.parameters.eccDetail;
    p.symmetric.algorithm = TPM2_ALG_AES;
    p.symmetric.keyBits.aes = 128;
    p.symmetric.mode.aes = TPM2_ALG_CFB;
    p.scheme.scheme = TPM2_ALG_NULL;
    p.curveID = TPM2_ECC_NIST_P256;
    p.kdf.scheme = TPM2_ALG_NULL;
    TPM2B_SENSITIVE_CREATE sens{};
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    ESYS_TR handle = ESYS_TR_NONE;
    EXPECT_EQ(
        Esys_CreatePrimary(ctx_, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                           &sens, &t, &outside, &pcrs, &handle, nullptr, nullptr, nullptr, nullptr),
        TSS2_RC_SUCCESS);
    return handle;
  }

  static TPM2B_PUBLIC SealTemplate(ByteSpan policy, bool user_with_auth) {
    TPM2B_PUBLIC t{};
    t.publicArea.type = TPM2_ALG_KEYEDHASH;
    t.publicArea.nameAlg = TPM2_ALG_SHA256;
    t.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                    (user_with_auth ? TPMA_OBJECT_USERWITHAUTH : 0);
    t.publicArea.authPolicy = To2b<TPM2B_DIGEST>(policy);
    t.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
    return t;
  }

  // Seals `secret` under a new parent with `policy` as its authPolicy; only a policy session
  // can unseal it (userWithAuth CLEAR) unless `user_with_auth`.
  ESYS_TR Seal(ByteSpan policy, const std::string& auth = "", bool user_with_auth = false) {
    ESYS_TR parent = Parent();
    TPM2B_PUBLIC t = SealTemplate(policy, user_with_auth);
    TPM2B_SENSITIVE_CREATE sens{};
    sens.sensitive.userAuth = To2b<TPM2B_AUTH>(ToBytes(auth));
    sens.sensitive.data = To2b<TPM2B_SENSITIVE_DATA>(ToBytes(kSecret));
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    TPM2B_PRIVATE* priv = nullptr;
    TPM2B_PUBLIC* pub = nullptr;
    EXPECT_EQ(Esys_Create(ctx_, parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &t,
                          &outside, &pcrs, &priv, &pub, nullptr, nullptr, nullptr),
              TSS2_RC_SUCCESS);
    ESYS_TR handle = ESYS_TR_NONE;
    EXPECT_EQ(
        Esys_Load(ctx_, parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, &handle),
        TSS2_RC_SUCCESS);
    Esys_Free(priv);
    Esys_Free(pub);
    TPM2B_AUTH a = To2b<TPM2B_AUTH>(ToBytes(auth));
    EXPECT_EQ(Esys_TR_SetAuth(ctx_, handle, &a), TSS2_RC_SUCCESS);
    return handle;
  }

  TSS2_RC Unseal(ESYS_TR object, ESYS_TR session) {
    TPM2B_SENSITIVE_DATA* out = nullptr;
    TSS2_RC rc = Esys_Unseal(ctx_, object, session, ESYS_TR_NONE, ESYS_TR_NONE, &out);
    if (rc == TSS2_RC_SUCCESS) {
      EXPECT_EQ(Buf(*out), ToBytes(kSecret));
    }
    Esys_Free(out);
    return rc;
  }

  TPML_PCR_SELECTION PcrSelection(uint32_t pcr) {
    TPML_PCR_SELECTION sel{};
    sel.count = 1;
    sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
    sel.pcrSelections[0].sizeofSelect = 3;
    sel.pcrSelections[0].pcrSelect[pcr / 8] = static_cast<uint8_t>(1u << (pcr % 8));
    return sel;
  }
  Bytes MarshaledSelection(uint32_t pcr) {
    Bytes b = Be32(1);
    AppendBe16(b, TpmAlg::Sha256);
    b.push_back(3);
    Bytes bits(3);
    bits[pcr / 8] = static_cast<uint8_t>(1u << (pcr % 8));
    return Cat({b, bits});
  }
  Bytes ReadPcr(uint32_t pcr) {
    TPML_PCR_SELECTION sel = PcrSelection(pcr);
    TPML_DIGEST* values = nullptr;
    EXPECT_EQ(Esys_PCR_Read(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, nullptr, nullptr,
                            &values),
              TSS2_RC_SUCCESS);
    Bytes out = values != nullptr && values->count == 1 ? Buf(values->digests[0]) : Bytes{};
    Esys_Free(values);
    return out;
  }
  void ExtendPcr(uint32_t pcr) {
    TPML_DIGEST_VALUES d{};
    d.count = 1;
    d.digests[0].hashAlg = TPM2_ALG_SHA256;
    std::memset(d.digests[0].digest.sha256, 0x5A, 32);
    ASSERT_EQ(
        Esys_PCR_Extend(ctx_, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d),
        TSS2_RC_SUCCESS);
  }

  // The public signer key, loaded without its private part.
  ESYS_TR LoadSigner(ESYS_TR hierarchy = ESYS_TR_RH_OWNER) {
    TPM2B_PUBLIC t{};
    t.publicArea.type = TPM2_ALG_RSA;
    t.publicArea.nameAlg = TPM2_ALG_SHA256;
    t.publicArea.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH;
    auto& p = t.publicArea.parameters.rsaDetail;
    p.symmetric.algorithm = TPM2_ALG_NULL;
    p.scheme.scheme = TPM2_ALG_NULL;
    p.keyBits = 2048;
    t.publicArea.unique.rsa = To2b<TPM2B_PUBLIC_KEY_RSA>(SignerKey().pub.modulus);
    ESYS_TR handle = ESYS_TR_NONE;
    EXPECT_EQ(Esys_LoadExternal(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, nullptr, &t,
                                hierarchy, &handle),
              TSS2_RC_SUCCESS);
    return handle;
  }
  static TPMT_SIGNATURE SignDigest(ByteSpan digest) {
    TPMT_SIGNATURE sig{};
    sig.sigAlg = TPM2_ALG_RSASSA;
    sig.signature.rsassa.hash = TPM2_ALG_SHA256;
    Bytes s = *crypto::RsaSign(SignerKey(), TpmAlg::RsaSsa, TpmAlg::Sha256, digest);
    sig.signature.rsassa.sig = To2b<TPM2B_PUBLIC_KEY_RSA>(s);
    return sig;
  }

  TSS2_RC PolicySigned(ESYS_TR key, ESYS_TR session, ByteSpan nonce, int32_t expiration,
                       ByteSpan ref, const TPMT_SIGNATURE& sig, TPM2B_TIMEOUT** timeout = nullptr,
                       TPMT_TK_AUTH** ticket = nullptr) {
    TPM2B_NONCE n = To2b<TPM2B_NONCE>(nonce);
    TPM2B_DIGEST cp{};
    TPM2B_NONCE r = To2b<TPM2B_NONCE>(ref);
    TPM2B_TIMEOUT* t = nullptr;
    TPMT_TK_AUTH* k = nullptr;
    TSS2_RC rc = Esys_PolicySigned(ctx_, key, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &n,
                                   &cp, &r, expiration, &sig, &t, &k);
    if (timeout != nullptr) {
      *timeout = t;
    } else {
      Esys_Free(t);
    }
    if (ticket != nullptr) {
      *ticket = k;
    } else {
      Esys_Free(k);
    }
    return rc;
  }
  // aHash of TPM2_PolicySigned: H(nonceTPM || expiration || cpHashA || policyRef).
  static Bytes AHash(ByteSpan nonce, int32_t expiration, ByteSpan ref) {
    return H(Cat({nonce, Be32(static_cast<uint32_t>(expiration)), ref}));
  }

  static constexpr const char* kSecret = "sealed secret";
  TestTpm tpm_;
  std::unique_ptr<EsysClient> client_;
  ESYS_CONTEXT* ctx_ = nullptr;
};

TEST_F(EsysPolicyTest, PolicyPcrSealedObjectUnsealsOnlyWithThoseValues) {
  TPML_PCR_SELECTION sel = PcrSelection(10);
  Bytes want =
      Digest().Extend(TpmCc::PolicyPCR, Cat({MarshaledSelection(10), H(ReadPcr(10))})).value;
  ESYS_TR trial = StartSession(TPM2_SE_TRIAL);
  TPM2B_DIGEST empty{};
  ASSERT_EQ(Esys_PolicyPCR(ctx_, trial, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &empty, &sel),
            TSS2_RC_SUCCESS);
  ASSERT_EQ(GetDigest(trial), want);
  ESYS_TR sealed = Seal(want);

  ESYS_TR s = StartSession();
  TPM2B_DIGEST expected = To2b<TPM2B_DIGEST>(H(ReadPcr(10)));
  ASSERT_EQ(Esys_PolicyPCR(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &expected, &sel),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(Unseal(sealed, s), TSS2_RC_SUCCESS);

  // PCR changed after TPM2_PolicyPCR: TPM_RC_PCR_CHANGED; with the new values: POLICY_FAIL.
  ASSERT_EQ(Esys_PolicyPCR(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &empty, &sel),
            TSS2_RC_SUCCESS);
  ExtendPcr(10);
  EXPECT_EQ(TpmCode(Unseal(sealed, s)), Rc::PcrChanged.value());
  ASSERT_EQ(Esys_PolicyRestart(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE), TSS2_RC_SUCCESS);
  EXPECT_EQ(
      TpmCode(Esys_PolicyPCR(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &expected, &sel)),
      Rc::Value.Param(1).value());
  ASSERT_EQ(Esys_PolicyPCR(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &empty, &sel),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(TpmCode(Unseal(sealed, s)), Rc::PolicyFail.Session(1).value());
}

TEST_F(EsysPolicyTest, PolicyOrAcceptsEitherBranch) {
  Bytes by_password = Digest().Extend(TpmCc::PolicyAuthValue).value;
  Bytes by_command = Digest().Extend(TpmCc::PolicyCommandCode, Be32(TpmCc::Unseal)).value;
  Bytes policy = Digest().Extend(TpmCc::PolicyOr, Cat({by_password, by_command})).value;
  ESYS_TR sealed = Seal(policy, "pw");
  TPML_DIGEST list{};
  list.count = 2;
  list.digests[0] = To2b<TPM2B_DIGEST>(by_password);
  list.digests[1] = To2b<TPM2B_DIGEST>(by_command);

  ESYS_TR s = StartSession();
  ASSERT_EQ(Esys_PolicyPassword(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE),
            TSS2_RC_SUCCESS);
  ASSERT_EQ(Esys_PolicyOR(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &list),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(GetDigest(s), policy);
  EXPECT_EQ(Unseal(sealed, s), TSS2_RC_SUCCESS);

  // A new session: ESYS would go on sending the password in this one (the TPM has reset
  // its policy context after the use, Part 1 §16.7.1).
  s = StartSession();
  ASSERT_EQ(
      Esys_PolicyCommandCode(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CC_Unseal),
      TSS2_RC_SUCCESS);
  ASSERT_EQ(Esys_PolicyOR(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &list),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(Unseal(sealed, s), TSS2_RC_SUCCESS);

  // Neither branch: the OR itself refuses.
  ASSERT_EQ(Esys_PolicyLocality(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, 1),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(TpmCode(Esys_PolicyOR(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &list)),
            Rc::Value.Param(1).value());
}

TEST_F(EsysPolicyTest, PolicySecretWithOwnerAuthorization) {
  TPM2B_AUTH owner = To2b<TPM2B_AUTH>(ToBytes("owner"));
  ASSERT_EQ(Esys_HierarchyChangeAuth(ctx_, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                     ESYS_TR_NONE, &owner),
            TSS2_RC_SUCCESS);
  ASSERT_EQ(Esys_TR_SetAuth(ctx_, ESYS_TR_RH_OWNER, &owner), TSS2_RC_SUCCESS);
  Bytes policy = Digest().Update(TpmCc::PolicySecret, Be32(TpmRh::Owner), {}).value;
  ESYS_TR sealed = Seal(policy);

  ESYS_TR s = StartSession();
  TPM2B_NONCE nonce = To2b<TPM2B_NONCE>(NonceTpm(s));
  TPM2B_DIGEST cp{};
  TPM2B_NONCE ref{};
  // Authorized through an HMAC session: ESYS computes it with the owner's authValue.
  ESYS_TR hmac = StartSession(TPM2_SE_HMAC);
  ASSERT_EQ(Esys_PolicySecret(ctx_, ESYS_TR_RH_OWNER, s, hmac, ESYS_TR_NONE, ESYS_TR_NONE, &nonce,
                              &cp, &ref, 0, nullptr, nullptr),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(GetDigest(s), policy);
  EXPECT_EQ(Unseal(sealed, s), TSS2_RC_SUCCESS);

  TPM2B_AUTH wrong = To2b<TPM2B_AUTH>(ToBytes("guess"));
  ASSERT_EQ(Esys_TR_SetAuth(ctx_, ESYS_TR_RH_OWNER, &wrong), TSS2_RC_SUCCESS);
  EXPECT_EQ(TpmCode(Esys_PolicySecret(ctx_, ESYS_TR_RH_OWNER, s, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                      ESYS_TR_NONE, nullptr, &cp, &ref, 0, nullptr, nullptr)),
            Rc::BadAuth.Session(1).value());
  EXPECT_EQ(TpmCode(Unseal(sealed, s)), Rc::PolicyFail.Session(1).value());
}

TEST_F(EsysPolicyTest, PolicySignedWithExternalKeyAndTicket) {
  ESYS_TR key = LoadSigner();
  Bytes key_name = NameOf(key);
  Bytes ref = ToBytes("approved");
  Bytes policy = Digest().Update(TpmCc::PolicySigned, key_name, ref).value;
  ESYS_TR sealed = Seal(policy);

  // A trial session computes the same digest without a signature check.
  ESYS_TR trial = StartSession(TPM2_SE_TRIAL);
  TPMT_SIGNATURE junk = SignDigest(H(ToBytes("junk")));
  ASSERT_EQ(PolicySigned(key, trial, {}, 0, ref, junk), TSS2_RC_SUCCESS);
  EXPECT_EQ(GetDigest(trial), policy);

  ESYS_TR s = StartSession();
  Bytes nonce = NonceTpm(s);
  EXPECT_EQ(TpmCode(PolicySigned(key, s, nonce, 0, ref, junk)), Rc::PolicyFail.Param(5).value());
  ASSERT_EQ(PolicySigned(key, s, nonce, 0, ref, SignDigest(AHash(nonce, 0, ref))), TSS2_RC_SUCCESS);
  EXPECT_EQ(Unseal(sealed, s), TSS2_RC_SUCCESS);

  // A negative expiration gives a ticket that replays the assertion in other sessions.
  nonce = NonceTpm(s);
  TPM2B_TIMEOUT* timeout = nullptr;
  TPMT_TK_AUTH* ticket = nullptr;
  ASSERT_EQ(PolicySigned(key, s, nonce, -300, ref, SignDigest(AHash(nonce, -300, ref)), &timeout,
                         &ticket),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(ticket->tag, TPM2_ST_AUTH_SIGNED);
  EXPECT_EQ(ticket->hierarchy, TPM2_RH_OWNER);
  EXPECT_EQ(timeout->size, 8);
  EXPECT_EQ(Unseal(sealed, s), TSS2_RC_SUCCESS);

  TPM2B_DIGEST cp{};
  TPM2B_NONCE r = To2b<TPM2B_NONCE>(ref);
  TPM2B_NAME name{};
  name.size = static_cast<uint16_t>(key_name.size());
  std::copy(key_name.begin(), key_name.end(), name.name);
  ESYS_TR s2 = StartSession();
  ASSERT_EQ(Esys_PolicyTicket(ctx_, s2, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, timeout, &cp, &r,
                              &name, ticket),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(Unseal(sealed, s2), TSS2_RC_SUCCESS);

  // After the expiration the ticket is refused, and a session that used it has expired.
  ASSERT_EQ(Esys_PolicyTicket(ctx_, s2, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, timeout, &cp, &r,
                              &name, ticket),
            TSS2_RC_SUCCESS);
  tpm_.clock().Advance(301 * 1000);
  EXPECT_EQ(TpmCode(Unseal(sealed, s2)), Rc::Expired.Session(1).value());
  EXPECT_EQ(TpmCode(Esys_PolicyTicket(ctx_, StartSession(), ESYS_TR_NONE, ESYS_TR_NONE,
                                      ESYS_TR_NONE, timeout, &cp, &r, &name, ticket)),
            Rc::Expired.Param(1).value());
  Esys_Free(timeout);
  Esys_Free(ticket);
}

TEST_F(EsysPolicyTest, PolicySignedChecksNonceAndExpiration) {
  ESYS_TR key = LoadSigner();
  ESYS_TR s = StartSession();
  Bytes nonce = NonceTpm(s);
  Bytes other(nonce.size(), 0x11);
  EXPECT_EQ(TpmCode(PolicySigned(key, s, other, 0, {}, SignDigest(AHash(other, 0, {})))),
            Rc::Value.Param(1).value());
  tpm_.clock().Advance(20 * 1000);
  EXPECT_EQ(TpmCode(PolicySigned(key, s, nonce, 10, {}, SignDigest(AHash(nonce, 10, {})))),
            Rc::Expired.Param(4).value());
  TPMT_SIGNATURE sha1 = SignDigest(AHash(nonce, 0, {}));
  sha1.signature.rsassa.hash = TPM2_ALG_SHA1;
  EXPECT_EQ(TpmCode(PolicySigned(key, s, nonce, 0, {}, sha1)), Rc::PolicyFail.Param(5).value());
}

TEST_F(EsysPolicyTest, PolicySignedChecksKeyScheme) {
  ESYS_TR key = LoadSigner();
  ESYS_TR s = StartSession();
  Bytes nonce = NonceTpm(s);
  TPMT_SIGNATURE null_sig{};
  null_sig.sigAlg = TPM2_ALG_NULL;
  EXPECT_EQ(TpmCode(PolicySigned(key, s, nonce, 0, {}, null_sig)), Rc::Scheme.Param(5).value());
  TPMT_SIGNATURE ecdsa{};
  ecdsa.sigAlg = TPM2_ALG_ECDSA;
  ecdsa.signature.ecdsa.hash = TPM2_ALG_SHA256;
  ecdsa.signature.ecdsa.signatureR.size = 32;
  ecdsa.signature.ecdsa.signatureS.size = 32;
  EXPECT_EQ(TpmCode(PolicySigned(key, s, nonce, 0, {}, ecdsa)), Rc::Scheme.Param(5).value());
  // A storage key does not sign.
  EXPECT_EQ(TpmCode(PolicySigned(Parent(), s, nonce, 0, {}, SignDigest(AHash(nonce, 0, {})))),
            Rc::Attributes.Handle(1).value());
  // cpHashA: a digest of the session's hash, and no other than one set before.
  TPM2B_NONCE n = To2b<TPM2B_NONCE>(nonce);
  TPM2B_NONCE ref{};
  TPM2B_DIGEST short_cp = To2b<TPM2B_DIGEST>(Bytes(20, 1));
  Bytes to_sign = H(Cat({nonce, Be32(0), Bytes(20, 1)}));
  TPMT_SIGNATURE sig = SignDigest(to_sign);
  EXPECT_EQ(TpmCode(Esys_PolicySigned(ctx_, key, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &n,
                                      &short_cp, &ref, 0, &sig, nullptr, nullptr)),
            Rc::Size.Param(2).value());
  TPM2B_DIGEST cp1 = To2b<TPM2B_DIGEST>(Bytes(32, 1));
  ASSERT_EQ(Esys_PolicyCpHash(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &cp1),
            TSS2_RC_SUCCESS);
  TPM2B_DIGEST cp2 = To2b<TPM2B_DIGEST>(Bytes(32, 2));
  sig = SignDigest(H(Cat({nonce, Be32(0), Bytes(32, 2)})));
  EXPECT_EQ(TpmCode(Esys_PolicySigned(ctx_, key, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &n,
                                      &cp2, &ref, 0, &sig, nullptr, nullptr)),
            Rc::CpHash.value());
  sig = SignDigest(H(Cat({nonce, Be32(0), Bytes(32, 1)})));
  EXPECT_EQ(Esys_PolicySigned(ctx_, key, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &n, &cp1,
                              &ref, 0, &sig, nullptr, nullptr),
            TSS2_RC_SUCCESS);
}

TEST_F(EsysPolicyTest, PolicyAuthorizeWithVerifySignatureTicket) {
  ESYS_TR key = LoadSigner();
  Bytes key_name = NameOf(key);
  Bytes ref = ToBytes("v1");
  Bytes policy = Digest().Update(TpmCc::PolicyAuthorize, key_name, ref).value;
  ESYS_TR sealed = Seal(policy);

  // The authority approves "unseal only" after the object exists.
  Bytes approved = Digest().Extend(TpmCc::PolicyCommandCode, Be32(TpmCc::Unseal)).value;
  TPM2B_DIGEST a_hash = To2b<TPM2B_DIGEST>(H(Cat({approved, ref})));
  TPMT_SIGNATURE sig = SignDigest(Buf(a_hash));
  TPMT_TK_VERIFIED* ticket = nullptr;
  ASSERT_EQ(Esys_VerifySignature(ctx_, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &a_hash, &sig,
                                 &ticket),
            TSS2_RC_SUCCESS);
  TPM2B_DIGEST approved_2b = To2b<TPM2B_DIGEST>(approved);
  TPM2B_NONCE ref_2b = To2b<TPM2B_NONCE>(ref);
  TPM2B_NAME name{};
  name.size = static_cast<uint16_t>(key_name.size());
  std::copy(key_name.begin(), key_name.end(), name.name);

  ESYS_TR s = StartSession();
  // Not what was approved yet: TPM_RC_VALUE.
  EXPECT_EQ(TpmCode(Esys_PolicyAuthorize(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                         &approved_2b, &ref_2b, &name, ticket)),
            Rc::Value.Param(1).value());
  ASSERT_EQ(
      Esys_PolicyCommandCode(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CC_Unseal),
      TSS2_RC_SUCCESS);
  ASSERT_EQ(Esys_PolicyAuthorize(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &approved_2b,
                                 &ref_2b, &name, ticket),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(GetDigest(s), policy);
  EXPECT_EQ(Unseal(sealed, s), TSS2_RC_SUCCESS);

  // Another policyRef than the one signed: the ticket does not check.
  TPM2B_NONCE other_ref = To2b<TPM2B_NONCE>(ToBytes("v2"));
  ASSERT_EQ(
      Esys_PolicyCommandCode(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CC_Unseal),
      TSS2_RC_SUCCESS);
  EXPECT_EQ(TpmCode(Esys_PolicyAuthorize(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                         &approved_2b, &other_ref, &name, ticket)),
            Rc::Policy.value());
  Esys_Free(ticket);
}

TEST_F(EsysPolicyTest, PolicyAuthorizeOfNameHashForOwner) {
  // PolicyNameHash binds the owner's policy to commands on the owner handle only.
  ESYS_TR key = LoadSigner();
  Bytes key_name = NameOf(key);
  Bytes owner_policy = Digest().Update(TpmCc::PolicyAuthorize, key_name, {}).value;
  TPM2B_DIGEST op = To2b<TPM2B_DIGEST>(owner_policy);
  ASSERT_EQ(Esys_SetPrimaryPolicy(ctx_, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                  ESYS_TR_NONE, &op, TPM2_ALG_SHA256),
            TSS2_RC_SUCCESS);
  Bytes name_hash = H(Be32(TpmRh::Owner));
  Bytes approved = Digest().Extend(TpmCc::PolicyNameHash, name_hash).value;
  TPM2B_DIGEST a_hash = To2b<TPM2B_DIGEST>(H(approved));
  TPMT_SIGNATURE sig = SignDigest(Buf(a_hash));
  TPMT_TK_VERIFIED* ticket = nullptr;
  ASSERT_EQ(Esys_VerifySignature(ctx_, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &a_hash, &sig,
                                 &ticket),
            TSS2_RC_SUCCESS);
  ESYS_TR s = StartSession();
  TPM2B_DIGEST nh = To2b<TPM2B_DIGEST>(name_hash);
  ASSERT_EQ(Esys_PolicyNameHash(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nh),
            TSS2_RC_SUCCESS);
  TPM2B_DIGEST approved_2b = To2b<TPM2B_DIGEST>(approved);
  TPM2B_NONCE ref{};
  TPM2B_NAME name{};
  name.size = static_cast<uint16_t>(key_name.size());
  std::copy(key_name.begin(), key_name.end(), name.name);
  ASSERT_EQ(Esys_PolicyAuthorize(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &approved_2b,
                                 &ref, &name, ticket),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(Esys_ClockRateAdjust(ctx_, ESYS_TR_RH_OWNER, s, ESYS_TR_NONE, ESYS_TR_NONE,
                                 TPM2_CLOCK_NO_CHANGE),
            TSS2_RC_SUCCESS);
  Esys_Free(ticket);
}

TEST_F(EsysPolicyTest, PolicyCpHashBindsTheParameters) {
  Bytes no_change = {0};
  Bytes cp_hash = H(Cat({Be32(TpmCc::ClockRateAdjust), Be32(TpmRh::Owner), no_change}));
  TPM2B_DIGEST op = To2b<TPM2B_DIGEST>(Digest().Extend(TpmCc::PolicyCpHash, cp_hash).value);
  ASSERT_EQ(Esys_SetPrimaryPolicy(ctx_, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                  ESYS_TR_NONE, &op, TPM2_ALG_SHA256),
            TSS2_RC_SUCCESS);
  ESYS_TR s = StartSession();
  TPM2B_DIGEST cp = To2b<TPM2B_DIGEST>(cp_hash);
  ASSERT_EQ(Esys_PolicyCpHash(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &cp),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(TpmCode(Esys_ClockRateAdjust(ctx_, ESYS_TR_RH_OWNER, s, ESYS_TR_NONE, ESYS_TR_NONE,
                                         TPM2_CLOCK_FINE_SLOWER)),
            Rc::PolicyFail.Session(1).value());
  EXPECT_EQ(Esys_ClockRateAdjust(ctx_, ESYS_TR_RH_OWNER, s, ESYS_TR_NONE, ESYS_TR_NONE,
                                 TPM2_CLOCK_NO_CHANGE),
            TSS2_RC_SUCCESS);
}

TEST_F(EsysPolicyTest, PolicyCommandCodeAndAuthValue) {
  Bytes policy = Digest()
                     .Extend(TpmCc::PolicyCommandCode, Be32(TpmCc::Unseal))
                     .Extend(TpmCc::PolicyAuthValue)
                     .value;
  ESYS_TR sealed = Seal(policy, "object auth");
  ESYS_TR s = StartSession();
  ASSERT_EQ(
      Esys_PolicyCommandCode(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CC_Unseal),
      TSS2_RC_SUCCESS);
  ASSERT_EQ(Esys_PolicyAuthValue(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(Unseal(sealed, s), TSS2_RC_SUCCESS);
  // The same policy with a password in the clear.
  ASSERT_EQ(
      Esys_PolicyCommandCode(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CC_Unseal),
      TSS2_RC_SUCCESS);
  ASSERT_EQ(Esys_PolicyPassword(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(Unseal(sealed, s), TSS2_RC_SUCCESS);
  // A wrong authValue fails like any authorization (the object is DA-protected).
  TPM2B_AUTH wrong = To2b<TPM2B_AUTH>(ToBytes("wrong"));
  ASSERT_EQ(Esys_TR_SetAuth(ctx_, sealed, &wrong), TSS2_RC_SUCCESS);
  ASSERT_EQ(
      Esys_PolicyCommandCode(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CC_Unseal),
      TSS2_RC_SUCCESS);
  ASSERT_EQ(Esys_PolicyAuthValue(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(TpmCode(Unseal(sealed, s)), Rc::AuthFail.Session(1).value());
  // A policy for another command (a failed use leaves the policy as it was).
  ASSERT_EQ(Esys_PolicyRestart(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE), TSS2_RC_SUCCESS);
  ASSERT_EQ(
      Esys_PolicyCommandCode(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CC_ReadPublic),
      TSS2_RC_SUCCESS);
  EXPECT_EQ(TpmCode(Unseal(sealed, s)), Rc::PolicyCc.Session(1).value());
}

TEST_F(EsysPolicyTest, PolicyCounterTimerAndLocality) {
  // Time < 60000 at offset 0 is an expiration (60000 s after the session started); locality 0.
  Bytes operand = {0, 0, 0, 0, 0, 0, 0xEA, 0x60};
  Bytes args = H(Cat({operand, Bytes{0, 0}, Bytes{0, TPM2_EO_UNSIGNED_LT}}));
  const uint8_t zero = TPMA_LOCALITY_TPM2_LOC_ZERO;
  Bytes policy = Digest()
                     .Extend(TpmCc::PolicyCounterTimer, args)
                     .Extend(TpmCc::PolicyLocality, ByteSpan(&zero, 1))
                     .value;
  ESYS_TR sealed = Seal(policy);
  TPM2B_OPERAND op = To2b<TPM2B_OPERAND>(operand);
  ESYS_TR s = StartSession();
  ASSERT_EQ(Esys_PolicyCounterTimer(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &op, 0,
                                    TPM2_EO_UNSIGNED_LT),
            TSS2_RC_SUCCESS);
  ASSERT_EQ(Esys_PolicyLocality(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, zero),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(GetDigest(s), policy);
  EXPECT_EQ(Unseal(sealed, s), TSS2_RC_SUCCESS);

  // Clock (offset 8) is not above 2^63: the assertion fails at once.
  TPM2B_OPERAND big = To2b<TPM2B_OPERAND>(Bytes{0x80, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(TpmCode(Esys_PolicyCounterTimer(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &big,
                                            8, TPM2_EO_UNSIGNED_GT)),
            Rc::Policy.value());
  // Locality 2 only: the command at locality 0 fails.
  Bytes policy2 = Digest().Extend(TpmCc::PolicyLocality, Bytes{TPMA_LOCALITY_TPM2_LOC_TWO}).value;
  ESYS_TR sealed2 = Seal(policy2);
  ASSERT_EQ(Esys_PolicyLocality(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                TPMA_LOCALITY_TPM2_LOC_TWO),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(TpmCode(Unseal(sealed2, s)), Rc::Locality.value());
}

TEST_F(EsysPolicyTest, PolicyDuplicationSelectLimitsToDuplicate) {
  Bytes object = Cat({Bytes{0, 0x0B}, Bytes(32, 1)});
  Bytes parent = Cat({Bytes{0, 0x0B}, Bytes(32, 2)});
  TPM2B_NAME on{}, pn{};
  on.size = pn.size = 34;
  std::memcpy(on.name, object.data(), 34);
  std::memcpy(pn.name, parent.data(), 34);
  ESYS_TR trial = StartSession(TPM2_SE_TRIAL);
  ASSERT_EQ(Esys_PolicyDuplicationSelect(ctx_, trial, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &on,
                                         &pn, TPM2_NO),
            TSS2_RC_SUCCESS);
  Bytes policy =
      Digest().Extend(TpmCc::PolicyDuplicationSelect, Cat({parent, Bytes{TPM2_NO}})).value;
  EXPECT_EQ(GetDigest(trial), policy);
  // In a real session the policy then only allows TPM2_Duplicate of that pair: the Names
  // of TPM2_Unseal's handles are not the nameHash (checked before the command code).
  ESYS_TR sealed = Seal(policy);
  ESYS_TR s = StartSession();
  ASSERT_EQ(Esys_PolicyDuplicationSelect(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &on,
                                         &pn, TPM2_NO),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(TpmCode(Unseal(sealed, s)), Rc::PolicyFail.Session(1).value());
  // Its nameHash excludes a second assertion that sets one.
  TPM2B_DIGEST cp = To2b<TPM2B_DIGEST>(Bytes(32, 1));
  EXPECT_EQ(TpmCode(Esys_PolicyCpHash(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &cp)),
            Rc::CpHash.value());
}

TEST_F(EsysPolicyTest, PolicyTemplateBindsCreate) {
  TPM2B_PUBLIC child = SealTemplate({}, true);
  Bytes marshaled(sizeof(TPMT_PUBLIC));
  size_t offset = 0;
  ASSERT_EQ(
      Tss2_MU_TPMT_PUBLIC_Marshal(&child.publicArea, marshaled.data(), marshaled.size(), &offset),
      TSS2_RC_SUCCESS);
  marshaled.resize(offset);
  Bytes template_hash = H(marshaled);
  Bytes policy = Digest().Extend(TpmCc::PolicyTemplate, template_hash).value;
  ESYS_TR parent = Parent(policy);
  TPM2B_SENSITIVE_CREATE sens{};
  sens.sensitive.data = To2b<TPM2B_SENSITIVE_DATA>(ToBytes("x"));
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION pcrs{};
  TPM2B_DIGEST th = To2b<TPM2B_DIGEST>(template_hash);
  auto create = [&](const TPM2B_PUBLIC& tmpl) {
    ESYS_TR s = StartSession();
    EXPECT_EQ(Esys_PolicyTemplate(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &th),
              TSS2_RC_SUCCESS);
    TPM2B_PRIVATE* priv = nullptr;
    TPM2B_PUBLIC* pub = nullptr;
    TSS2_RC rc = Esys_Create(ctx_, parent, s, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &outside,
                             &pcrs, &priv, &pub, nullptr, nullptr, nullptr);
    Esys_Free(priv);
    Esys_Free(pub);
    Esys_FlushContext(ctx_, s);
    return rc;
  };
  EXPECT_EQ(create(child), TSS2_RC_SUCCESS);
  TPM2B_PUBLIC other = SealTemplate({}, false);
  EXPECT_EQ(TpmCode(create(other)), Rc::PolicyFail.Session(1).value());
}

}  // namespace
}  // namespace tpm2emu::engine::test
