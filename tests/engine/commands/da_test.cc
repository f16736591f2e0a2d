// Dictionary-attack protection (Part 1 §16.8, Part 3 §25): failedTries against maxTries with
// self-healing every recoveryTime, the separate lockoutAuth lockout with lockoutRecovery, both
// measured in Time (Part 3 §25.3.1), and recovery through lockoutPolicy.

#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "engine/tpm.h"
#include "tests/engine/test_util.h"

namespace tpm2emu::engine::test {
namespace {

constexpr uint32_t kIndex = 0x01500020;
constexpr uint32_t kAuthWrite = 1u << 2;
constexpr uint32_t kAuthRead = 1u << 18;

class DaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Bytes nv_public;  // TPMS_NV_PUBLIC
    AppendBe32(nv_public, kIndex);
    AppendBe16(nv_public, TpmAlg::Sha256);
    AppendBe32(nv_public, kAuthWrite | kAuthRead);
    AppendBe16(nv_public, 0);  // authPolicy
    AppendBe16(nv_public, 8);  // dataSize
    ASSERT_SUCCESS(t_.Run(Command(TpmCc::NvDefineSpace)
                              .Handle(TpmRh::Owner)
                              .Password()
                              .Sized("pin")
                              .Sized(nv_public)));
  }
  // DA parameters, authorized with lockoutAuth `lockout`.
  Bytes SetParameters(uint32_t max_tries, uint32_t recovery_s, uint32_t lockout_recovery_s,
                      std::string_view lockout = "") {
    return t_.Run(Command(TpmCc::DictionaryAttackParameters)
                      .Handle(TpmRh::Lockout)
                      .Password(lockout)
                      .U32(max_tries)
                      .U32(recovery_s)
                      .U32(lockout_recovery_s));
  }
  // An NV_Write of the DA-protected index with `password`.
  Bytes Write(std::string_view password) {
    return t_.Run(Command(TpmCc::NvWrite)
                      .Handle(kIndex)
                      .Handle(kIndex)
                      .Password(password)
                      .Sized("12345678")
                      .U16(0));
  }
  Bytes LockReset(std::string_view lockout = "") {
    return t_.Run(
        Command(TpmCc::DictionaryAttackLockReset).Handle(TpmRh::Lockout).Password(lockout));
  }
  void AdvanceSeconds(uint64_t s) { t_.clock().Advance(s * 1000); }
  // _TPM_Init (a new instance over the same state, as after a power loss) and Startup(CLEAR).
  void PowerCycle() {
    t_.Create();
    t_.Startup();
  }

  TestTpm t_;
};

TEST_F(DaTest, FailuresLockOutAndOneIsForgivenPerRecoveryTimeOfTime) {
  ASSERT_SUCCESS(SetParameters(2, 10, 20));
  EXPECT_RC(Write("wrong"), Rc::AuthFail.Session(1));
  EXPECT_RC(Write("wrong"), Rc::AuthFail.Session(1));
  EXPECT_RC(Write("pin"), Rc::Lockout);
  // Clock moved by TPM2_ClockSet is not Time: nothing is forgiven.
  ASSERT_SUCCESS(
      t_.Run(Command(TpmCc::ClockSet).Handle(TpmRh::Owner).Password().U64(uint64_t{1} << 40)));
  EXPECT_RC(Write("pin"), Rc::Lockout);
  AdvanceSeconds(9);
  EXPECT_RC(Write("pin"), Rc::Lockout);
  AdvanceSeconds(1);
  EXPECT_SUCCESS(Write("pin"));  // failedTries 1 of 2
  EXPECT_RC(Write("wrong"), Rc::AuthFail.Session(1));
  EXPECT_RC(Write("pin"), Rc::Lockout);
  // A power loss interrupts the self-healing: the interval starts again at Startup.
  AdvanceSeconds(6);
  PowerCycle();
  AdvanceSeconds(6);
  EXPECT_RC(Write("pin"), Rc::Lockout);
  AdvanceSeconds(4);
  EXPECT_SUCCESS(Write("pin"));
  // DictionaryAttackLockReset clears every failure.
  EXPECT_RC(Write("wrong"), Rc::AuthFail.Session(1));
  ASSERT_SUCCESS(LockReset());
  EXPECT_RC(Write("wrong"), Rc::AuthFail.Session(1));
  EXPECT_SUCCESS(Write("pin"));
}

TEST_F(DaTest, RecoveryTimeZeroDisablesTheLockout) {
  ASSERT_SUCCESS(SetParameters(2, 0, 20));
  for (int i = 0; i < 5; ++i) {
    EXPECT_RC(Write("wrong"), Rc::BadAuth.Session(1));
  }
  EXPECT_SUCCESS(Write("pin"));
  // maxTries 0 with DA protection on: in lockout from the start.
  ASSERT_SUCCESS(SetParameters(0, 10, 20));
  EXPECT_RC(Write("pin"), Rc::Lockout);
}

TEST_F(DaTest, LockoutAuthFailureBlocksItForLockoutRecoveryOfTime) {
  ASSERT_SUCCESS(SetParameters(3, 10, 20));
  EXPECT_RC(LockReset("wrong"), Rc::AuthFail.Session(1));
  EXPECT_RC(LockReset(), Rc::Lockout);
  AdvanceSeconds(19);
  EXPECT_RC(LockReset(), Rc::Lockout);
  AdvanceSeconds(1);
  EXPECT_SUCCESS(LockReset());
  // Other DA-protected entities are not affected by it.
  EXPECT_RC(LockReset("wrong"), Rc::AuthFail.Session(1));
  EXPECT_SUCCESS(Write("pin"));
  // A power loss restarts the interval.
  AdvanceSeconds(15);
  PowerCycle();
  AdvanceSeconds(15);
  EXPECT_RC(LockReset(), Rc::Lockout);
  AdvanceSeconds(5);
  EXPECT_SUCCESS(LockReset());
}

TEST_F(DaTest, LockoutRecoveryZeroLastsUntilTheNextStartup) {
  ASSERT_SUCCESS(SetParameters(3, 10, 0));
  EXPECT_RC(LockReset("wrong"), Rc::AuthFail.Session(1));
  AdvanceSeconds(100000);
  EXPECT_RC(LockReset(), Rc::Lockout);
  // The next TPM2_Startup ends it.
  PowerCycle();
  EXPECT_SUCCESS(LockReset());
}

// Part 1 §16.8.5: lockoutPolicy (without PolicyAuthValue/PolicyPassword) is not subject to
// the lockout, and TPM2_DictionaryAttackLockReset authorized with it ends the lockoutAuth
// lockout.
TEST_F(DaTest, LockoutPolicyEndsTheLockoutAuthLockout) {
  ASSERT_SUCCESS(SetParameters(3, 10, 1000));
  // policyDigest = H(0^32 || TPM_CC_PolicyCommandCode || TPM_CC_DictionaryAttackLockReset)
  Bytes data(32, 0);
  AppendBe32(data, TpmCc::PolicyCommandCode);
  AppendBe32(data, TpmCc::DictionaryAttackLockReset);
  Bytes policy = *crypto::Hash(TpmAlg::Sha256, data);
  ASSERT_SUCCESS(t_.Run(Command(TpmCc::SetPrimaryPolicy)
                            .Handle(TpmRh::Lockout)
                            .Password()
                            .Sized(policy)
                            .U16(TpmAlg::Sha256)));
  EXPECT_RC(LockReset("wrong"), Rc::AuthFail.Session(1));
  EXPECT_RC(LockReset(), Rc::Lockout);

  Bytes rsp = t_.Run(Command(TpmCc::StartAuthSession)
                         .Handle(TpmRh::Null)
                         .Handle(TpmRh::Null)
                         .Sized(Bytes(16, 0xAB))
                         .Sized("")
                         .U8(0x01)  // TPM_SE_POLICY
                         .U16(TpmAlg::Null)
                         .U16(TpmAlg::Sha256));
  ASSERT_SUCCESS(rsp);
  uint32_t session = LoadBe32(rsp.data() + 10);
  ASSERT_SUCCESS(t_.Run(
      Command(TpmCc::PolicyCommandCode).Handle(session).U32(TpmCc::DictionaryAttackLockReset)));
  EXPECT_SUCCESS(t_.Run(
      WithSessions(TpmCc::DictionaryAttackLockReset, {TpmRh::Lockout}, {Auth{session, ""}}, {})));
  EXPECT_SUCCESS(LockReset());
}

}  // namespace
}  // namespace tpm2emu::engine::test
