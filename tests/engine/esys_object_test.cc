// Keys through ESYS: primary determinism, wrapped keys, signing, sealing, contexts, salted
// sessions with parameter encryption, and the symmetric and HMAC primitives. ESYS computes
// names, salts and session HMACs in software, so these pass only if ours agree.

#include <gtest/gtest.h>

#include <cstring>

#include "crypto/hash.h"
#include "engine/tpm.h"
#include "tests/engine/esys_client.h"
#include "tests/engine/test_util.h"

namespace tpm2emu::engine::test {
namespace {

TPM2B_PUBLIC RsaTemplate(bool storage) {
  TPM2B_PUBLIC t{};
  t.publicArea.type = TPM2_ALG_RSA;
  t.publicArea.nameAlg = TPM2_ALG_SHA256;
  t.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                  TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                  (storage ? TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT
                                           : TPMA_OBJECT_SIGN_ENCRYPT);
  auto& p = t.publicArea.parameters.rsaDetail;
  p.symmetric.algorithm = storage ? TPM2_ALG_AES : TPM2_ALG_NULL;
  p.symmetric.keyBits.aes = 128;
  p.symmetric.mode.aes = TPM2_ALG_CFB;
  p.scheme.scheme = TPM2_ALG_NULL;
  p.keyBits = 2048;
  return t;
}

TPM2B_PUBLIC EccTemplate(bool storage) {
  TPM2B_PUBLIC t{};
  t.publicArea.type = TPM2_ALG_ECC;
  t.publicArea.nameAlg = TPM2_ALG_SHA256;
  t.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                  TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                  (storage ? TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT
                                           : TPMA_OBJECT_SIGN_ENCRYPT);
  auto& p = t.publicArea.parameters.eccDetail;
  p.symmetric.algorithm = storage ? TPM2_ALG_AES : TPM2_ALG_NULL;
  p.symmetric.keyBits.aes = 128;
  p.symmetric.mode.aes = TPM2_ALG_CFB;
  p.scheme.scheme = TPM2_ALG_NULL;
  p.curveID = TPM2_ECC_NIST_P256;
  p.kdf.scheme = TPM2_ALG_NULL;
  return t;
}

class EsysObjectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = std::make_unique<EsysClient>(tpm_.tpm());
    ASSERT_EQ(client_->init_rc(), TSS2_RC_SUCCESS);
    ctx_ = client_->ctx();
  }
  // Reconnects ESYS to a new Tpm instance over the same store (a daemon restart).
  void Restart() {
    client_.reset();
    tpm_.Create();
    tpm_.Startup();
    client_ = std::make_unique<EsysClient>(tpm_.tpm());
    ctx_ = client_->ctx();
  }
  ESYS_TR Primary(const TPM2B_PUBLIC& tmpl, ESYS_TR hierarchy = ESYS_TR_RH_OWNER,
                  TPM2B_PUBLIC** out_public = nullptr) {
    TPM2B_SENSITIVE_CREATE sens{};
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    ESYS_TR handle = ESYS_TR_NONE;
    TPM2B_PUBLIC* pub = nullptr;
    EXPECT_EQ(Esys_CreatePrimary(ctx_, hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                 &sens, &tmpl, &outside, &pcrs, &handle, &pub, nullptr, nullptr,
                                 nullptr),
              TSS2_RC_SUCCESS);
    if (out_public != nullptr) {
      *out_public = pub;
    } else {
      Esys_Free(pub);
    }
    return handle;
  }
  ESYS_TR CreateAndLoad(ESYS_TR parent, const TPM2B_PUBLIC& tmpl, const TPM2B_SENSITIVE_CREATE& sens,
                        TPM2B_PRIVATE** priv_out = nullptr, TPM2B_PUBLIC** pub_out = nullptr) {
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    TPM2B_PRIVATE* priv = nullptr;
    TPM2B_PUBLIC* pub = nullptr;
    EXPECT_EQ(Esys_Create(ctx_, parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
                          &outside, &pcrs, &priv, &pub, nullptr, nullptr, nullptr),
              TSS2_RC_SUCCESS);
    ESYS_TR handle = ESYS_TR_NONE;
    EXPECT_EQ(Esys_Load(ctx_, parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub,
                        &handle),
              TSS2_RC_SUCCESS);
    if (priv_out != nullptr) {
      *priv_out = priv;
    } else {
      Esys_Free(priv);
    }
    if (pub_out != nullptr) {
      *pub_out = pub;
    } else {
      Esys_Free(pub);
    }
    return handle;
  }
  void SignAndVerify(ESYS_TR key, TPMT_SIG_SCHEME scheme) {
    TPM2B_DIGEST digest{};
    digest.size = 32;
    std::memset(digest.buffer, 0x42, 32);
    TPMT_TK_HASHCHECK ticket{};
    ticket.tag = TPM2_ST_HASHCHECK;
    ticket.hierarchy = TPM2_RH_NULL;
    TPMT_SIGNATURE* sig = nullptr;
    ASSERT_EQ(Esys_Sign(ctx_, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &scheme,
                        &ticket, &sig),
              TSS2_RC_SUCCESS);
    TPMT_TK_VERIFIED* verified = nullptr;
    ASSERT_EQ(Esys_VerifySignature(ctx_, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest,
                                   sig, &verified),
              TSS2_RC_SUCCESS);
    EXPECT_EQ(verified->tag, TPM2_ST_VERIFIED);
    Esys_Free(verified);
    digest.buffer[0] ^= 1;
    TSS2_RC rc = Esys_VerifySignature(ctx_, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                      &digest, sig, &verified);
    EXPECT_EQ(rc & 0xFFF, Rc::Signature.Param(2).value());
    Esys_Free(sig);
  }

  TestTpm tpm_;
  std::unique_ptr<EsysClient> client_;
  ESYS_CONTEXT* ctx_ = nullptr;
};

TEST_F(EsysObjectTest, PrimaryKeysAreDeterministicAcrossRestarts) {
  for (bool rsa : {true, false}) {
    TPM2B_PUBLIC tmpl = rsa ? RsaTemplate(true) : EccTemplate(true);
    TPM2B_PUBLIC* first = nullptr;
    TPM2B_PUBLIC* second = nullptr;
    TPM2B_PUBLIC* third = nullptr;
    ESYS_TR a = Primary(tmpl, ESYS_TR_RH_OWNER, &first);
    ESYS_TR b = Primary(tmpl, ESYS_TR_RH_OWNER, &second);
    ASSERT_EQ(Esys_FlushContext(ctx_, a), TSS2_RC_SUCCESS);
    ASSERT_EQ(Esys_FlushContext(ctx_, b), TSS2_RC_SUCCESS);
    Restart();
    ESYS_TR c = Primary(tmpl, ESYS_TR_RH_OWNER, &third);
    ASSERT_EQ(Esys_FlushContext(ctx_, c), TSS2_RC_SUCCESS);
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(std::memcmp(&first->publicArea.unique, &second->publicArea.unique,
                          sizeof(TPMU_PUBLIC_ID)),
              0);
    EXPECT_EQ(std::memcmp(&first->publicArea.unique, &third->publicArea.unique,
                          sizeof(TPMU_PUBLIC_ID)),
              0);
    // Another hierarchy has another seed.
    TPM2B_PUBLIC* endorsement = nullptr;
    ESYS_TR e = Primary(tmpl, ESYS_TR_RH_ENDORSEMENT, &endorsement);
    ASSERT_EQ(Esys_FlushContext(ctx_, e), TSS2_RC_SUCCESS);
    EXPECT_NE(std::memcmp(&first->publicArea.unique, &endorsement->publicArea.unique,
                          sizeof(TPMU_PUBLIC_ID)),
              0);
    Esys_Free(first);
    Esys_Free(second);
    Esys_Free(third);
    Esys_Free(endorsement);
  }
}

TEST_F(EsysObjectTest, WrappedSigningKeysSignAndVerify) {
  ESYS_TR srk = Primary(RsaTemplate(true));
  TPM2B_SENSITIVE_CREATE sens{};
  ESYS_TR rsa = CreateAndLoad(srk, RsaTemplate(false), sens);
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_RSASSA;
  scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
  SignAndVerify(rsa, scheme);
  scheme.scheme = TPM2_ALG_RSAPSS;
  SignAndVerify(rsa, scheme);
  ESYS_TR ecc = CreateAndLoad(srk, EccTemplate(false), sens);
  scheme.scheme = TPM2_ALG_ECDSA;
  scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  SignAndVerify(ecc, scheme);
  scheme.scheme = TPM2_ALG_ECSCHNORR;
  scheme.details.ecschnorr.hashAlg = TPM2_ALG_SHA256;
  SignAndVerify(ecc, scheme);
}

// A sealed-data object (KEYEDHASH, no scheme) and its sensitive data "secret".
TPM2B_PUBLIC SealedTemplate() {
  TPM2B_PUBLIC tmpl{};
  tmpl.publicArea.type = TPM2_ALG_KEYEDHASH;
  tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
  tmpl.publicArea.objectAttributes =
      TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_USERWITHAUTH;
  tmpl.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
  return tmpl;
}
TPM2B_SENSITIVE_CREATE SealedSecret() {
  TPM2B_SENSITIVE_CREATE sens{};
  sens.sensitive.data.size = 6;
  std::memcpy(sens.sensitive.data.buffer, "secret", 6);
  return sens;
}

TEST_F(EsysObjectTest, SealedDataUnsealsAndTamperedBlobIsRefused) {
  ESYS_TR srk = Primary(EccTemplate(true));
  TPM2B_PUBLIC tmpl = SealedTemplate();
  TPM2B_SENSITIVE_CREATE sens = SealedSecret();
  sens.sensitive.userAuth.size = 3;
  std::memcpy(sens.sensitive.userAuth.buffer, "pin", 3);
  TPM2B_PRIVATE* priv = nullptr;
  TPM2B_PUBLIC* pub = nullptr;
  ESYS_TR sealed = CreateAndLoad(srk, tmpl, sens, &priv, &pub);
  TPM2B_AUTH pin{};
  pin.size = 3;
  std::memcpy(pin.buffer, "pin", 3);
  ASSERT_EQ(Esys_TR_SetAuth(ctx_, sealed, &pin), TSS2_RC_SUCCESS);
  TPM2B_SENSITIVE_DATA* out = nullptr;
  ASSERT_EQ(Esys_Unseal(ctx_, sealed, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &out),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(out->buffer), out->size), "secret");
  Esys_Free(out);
  // A flipped bit in the private blob fails the integrity check.
  priv->buffer[priv->size - 1] ^= 1;
  ESYS_TR handle = ESYS_TR_NONE;
  TSS2_RC rc = Esys_Load(ctx_, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub,
                         &handle);
  EXPECT_EQ(rc & 0xFFF, Rc::Integrity.Param(1).value());
  Esys_Free(priv);
  Esys_Free(pub);
}

// Part 1 §19.4: the storage key depends only on the parent and the Name, so every private
// area carries its own random symIv (a TPM2B_IV after the integrity HMAC, covered by it).
// ObjectChangeAuth twice to the same authValue must not give the same ciphertext.
TEST_F(EsysObjectTest, PrivateAreasCarryAFreshIv) {
  ESYS_TR srk = Primary(EccTemplate(true));
  TPM2B_PUBLIC tmpl = SealedTemplate();
  TPM2B_SENSITIVE_CREATE sens = SealedSecret();
  TPM2B_PRIVATE* created = nullptr;
  TPM2B_PUBLIC* pub = nullptr;
  ESYS_TR sealed = CreateAndLoad(srk, tmpl, sens, &created, &pub);
  // integrityHMAC (SHA-256) || TPM2B_IV (16 octets) || encSensitive
  ASSERT_GT(created->size, 2 + 32 + 2 + 16);
  EXPECT_EQ(LoadBe16(created->buffer), 32u);
  EXPECT_EQ(LoadBe16(created->buffer + 34), 16u);
  TPM2B_AUTH new_auth{};
  new_auth.size = 3;
  std::memcpy(new_auth.buffer, "new", 3);
  TPM2B_PRIVATE* first = nullptr;
  TPM2B_PRIVATE* second = nullptr;
  ASSERT_EQ(Esys_ObjectChangeAuth(ctx_, sealed, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                  &new_auth, &first),
            TSS2_RC_SUCCESS);
  ASSERT_EQ(Esys_ObjectChangeAuth(ctx_, sealed, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                  &new_auth, &second),
            TSS2_RC_SUCCESS);
  ASSERT_EQ(first->size, second->size);
  EXPECT_NE(Bytes(first->buffer + 36, first->buffer + first->size),
            Bytes(second->buffer + 36, second->buffer + second->size));
  // Both load and unseal with the new authValue; a changed IV fails the integrity check.
  for (TPM2B_PRIVATE* priv : {first, second}) {
    ESYS_TR handle = ESYS_TR_NONE;
    ASSERT_EQ(Esys_Load(ctx_, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub,
                        &handle),
              TSS2_RC_SUCCESS);
    ASSERT_EQ(Esys_TR_SetAuth(ctx_, handle, &new_auth), TSS2_RC_SUCCESS);
    TPM2B_SENSITIVE_DATA* out = nullptr;
    ASSERT_EQ(Esys_Unseal(ctx_, handle, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &out),
              TSS2_RC_SUCCESS);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(out->buffer), out->size), "secret");
    Esys_Free(out);
    Esys_FlushContext(ctx_, handle);
  }
  first->buffer[40] ^= 1;
  ESYS_TR handle = ESYS_TR_NONE;
  TSS2_RC rc =
      Esys_Load(ctx_, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, first, pub, &handle);
  EXPECT_EQ(rc & 0xFFF, Rc::Integrity.Param(1).value());
  Esys_Free(created);
  Esys_Free(first);
  Esys_Free(second);
  Esys_Free(pub);
}

TEST_F(EsysObjectTest, ContextSaveAndLoadOfObjectsAndSessions) {
  ESYS_TR srk = Primary(RsaTemplate(true));
  TPMS_CONTEXT* saved = nullptr;
  ASSERT_EQ(Esys_ContextSave(ctx_, srk, &saved), TSS2_RC_SUCCESS);
  ASSERT_EQ(Esys_FlushContext(ctx_, srk), TSS2_RC_SUCCESS);
  ESYS_TR reloaded = ESYS_TR_NONE;
  ASSERT_EQ(Esys_ContextLoad(ctx_, saved, &reloaded), TSS2_RC_SUCCESS);
  TPM2B_SENSITIVE_CREATE sens{};
  ESYS_TR key = CreateAndLoad(reloaded, RsaTemplate(false), sens);
  EXPECT_NE(key, ESYS_TR_NONE);
  // A tampered context is refused.
  saved->contextBlob.buffer[10] ^= 1;  // inside our integrity value (ESYS appends metadata)
  TSS2_RC rc = Esys_ContextLoad(ctx_, saved, &reloaded);
  EXPECT_EQ(rc & 0xFFF, Rc::Integrity.Param(1).value());
  Esys_Free(saved);

  TPMT_SYM_DEF sym{};
  sym.algorithm = TPM2_ALG_NULL;
  ESYS_TR session = ESYS_TR_NONE;
  ASSERT_EQ(Esys_StartAuthSession(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                  ESYS_TR_NONE, nullptr, TPM2_SE_HMAC, &sym, TPM2_ALG_SHA256,
                                  &session),
            TSS2_RC_SUCCESS);
  TPMS_CONTEXT* session_ctx = nullptr;
  ASSERT_EQ(Esys_ContextSave(ctx_, session, &session_ctx), TSS2_RC_SUCCESS);
  ESYS_TR session2 = ESYS_TR_NONE;
  ASSERT_EQ(Esys_ContextLoad(ctx_, session_ctx, &session2), TSS2_RC_SUCCESS);
  // Not authorizing anything, the session needs a purpose (Part 3 §5.5): here, audit.
  ASSERT_EQ(Esys_TRSess_SetAttributes(ctx_, session2,
                                      TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_AUDIT, 0xFF),
            TSS2_RC_SUCCESS);
  TPM2B_DIGEST* random = nullptr;
  ASSERT_EQ(Esys_GetRandom(ctx_, session2, ESYS_TR_NONE, ESYS_TR_NONE, 8, &random),
            TSS2_RC_SUCCESS);
  Esys_Free(random);
  // The same saved context cannot be loaded twice (replay).
  ESYS_TR again = ESYS_TR_NONE;
  Esys_Free(session_ctx);
  ASSERT_EQ(Esys_ContextSave(ctx_, session2, &session_ctx), TSS2_RC_SUCCESS);
  ASSERT_EQ(Esys_ContextLoad(ctx_, session_ctx, &again), TSS2_RC_SUCCESS);
  EXPECT_NE(Esys_ContextLoad(ctx_, session_ctx, &again), TSS2_RC_SUCCESS);
  Esys_Free(session_ctx);
}

// (salt key is RSA, parameter encryption is AES-CFB)
class SaltedSessionTest : public EsysObjectTest,
                          public ::testing::WithParamInterface<std::tuple<bool, bool>> {};

TEST_P(SaltedSessionTest, SaltedSessionEncryptsBothWays) {
  auto [rsa, aes] = GetParam();
  ESYS_TR salt_key = Primary(rsa ? RsaTemplate(true) : EccTemplate(true));
  TPMT_SYM_DEF sym{};
  if (aes) {
    sym.algorithm = TPM2_ALG_AES;
    sym.keyBits.aes = 128;
    sym.mode.aes = TPM2_ALG_CFB;
  } else {
    sym.algorithm = TPM2_ALG_XOR;
    sym.keyBits.exclusiveOr = TPM2_ALG_SHA256;
  }
  ESYS_TR session = ESYS_TR_NONE;
  ASSERT_EQ(Esys_StartAuthSession(ctx_, salt_key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                  ESYS_TR_NONE, nullptr, TPM2_SE_HMAC, &sym, TPM2_ALG_SHA256,
                                  &session),
            TSS2_RC_SUCCESS);
  ASSERT_EQ(Esys_TRSess_SetAttributes(ctx_, session,
                                      TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_DECRYPT |
                                          TPMA_SESSION_ENCRYPT,
                                      0xFF),
            TSS2_RC_SUCCESS);
  // A sealed object created through the salted session: the secret travels encrypted.
  TPM2B_PUBLIC tmpl{};
  tmpl.publicArea.type = TPM2_ALG_KEYEDHASH;
  tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
  tmpl.publicArea.objectAttributes =
      TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_USERWITHAUTH;
  tmpl.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
  TPM2B_SENSITIVE_CREATE sens{};
  sens.sensitive.data.size = 4;
  std::memcpy(sens.sensitive.data.buffer, "salt", 4);
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION pcrs{};
  TPM2B_PRIVATE* priv = nullptr;
  TPM2B_PUBLIC* pub = nullptr;
  ASSERT_EQ(Esys_Create(ctx_, salt_key, session, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
                        &outside, &pcrs, &priv, &pub, nullptr, nullptr, nullptr),
            TSS2_RC_SUCCESS);
  ESYS_TR sealed = ESYS_TR_NONE;
  ASSERT_EQ(Esys_Load(ctx_, salt_key, session, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, &sealed),
            TSS2_RC_SUCCESS);
  TPM2B_SENSITIVE_DATA* out = nullptr;
  ASSERT_EQ(Esys_Unseal(ctx_, sealed, session, ESYS_TR_NONE, ESYS_TR_NONE, &out),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(out->buffer), out->size), "salt");
  Esys_Free(out);
  Esys_Free(priv);
  Esys_Free(pub);
  // More commands through the same session: nonces keep rolling.
  for (int i = 0; i < 3; ++i) {
    TPM2B_DIGEST* random = nullptr;
    ASSERT_EQ(Esys_GetRandom(ctx_, session, ESYS_TR_NONE, ESYS_TR_NONE, 16, &random),
              TSS2_RC_SUCCESS);
    Esys_Free(random);
  }
}

INSTANTIATE_TEST_SUITE_P(RsaAndEccWithCfbAndXor, SaltedSessionTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool()));

TEST_F(EsysObjectTest, RsaEncryptDecryptRoundTrip) {
  ESYS_TR srk = Primary(RsaTemplate(true));
  TPM2B_PUBLIC tmpl = RsaTemplate(false);
  tmpl.publicArea.objectAttributes =
      (tmpl.publicArea.objectAttributes & ~TPMA_OBJECT_SIGN_ENCRYPT) | TPMA_OBJECT_DECRYPT;
  TPM2B_SENSITIVE_CREATE sens{};
  ESYS_TR key = CreateAndLoad(srk, tmpl, sens);
  TPM2B_PUBLIC_KEY_RSA msg{};
  msg.size = 5;
  std::memcpy(msg.buffer, "hello", 5);
  TPMT_RSA_DECRYPT scheme{};
  scheme.scheme = TPM2_ALG_OAEP;
  scheme.details.oaep.hashAlg = TPM2_ALG_SHA256;
  TPM2B_DATA label{};
  TPM2B_PUBLIC_KEY_RSA* cipher = nullptr;
  ASSERT_EQ(Esys_RSA_Encrypt(ctx_, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &msg, &scheme,
                             &label, &cipher),
            TSS2_RC_SUCCESS);
  TPM2B_PUBLIC_KEY_RSA* plain = nullptr;
  ASSERT_EQ(Esys_RSA_Decrypt(ctx_, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, cipher,
                             &scheme, &label, &plain),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(plain->buffer), plain->size), "hello");
  Esys_Free(cipher);
  Esys_Free(plain);
}

TEST_F(EsysObjectTest, HmacKeyMatchesSoftwareHmac) {
  ESYS_TR srk = Primary(RsaTemplate(true));
  TPM2B_PUBLIC tmpl{};
  tmpl.publicArea.type = TPM2_ALG_KEYEDHASH;
  tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
  tmpl.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                     TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT;
  tmpl.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_HMAC;
  tmpl.publicArea.parameters.keyedHashDetail.scheme.details.hmac.hashAlg = TPM2_ALG_SHA256;
  TPM2B_SENSITIVE_CREATE sens{};
  sens.sensitive.data.size = 16;
  std::memset(sens.sensitive.data.buffer, 0x5A, 16);
  ESYS_TR key = CreateAndLoad(srk, tmpl, sens);
  TPM2B_MAX_BUFFER data{};
  data.size = 3;
  std::memcpy(data.buffer, "abc", 3);
  TPM2B_DIGEST* mac = nullptr;
  ASSERT_EQ(Esys_HMAC(ctx_, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &data,
                      TPM2_ALG_NULL, &mac),
            TSS2_RC_SUCCESS);
  Bytes expected = *crypto::Hmac(TpmAlg::Sha256, Bytes(16, 0x5A), ToBytes("abc"));
  EXPECT_EQ(Bytes(mac->buffer, mac->buffer + mac->size), expected);
  Esys_Free(mac);
  // The same through an HMAC sequence, as tpm2_hmac does for streamed input.
  TPM2B_AUTH null_auth{};
  ESYS_TR seq = ESYS_TR_NONE;
  ASSERT_EQ(Esys_HMAC_Start(ctx_, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &null_auth,
                            TPM2_ALG_NULL, &seq),
            TSS2_RC_SUCCESS);
  data.size = 2;
  ASSERT_EQ(Esys_SequenceUpdate(ctx_, seq, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &data),
            TSS2_RC_SUCCESS);
  TPM2B_MAX_BUFFER last{};
  last.size = 1;
  last.buffer[0] = 'c';
  TPMT_TK_HASHCHECK* ticket = nullptr;
  ASSERT_EQ(Esys_SequenceComplete(ctx_, seq, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &last,
                                  TPM2_RH_NULL, &mac, &ticket),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(Bytes(mac->buffer, mac->buffer + mac->size), expected);
  Esys_Free(mac);
  Esys_Free(ticket);
}

TEST_F(EsysObjectTest, EvictControlPersistsAcrossRestartsAndEvicts) {
  TPM2B_PUBLIC* pub = nullptr;
  ESYS_TR srk = Primary(RsaTemplate(true), ESYS_TR_RH_OWNER, &pub);
  ESYS_TR persistent = ESYS_TR_NONE;
  ASSERT_EQ(Esys_EvictControl(ctx_, ESYS_TR_RH_OWNER, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                              ESYS_TR_NONE, 0x81000001, &persistent),
            TSS2_RC_SUCCESS);
  // The same handle twice: NV_DEFINED; a platform-range handle with owner auth: RANGE.
  ESYS_TR dup = ESYS_TR_NONE;
  EXPECT_EQ(Esys_EvictControl(ctx_, ESYS_TR_RH_OWNER, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                              ESYS_TR_NONE, 0x81000001, &dup) & 0xFFF,
            Rc::NvDefined.value());
  EXPECT_EQ(Esys_EvictControl(ctx_, ESYS_TR_RH_OWNER, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                              ESYS_TR_NONE, 0x81800001, &dup) & 0xFFF,
            Rc::Range.Param(1).value());
  Restart();
  ESYS_TR loaded = ESYS_TR_NONE;
  ASSERT_EQ(Esys_TR_FromTPMPublic(ctx_, 0x81000001, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                  &loaded),
            TSS2_RC_SUCCESS);
  TPM2B_PUBLIC* again = nullptr;
  ASSERT_EQ(Esys_ReadPublic(ctx_, loaded, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &again,
                            nullptr, nullptr),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(std::memcmp(&pub->publicArea.unique, &again->publicArea.unique,
                        sizeof(TPMU_PUBLIC_ID)),
            0);
  // A child created under the persistent parent loads.
  TPM2B_SENSITIVE_CREATE sens{};
  EXPECT_NE(CreateAndLoad(loaded, RsaTemplate(false), sens), ESYS_TR_NONE);
  ESYS_TR gone = ESYS_TR_NONE;
  ASSERT_EQ(Esys_EvictControl(ctx_, ESYS_TR_RH_OWNER, loaded, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                              ESYS_TR_NONE, 0x81000001, &gone),
            TSS2_RC_SUCCESS);
  EXPECT_RC(tpm_.Run(Command(TpmCc::ReadPublic).Handle(0x81000001)), Rc::Handle.Handle(1));
  Esys_Free(pub);
  Esys_Free(again);
}

// Part 3 §28.5 (v1.85): a public-only object may be persisted; one in the NULL hierarchy may
// not (TPM_RC_ATTRIBUTES); owner authorization cannot evict from the platform range
// (TPM_RC_RANGE), platform authorization can.
TEST_F(EsysObjectTest, EvictControlPublicOnlyObjectsAndRanges) {
  TPM2B_PUBLIC* pub = nullptr;
  ESYS_TR signer = Primary(EccTemplate(false), ESYS_TR_RH_OWNER, &pub);
  ESYS_TR external = ESYS_TR_NONE;
  ASSERT_EQ(Esys_LoadExternal(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, nullptr, pub,
                              ESYS_TR_RH_OWNER, &external),
            TSS2_RC_SUCCESS);
  TPM2B_NAME* name = nullptr;
  ASSERT_EQ(Esys_TR_GetName(ctx_, external, &name), TSS2_RC_SUCCESS);
  ESYS_TR persistent = ESYS_TR_NONE;
  ASSERT_EQ(Esys_EvictControl(ctx_, ESYS_TR_RH_OWNER, external, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                              ESYS_TR_NONE, 0x81000002, &persistent),
            TSS2_RC_SUCCESS);
  ESYS_TR null_external = ESYS_TR_NONE;
  ASSERT_EQ(Esys_LoadExternal(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, nullptr, pub,
                              ESYS_TR_RH_NULL, &null_external),
            TSS2_RC_SUCCESS);
  ESYS_TR refused = ESYS_TR_NONE;
  EXPECT_EQ(Esys_EvictControl(ctx_, ESYS_TR_RH_OWNER, null_external, ESYS_TR_PASSWORD,
                              ESYS_TR_NONE, ESYS_TR_NONE, 0x81000003, &refused) & 0xFFF,
            Rc::Attributes.Handle(2).value());

  // A signature by the primary verifies with the persisted public-only copy after a restart.
  TPM2B_DIGEST digest{};
  digest.size = 32;
  std::memset(digest.buffer, 0x24, 32);
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_ECDSA;
  scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  TPMT_TK_HASHCHECK hashcheck{};
  hashcheck.tag = TPM2_ST_HASHCHECK;
  hashcheck.hierarchy = TPM2_RH_NULL;
  TPMT_SIGNATURE* sig = nullptr;
  ASSERT_EQ(Esys_Sign(ctx_, signer, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest,
                      &scheme, &hashcheck, &sig),
            TSS2_RC_SUCCESS);
  Restart();
  ESYS_TR loaded = ESYS_TR_NONE;
  ASSERT_EQ(Esys_TR_FromTPMPublic(ctx_, 0x81000002, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                  &loaded),
            TSS2_RC_SUCCESS);
  TPM2B_NAME* loaded_name = nullptr;
  ASSERT_EQ(Esys_TR_GetName(ctx_, loaded, &loaded_name), TSS2_RC_SUCCESS);
  EXPECT_EQ(Bytes(loaded_name->name, loaded_name->name + loaded_name->size),
            Bytes(name->name, name->name + name->size));
  TPMT_TK_VERIFIED* verified = nullptr;
  EXPECT_EQ(Esys_VerifySignature(ctx_, loaded, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest,
                                 sig, &verified),
            TSS2_RC_SUCCESS);
  Esys_Free(verified);

  // Platform range: owner auth cannot evict it, platform auth can.
  ESYS_TR platform = Primary(EccTemplate(true), ESYS_TR_RH_PLATFORM);
  ESYS_TR platform_persistent = ESYS_TR_NONE;
  ASSERT_EQ(Esys_EvictControl(ctx_, ESYS_TR_RH_PLATFORM, platform, ESYS_TR_PASSWORD,
                              ESYS_TR_NONE, ESYS_TR_NONE, 0x81800001, &platform_persistent),
            TSS2_RC_SUCCESS);
  ESYS_TR gone = ESYS_TR_NONE;
  EXPECT_EQ(Esys_EvictControl(ctx_, ESYS_TR_RH_OWNER, platform_persistent, ESYS_TR_PASSWORD,
                              ESYS_TR_NONE, ESYS_TR_NONE, 0x81800001, &gone) & 0xFFF,
            Rc::Range.Handle(2).value());
  EXPECT_EQ(Esys_EvictControl(ctx_, ESYS_TR_RH_PLATFORM, platform_persistent, ESYS_TR_PASSWORD,
                              ESYS_TR_NONE, ESYS_TR_NONE, 0x81800001, &gone),
            TSS2_RC_SUCCESS);
  // ...and may evict from the owner range too.
  EXPECT_EQ(Esys_EvictControl(ctx_, ESYS_TR_RH_PLATFORM, loaded, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                              ESYS_TR_NONE, 0x81000002, &gone),
            TSS2_RC_SUCCESS);
  EXPECT_RC(tpm_.Run(Command(TpmCc::ReadPublic).Handle(0x81000002)), Rc::Handle.Handle(1));
  Esys_Free(pub);
  Esys_Free(name);
  Esys_Free(loaded_name);
  Esys_Free(sig);
}

TEST(Objects, BadTemplatesGetSpecCodes) {
  TestTpm t;
  auto primary = [&](uint32_t attributes, uint16_t sym) {
    Command c(TpmCc::CreatePrimary);
    c.Handle(TpmRh::Owner).Password();
    c.U16(4).U16(0).U16(0);  // empty TPM2B_SENSITIVE_CREATE contents
    Bytes pub;
    AppendBe16(pub, TpmAlg::Rsa);
    AppendBe16(pub, TpmAlg::Sha256);
    AppendBe32(pub, attributes);
    AppendBe16(pub, 0);
    AppendBe16(pub, sym);
    if (sym == TpmAlg::Aes) {
      AppendBe16(pub, 128);
      AppendBe16(pub, TpmAlg::Cfb);
    }
    AppendBe16(pub, TpmAlg::Null);
    AppendBe16(pub, 2048);
    AppendBe32(pub, 0);
    AppendBe16(pub, 0);
    c.Sized(pub).U16(0).U32(0);
    return t.Run(c);
  };
  constexpr uint32_t kStorage = 0x00030072;  // fixedTPM|fixedParent|sdo|userWithAuth|restricted|decrypt
  EXPECT_RC(primary(kStorage, TpmAlg::Null), Rc::Symmetric.Param(2));
  EXPECT_RC(primary(kStorage | 0x00040000, TpmAlg::Aes), Rc::Attributes.Param(2));
  EXPECT_RC(primary(kStorage & ~0x10u, TpmAlg::Aes), Rc::Attributes.Param(2));
  EXPECT_RC(primary(kStorage | 0x1, TpmAlg::Aes), Rc::ReservedBits.Param(2));
  EXPECT_SUCCESS(primary(kStorage, TpmAlg::Aes));
}

}  // namespace
}  // namespace tpm2emu::engine::test
