#include "crypto/resumable_hash.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "engine/base/endian.h"
#include "engine/wire/constants.h"
#include "tests/crypto/test_hex.h"

namespace tpm2emu::crypto {
namespace {

using test::FromHex;
using test::Sequence;
using test::ToHex;

constexpr uint16_t kAllHashes[] = {TpmAlg::Sha1, TpmAlg::Sha256, TpmAlg::Sha384, TpmAlg::Sha512};

size_t BlockSize(uint16_t alg) {
  return alg == TpmAlg::Sha384 || alg == TpmAlg::Sha512 ? 128 : 64;
}

// Every split offset in [0, 2 blocks + 1] (every residue of the block size, at and around the
// boundaries), on a message of 3 blocks plus 5 octets.
std::vector<size_t> SplitOffsets(uint16_t alg) {
  std::vector<size_t> out;
  for (size_t i = 0; i <= 2 * BlockSize(alg) + 1; ++i) {
    out.push_back(i);
  }
  return out;
}

ResumableHash Resume(const ResumableHash& h) {
  auto state = h.Export();
  EXPECT_TRUE(state.ok());
  auto resumed = ResumableHash::Import(state.ok() ? state->span() : ByteSpan());
  EXPECT_TRUE(resumed.ok());
  return resumed.ok() ? std::move(resumed).value() : ResumableHash();
}

TEST(ResumableHash, ExportImportAtEveryOffsetMatchesOneShotAndHashContext) {
  for (uint16_t alg : kAllHashes) {
    const Bytes data = Sequence(0x11, 3 * BlockSize(alg) + 5);
    const Bytes expected = *Hash(alg, data);
    auto reference = HashContext::Start(alg);
    ASSERT_TRUE(reference.ok());
    reference->Update(data);
    ASSERT_EQ(reference->Finish(), expected);
    for (size_t split : SplitOffsets(alg)) {
      auto h = ResumableHash::Start(alg);
      ASSERT_TRUE(h.ok());
      h->Update(ByteSpan(data).first(split));
      ResumableHash resumed = Resume(*h);
      EXPECT_EQ(resumed.alg(), alg);
      resumed.Update(ByteSpan(data).subspan(split));
      EXPECT_EQ(resumed.Finish(), expected) << "alg " << alg << " split " << split;
      // The exported object itself goes on unchanged.
      h->Update(ByteSpan(data).subspan(split));
      EXPECT_EQ(h->Finish(), expected) << "alg " << alg << " split " << split;
    }
  }
}

TEST(ResumableHash, RepeatedResumesBetweenSmallUpdates) {
  for (uint16_t alg : kAllHashes) {
    const Bytes data = Sequence(0xA0, 5 * BlockSize(alg) + 17);
    auto h = ResumableHash::Start(alg);
    ASSERT_TRUE(h.ok());
    ResumableHash current = std::move(*h);
    for (size_t pos = 0; pos < data.size(); pos += 7) {
      current.Update(ByteSpan(data).subspan(pos, std::min<size_t>(7, data.size() - pos)));
      current = Resume(current);
    }
    EXPECT_EQ(current.Finish(), *Hash(alg, data)) << "alg " << alg;
  }
}

TEST(ResumableHash, FreshAndEmptyMessages) {
  for (uint16_t alg : kAllHashes) {
    auto h = ResumableHash::Start(alg);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(Resume(*h).Finish(), *Hash(alg, {}));
    h->Update({});
    EXPECT_EQ(h->Finish(), *Hash(alg, {}));
    EXPECT_FALSE(h->ok());
    EXPECT_EQ(h->alg(), TpmAlg::Error);
    EXPECT_TRUE(h->Finish().empty());
    auto exported = h->Export();
    ASSERT_FALSE(exported.ok());
    EXPECT_EQ(exported.error(), Rc::Failure);
  }
  ResumableHash empty;
  EXPECT_FALSE(empty.ok());
  EXPECT_EQ(empty.alg(), TpmAlg::Error);
  empty.Update(ToBytes("x"));
  EXPECT_TRUE(empty.Finish().empty());
}

// The exported format is ours and explicit (resumable_hash.h); pin it so that it cannot change
// by accident (saved contexts and saved volatile state carry it).
TEST(ResumableHash, ExportFormatIsPinned) {
  auto h = ResumableHash::Start(TpmAlg::Sha256);
  ASSERT_TRUE(h.ok());
  h->Update(ToBytes("abc"));
  EXPECT_EQ(ToHex(*h->Export()),
            "000b"
            "0000000000000003"
            "6a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd19"
            "616263");
  auto s1 = ResumableHash::Start(TpmAlg::Sha1);
  ASSERT_TRUE(s1.ok());
  s1->Update(Bytes(64, 'a'));  // one compressed block, nothing pending
  EXPECT_EQ(ToHex(*s1->Export()).substr(0, 20), "00040000000000000040");
  EXPECT_EQ(s1->Export()->size(), 2u + 8 + 20);
  auto s384 = ResumableHash::Start(TpmAlg::Sha384);
  ASSERT_TRUE(s384.ok());
  s384->Update(ToBytes("ab"));
  EXPECT_EQ(ToHex(*s384->Export()),
            "000c"
            "0000000000000002"
            "cbbb9d5dc1059ed8629a292a367cd5079159015a3070dd17152fecd8f70e5939"
            "67332667ffc00b318eb44a8768581511db0c2e0d64f98fa747b5481dbefa4fa4"
            "6162");
}

// A state made from parts, to check what Import() accepts.
Bytes MakeState(uint16_t alg, uint64_t length, size_t chaining_octets, size_t pending) {
  Bytes out;
  AppendBe16(out, alg);
  AppendBe64(out, length);
  out.insert(out.end(), chaining_octets, 0x5A);
  out.insert(out.end(), pending, 0x61);
  return out;
}

TEST(ResumableHash, MalformedStatesAreRefused) {
  auto h = ResumableHash::Start(TpmAlg::Sha512);
  ASSERT_TRUE(h.ok());
  h->Update(Sequence(1, 200));
  const SecretBytes good = *h->Export();
  ASSERT_EQ(good.size(), 2u + 8 + 64 + 72);
  ASSERT_TRUE(ResumableHash::Import(good).ok());
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = ResumableHash::Import(good.span().first(n));
    ASSERT_FALSE(r.ok()) << "truncated to " << n;
    EXPECT_EQ(r.error(), Rc::Value) << n;
  }
  Bytes longer = ToBytes(good.span());
  longer.push_back(0);
  auto r = ResumableHash::Import(longer);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Rc::Value);

  for (uint16_t alg : {TpmAlg::Null, TpmAlg::Sha3_256, TpmAlg::Sm3_256, TpmAlg::Error}) {
    auto u = ResumableHash::Import(MakeState(alg, 0, 32, 0));
    ASSERT_FALSE(u.ok());
    EXPECT_EQ(u.error(), Rc::Hash);
  }
  // The pending octets must be exactly the length mod the block size.
  EXPECT_TRUE(ResumableHash::Import(MakeState(TpmAlg::Sha256, 70, 32, 6)).ok());
  EXPECT_FALSE(ResumableHash::Import(MakeState(TpmAlg::Sha256, 70, 32, 5)).ok());
  EXPECT_FALSE(ResumableHash::Import(MakeState(TpmAlg::Sha256, 70, 32, 7)).ok());
  EXPECT_FALSE(ResumableHash::Import(MakeState(TpmAlg::Sha256, 64, 32, 64)).ok());
  // The wrong chaining value size for the algorithm.
  EXPECT_FALSE(ResumableHash::Import(MakeState(TpmAlg::Sha1, 0, 32, 0)).ok());
  EXPECT_FALSE(ResumableHash::Import(MakeState(TpmAlg::Sha384, 0, 48, 0)).ok());
  // SHA-1 and SHA-256 count at most 2^61 - 1 octets; SHA-512 takes any 64-bit count.
  const uint64_t limit = uint64_t{1} << 61;
  EXPECT_TRUE(ResumableHash::Import(MakeState(TpmAlg::Sha1, limit - 64, 20, 0)).ok());
  EXPECT_FALSE(ResumableHash::Import(MakeState(TpmAlg::Sha1, limit, 20, 0)).ok());
  EXPECT_FALSE(ResumableHash::Import(MakeState(TpmAlg::Sha256, UINT64_MAX - 63, 32, 0)).ok());
  auto big = ResumableHash::Import(MakeState(TpmAlg::Sha512, UINT64_MAX - 127, 64, 0));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->Finish().size(), 64u);
}

// The state at a large octet count round-trips (the bit count's high word is in use).
TEST(ResumableHash, LargeCountsRoundTrip) {
  for (uint16_t alg : kAllHashes) {
    const uint64_t length = (uint64_t{1} << 40) + BlockSize(alg) * 3;
    auto h = ResumableHash::Import(MakeState(alg, length,
                                             alg == TpmAlg::Sha1     ? 20
                                             : alg == TpmAlg::Sha256 ? 32
                                                                     : 64,
                                             0));
    ASSERT_TRUE(h.ok()) << alg;
    h->Update(ToBytes("xyz"));
    SecretBytes state = *h->Export();
    EXPECT_EQ(LoadBe64(state.data() + 2), length + 3);
    auto again = ResumableHash::Import(state);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->Finish(), h->Finish());
  }
}

TEST(ResumableHmac, ExportImportAtEveryOffsetMatchesHmac) {
  for (uint16_t alg : kAllHashes) {
    const Bytes data = Sequence(0x33, 3 * BlockSize(alg) + 5);
    for (size_t key_size : {size_t{0}, size_t{1}, size_t{20}, BlockSize(alg) - 1, BlockSize(alg),
                            BlockSize(alg) + 1, size_t{200}}) {
      const Bytes key = Sequence(static_cast<uint8_t>(key_size), key_size);
      const Bytes expected = *Hmac(alg, key, data);
      auto reference = HmacContext::Start(alg, key);
      ASSERT_TRUE(reference.ok());
      reference->Update(data);
      ASSERT_EQ(reference->Finish(), expected);
      for (size_t split : SplitOffsets(alg)) {
        auto m = ResumableHmac::Start(alg, key);
        ASSERT_TRUE(m.ok());
        EXPECT_EQ(m->alg(), alg);
        m->Update(ByteSpan(data).first(split));
        SecretBytes state = *m->Export();
        EXPECT_EQ(state.size(), 2 + 8 + DigestSize(alg) + (alg == TpmAlg::Sha384 ? 16 : 0) +
                                    (split % BlockSize(alg)) + BlockSize(alg));
        auto resumed = ResumableHmac::Import(state);
        ASSERT_TRUE(resumed.ok());
        resumed->Update(ByteSpan(data).subspan(split));
        EXPECT_EQ(resumed->Finish(), expected)
            << "alg " << alg << " key " << key_size << " split " << split;
        m->Update(ByteSpan(data).subspan(split));
        EXPECT_EQ(m->Finish(), expected);
        EXPECT_FALSE(m->ok());
        EXPECT_TRUE(m->Finish().empty());
      }
    }
  }
}

// RFC 4231 test case 2 through an export in the middle.
TEST(ResumableHmac, RfcKnownAnswerAcrossExport) {
  auto m = ResumableHmac::Start(TpmAlg::Sha256, ToBytes("Jefe"));
  ASSERT_TRUE(m.ok());
  m->Update(ToBytes("what do ya want "));
  auto resumed = ResumableHmac::Import(*m->Export());
  ASSERT_TRUE(resumed.ok());
  resumed->Update(ToBytes("for nothing?"));
  EXPECT_EQ(ToHex(resumed->Finish()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(ResumableHmac, MalformedStatesAreRefused) {
  auto m = ResumableHmac::Start(TpmAlg::Sha1, ToBytes("key"));
  ASSERT_TRUE(m.ok());
  m->Update(ToBytes("data"));
  const SecretBytes good = *m->Export();
  ASSERT_EQ(good.size(), 2u + 8 + 20 + 4 + 64);
  ASSERT_TRUE(ResumableHmac::Import(good).ok());
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = ResumableHmac::Import(good.span().first(n));
    ASSERT_FALSE(r.ok()) << "truncated to " << n;
    EXPECT_EQ(r.error(), Rc::Value);
  }
  Bytes longer = ToBytes(good.span());
  longer.push_back(0);
  EXPECT_FALSE(ResumableHmac::Import(longer).ok());
  // A bare hash state (no K0), and an inner hash that has not absorbed the K0 ^ ipad block.
  auto h = ResumableHash::Start(TpmAlg::Sha1);
  ASSERT_TRUE(h.ok());
  h->Update(ToBytes("data"));
  EXPECT_FALSE(ResumableHmac::Import(*h->Export()).ok());
  Bytes no_ipad = ToBytes(h->Export()->span());
  no_ipad.insert(no_ipad.end(), 64, 0);
  EXPECT_FALSE(ResumableHmac::Import(no_ipad).ok());
  auto u = ResumableHmac::Start(TpmAlg::Sha3_256, ToBytes("k"));
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error(), Rc::Hash);
  ResumableHmac empty;
  EXPECT_FALSE(empty.ok());
  EXPECT_TRUE(empty.Finish().empty());
  EXPECT_FALSE(empty.Export().ok());
}

}  // namespace
}  // namespace tpm2emu::crypto
