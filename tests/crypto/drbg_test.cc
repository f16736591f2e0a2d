#include "crypto/drbg.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "engine/wire/constants.h"
#include "tests/crypto/test_hex.h"

namespace tpm2emu::crypto {
namespace {

using test::FromHex;
using test::Sequence;
using test::ToHex;

Bytes Generate(Drbg& drbg, size_t size) {
  Bytes out(size);
  drbg.Generate(out);
  return out;
}

// NIST CAVP HMAC_DRBG.rsp, [SHA-256], PredictionResistance = False, no reseed, no personalization
// and no additional input, COUNT = 0: instantiate with EntropyInput || Nonce, generate 1024 bits
// twice, the second output is ReturnedBits. (The nonce is simply appended to the entropy input,
// as drbg.h documents.)
TEST(CryptoDrbg, CavpHmacSha256Vector) {
  Bytes seed = FromHex("ca851911349384bffe89de1cbdc46e6831e44d34a4fb935ee285dd14b71a7488");
  const Bytes nonce = FromHex("659ba96c601dc69fc902940805ec0ca8");
  seed.insert(seed.end(), nonce.begin(), nonce.end());
  Drbg drbg(seed);
  Generate(drbg, 128);
  EXPECT_EQ(ToHex(Generate(drbg, 128)),
            "e528e9abf2dece54d47c7e75e5fe302149f817ea9fb4bee6f4199697d04d5b89"
            "d54fbb978a15b5c443c9ec21036d2460b6f73ebad0dc2aba6e624abf07745bc1"
            "07694bb7547bb0995f70de25d6b29e2d3011bb19d27676c07162c8b5ccde0668"
            "961df86803482cb37ed6d5c0bb8d50cf1f50d476aa0458bdaba806f48be9dcb8");
  EXPECT_TRUE(drbg.ok());
}

// Personalization, Reseed with additional input, and a request over the 65536-octet maximum,
// pinned from a separate 20-line Python HMAC_DRBG (hmac + hashlib; SP 800-90A §10.1.2) that
// reproduces the CAVP vector above. It splits large requests exactly as drbg.h documents.
TEST(CryptoDrbg, PersonalizationReseedAndLargeRequest) {
  Bytes personalization = ToBytes("tpm2emu personalization");
  Drbg drbg(Sequence(0x00, 48), personalization);
  EXPECT_EQ(ToHex(Generate(drbg, 40)),
            "2d4e49e3c6b307ca6c73d1b792a628f86c49e7c8cda28671e32a2ef165fb2c922435ab57c5eb067d");
  drbg.Reseed(Sequence(0x80, 32), ToBytes("additional"));
  EXPECT_EQ(ToHex(Generate(drbg, 33)),
            "2f81257c5479e2f1fafd648a64857ed5251f7aaf44e4b240b10c1dcfa5270eb753");
  const Bytes big = Generate(drbg, 2 * Drbg::kMaxRequestBytes + 100);
  EXPECT_EQ(ToHex(*Hash(TpmAlg::Sha256, big)),
            "7526fb95d204f1cd20bdf1b2bb6335c68b77eccbe804a81fecb603810a0a4f99");
  EXPECT_EQ(ToHex(ByteSpan(big).last(16)), "1367edbe1da30a4205b48a8f8dbe2753");
  EXPECT_EQ(ToHex(Generate(drbg, 16)), "3bd4912fc92989f064d41cd8c23b5793");
  EXPECT_TRUE(drbg.ok());
}

TEST(CryptoDrbg, LargeRequestIsConsecutiveMaximalRequests) {
  const Bytes seed = Sequence(0x42, 48);
  Drbg whole(seed);
  Drbg pieces(seed);
  const Bytes all = Generate(whole, 2 * Drbg::kMaxRequestBytes + 7);
  Bytes joined = Generate(pieces, Drbg::kMaxRequestBytes);
  for (size_t n : {Drbg::kMaxRequestBytes, size_t{7}}) {
    const Bytes part = Generate(pieces, n);
    joined.insert(joined.end(), part.begin(), part.end());
  }
  EXPECT_EQ(all, joined);
  EXPECT_EQ(Generate(whole, 32), Generate(pieces, 32));
}

TEST(CryptoDrbg, EachRequestUpdatesTheState) {
  const Bytes seed = Sequence(0x10, 48);
  Drbg one(seed);
  Drbg two(seed);
  const Bytes at_once = Generate(one, 64);
  Bytes halves = Generate(two, 32);
  const Bytes second = Generate(two, 32);
  halves.insert(halves.end(), second.begin(), second.end());
  // The first 32 octets agree; after a request the state moves on (SP 800-90A §10.1.2.5 step 6).
  EXPECT_TRUE(std::equal(at_once.begin(), at_once.begin() + 32, halves.begin()));
  EXPECT_NE(at_once, halves);
}

TEST(CryptoDrbg, DeterministicFromItsInputs) {
  Drbg a(Sequence(1, 48), ToBytes("p"));
  Drbg b(Sequence(1, 48), ToBytes("p"));
  Drbg other_seed(Sequence(2, 48), ToBytes("p"));
  Drbg other_personalization(Sequence(1, 48), ToBytes("q"));
  const Bytes out = Generate(a, 100);
  EXPECT_EQ(out, Generate(b, 100));
  EXPECT_NE(out, Generate(other_seed, 100));
  EXPECT_NE(out, Generate(other_personalization, 100));

  a.Reseed(Sequence(3, 32));
  b.Reseed(Sequence(3, 32), ToBytes("extra"));
  EXPECT_NE(Generate(a, 32), Generate(b, 32));
}

TEST(CryptoDrbg, EmptyRequestChangesNothing) {
  Drbg a(Sequence(5, 48));
  Drbg b(Sequence(5, 48));
  a.Generate({});
  EXPECT_EQ(Generate(a, 32), Generate(b, 32));
}

TEST(CryptoDrbg, MovedDrbgContinuesTheStream) {
  Drbg a(Sequence(6, 48));
  Drbg b(Sequence(6, 48));
  Generate(a, 10);
  Generate(b, 10);
  Drbg moved = std::move(a);
  EXPECT_EQ(Generate(moved, 32), Generate(b, 32));
  EXPECT_TRUE(moved.ok());
  // The moved-from generator is in the error state: zeros, not a repeat of the stream.
  EXPECT_FALSE(a.ok());  // NOLINT(bugprone-use-after-move): pins the moved-from state
  EXPECT_EQ(Generate(a, 16), Bytes(16, 0));
  a = std::move(moved);
  EXPECT_TRUE(a.ok());
  EXPECT_EQ(Generate(a, 32), Generate(b, 32));
}

}  // namespace
}  // namespace tpm2emu::crypto
