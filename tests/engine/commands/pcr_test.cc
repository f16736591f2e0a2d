#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "tests/engine/test_util.h"

namespace tpm2emu::engine::test {
namespace {

Bytes Extended(uint16_t alg, const Bytes& old, const Bytes& digest) {
  Bytes m = old;
  m.insert(m.end(), digest.begin(), digest.end());
  return *crypto::Hash(alg, m);
}

TEST(Pcr, ExtendMatchesSoftwareComputation) {
  TestTpm t;
  Bytes digest = *crypto::Hash(TpmAlg::Sha256, ToBytes("event"));
  ASSERT_SUCCESS(t.Run(
      Command(TpmCc::PcrExtend).Handle(16).Password().U32(1).U16(TpmAlg::Sha256).Raw(digest)));
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 16), Extended(TpmAlg::Sha256, Bytes(32), digest));
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha1, 16), Bytes(20));  // other bank untouched
}

TEST(Pcr, EventExtendsEveryAllocatedBank) {
  TestTpm t;
  Bytes rsp = t.Run(Command(TpmCc::PcrEvent).Handle(23).Password().Sized("hello"));
  ASSERT_SUCCESS(rsp);
  auto r = Params(rsp);
  uint32_t n = 0;
  ASSERT_TRUE(r.U32(n).ok());
  EXPECT_EQ(n, 4u);
  for (uint16_t alg : {TpmAlg::Sha1, TpmAlg::Sha256}) {
    Bytes d = *crypto::Hash(alg, ToBytes("hello"));
    EXPECT_EQ(ReadPcr(t, alg, 23), Extended(alg, Bytes(crypto::DigestSize(alg)), d));
  }
}

TEST(Pcr, ResetOfStaticPcrGivesLocality) {
  TestTpm t;
  EXPECT_RC(t.Run(Command(TpmCc::PcrReset).Handle(0).Password()), Rc::Locality);
  EXPECT_RC(t.Run(Command(TpmCc::PcrReset).Handle(17).Password()), Rc::Locality);
  EXPECT_SUCCESS(t.Run(Command(TpmCc::PcrReset).Handle(17).Password(), 4));
}

TEST(Pcr, ResetClearsResettablePcr) {
  TestTpm t;
  Bytes digest(32, 0xAB);
  ASSERT_SUCCESS(t.Run(
      Command(TpmCc::PcrExtend).Handle(16).Password().U32(1).U16(TpmAlg::Sha256).Raw(digest)));
  ASSERT_SUCCESS(t.Run(Command(TpmCc::PcrReset).Handle(16).Password()));
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 16), Bytes(32));
}

TEST(Pcr, DrtmPcrsStartAtAllOnes) {
  TestTpm t;
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 17), Bytes(32, 0xFF));
}

TEST(Pcr, ExtendAtWrongLocalityGivesLocality) {
  TestTpm t;
  EXPECT_RC(t.Run(Command(TpmCc::PcrExtend).Handle(21).Password().U32(0)), Rc::Locality);
  EXPECT_SUCCESS(t.Run(Command(TpmCc::PcrExtend).Handle(21).Password().U32(0), 2));
}

TEST(Pcr, UpdateCounterCountsStaticPcrExtends) {
  TestTpm t;
  uint32_t before = 0, after = 0;
  ReadPcr(t, TpmAlg::Sha256, 0, &before);
  ASSERT_SUCCESS(t.Run(Command(TpmCc::PcrExtend).Handle(5).Password().U32(0)));
  ReadPcr(t, TpmAlg::Sha256, 0, &after);
  EXPECT_EQ(after, before + 1);
}

TEST(Pcr, ReadOfUnallocatedBankReturnsEmptySelection) {
  TestTpm t;
  EXPECT_TRUE(ReadPcr(t, TpmAlg::Sha384, 0).empty());
}

TEST(Pcr, ReadReturnsAtMostEightDigests) {
  TestTpm t;
  Bytes rsp = t.Run(Command(TpmCc::PcrRead).U32(1).U16(TpmAlg::Sha256).U8(3).Raw(Bytes{0xFF, 0xFF, 0xFF}));
  ASSERT_SUCCESS(rsp);
  auto r = Params(rsp);
  uint32_t c = 0, nsel = 0, ndig = 0;
  ASSERT_TRUE(r.U32(c).ok() && r.U32(nsel).ok());
  uint16_t alg = 0;
  uint8_t size = 0;
  ASSERT_TRUE(r.U16(alg).ok() && r.U8(size).ok());
  auto bits = r.Take(3);
  ASSERT_TRUE(bits.ok());
  EXPECT_EQ((*bits)[0], 0xFF);
  EXPECT_EQ((*bits)[1], 0x00);
  ASSERT_TRUE(r.U32(ndig).ok());
  EXPECT_EQ(ndig, 8u);
}

TEST(Pcr, BadSelectSizeGivesValue) {
  TestTpm t;
  EXPECT_RC(t.Run(Command(TpmCc::PcrRead).U32(1).U16(TpmAlg::Sha256).U8(4).Raw(Bytes(4))),
            Rc::Value.Param(1));
  EXPECT_RC(t.Run(Command(TpmCc::PcrRead).U32(1).U16(0x0099).U8(3).Raw(Bytes(3))),
            Rc::Hash.Param(1));
}

TEST(Pcr, AllocateTakesEffectAtNextReset) {
  TestTpm t;
  Bytes rsp = t.Run(Command(TpmCc::PcrAllocate)
                        .Handle(TpmRh::Platform)
                        .Password()
                        .U32(2)
                        .U16(TpmAlg::Sha1)
                        .U8(3)
                        .Raw(Bytes(3))
                        .U16(TpmAlg::Sha384)
                        .U8(3)
                        .Raw(Bytes{0xFF, 0xFF, 0xFF}));
  ASSERT_SUCCESS(rsp);
  auto r = Params(rsp);
  uint8_t success = 0;
  ASSERT_TRUE(r.U8(success).ok());
  EXPECT_EQ(success, 1);
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha1, 0), Bytes(20));  // still allocated until the reset
  t.tpm().Reset();
  t.Startup();
  EXPECT_TRUE(ReadPcr(t, TpmAlg::Sha1, 0).empty());
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha384, 0), Bytes(48));
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 0), Bytes(32));  // not listed: unchanged
}

TEST(Pcr, AllocateNeedsPlatformAuth) {
  TestTpm t;
  EXPECT_RC(t.Run(Command(TpmCc::PcrAllocate).Handle(TpmRh::Owner).Password().U32(0)),
            Rc::Value.Handle(1));
}

TEST(Pcr, ShutdownStateKeepsStaticPcrsAcrossResume) {
  TestTpm t;
  Bytes digest(32, 0x11);
  ASSERT_SUCCESS(t.Run(
      Command(TpmCc::PcrExtend).Handle(7).Password().U32(1).U16(TpmAlg::Sha256).Raw(digest)));
  ASSERT_SUCCESS(t.Run(
      Command(TpmCc::PcrExtend).Handle(16).Password().U32(1).U16(TpmAlg::Sha256).Raw(digest)));
  Bytes pcr7 = ReadPcr(t, TpmAlg::Sha256, 7);
  ASSERT_SUCCESS(t.Run(Command(TpmCc::Shutdown).U16(TpmSu::State)));
  t.Create();  // a new process over the same state
  t.Startup(TpmSu::State);
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 7), pcr7);
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 16), Bytes(32));
}

TEST(Pcr, ResetClearsStaticPcrs) {
  TestTpm t;
  ASSERT_SUCCESS(t.Run(Command(TpmCc::PcrExtend)
                           .Handle(7)
                           .Password()
                           .U32(1)
                           .U16(TpmAlg::Sha256)
                           .Raw(Bytes(32, 1))));
  ASSERT_SUCCESS(t.Run(Command(TpmCc::Shutdown).U16(TpmSu::Clear)));
  t.tpm().Reset();
  t.Startup();
  EXPECT_EQ(ReadPcr(t, TpmAlg::Sha256, 7), Bytes(32));
}

}  // namespace
}  // namespace tpm2emu::engine::test
