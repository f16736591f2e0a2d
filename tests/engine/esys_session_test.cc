// HMAC sessions and parameter encryption checked by ESYS, which verifies every response HMAC
// and decrypts encrypted response parameters in software.

#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "engine/tpm.h"
#include "tests/engine/esys_client.h"
#include "tests/engine/test_util.h"

namespace tpm2emu::engine::test {
namespace {

class EsysSessionTest : public ::testing::TestWithParam<TPM2_ALG_ID> {
 protected:
  void SetUp() override {
    ASSERT_EQ(client_.init_rc(), TSS2_RC_SUCCESS);
    ctx_ = client_.ctx();
  }
  // Starts an HMAC session (unbound and unsalted unless bind is given) with the
  // parameter-encryption algorithm of the test parameter.
  ESYS_TR StartSession(ESYS_TR bind = ESYS_TR_NONE, TPM2_ALG_ID auth_hash = TPM2_ALG_SHA256) {
    TPMT_SYM_DEF sym{};
    sym.algorithm = GetParam();
    if (GetParam() == TPM2_ALG_AES) {
      sym.keyBits.aes = 128;
      sym.mode.aes = TPM2_ALG_CFB;
    } else {
      sym.keyBits.exclusiveOr = TPM2_ALG_SHA256;
    }
    ESYS_TR session = ESYS_TR_NONE;
    EXPECT_EQ(Esys_StartAuthSession(ctx_, ESYS_TR_NONE, bind, ESYS_TR_NONE, ESYS_TR_NONE,
                                    ESYS_TR_NONE, nullptr, TPM2_SE_HMAC, &sym, auth_hash,
                                    &session),
              TSS2_RC_SUCCESS);
    EXPECT_EQ(Esys_TRSess_SetAttributes(ctx_, session,
                                        TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_DECRYPT |
                                            TPMA_SESSION_ENCRYPT,
                                        0xFF),
              TSS2_RC_SUCCESS);
    return session;
  }

  TestTpm tpm_;
  EsysClient client_{tpm_.tpm()};
  ESYS_CONTEXT* ctx_ = nullptr;
};

TEST_P(EsysSessionTest, EncryptedGetRandomAndHash) {
  ESYS_TR s = StartSession();
  for (int i = 0; i < 3; ++i) {  // several uses roll the nonces
    TPM2B_DIGEST* random = nullptr;
    ASSERT_EQ(Esys_GetRandom(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, 16, &random), TSS2_RC_SUCCESS);
    EXPECT_EQ(random->size, 16);
    Esys_Free(random);
  }
  TPM2B_MAX_BUFFER data{};
  data.size = 5;
  std::memcpy(data.buffer, "hello", 5);
  TPM2B_DIGEST* digest = nullptr;
  TPMT_TK_HASHCHECK* ticket = nullptr;
  ASSERT_EQ(Esys_Hash(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, &data, TPM2_ALG_SHA256,
                      ESYS_TR_RH_OWNER, &digest, &ticket),
            TSS2_RC_SUCCESS);
  Bytes expected = *crypto::Hash(TpmAlg::Sha256, ToBytes("hello"));
  EXPECT_EQ(Bytes(digest->buffer, digest->buffer + digest->size), expected);
  Esys_Free(digest);
  Esys_Free(ticket);
}

TEST_P(EsysSessionTest, HmacAuthorizedChangeAuthWithEncryptedNewAuth) {
  ESYS_TR s = StartSession();
  TPM2B_AUTH auth{};
  auth.size = 6;
  std::memcpy(auth.buffer, "secret", 6);
  ASSERT_EQ(Esys_HierarchyChangeAuth(ctx_, ESYS_TR_RH_OWNER, s, ESYS_TR_NONE, ESYS_TR_NONE, &auth),
            TSS2_RC_SUCCESS);
  // The owner auth is now "secret": a password session with it works, without it fails.
  ASSERT_EQ(Esys_TR_SetAuth(ctx_, ESYS_TR_RH_OWNER, &auth), TSS2_RC_SUCCESS);
  ASSERT_EQ(Esys_ClockRateAdjust(ctx_, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                 ESYS_TR_NONE, TPM2_CLOCK_NO_CHANGE),
            TSS2_RC_SUCCESS);
  // And through the HMAC session, which now includes the new authValue.
  ASSERT_EQ(Esys_ClockRateAdjust(ctx_, ESYS_TR_RH_OWNER, s, ESYS_TR_NONE, ESYS_TR_NONE,
                                 TPM2_CLOCK_NO_CHANGE),
            TSS2_RC_SUCCESS);
  TPM2B_AUTH wrong{};
  wrong.size = 5;
  std::memcpy(wrong.buffer, "wrong", 5);
  ASSERT_EQ(Esys_TR_SetAuth(ctx_, ESYS_TR_RH_OWNER, &wrong), TSS2_RC_SUCCESS);
  TSS2_RC rc = Esys_ClockRateAdjust(ctx_, ESYS_TR_RH_OWNER, s, ESYS_TR_NONE, ESYS_TR_NONE,
                                    TPM2_CLOCK_NO_CHANGE);
  EXPECT_EQ(rc & 0xFFF, Rc::BadAuth.Session(1).value());
}

TEST_P(EsysSessionTest, BoundSessionAuthorizesItsEntity) {
  TPM2B_AUTH auth{};
  auth.size = 4;
  std::memcpy(auth.buffer, "bind", 4);
  ASSERT_EQ(Esys_HierarchyChangeAuth(ctx_, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                     ESYS_TR_NONE, &auth),
            TSS2_RC_SUCCESS);
  ASSERT_EQ(Esys_TR_SetAuth(ctx_, ESYS_TR_RH_OWNER, &auth), TSS2_RC_SUCCESS);
  ESYS_TR s = StartSession(ESYS_TR_RH_OWNER);
  // Bound entity: authValue not in the HMAC; another entity (endorsement): it is.
  ASSERT_EQ(Esys_ClockRateAdjust(ctx_, ESYS_TR_RH_OWNER, s, ESYS_TR_NONE, ESYS_TR_NONE,
                                 TPM2_CLOCK_NO_CHANGE),
            TSS2_RC_SUCCESS);
  TPM2B_AUTH eauth{};
  eauth.size = 2;
  std::memcpy(eauth.buffer, "ea", 2);
  ASSERT_EQ(Esys_HierarchyChangeAuth(ctx_, ESYS_TR_RH_ENDORSEMENT, s, ESYS_TR_NONE, ESYS_TR_NONE,
                                     &eauth),
            TSS2_RC_SUCCESS);
  TPM2B_DIGEST* random = nullptr;
  ASSERT_EQ(Esys_GetRandom(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, 8, &random), TSS2_RC_SUCCESS);
  Esys_Free(random);
}

TEST_P(EsysSessionTest, SessionBoundToEntityWithEmptyAuth) {
  ESYS_TR s = StartSession(ESYS_TR_RH_OWNER);
  TPM2B_AUTH auth{};
  auth.size = 3;
  std::memcpy(auth.buffer, "new", 3);
  ASSERT_EQ(Esys_HierarchyChangeAuth(ctx_, ESYS_TR_RH_OWNER, s, ESYS_TR_NONE, ESYS_TR_NONE, &auth),
            TSS2_RC_SUCCESS);
}

TEST_P(EsysSessionTest, SessionWithSha1AndFlush) {
  ESYS_TR s = StartSession(ESYS_TR_NONE, TPM2_ALG_SHA1);
  TPM2B_DIGEST* random = nullptr;
  ASSERT_EQ(Esys_GetRandom(ctx_, s, ESYS_TR_NONE, ESYS_TR_NONE, 20, &random), TSS2_RC_SUCCESS);
  Esys_Free(random);
  ASSERT_EQ(Esys_FlushContext(ctx_, s), TSS2_RC_SUCCESS);
}

INSTANTIATE_TEST_SUITE_P(Cfb, EsysSessionTest, ::testing::Values(TPM2_ALG_AES));
INSTANTIATE_TEST_SUITE_P(Xor, EsysSessionTest, ::testing::Values(TPM2_ALG_XOR));

TEST(Sessions, StartAuthSessionChecksItsParameters) {
  TestTpm t;
  auto start = [&](size_t nonce, uint8_t type, uint16_t sym, uint16_t hash) {
    Command c(TpmCc::StartAuthSession);
    c.Handle(TpmRh::Null).Handle(TpmRh::Null).Sized(Bytes(nonce, 1)).Sized("").U8(type).U16(sym);
    if (sym == TpmAlg::Aes) {
      c.U16(128).U16(TpmAlg::Ofb);
    }
    c.U16(hash);
    return t.Run(c);
  };
  EXPECT_RC(start(8, 0, TpmAlg::Null, TpmAlg::Sha256), Rc::Size.Param(1));
  EXPECT_RC(start(33, 0, TpmAlg::Null, TpmAlg::Sha256), Rc::Size.Param(1));
  EXPECT_RC(start(16, 2, TpmAlg::Null, TpmAlg::Sha256), Rc::Value.Param(3));
  EXPECT_RC(start(16, 0, TpmAlg::Aes, TpmAlg::Sha256), Rc::Mode.Param(4));
  EXPECT_RC(start(16, 0, TpmAlg::Null, TpmAlg::Null), Rc::Hash.Param(5));
  EXPECT_SUCCESS(start(16, 0, TpmAlg::Null, TpmAlg::Sha256));
  EXPECT_SUCCESS(start(16, 1, TpmAlg::Null, TpmAlg::Sha256));
  EXPECT_SUCCESS(start(16, 3, TpmAlg::Null, TpmAlg::Sha256));
  for (size_t i = 3; i < kMaxLoadedSessions; ++i) {
    EXPECT_SUCCESS(start(16, 0, TpmAlg::Null, TpmAlg::Sha256));
  }
  EXPECT_RC(start(16, 0, TpmAlg::Null, TpmAlg::Sha256), Rc::SessionMemory);
}

TEST(Sessions, FlushOfUnknownHandleGivesHandle) {
  TestTpm t;
  EXPECT_RC(t.Run(Command(TpmCc::FlushContext).U32(0x02000005)), Rc::Handle.Param(1));
  EXPECT_RC(t.Run(Command(TpmCc::FlushContext).U32(TpmRh::Owner)), Rc::Value.Param(1));
}

}  // namespace
}  // namespace tpm2emu::engine::test
