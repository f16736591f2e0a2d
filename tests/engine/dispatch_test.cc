#include <gtest/gtest.h>

#include "tests/engine/test_util.h"

namespace tpm2emu::engine::test {
namespace {

TEST(Dispatch, CommandBeforeStartupGivesInitialize) {
  TestTpm t(/*start=*/false);
  EXPECT_RC(t.Run(Command(TpmCc::GetRandom).U16(8)), Rc::Initialize);
}

TEST(Dispatch, SecondStartupGivesInitialize) {
  TestTpm t;
  EXPECT_RC(t.Run(Command(TpmCc::Startup).U16(TpmSu::Clear)), Rc::Initialize);
}

TEST(Dispatch, BadTagGivesBadTag) {
  TestTpm t;
  Bytes cmd = Command(TpmCc::GetRandom).U16(8).Build();
  cmd[1] = 0x03;
  EXPECT_RC(t.Run(cmd), Rc::BadTag);
}

TEST(Dispatch, SizeMismatchGivesCommandSize) {
  TestTpm t;
  Bytes cmd = Command(TpmCc::GetRandom).U16(8).Build();
  cmd.push_back(0);
  EXPECT_RC(t.Run(cmd), Rc::CommandSize);
  EXPECT_RC(t.Run(Bytes{0x80, 0x01, 0, 0}), Rc::CommandSize);
}

TEST(Dispatch, UnknownCommandGivesCommandCode) {
  TestTpm t;
  EXPECT_RC(t.Run(Command(0x000001FF)), Rc::CommandCode);
}

TEST(Dispatch, TruncatedParameterGivesInsufficientWithPosition) {
  TestTpm t;
  Bytes cmd = Command(TpmCc::GetRandom).U8(8).Build();
  EXPECT_RC(t.Run(cmd), Rc::Insufficient.Param(1));
}

TEST(Dispatch, TrailingOctetsGiveSize) {
  TestTpm t;
  EXPECT_RC(t.Run(Command(TpmCc::GetRandom).U16(8).U8(0)), Rc::Size);
}

TEST(Dispatch, MissingAuthorizationGivesAuthMissing) {
  TestTpm t;
  EXPECT_RC(t.Run(Command(TpmCc::HierarchyChangeAuth).Handle(TpmRh::Owner).Sized("x")),
            Rc::AuthMissing);
}

TEST(Dispatch, WrongPasswordGivesBadAuthForSessionOne) {
  TestTpm t;
  ASSERT_SUCCESS(t.Run(
      Command(TpmCc::HierarchyChangeAuth).Handle(TpmRh::Owner).Password().Sized("secret")));
  EXPECT_RC(t.Run(Command(TpmCc::HierarchyChangeAuth)
                      .Handle(TpmRh::Owner)
                      .Password("wrong")
                      .Sized("x")),
            Rc::BadAuth.Session(1));
  EXPECT_SUCCESS(t.Run(
      Command(TpmCc::HierarchyChangeAuth).Handle(TpmRh::Owner).Password("secret").Sized("")));
}

TEST(Dispatch, LockoutWrongPasswordGivesAuthFail) {
  TestTpm t;
  ASSERT_SUCCESS(t.Run(
      Command(TpmCc::HierarchyChangeAuth).Handle(TpmRh::Lockout).Password().Sized("lock")));
  EXPECT_RC(t.Run(Command(TpmCc::HierarchyChangeAuth)
                      .Handle(TpmRh::Lockout)
                      .Password("nope")
                      .Sized("x")),
            Rc::AuthFail.Session(1));
}

TEST(Dispatch, SessionsOnStartupGiveAuthContext) {
  TestTpm t(/*start=*/false);
  EXPECT_RC(t.Run(Command(TpmCc::Startup).Password().U16(0)), Rc::AuthContext);
}

TEST(Dispatch, UnloadedHmacSessionGivesReferenceS0) {
  TestTpm t;
  Bytes cmd = Command(TpmCc::PcrExtend).Handle(16).Password().U32(0).Build();
  // Turn TPM_RS_PW into an HMAC session handle.
  StoreBe32(&cmd[10 + 4 + 4], 0x02000000);
  EXPECT_RC(t.Run(cmd), Rc::ReferenceS0);
}

TEST(Dispatch, BadAuthSizeGivesAuthSize) {
  TestTpm t;
  Bytes cmd = Command(TpmCc::PcrExtend).Handle(16).Password().U32(0).Build();
  StoreBe32(&cmd[14], 4);
  EXPECT_RC(t.Run(cmd), Rc::AuthSize);
}

TEST(Dispatch, PasswordSessionWithNonceGivesNonce) {
  TestTpm t;
  Command c(TpmCc::PcrExtend);
  Bytes cmd;
  AppendBe16(cmd, TpmSt::Sessions);
  AppendBe32(cmd, 0);
  AppendBe32(cmd, TpmCc::PcrExtend);
  AppendBe32(cmd, 16);
  AppendBe32(cmd, 4 + 2 + 2 + 1 + 2);
  AppendBe32(cmd, TpmRh::Pw);
  AppendBe16(cmd, 2);
  cmd.push_back(1);
  cmd.push_back(2);
  cmd.push_back(1);
  AppendBe16(cmd, 0);
  AppendBe32(cmd, 0);  // empty TPML_DIGEST_VALUES
  StoreBe32(&cmd[2], static_cast<uint32_t>(cmd.size()));
  EXPECT_RC(t.Run(cmd), Rc::Nonce.Session(1));
}

TEST(Dispatch, BadHandleValueGivesValueWithHandlePosition) {
  TestTpm t;
  EXPECT_RC(t.Run(Command(TpmCc::PcrReset).Handle(24).Password()), Rc::Value.Handle(1));
  EXPECT_RC(t.Run(Command(TpmCc::HierarchyChangeAuth).Handle(TpmRh::Null).Password().Sized("")),
            Rc::Value.Handle(1));
}

TEST(Dispatch, UnloadedTransientGivesReferenceH0) {
  TestTpm t;
  EXPECT_RC(t.Run(Command(TpmCc::SequenceUpdate).Handle(0x80000042).Password().Sized("x")),
            Rc::ReferenceH0);
}

TEST(Dispatch, ResponseWithSessionsCarriesParameterSizeAndAuthArea) {
  TestTpm t;
  Bytes rsp = t.Run(Command(TpmCc::PcrExtend).Handle(16).Password().U32(0));
  ASSERT_SUCCESS(rsp);
  ASSERT_EQ(rsp.size(), 10u + 4u + 5u);
  EXPECT_EQ(LoadBe16(rsp.data()), TpmSt::Sessions);
  EXPECT_EQ(LoadBe32(rsp.data() + 10), 0u);
  EXPECT_EQ(rsp[16], 0x01);  // continueSession echoed
}

TEST(Dispatch, PoweredOffTpmGivesEmptyResponse) {
  TestTpm t;
  t.tpm().PowerOff();
  EXPECT_TRUE(t.Run(Command(TpmCc::GetRandom).U16(8)).empty());
}

TEST(Dispatch, RandomFramesAlwaysGetWellFormedResponses) {
  TestTpm t;
  uint32_t x = 12345;
  auto next = [&] {
    x = x * 1103515245u + 12345u;
    return static_cast<uint8_t>(x >> 16);
  };
  const Bytes seeds[] = {
      Command(TpmCc::GetRandom).U16(8).Build(),
      Command(TpmCc::PcrExtend).Handle(16).Password().U32(1).U16(TpmAlg::Sha1).Raw(Bytes(20)).Build(),
      Command(TpmCc::GetCapability).U32(6).U32(0x100).U32(100).Build(),
      Command(TpmCc::Hash).Sized("abc").U16(TpmAlg::Sha256).U32(TpmRh::Owner).Build(),
  };
  for (int i = 0; i < 3000; ++i) {
    Bytes cmd = seeds[i % 4];
    int flips = 1 + next() % 4;
    for (int f = 0; f < flips; ++f) {
      cmd[next() % cmd.size()] = next();
    }
    if (next() % 8 == 0) {
      cmd.resize(next() % (cmd.size() + 1));
    }
    Bytes rsp = t.Run(cmd);
    ASSERT_GE(rsp.size(), 10u);
    ASSERT_EQ(LoadBe32(rsp.data() + 2), rsp.size());
  }
}

}  // namespace
}  // namespace tpm2emu::engine::test
