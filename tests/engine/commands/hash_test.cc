#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "engine/tpm.h"
#include "tests/engine/test_util.h"

namespace tpm2emu::engine::test {
namespace {

struct HashResult {
  Bytes digest;
  uint16_t tag = 0;
  uint32_t hierarchy = 0;
  Bytes ticket;
};

HashResult ParseHashResult(const Bytes& rsp) {
  auto r = Params(rsp);
  HashResult h;
  uint16_t n = 0;
  EXPECT_TRUE(r.U16(n).ok());
  h.digest = ToBytes(*r.Take(n));
  EXPECT_TRUE(r.U16(h.tag).ok() && r.U32(h.hierarchy).ok() && r.U16(n).ok());
  h.ticket = ToBytes(*r.Take(n));
  EXPECT_TRUE(r.empty());
  return h;
}

TEST(Hash, MatchesSoftwareAndGivesTicket) {
  TestTpm t;
  Bytes rsp = t.Run(Command(TpmCc::Hash).Sized("abc").U16(TpmAlg::Sha256).U32(TpmRh::Owner));
  ASSERT_SUCCESS(rsp);
  HashResult h = ParseHashResult(rsp);
  EXPECT_EQ(h.digest, *crypto::Hash(TpmAlg::Sha256, ToBytes("abc")));
  EXPECT_EQ(h.tag, TpmSt::Hashcheck);
  EXPECT_EQ(h.hierarchy, TpmRh::Owner);
  EXPECT_EQ(h.ticket.size(), 32u);
}

TEST(Hash, NullHierarchyOrGeneratedValueGivesNullTicket) {
  TestTpm t;
  HashResult h = ParseHashResult(
      t.Run(Command(TpmCc::Hash).Sized("abc").U16(TpmAlg::Sha1).U32(TpmRh::Null)));
  EXPECT_EQ(h.hierarchy, TpmRh::Null);
  EXPECT_TRUE(h.ticket.empty());
  Bytes generated{0xFF, 'T', 'C', 'G', 1};
  h = ParseHashResult(
      t.Run(Command(TpmCc::Hash).Sized(generated).U16(TpmAlg::Sha1).U32(TpmRh::Owner)));
  EXPECT_EQ(h.hierarchy, TpmRh::Null);
  EXPECT_TRUE(h.ticket.empty());
}

TEST(Hash, BadAlgorithmGivesHashParam2) {
  TestTpm t;
  EXPECT_RC(t.Run(Command(TpmCc::Hash).Sized("abc").U16(TpmAlg::Null).U32(TpmRh::Owner)),
            Rc::Hash.Param(2));
  EXPECT_RC(t.Run(Command(TpmCc::Hash).Sized(Bytes(1025)).U16(TpmAlg::Sha1).U32(TpmRh::Owner)),
            Rc::Size.Param(1));
  EXPECT_RC(t.Run(Command(TpmCc::Hash).Sized("abc").U16(TpmAlg::Sha1).U32(TpmRh::Lockout)),
            Rc::Value.Param(3));
}

uint32_t StartSequence(TestTpm& t, uint16_t alg, std::string_view auth) {
  Bytes rsp = t.Run(Command(TpmCc::HashSequenceStart).Sized(auth).U16(alg));
  EXPECT_SUCCESS(rsp);
  return rsp.size() >= 14 ? LoadBe32(rsp.data() + 10) : 0;
}

TEST(HashSequence, LongDataMatchesSoftware) {
  TestTpm t;
  uint32_t h = StartSequence(t, TpmAlg::Sha384, "seqauth");
  EXPECT_EQ(h >> 24, 0x80u);
  Bytes all;
  for (int i = 0; i < 3; ++i) {
    Bytes chunk(1024, static_cast<uint8_t>(i));
    all.insert(all.end(), chunk.begin(), chunk.end());
    ASSERT_SUCCESS(t.Run(Command(TpmCc::SequenceUpdate).Handle(h).Password("seqauth").Sized(chunk)));
  }
  Bytes rsp = t.Run(
      Command(TpmCc::SequenceComplete).Handle(h).Password("seqauth").Sized("end").U32(TpmRh::Owner));
  ASSERT_SUCCESS(rsp);
  all.insert(all.end(), {'e', 'n', 'd'});
  HashResult r = ParseHashResult(rsp);
  EXPECT_EQ(r.digest, *crypto::Hash(TpmAlg::Sha384, all));
  EXPECT_EQ(r.hierarchy, TpmRh::Owner);
  // The sequence is gone.
  EXPECT_RC(t.Run(Command(TpmCc::SequenceUpdate).Handle(h).Password("seqauth").Sized("x")),
            Rc::ReferenceH0);
}

TEST(HashSequence, WrongAuthGivesBadAuth) {
  TestTpm t;
  uint32_t h = StartSequence(t, TpmAlg::Sha256, "a");
  EXPECT_RC(t.Run(Command(TpmCc::SequenceUpdate).Handle(h).Password("b").Sized("x")),
            Rc::BadAuth.Session(1));
}

TEST(HashSequence, ObjectSlotsAreLimited) {
  TestTpm t;
  for (size_t i = 0; i < kMaxLoadedObjects; ++i) {
    StartSequence(t, TpmAlg::Sha256, "");
  }
  EXPECT_RC(t.Run(Command(TpmCc::HashSequenceStart).Sized("").U16(TpmAlg::Sha256)),
            Rc::ObjectMemory);
}

TEST(EventSequence, ExtendsPcrAndReturnsAllDigests) {
  TestTpm t;
  uint32_t h = StartSequence(t, TpmAlg::Null, "");
  ASSERT_SUCCESS(t.Run(Command(TpmCc::SequenceUpdate).Handle(h).Password().Sized("ab")));
  Bytes rsp = t.Run(
      Command(TpmCc::EventSequenceComplete).Handle(16).Handle(h).Password().Password().Sized("c"));
  ASSERT_SUCCESS(rsp);
  auto r = Params(rsp);
  uint32_t n = 0;
  ASSERT_TRUE(r.U32(n).ok());
  ASSERT_EQ(n, 4u);
  uint16_t alg = 0;
  ASSERT_TRUE(r.U16(alg).ok());
  EXPECT_EQ(alg, TpmAlg::Sha1);
  EXPECT_EQ(ToBytes(*r.Take(20)), *crypto::Hash(TpmAlg::Sha1, ToBytes("abc")));
}

// The saved volatile state is the TPM's memory handed to the next process (in-process TCTI,
// state blobs): a sequence half way through goes on there, with its auth and the first-block
// flag (so its ticket is still given).
TEST(HashSequence, SequencesSurviveSavedVolatileState) {
  TestTpm t;
  uint32_t hash = StartSequence(t, TpmAlg::Sha512, "v");
  uint32_t event = StartSequence(t, TpmAlg::Null, "");
  const Bytes first(100, 0x61);
  ASSERT_SUCCESS(t.Run(Command(TpmCc::SequenceUpdate).Handle(hash).Password("v").Sized(first)));
  ASSERT_SUCCESS(t.Run(Command(TpmCc::SequenceUpdate).Handle(event).Password().Sized(first)));
  auto blob = t.tpm().SaveVolatile();
  ASSERT_TRUE(blob.ok());
  t.Create();  // a new process
  ASSERT_TRUE(t.tpm().RestoreVolatile(*blob).ok());
  EXPECT_RC(t.Run(Command(TpmCc::SequenceUpdate).Handle(hash).Password("w").Sized("x")),
            Rc::BadAuth.Session(1));
  Bytes rsp = t.Run(
      Command(TpmCc::SequenceComplete).Handle(hash).Password("v").Sized("end").U32(TpmRh::Owner));
  ASSERT_SUCCESS(rsp);
  Bytes all = first;
  all.insert(all.end(), {'e', 'n', 'd'});
  HashResult r = ParseHashResult(rsp);
  EXPECT_EQ(r.digest, *crypto::Hash(TpmAlg::Sha512, all));
  EXPECT_EQ(r.hierarchy, TpmRh::Owner);
  EXPECT_EQ(r.ticket.size(), 32u);
  rsp = t.Run(Command(TpmCc::EventSequenceComplete)
                  .Handle(TpmRh::Null)
                  .Handle(event)
                  .Password()
                  .Password()
                  .Sized("end"));
  ASSERT_SUCCESS(rsp);
  auto p = Params(rsp);
  uint32_t n = 0;
  ASSERT_TRUE(p.U32(n).ok());
  ASSERT_EQ(n, 4u);
  for (uint16_t want : wire::kHashAlgs) {
    uint16_t alg = 0;
    ASSERT_TRUE(p.U16(alg).ok());
    EXPECT_EQ(alg, want);
    const Bytes expected = *crypto::Hash(alg, all);
    EXPECT_EQ(ToBytes(*p.Take(expected.size())), expected) << "bank " << alg;
  }
}

TEST(EventSequence, CompleteOnEventSequenceGivesMode) {
  TestTpm t;
  uint32_t h = StartSequence(t, TpmAlg::Null, "");
  EXPECT_RC(t.Run(Command(TpmCc::SequenceComplete).Handle(h).Password().Sized("").U32(TpmRh::Null)),
            Rc::Mode.Handle(1));
}

TEST(Capability, FixedPropertiesStartWithFamily) {
  TestTpm t;
  Bytes rsp = t.Run(Command(TpmCc::GetCapability).U32(TpmCap::TpmProperties).U32(TpmPt::Fixed).U32(1));
  ASSERT_SUCCESS(rsp);
  auto r = Params(rsp);
  uint8_t more = 0;
  uint32_t cap = 0, n = 0, tag = 0, value = 0;
  ASSERT_TRUE(r.U8(more).ok() && r.U32(cap).ok() && r.U32(n).ok() && r.U32(tag).ok() &&
              r.U32(value).ok());
  EXPECT_EQ(more, 1);
  EXPECT_EQ(cap, TpmCap::TpmProperties);
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(tag, TpmPt::FamilyIndicator);
  EXPECT_EQ(value, 0x322E3000u);
}

TEST(Capability, CommandsListsEveryImplementedCommand) {
  TestTpm t;
  Bytes rsp = t.Run(Command(TpmCc::GetCapability).U32(TpmCap::Commands).U32(0).U32(1000));
  ASSERT_SUCCESS(rsp);
  auto r = Params(rsp);
  uint8_t more = 1;
  uint32_t cap = 0, n = 0;
  ASSERT_TRUE(r.U8(more).ok() && r.U32(cap).ok() && r.U32(n).ok());
  EXPECT_EQ(more, 0);
  bool saw_startup = false;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t a = 0;
    ASSERT_TRUE(r.U32(a).ok());
    saw_startup |= (a & 0xFFFF) == (TpmCc::Startup & 0xFFFF);
    // Every listed command must answer something other than TPM_RC_COMMAND_CODE.
    EXPECT_NE(ResponseCode(t.Run(Command(a & 0xFFFF))), Rc::CommandCode.value());
  }
  EXPECT_TRUE(saw_startup);
}

TEST(Capability, UnknownCapabilityGivesValue) {
  TestTpm t;
  EXPECT_RC(t.Run(Command(TpmCc::GetCapability).U32(0x55).U32(0).U32(1)), Rc::Value.Param(1));
  EXPECT_RC(t.Run(Command(TpmCc::GetCapability).U32(TpmCap::Handles).U32(0x05000000).U32(1)),
            Rc::Handle.Param(2));
}

TEST(Capability, HandlesListsLoadedSequences) {
  TestTpm t;
  uint32_t h = StartSequence(t, TpmAlg::Sha256, "");
  Bytes rsp = t.Run(Command(TpmCc::GetCapability).U32(TpmCap::Handles).U32(0x80000000).U32(10));
  auto r = Params(rsp);
  uint8_t more = 0;
  uint32_t cap = 0, n = 0, got = 0;
  ASSERT_TRUE(r.U8(more).ok() && r.U32(cap).ok() && r.U32(n).ok() && r.U32(got).ok());
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(got, h);
}

TEST(Capability, TestParmsChecksParameters) {
  TestTpm t;
  // RSA-2048, no symmetric, no scheme, default exponent: supported.
  EXPECT_SUCCESS(t.Run(Command(TpmCc::TestParms)
                           .U16(TpmAlg::Rsa)
                           .U16(TpmAlg::Null)
                           .U16(TpmAlg::Null)
                           .U16(2048)
                           .U32(0)));
  EXPECT_RC(t.Run(Command(TpmCc::TestParms)
                      .U16(TpmAlg::Rsa)
                      .U16(TpmAlg::Null)
                      .U16(TpmAlg::Null)
                      .U16(1000)
                      .U32(0)),
            Rc::Value.Param(1));
  EXPECT_RC(t.Run(Command(TpmCc::TestParms).U16(TpmAlg::Sha256)), Rc::Type.Param(1));
  // ECC P-192 is not implemented.
  EXPECT_RC(t.Run(Command(TpmCc::TestParms)
                      .U16(TpmAlg::Ecc)
                      .U16(TpmAlg::Null)
                      .U16(TpmAlg::Null)
                      .U16(TpmEccCurve::NistP192)
                      .U16(TpmAlg::Null)),
            Rc::Curve.Param(1));
}

}  // namespace
}  // namespace tpm2emu::engine::test
