// _TPM_Hash_Start / _TPM_Hash_Data / _TPM_Hash_End (Part 3 §22.9-§22.11, Part 1 §31) through the
// engine API: the D-RTM after TPM2_Startup, the H-CRTM before it, and every odd order.

#include <string_view>

#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "engine/tpm.h"
#include "tests/engine/test_util.h"

namespace tpm2emu::engine::test {
namespace {

constexpr uint16_t kBanks[] = {TpmAlg::Sha1, TpmAlg::Sha256};  // allocated by default

// H(0...0 || H(data)) with the last octet of the initial value set to `initial_last`: PCR[17]
// after a D-RTM (0), PCR[0] after an H-CRTM before Startup (4).
Bytes Measured(uint16_t alg, uint8_t initial_last, ByteSpan data) {
  Bytes m(crypto::DigestSize(alg), 0);
  m.back() = initial_last;
  Bytes d = *crypto::Hash(alg, data);
  m.insert(m.end(), d.begin(), d.end());
  return *crypto::Hash(alg, m);
}

void Sequence(TestTpm& t, std::string_view data) {
  ASSERT_TRUE(t.tpm().HashStart().ok());
  t.tpm().HashData(ToBytes(data));
  ASSERT_TRUE(t.tpm().HashEnd().ok());
}

Bytes SequenceStart(TestTpm& t) {
  return t.Run(Command(TpmCc::HashSequenceStart).Sized("").U16(TpmAlg::Sha256));
}

TEST(Drtm, ExtendsPcr17InEveryBank) {
  TestTpm t;
  ASSERT_TRUE(t.tpm().HashStart().ok());
  t.tpm().HashData(ToBytes("dynamic "));
  t.tpm().HashData(ToBytes("launch"));
  ASSERT_TRUE(t.tpm().HashEnd().ok());
  for (uint16_t alg : kBanks) {
    EXPECT_EQ(ReadPcr(t, alg, 17), Measured(alg, 0, ToBytes("dynamic launch")));
  }
}

TEST(Drtm, ResetsPcrs18To22AndLeavesTheOthers) {
  TestTpm t;
  Bytes digest(32, 0xAB);
  ASSERT_SUCCESS(t.Run(
      Command(TpmCc::PcrExtend).Handle(18).Password().U32(1).U16(TpmAlg::Sha256).Raw(digest), 4));
  ASSERT_SUCCESS(t.Run(
      Command(TpmCc::PcrExtend).Handle(16).Password().U32(1).U16(TpmAlg::Sha256).Raw(digest)));
  Bytes pcr16 = ReadPcr(t, TpmAlg::Sha256, 16);
  Sequence(t, "x");
  for (uint16_t alg : kBanks) {
    for (uint32_t n = 18; n <= 22; ++n) {
      EXPECT_EQ(ReadPcr(t, alg, n), Bytes(crypto::DigestSize(alg))) << "PCR " << n;
    }
    EXPECT_EQ(ReadPcr(t, alg, 0), Bytes(crypto::DigestSize(alg)));
    EXPECT_EQ(ReadPcr(t, alg, 23), Bytes(crypto::DigestSize(alg)));
  }
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 16), pcr16);
}

TEST(Drtm, CountsOnePcrUpdateAndOneRestart) {
  TestTpm t;
  uint32_t before = 0, after = 0;
  ReadPcr(t, TpmAlg::Sha256, 17, &before);
  ClockInfo clock = ReadClock(t);
  Sequence(t, "x");
  ReadPcr(t, TpmAlg::Sha256, 17, &after);
  EXPECT_EQ(after, before + 1);
  EXPECT_EQ(ReadClock(t).restart_count, clock.restart_count + 1);
  EXPECT_EQ(ReadClock(t).reset_count, clock.reset_count);
}

TEST(Drtm, RestartCountIsCommittedAtOnce) {
  TestTpm t;
  ASSERT_SUCCESS(t.Run(Command(TpmCc::Shutdown).U16(TpmSu::State)));
  Sequence(t, "x");
  t.Create();   // the process dies: only what was committed is left
  t.Startup();  // TPM Restart
  EXPECT_EQ(ReadClock(t).restart_count, 2u);
}

TEST(Drtm, RepeatsStartAfreshEachTime) {
  TestTpm t;
  Sequence(t, "first");
  Sequence(t, "second");
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 17), Measured(TpmAlg::Sha256, 0, ToBytes("second")));
}

TEST(Drtm, CapabilityNamesPcrs17To22) {
  TestTpm t;
  Bytes rsp = t.Run(
      Command(TpmCc::GetCapability).U32(TpmCap::PcrProperties).U32(TpmPtPcr::DrtmReset).U32(1));
  ASSERT_SUCCESS(rsp);
  auto r = Params(rsp);
  uint8_t more = 0, size = 0;
  uint32_t cap = 0, count = 0, tag = 0;
  ASSERT_TRUE(r.U8(more).ok() && r.U32(cap).ok() && r.U32(count).ok() && r.U32(tag).ok() &&
              r.U8(size).ok());
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(tag, TpmPtPcr::DrtmReset);
  auto select = r.Take(size);
  ASSERT_TRUE(select.ok());
  EXPECT_EQ(ToBytes(*select), (Bytes{0x00, 0x00, 0x7E}));
}

TEST(Hcrtm, BeforeStartupMeasuresIntoPcr0) {
  TestTpm t(false);
  Sequence(t, "h-crtm code");
  t.Startup();
  uint32_t counter = 1;
  for (uint16_t alg : kBanks) {
    EXPECT_EQ(ReadPcr(t, alg, 0, &counter), Measured(alg, 4, ToBytes("h-crtm code")));
    EXPECT_EQ(ReadPcr(t, alg, 17), Bytes(crypto::DigestSize(alg), 0xFF));  // no D-RTM
  }
  EXPECT_EQ(counter, 0u);  // part of the Startup's PCR initialisation, not an update
  EXPECT_EQ(ReadClock(t).restart_count, 0u);
}

TEST(Hcrtm, WithoutDataMeasuresTheEmptyString) {
  TestTpm t(false);
  ASSERT_TRUE(t.tpm().HashStart().ok());
  ASSERT_TRUE(t.tpm().HashEnd().ok());
  t.Startup();
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 0), Measured(TpmAlg::Sha256, 4, {}));
}

TEST(Hcrtm, TakesPrecedenceOverAStartupAtLocality3) {
  TestTpm t(false);
  Sequence(t, "code");
  ASSERT_SUCCESS(t.Run(Command(TpmCc::Startup).U16(TpmSu::Clear), 3));
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha1, 0), Measured(TpmAlg::Sha1, 4, ToBytes("code")));
}

TEST(Hcrtm, StartupAtLocality3WithoutItRecordsTheLocality) {
  TestTpm t(false);
  ASSERT_SUCCESS(t.Run(Command(TpmCc::Startup).U16(TpmSu::Clear), 3));
  Bytes want(32);
  want.back() = 3;
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 0), want);
}

TEST(Hcrtm, TheLastSequenceBeforeStartupCounts) {
  TestTpm t(false);
  Sequence(t, "one");
  Sequence(t, "two");
  t.Startup();
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 0), Measured(TpmAlg::Sha256, 4, ToBytes("two")));
}

TEST(Hcrtm, KeptAcrossAFailedStartup) {
  TestTpm t(false);
  Sequence(t, "code");
  EXPECT_RC(t.Run(Command(TpmCc::Startup).U16(TpmSu::State)), Rc::Value.Param(1));
  t.Startup();
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 0), Measured(TpmAlg::Sha256, 4, ToBytes("code")));
}

TEST(Hcrtm, EndsWithTpmInit) {
  TestTpm t(false);
  Sequence(t, "code");
  t.tpm().Reset();  // _TPM_Init before the Startup
  t.Startup();
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 0), Bytes(32));
}

TEST(Hcrtm, ResumeNeedsTheSameStartupMethod) {
  TestTpm t(false);
  Sequence(t, "code");
  t.Startup();
  Bytes measured = ReadPcr(t, TpmAlg::Sha256, 0);
  ASSERT_SUCCESS(t.Run(Command(TpmCc::Shutdown).U16(TpmSu::State)));
  t.tpm().Reset();
  EXPECT_RC(t.Run(Command(TpmCc::Startup).U16(TpmSu::State)), Rc::Locality);
  Sequence(t, "other code");
  t.Startup(TpmSu::State);
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 0), measured);  // restored, not measured again

  // And without an H-CRTM, the locality must match.
  ASSERT_SUCCESS(t.Run(Command(TpmCc::Shutdown).U16(TpmSu::Clear)));
  t.tpm().Reset();
  t.Startup();
  ASSERT_SUCCESS(t.Run(Command(TpmCc::Shutdown).U16(TpmSu::State)));
  t.tpm().Reset();
  EXPECT_RC(t.Run(Command(TpmCc::Startup).U16(TpmSu::State), 3), Rc::Locality);
  Sequence(t, "code");
  EXPECT_RC(t.Run(Command(TpmCc::Startup).U16(TpmSu::State)), Rc::Locality);
  t.tpm().Reset();
  EXPECT_SUCCESS(t.Run(Command(TpmCc::Startup).U16(TpmSu::State), 1));
}

TEST(HashIndications, DataAndEndWithoutStartAreDiscarded) {
  TestTpm t;
  uint32_t before = 0, after = 0;
  ReadPcr(t, TpmAlg::Sha256, 17, &before);
  t.tpm().HashData(ToBytes("stray"));
  ASSERT_TRUE(t.tpm().HashEnd().ok());
  ASSERT_TRUE(t.tpm().HashEnd().ok());
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 17, &after), Bytes(32, 0xFF));
  EXPECT_EQ(after, before);
  EXPECT_EQ(ReadClock(t).restart_count, 0u);
  EXPECT_FALSE(t.tpm().TpmEstablished());
}

TEST(HashIndications, DataBeforeStartIsNotMeasured) {
  TestTpm t;
  t.tpm().HashData(ToBytes("before"));
  Sequence(t, "after");
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 17), Measured(TpmAlg::Sha256, 0, ToBytes("after")));
}

TEST(HashIndications, SecondStartAbandonsTheFirst) {
  TestTpm t;
  ASSERT_TRUE(t.tpm().HashStart().ok());
  t.tpm().HashData(ToBytes("abandoned"));
  ASSERT_TRUE(t.tpm().HashStart().ok());
  t.tpm().HashData(ToBytes("kept"));
  ASSERT_TRUE(t.tpm().HashEnd().ok());
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 17), Measured(TpmAlg::Sha256, 0, ToBytes("kept")));
}

TEST(HashIndications, ACommandAbandonsTheSequence) {
  TestTpm t;
  ASSERT_TRUE(t.tpm().HashStart().ok());
  t.tpm().HashData(ToBytes("x"));
  ASSERT_SUCCESS(t.Run(Command(TpmCc::GetRandom).U16(8)));
  t.tpm().HashData(ToBytes("y"));
  ASSERT_TRUE(t.tpm().HashEnd().ok());
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 17), Bytes(32, 0xFF));
  EXPECT_EQ(ReadClock(t).restart_count, 0u);

  // Before Startup too, and a failed command counts as one.
  TestTpm fresh(false);
  ASSERT_TRUE(fresh.tpm().HashStart().ok());
  EXPECT_RC(fresh.Run(Command(TpmCc::GetRandom).U16(8)), Rc::Initialize);
  ASSERT_TRUE(fresh.tpm().HashEnd().ok());
  fresh.Startup();
  EXPECT_EQ(ReadPcr(fresh, TpmAlg::Sha256, 0), Bytes(32));
}

TEST(HashIndications, StartupBetweenStartAndEndAbandonsTheSequence) {
  TestTpm t(false);
  ASSERT_TRUE(t.tpm().HashStart().ok());
  t.tpm().HashData(ToBytes("x"));
  t.Startup();
  ASSERT_TRUE(t.tpm().HashEnd().ok());
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 0), Bytes(32));
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 17), Bytes(32, 0xFF));
}

TEST(HashIndications, PowerCycleEndsTheSequence) {
  TestTpm t;
  ASSERT_TRUE(t.tpm().HashStart().ok());
  t.tpm().HashData(ToBytes("x"));
  t.tpm().PowerOff();
  t.tpm().PowerOn();
  t.tpm().HashData(ToBytes("y"));
  ASSERT_TRUE(t.tpm().HashEnd().ok());
  t.Startup();
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 0), Bytes(32));
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 17), Bytes(32, 0xFF));
}

TEST(HashIndications, IgnoredWhilePoweredOff) {
  TestTpm t(false);
  t.tpm().PowerOff();
  ASSERT_TRUE(t.tpm().HashStart().ok());
  t.tpm().HashData(ToBytes("x"));
  ASSERT_TRUE(t.tpm().HashEnd().ok());
  EXPECT_FALSE(t.tpm().TpmEstablished());
  t.tpm().PowerOn();
  t.Startup();
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 0), Bytes(32));
}

TEST(HashIndications, HugeDataIsHashedInFull) {
  TestTpm t;
  Bytes chunk(3 << 20);
  for (size_t i = 0; i < chunk.size(); ++i) {
    chunk[i] = static_cast<uint8_t>(i * 7);
  }
  ASSERT_TRUE(t.tpm().HashStart().ok());
  t.tpm().HashData(chunk);
  t.tpm().HashData({});
  t.tpm().HashData(chunk);
  ASSERT_TRUE(t.tpm().HashEnd().ok());
  Bytes all = chunk;
  all.insert(all.end(), chunk.begin(), chunk.end());
  for (uint16_t alg : kBanks) {
    EXPECT_EQ(ReadPcr(t, alg, 17), Measured(alg, 0, all));
  }
}

TEST(HashIndications, StartFlushesAnObjectWhenObjectMemoryIsFull) {
  TestTpm t;
  for (size_t i = 0; i < kMaxLoadedObjects; ++i) {
    ASSERT_SUCCESS(SequenceStart(t));
  }
  EXPECT_RC(SequenceStart(t), Rc::ObjectMemory);
  ASSERT_TRUE(t.tpm().HashStart().ok());
  t.tpm().HashData(ToBytes("x"));
  ASSERT_TRUE(t.tpm().HashEnd().ok());
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 17), Measured(TpmAlg::Sha256, 0, ToBytes("x")));
  // One slot was given up for the sequence (the highest handle), and is free again.
  uint32_t last = 0x80000000u + static_cast<uint32_t>(kMaxLoadedObjects) - 1;
  EXPECT_RC(t.Run(Command(TpmCc::SequenceUpdate).Handle(last).Password().Sized("x")),
            Rc::ReferenceH0);
  EXPECT_SUCCESS(t.Run(Command(TpmCc::SequenceUpdate).Handle(last - 1).Password().Sized("x")));
  EXPECT_SUCCESS(SequenceStart(t));
}

TEST(HashIndications, StartWithFreeObjectMemoryFlushesNothing) {
  TestTpm t;
  ASSERT_SUCCESS(SequenceStart(t));
  Sequence(t, "x");
  EXPECT_SUCCESS(t.Run(Command(TpmCc::SequenceUpdate).Handle(0x80000000).Password().Sized("x")));
}

TEST(HashIndications, StartSetsTpmEstablishedUntilReset) {
  TestTpm t;
  EXPECT_FALSE(t.tpm().TpmEstablished());
  ASSERT_TRUE(t.tpm().HashStart().ok());
  EXPECT_TRUE(t.tpm().TpmEstablished());
  t.Create();  // kept across power cycles and restarts
  EXPECT_TRUE(t.tpm().TpmEstablished());
  ASSERT_TRUE(t.tpm().ResetEstablished().ok());
  EXPECT_FALSE(t.tpm().TpmEstablished());
  t.Create();
  EXPECT_FALSE(t.tpm().TpmEstablished());
}

TEST(HashIndications, RunningSequenceSurvivesTheVolatileState) {
  TestTpm t;
  ASSERT_TRUE(t.tpm().HashStart().ok());
  t.tpm().HashData(ToBytes("first half, "));
  auto blob = t.tpm().SaveVolatile();
  ASSERT_TRUE(blob.ok());
  t.Create();  // the next process
  ASSERT_TRUE(t.tpm().RestoreVolatile(*blob).ok());
  t.tpm().HashData(ToBytes("second half"));
  ASSERT_TRUE(t.tpm().HashEnd().ok());
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 17),
            Measured(TpmAlg::Sha256, 0, ToBytes("first half, second half")));
}

TEST(HashIndications, CompletedHcrtmSurvivesTheVolatileState) {
  TestTpm t(false);
  Sequence(t, "code");
  auto blob = t.tpm().SaveVolatile();
  ASSERT_TRUE(blob.ok());
  t.Create();
  ASSERT_TRUE(t.tpm().RestoreVolatile(*blob).ok());
  t.Startup();
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 0), Measured(TpmAlg::Sha256, 4, ToBytes("code")));
}

TEST(HashIndications, VolatileStateWithoutASequenceHasNone) {
  TestTpm t;
  auto blob = t.tpm().SaveVolatile();
  ASSERT_TRUE(blob.ok());
  t.Create();
  ASSERT_TRUE(t.tpm().RestoreVolatile(*blob).ok());
  ASSERT_TRUE(t.tpm().HashEnd().ok());
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 17), Bytes(32, 0xFF));
  // A damaged H-CRTM section is refused, not half restored.
  ASSERT_TRUE(t.tpm().HashStart().ok());
  blob = t.tpm().SaveVolatile();
  ASSERT_TRUE(blob.ok());
  Bytes bad = *blob;
  bad.push_back(0);
  EXPECT_FALSE(t.tpm().RestoreVolatile(bad).ok());
  bad = *blob;
  bad.resize(bad.size() - 1);
  EXPECT_FALSE(t.tpm().RestoreVolatile(bad).ok());
}

// Random orders of indications, commands and power events: every response is well formed and
// the TPM keeps working.
TEST(HashIndications, AnyOrderIsSafe) {
  TestTpm t(false);
  uint32_t x = 4242;
  auto next = [&] {
    x = x * 1103515245u + 12345u;
    return x >> 16;
  };
  // A powered TPM answers with at least a header; a powered-off one with nothing.
  auto answered = [&](const Bytes& rsp) {
    EXPECT_EQ(rsp.empty(), !t.tpm().IsPoweredOn());
    EXPECT_TRUE(rsp.empty() || (rsp.size() >= 10 && LoadBe32(rsp.data() + 2) == rsp.size()));
  };
  for (int i = 0; i < 600; ++i) {
    switch (next() % 9) {
      case 0:
        (void)t.tpm().HashStart();
        break;
      case 1:
      case 2:
        t.tpm().HashData(Bytes(next() % 300, static_cast<uint8_t>(i)));
        break;
      case 3:
        (void)t.tpm().HashEnd();
        break;
      case 4:
        answered(t.Run(Command(TpmCc::Startup).U16(next() % 2 == 0 ? TpmSu::Clear : TpmSu::State),
                       static_cast<uint8_t>(next() % 5)));
        break;
      case 5:
        answered(t.Run(Command(TpmCc::Shutdown).U16(TpmSu::State)));
        break;
      case 6:
        if (next() % 4 == 0) {
          t.tpm().PowerOff();
        } else if (next() % 3 == 0) {
          t.tpm().Reset();
        } else {
          t.tpm().PowerOn();
        }
        break;
      case 7:
        answered(SequenceStart(t));
        break;
      default: {
        auto blob = t.tpm().SaveVolatile();
        ASSERT_TRUE(blob.ok());
        ASSERT_TRUE(t.tpm().RestoreVolatile(*blob).ok());
        break;
      }
    }
  }
  t.tpm().PowerOn();
  t.tpm().Reset();
  t.Startup();
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 23), Bytes(32));
}

}  // namespace
}  // namespace tpm2emu::engine::test
