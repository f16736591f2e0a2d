// TPM2_Rewrap (Part 3 §13.2) through ESYS, with Duplicate and Import around it: a key
// duplicated to parent A, rewrapped from A to B, imported and loaded under B still signs with
// the same key (checked in software); tampering and wrong parents give the spec's codes.

#include <cstring>

#include <gtest/gtest.h>

#include "crypto/ecc.h"
#include "crypto/hash.h"
#include "engine/wire/constants.h"
#include "tests/engine/esys_keys.h"

namespace tpm2emu::engine::test {
namespace {

constexpr TPMA_OBJECT kDuplicableSigner =
    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT;
constexpr TPMA_OBJECT kFixedSigner =
    kDuplicableSigner | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT;

// PolicyCommandCode(TPM_CC_Duplicate): what the DUP role asks for.
Bytes DuplicatePolicy() {
  Bytes msg(32, 0);
  AppendBe32(msg, TpmCc::PolicyCommandCode);
  AppendBe32(msg, TpmCc::Duplicate);
  return *crypto::Hash(TpmAlg::Sha256, msg);
}

template <class T>
T To2b(ByteSpan data) {
  T out{};
  out.size = static_cast<uint16_t>(data.size());
  std::copy(data.begin(), data.end(), out.buffer);
  return out;
}

struct Duplicated {
  TPM2B_DATA key{};  // the inner wrapper's key (empty without one)
  TPM2B_PRIVATE blob{};
  TPM2B_ENCRYPTED_SECRET seed{};
};

class RewrapTest : public EsysKeysTest {
 protected:
  void SetUp() override {
    EsysKeysTest::SetUp();
    srk_ = Primary(KeyTemplate(TPM2_ALG_RSA, kStorageAttrs));
    parent_a_ = Primary(KeyTemplate(TPM2_ALG_RSA, kStorageAttrs), ESYS_TR_RH_ENDORSEMENT);
    parent_b_ = Primary(KeyTemplate(TPM2_ALG_ECC, kStorageAttrs));
    key_ = Child(srk_, KeyTemplate(TPM2_ALG_ECC, kDuplicableSigner, DuplicatePolicy()), &pub_);
    name_ = NameOf(key_);
  }
  // TPM2_Duplicate of key_ to `new_parent`, with an AES-128-CFB inner wrapper if `inner`.
  Duplicated Duplicate(ESYS_TR new_parent, bool inner) {
    TPMT_SYM_DEF none{};
    none.algorithm = TPM2_ALG_NULL;
    ESYS_TR session = ESYS_TR_NONE;
    EXPECT_EQ(Esys_StartAuthSession(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    ESYS_TR_NONE, nullptr, TPM2_SE_POLICY, &none, TPM2_ALG_SHA256,
                                    &session),
              TSS2_RC_SUCCESS);
    EXPECT_EQ(Esys_PolicyCommandCode(ctx_, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     TPM2_CC_Duplicate),
              TSS2_RC_SUCCESS);
    TPMT_SYM_DEF_OBJECT sym{};
    sym.algorithm = inner ? TPM2_ALG_AES : TPM2_ALG_NULL;
    sym.keyBits.aes = 128;
    sym.mode.aes = TPM2_ALG_CFB;
    TPM2B_DATA key_in{};
    TPM2B_DATA* key_out = nullptr;
    TPM2B_PRIVATE* blob = nullptr;
    TPM2B_ENCRYPTED_SECRET* seed = nullptr;
    EXPECT_EQ(Esys_Duplicate(ctx_, key_, new_parent, session, ESYS_TR_NONE, ESYS_TR_NONE, &key_in,
                             &sym, &key_out, &blob, &seed),
              TSS2_RC_SUCCESS);
    Esys_FlushContext(ctx_, session);
    Duplicated d;
    if (blob != nullptr) {
      d = Duplicated{*key_out, *blob, *seed};
    }
    EXPECT_EQ(d.key.size, inner ? 16 : 0);
    Esys_Free(key_out);
    Esys_Free(blob);
    Esys_Free(seed);
    return d;
  }
  TSS2_RC Rewrap(ESYS_TR old_parent, ESYS_TR new_parent, const Duplicated& in,
                 Duplicated* out = nullptr, const TPM2B_NAME* name = nullptr) {
    TPM2B_PRIVATE* blob = nullptr;
    TPM2B_ENCRYPTED_SECRET* seed = nullptr;
    TSS2_RC rc =
        Esys_Rewrap(ctx_, old_parent, new_parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                    &in.blob, name != nullptr ? name : &name_, &in.seed, &blob, &seed);
    if (rc == TSS2_RC_SUCCESS && out != nullptr) {
      *out = Duplicated{in.key, *blob, *seed};
    }
    Esys_Free(blob);
    Esys_Free(seed);
    return rc;
  }
  // Imports `d` under `parent`, loads it and checks that it signs as key_ (verified in
  // software against key_'s public key).
  void ImportAndSign(ESYS_TR parent, const Duplicated& d) {
    TPMT_SYM_DEF_OBJECT sym{};
    sym.algorithm = d.key.size != 0 ? TPM2_ALG_AES : TPM2_ALG_NULL;
    sym.keyBits.aes = 128;
    sym.mode.aes = TPM2_ALG_CFB;
    TPM2B_PRIVATE* priv = nullptr;
    ASSERT_EQ(Esys_Import(ctx_, parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d.key, &pub_,
                          &d.blob, &d.seed, &sym, &priv),
              TSS2_RC_SUCCESS);
    ESYS_TR loaded = ESYS_TR_NONE;
    ASSERT_EQ(
        Esys_Load(ctx_, parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, priv, &pub_, &loaded),
        TSS2_RC_SUCCESS);
    Esys_Free(priv);
    Bytes digest = *crypto::Hash(TpmAlg::Sha256, ToBytes("rewrapped"));
    TPM2B_DIGEST d2b = To2b<TPM2B_DIGEST>(digest);
    TPMT_SIG_SCHEME scheme{};
    scheme.scheme = TPM2_ALG_ECDSA;
    scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    TPMT_TK_HASHCHECK ticket{};
    ticket.tag = TPM2_ST_HASHCHECK;
    ticket.hierarchy = TPM2_RH_NULL;
    TPMT_SIGNATURE* sig = nullptr;
    ASSERT_EQ(Esys_Sign(ctx_, loaded, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d2b, &scheme,
                        &ticket, &sig),
              TSS2_RC_SUCCESS);
    crypto::EccPoint q{Buf(pub_.publicArea.unique.ecc.x), Buf(pub_.publicArea.unique.ecc.y)};
    EXPECT_TRUE(crypto::EcdsaVerify(TpmEccCurve::NistP256, q, digest,
                                    Buf(sig->signature.ecdsa.signatureR),
                                    Buf(sig->signature.ecdsa.signatureS))
                    .ok());
    Esys_Free(sig);
    Esys_FlushContext(ctx_, loaded);
  }

  ESYS_TR srk_ = ESYS_TR_NONE;
  ESYS_TR parent_a_ = ESYS_TR_NONE;
  ESYS_TR parent_b_ = ESYS_TR_NONE;
  ESYS_TR key_ = ESYS_TR_NONE;
  TPM2B_PUBLIC pub_{};
  TPM2B_NAME name_{};
};

TEST_F(RewrapTest, RewrappedFromAToBImportsUnderBAndSigns) {
  for (bool inner : {true, false}) {
    SCOPED_TRACE(inner ? "with an inner wrapper" : "outer wrapper only");
    Duplicated to_a = Duplicate(parent_a_, inner);
    // A's seed does not open under B: the blob is A's until rewrapped.
    TPMT_SYM_DEF_OBJECT sym{};
    sym.algorithm = inner ? TPM2_ALG_AES : TPM2_ALG_NULL;
    sym.keyBits.aes = 128;
    sym.mode.aes = TPM2_ALG_CFB;
    TPM2B_PRIVATE* priv = nullptr;
    EXPECT_NE(Esys_Import(ctx_, parent_b_, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &to_a.key,
                          &pub_, &to_a.blob, &to_a.seed, &sym, &priv),
              TSS2_RC_SUCCESS);
    Duplicated to_b;
    ASSERT_EQ(Rewrap(parent_a_, parent_b_, to_a, &to_b), TSS2_RC_SUCCESS);
    EXPECT_NE(to_b.seed.size, 0);
    ImportAndSign(parent_b_, to_b);
  }
}

TEST_F(RewrapTest, NullParentsRemoveOrAddTheOuterWrapper) {
  // From A to no parent: the inner-wrapped blob alone, imported with no seed.
  Duplicated to_a = Duplicate(parent_a_, true);
  Duplicated bare;
  ASSERT_EQ(Rewrap(parent_a_, ESYS_TR_RH_NULL, to_a, &bare), TSS2_RC_SUCCESS);
  EXPECT_EQ(bare.seed.size, 0);
  ImportAndSign(parent_b_, bare);
  // From no parent to B: an unwrapped duplicate gains B's outer wrapper.
  Duplicated to_null = Duplicate(ESYS_TR_RH_NULL, true);
  Duplicated to_b;
  ASSERT_EQ(Rewrap(ESYS_TR_RH_NULL, parent_b_, to_null, &to_b), TSS2_RC_SUCCESS);
  ImportAndSign(parent_b_, to_b);
}

TEST_F(RewrapTest, TamperedBlobOrNameFailsIntegrity) {
  Duplicated to_a = Duplicate(parent_a_, false);
  Duplicated tampered = to_a;
  tampered.blob.buffer[tampered.blob.size - 1] ^= 1;
  EXPECT_EQ(TpmCode(Rewrap(parent_a_, parent_b_, tampered)), Rc::Integrity.Param(1).value());
  tampered = to_a;
  tampered.blob.buffer[5] ^= 1;  // inside the HMAC
  EXPECT_EQ(TpmCode(Rewrap(parent_a_, parent_b_, tampered)), Rc::Integrity.Param(1).value());
  tampered = to_a;
  tampered.blob.size = 1;
  EXPECT_EQ(TpmCode(Rewrap(parent_a_, parent_b_, tampered)), Rc::Integrity.Param(1).value());
  TPM2B_NAME other = name_;
  other.name[33] ^= 1;
  EXPECT_EQ(TpmCode(Rewrap(parent_a_, parent_b_, to_a, nullptr, &other)),
            Rc::Integrity.Param(1).value());
  other.size = 4;
  EXPECT_EQ(TpmCode(Rewrap(parent_a_, parent_b_, to_a, nullptr, &other)),
            Rc::Size.Param(2).value());
  // A seed that is not A's: OAEP decoding fails.
  tampered = to_a;
  tampered.seed.secret[10] ^= 1;
  EXPECT_EQ(TpmCode(Rewrap(parent_a_, parent_b_, tampered)), Rc::Value.Param(3).value());
  EXPECT_EQ(TpmCode(Rewrap(parent_b_, parent_a_, to_a)), Rc::Value.Param(3).value());
}

TEST_F(RewrapTest, ParentsMustBeStorageKeysAndSeedMatchesOldParent) {
  Duplicated to_a = Duplicate(parent_a_, false);
  ESYS_TR signer = Child(srk_, KeyTemplate(TPM2_ALG_RSA, kFixedSigner));
  EXPECT_EQ(TpmCode(Rewrap(signer, parent_b_, to_a)), Rc::Type.Handle(1).value());
  EXPECT_EQ(TpmCode(Rewrap(parent_a_, signer, to_a)), Rc::Type.Handle(2).value());
  EXPECT_EQ(TpmCode(Rewrap(ESYS_TR_RH_NULL, parent_b_, to_a)), Rc::Handle.Handle(1).value());
  Duplicated no_seed = to_a;
  no_seed.seed.size = 0;
  EXPECT_EQ(TpmCode(Rewrap(parent_a_, parent_b_, no_seed)), Rc::Handle.Handle(1).value());
}

}  // namespace
}  // namespace tpm2emu::engine::test
