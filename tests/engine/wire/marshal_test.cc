// Cross-checks our generic marshaling against libtss2-mu on real structures.

#include <gtest/gtest.h>
#include <tss2/tss2_mu.h>

#include <cstring>

#include "engine/wire/types.h"

namespace tpm2emu::wire {
namespace {

TEST(Marshal, PcrSelectionListMatchesTss2Mu) {
  TPML_PCR_SELECTION ref{};
  ref.count = 2;
  ref.pcrSelections[0].hash = TPM2_ALG_SHA1;
  ref.pcrSelections[0].sizeofSelect = 3;
  ref.pcrSelections[0].pcrSelect[0] = 0x81;
  ref.pcrSelections[1].hash = TPM2_ALG_SHA256;
  ref.pcrSelections[1].sizeofSelect = 3;
  ref.pcrSelections[1].pcrSelect[2] = 0x80;
  uint8_t buf[256];
  size_t off = 0;
  ASSERT_EQ(Tss2_MU_TPML_PCR_SELECTION_Marshal(&ref, buf, sizeof(buf), &off), TSS2_RC_SUCCESS);

  auto ours = UnmarshalExact<TpmlPcrSelection>(ByteSpan(buf, off));
  ASSERT_TRUE(ours.ok());
  ASSERT_EQ(ours->items.size(), 2u);
  EXPECT_EQ(ours->items[0].hash, TpmAlg::Sha1);
  EXPECT_TRUE(ours->items[0].IsSelected(0));
  EXPECT_TRUE(ours->items[0].IsSelected(7));
  EXPECT_TRUE(ours->items[1].IsSelected(23));
  EXPECT_EQ(MarshalToBytes(*ours), Bytes(buf, buf + off));
}

TEST(Marshal, DigestValuesMatchTss2Mu) {
  TPML_DIGEST_VALUES ref{};
  ref.count = 2;
  ref.digests[0].hashAlg = TPM2_ALG_SHA256;
  std::memset(ref.digests[0].digest.sha256, 0xAA, 32);
  ref.digests[1].hashAlg = TPM2_ALG_SHA512;
  std::memset(ref.digests[1].digest.sha512, 0x55, 64);
  uint8_t buf[512];
  size_t off = 0;
  ASSERT_EQ(Tss2_MU_TPML_DIGEST_VALUES_Marshal(&ref, buf, sizeof(buf), &off), TSS2_RC_SUCCESS);
  auto ours = UnmarshalExact<TpmlDigestValues>(ByteSpan(buf, off));
  ASSERT_TRUE(ours.ok());
  ASSERT_EQ(ours->items.size(), 2u);
  EXPECT_EQ(ours->items[1].digest, Bytes(64, 0x55));
  EXPECT_EQ(MarshalToBytes(*ours), Bytes(buf, buf + off));
}

TEST(Marshal, TimeInfoAndTicketRoundTripThroughTss2Mu) {
  TpmsTimeInfo ours;
  ours.time = 0x0102030405060708ull;
  ours.clock_info.clock = 99;
  ours.clock_info.reset_count = 3;
  ours.clock_info.restart_count = 4;
  ours.clock_info.safe = 1;
  Bytes bytes = MarshalToBytes(ours);
  TPMS_TIME_INFO ref{};
  size_t off = 0;
  ASSERT_EQ(Tss2_MU_TPMS_TIME_INFO_Unmarshal(bytes.data(), bytes.size(), &off, &ref),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(off, bytes.size());
  EXPECT_EQ(ref.time, ours.time);
  EXPECT_EQ(ref.clockInfo.resetCount, 3u);
  EXPECT_EQ(ref.clockInfo.safe, 1);

  TpmtTkHashcheck ticket;
  ticket.hierarchy.value = TpmRh::Owner;
  ticket.digest.data = Bytes(32, 7);
  bytes = MarshalToBytes(ticket);
  TPMT_TK_HASHCHECK ref_ticket{};
  off = 0;
  ASSERT_EQ(Tss2_MU_TPMT_TK_HASHCHECK_Unmarshal(bytes.data(), bytes.size(), &off, &ref_ticket),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(ref_ticket.tag, TPM2_ST_HASHCHECK);
  EXPECT_EQ(ref_ticket.hierarchy, TPM2_RH_OWNER);
  EXPECT_EQ(ref_ticket.digest.size, 32);
}

TEST(Marshal, LimitsGiveSpecCodes) {
  Bytes too_big{0x00, 0x41};  // a TPM2B_DIGEST of 65 octets
  too_big.resize(2 + 65);
  EXPECT_EQ(UnmarshalExact<Tpm2bDigest>(too_big).error(), Rc::Size);
  Bytes short_buf{0x00, 0x05, 1, 2};
  EXPECT_EQ(UnmarshalExact<Tpm2bDigest>(short_buf).error(), Rc::Insufficient);
  Bytes list{0, 0, 0, 5};  // TPML_PCR_SELECTION with more than HASH_COUNT entries
  EXPECT_EQ(UnmarshalExact<TpmlPcrSelection>(list).error(), Rc::Size);
  Bytes bad_hash{0x00, 0x99};
  EXPECT_EQ(UnmarshalExact<TpmiAlgHash>(bad_hash).error(), Rc::Hash);
  Bytes leftover{0x00, 0x0B, 0x00};
  EXPECT_EQ(UnmarshalExact<TpmiAlgHash>(leftover).error(), Rc::Size);
}

TEST(Marshal, PositionsAreAddedOnlyToFormatOneCodes) {
  EXPECT_EQ(Rc::Value.Param(2).value(), 0x2C4u);
  EXPECT_EQ(Rc::BadAuth.Session(1).value(), 0x9A2u);
  EXPECT_EQ(Rc::Hierarchy.Handle(1).value(), 0x185u);
  EXPECT_EQ(Rc::Initialize.Param(1).value(), 0x100u);
}

}  // namespace
}  // namespace tpm2emu::wire
