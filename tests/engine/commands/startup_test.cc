#include <gtest/gtest.h>

#include "tests/engine/test_util.h"

namespace tpm2emu::engine::test {
namespace {

TEST(Startup, BadTypeGivesValue) {
  TestTpm t(false);
  EXPECT_RC(t.Run(Command(TpmCc::Startup).U16(7)), Rc::Value.Param(1));
}

TEST(Startup, StateWithoutSavedStateGivesValue) {
  TestTpm t(false);
  EXPECT_RC(t.Run(Command(TpmCc::Startup).U16(TpmSu::State)), Rc::Value.Param(1));
}

TEST(Startup, ResetIncrementsResetCount) {
  TestTpm t;
  uint32_t first = ReadClock(t).reset_count;
  t.tpm().Reset();
  t.Startup();
  EXPECT_EQ(ReadClock(t).reset_count, first + 1);
  EXPECT_EQ(ReadClock(t).restart_count, 0u);
}

TEST(Startup, RestartAndResumeIncrementRestartCount) {
  TestTpm t;
  ASSERT_SUCCESS(t.Run(Command(TpmCc::Shutdown).U16(TpmSu::State)));
  t.tpm().Reset();
  t.Startup(TpmSu::Clear);  // TPM Restart
  ClockInfo c = ReadClock(t);
  EXPECT_EQ(c.restart_count, 1u);
  ASSERT_SUCCESS(t.Run(Command(TpmCc::Shutdown).U16(TpmSu::State)));
  t.tpm().Reset();
  t.Startup(TpmSu::State);  // TPM Resume
  EXPECT_EQ(ReadClock(t).restart_count, 2u);
  EXPECT_EQ(ReadClock(t).reset_count, c.reset_count);
}

TEST(Startup, SavedStateIsUsedOnce) {
  TestTpm t;
  ASSERT_SUCCESS(t.Run(Command(TpmCc::Shutdown).U16(TpmSu::State)));
  t.tpm().Reset();
  t.Startup(TpmSu::State);
  t.tpm().Reset();
  EXPECT_RC(t.Run(Command(TpmCc::Startup).U16(TpmSu::State)), Rc::Value.Param(1));
}

TEST(Startup, DisorderlyShutdownMakesClockUnsafe) {
  TestTpm t;
  t.tpm().Reset();  // no Shutdown before the power cycle
  t.Startup();
  EXPECT_EQ(ReadClock(t).safe, 0);
  ASSERT_SUCCESS(t.Run(Command(TpmCc::Shutdown).U16(TpmSu::Clear)));
  t.tpm().Reset();
  t.Startup();
  t.clock().Advance(1u << 17);
  (void)ReadClock(t);
  EXPECT_EQ(ReadClock(t).safe, 1);
}

TEST(Startup, ShutdownBadTypeGivesValue) {
  TestTpm t;
  EXPECT_RC(t.Run(Command(TpmCc::Shutdown).U16(2)), Rc::Value.Param(1));
}

TEST(Clock, AdvancesAndPersistsAcrossRestart) {
  TestTpm t;
  t.clock().Advance(5000);
  uint64_t before = ReadClock(t).clock;
  EXPECT_GE(before, 5000u);
  ASSERT_TRUE(t.tpm().Flush().ok());
  t.Create();
  t.Startup();
  EXPECT_GE(ReadClock(t).clock, before);
  EXPECT_EQ(ReadClock(t).time, 0u);
}

TEST(Clock, SetMovesForwardOnly) {
  TestTpm t;
  t.clock().Advance(10);
  uint64_t now = ReadClock(t).clock;
  EXPECT_RC(t.Run(Command(TpmCc::ClockSet).Handle(TpmRh::Owner).Password().U64(0)),
            Rc::Value.Param(1));
  ASSERT_SUCCESS(
      t.Run(Command(TpmCc::ClockSet).Handle(TpmRh::Owner).Password().U64(now + 1000000)));
  EXPECT_GE(ReadClock(t).clock, now + 1000000);
  EXPECT_RC(t.Run(Command(TpmCc::ClockSet)
                      .Handle(TpmRh::Platform)
                      .Password()
                      .U64(0xFFFF000000000001ull)),
            Rc::Value.Param(1));
  EXPECT_RC(t.Run(Command(TpmCc::ClockSet).Handle(TpmRh::Endorsement).Password().U64(0)),
            Rc::Value.Handle(1));
}

TEST(Clock, RateAdjustChecksRange) {
  TestTpm t;
  EXPECT_SUCCESS(t.Run(Command(TpmCc::ClockRateAdjust).Handle(TpmRh::Owner).Password().U8(3)));
  EXPECT_RC(t.Run(Command(TpmCc::ClockRateAdjust).Handle(TpmRh::Owner).Password().U8(4)),
            Rc::Value.Param(1));
  uint64_t before = ReadClock(t).clock;
  t.clock().Advance(1000);
  EXPECT_GT(ReadClock(t).clock, before + 1000);  // running fast now
}

TEST(Hierarchy, ChangedOwnerAuthSurvivesRestart) {
  TestTpm t;
  ASSERT_SUCCESS(t.Run(
      Command(TpmCc::HierarchyChangeAuth).Handle(TpmRh::Owner).Password().Sized("pw")));
  t.Create();
  t.Startup();
  t.clock().Advance(10);
  EXPECT_RC(t.Run(Command(TpmCc::ClockSet).Handle(TpmRh::Owner).Password().U64(0)),
            Rc::BadAuth.Session(1));
  EXPECT_RC(t.Run(Command(TpmCc::ClockSet).Handle(TpmRh::Owner).Password("pw").U64(0)),
            Rc::Value.Param(1));
}

TEST(Hierarchy, PlatformAuthIsClearedByStartup) {
  TestTpm t;
  ASSERT_SUCCESS(t.Run(
      Command(TpmCc::HierarchyChangeAuth).Handle(TpmRh::Platform).Password().Sized("pp")));
  EXPECT_RC(t.Run(Command(TpmCc::ClockRateAdjust).Handle(TpmRh::Platform).Password().U8(0)),
            Rc::BadAuth.Session(1));
  t.tpm().Reset();
  t.Startup();
  EXPECT_SUCCESS(t.Run(Command(TpmCc::ClockRateAdjust).Handle(TpmRh::Platform).Password().U8(0)));
}

TEST(Hierarchy, TooLongAuthGivesSize) {
  TestTpm t;
  EXPECT_RC(t.Run(Command(TpmCc::HierarchyChangeAuth)
                      .Handle(TpmRh::Owner)
                      .Password()
                      .Sized(Bytes(33, 1))),
            Rc::Size.Param(1));
}

TEST(Hierarchy, TrailingZerosOfAuthAreIgnored) {
  TestTpm t;
  ASSERT_SUCCESS(t.Run(Command(TpmCc::HierarchyChangeAuth)
                           .Handle(TpmRh::Owner)
                           .Password()
                           .Sized(Bytes{'a', 0, 0})));
  EXPECT_SUCCESS(t.Run(Command(TpmCc::ClockRateAdjust).Handle(TpmRh::Owner).Password("a").U8(0)));
}

TEST(Random, GetRandomCapsAtDigestSize) {
  TestTpm t;
  Bytes rsp = t.Run(Command(TpmCc::GetRandom).U16(200));
  ASSERT_SUCCESS(rsp);
  auto r = Params(rsp);
  uint16_t n = 0;
  ASSERT_TRUE(r.U16(n).ok());
  EXPECT_EQ(n, 64);
  EXPECT_SUCCESS(t.Run(Command(TpmCc::StirRandom).Sized("more entropy")));
  EXPECT_RC(t.Run(Command(TpmCc::StirRandom).Sized(Bytes(129))), Rc::Size.Param(1));
}

TEST(Testing, SelfTestAndResult) {
  TestTpm t;
  EXPECT_SUCCESS(t.Run(Command(TpmCc::SelfTest).U8(1)));
  EXPECT_RC(t.Run(Command(TpmCc::SelfTest).U8(2)), Rc::Value.Param(1));
  EXPECT_SUCCESS(t.Run(Command(TpmCc::IncrementalSelfTest).U32(1).U16(TpmAlg::Sha256)));
  Bytes rsp = t.Run(Command(TpmCc::GetTestResult));
  ASSERT_SUCCESS(rsp);
  auto r = Params(rsp);
  uint16_t n = 1;
  uint32_t result = 1;
  ASSERT_TRUE(r.U16(n).ok() && r.U32(result).ok());
  EXPECT_EQ(result, 0u);
}

}  // namespace
}  // namespace tpm2emu::engine::test

namespace tpm2emu::engine::test {
namespace {

TEST(Volatile, SaveAndRestoreKeepsTimeObjectsAndSessions) {
  TestTpm t;
  t.clock().Advance(5000);
  Bytes rsp = t.Run(Command(TpmCc::HashSequenceStart).Sized("").U16(TpmAlg::Sha256));
  ASSERT_SUCCESS(rsp);
  Bytes start = Command(TpmCc::StartAuthSession)
                    .Handle(TpmRh::Null)
                    .Handle(TpmRh::Null)
                    .Sized(Bytes(16, 1))
                    .Sized("")
                    .U8(0)
                    .U16(TpmAlg::Null)
                    .U16(TpmAlg::Sha256)
                    .Build();
  ASSERT_SUCCESS(t.Run(start));
  auto blob = t.tpm().SaveVolatile();
  ASSERT_TRUE(blob.ok());
  t.Create();  // a new process
  ASSERT_TRUE(t.tpm().RestoreVolatile(*blob).ok());
  Bytes clock_rsp = t.Run(Command(TpmCc::ReadClock));
  auto r = Params(clock_rsp);
  uint64_t time = 0;
  ASSERT_TRUE(r.U64(time).ok());
  EXPECT_GE(time, 5000u);  // Time continues: no _TPM_Init happened
  Bytes handles = t.Run(Command(TpmCc::GetCapability).U32(TpmCap::Handles).U32(0x02000000).U32(8));
  auto hr = Params(handles);
  uint8_t more = 0;
  uint32_t cap = 0, n = 0;
  ASSERT_TRUE(hr.U8(more).ok() && hr.U32(cap).ok() && hr.U32(n).ok());
  EXPECT_EQ(n, 1u);  // the HMAC session survived
}

}  // namespace
}  // namespace tpm2emu::engine::test
