#include "crypto/hash.h"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "engine/wire/constants.h"
#include "tests/crypto/test_hex.h"

namespace tpm2emu::crypto {
namespace {

using test::Sequence;
using test::ToHex;

constexpr uint16_t kAllHashes[] = {TpmAlg::Sha1, TpmAlg::Sha256, TpmAlg::Sha384, TpmAlg::Sha512};

const EVP_MD* OpenSslMd(uint16_t alg) {
  switch (alg) {
    case TpmAlg::Sha1:
      return EVP_sha1();
    case TpmAlg::Sha256:
      return EVP_sha256();
    case TpmAlg::Sha384:
      return EVP_sha384();
    default:
      return EVP_sha512();
  }
}

TEST(CryptoHash, DigestSizes) {
  EXPECT_EQ(DigestSize(TpmAlg::Sha1), 20u);
  EXPECT_EQ(DigestSize(TpmAlg::Sha256), 32u);
  EXPECT_EQ(DigestSize(TpmAlg::Sha384), 48u);
  EXPECT_EQ(DigestSize(TpmAlg::Sha512), 64u);
  EXPECT_EQ(DigestSize(TpmAlg::Null), 0u);
  EXPECT_EQ(DigestSize(TpmAlg::Sm3_256), 0u);
  EXPECT_EQ(DigestSize(TpmAlg::Sha3_256), 0u);
  EXPECT_EQ(DigestSize(TpmAlg::Aes), 0u);
  for (uint16_t alg : kAllHashes) {
    EXPECT_TRUE(IsHashSupported(alg));
  }
  EXPECT_FALSE(IsHashSupported(TpmAlg::Null));
  EXPECT_FALSE(IsHashSupported(TpmAlg::Error));
}

TEST(CryptoHash, UnsupportedAlgorithmGivesRcHash) {
  const Bytes data = ToBytes("abc");
  auto digest = Hash(TpmAlg::Sha3_256, data);
  ASSERT_FALSE(digest.ok());
  EXPECT_EQ(digest.error(), Rc::Hash);
  auto ctx = HashContext::Start(TpmAlg::Null);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.error(), Rc::Hash);
  auto mac = Hmac(TpmAlg::Sm3_256, data, data);
  ASSERT_FALSE(mac.ok());
  EXPECT_EQ(mac.error(), Rc::Hash);
  auto mac_ctx = HmacContext::Start(TpmAlg::Hmac, data);
  ASSERT_FALSE(mac_ctx.ok());
  EXPECT_EQ(mac_ctx.error(), Rc::Hash);
}

// FIPS 180-4 examples ("abc"), the empty message and one million 'a'.
TEST(CryptoHash, KnownAnswers) {
  const Bytes abc = ToBytes("abc");
  EXPECT_EQ(ToHex(*Hash(TpmAlg::Sha1, abc)), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(ToHex(*Hash(TpmAlg::Sha256, abc)),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(*Hash(TpmAlg::Sha384, abc)),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
            "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
  EXPECT_EQ(ToHex(*Hash(TpmAlg::Sha512, abc)),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  EXPECT_EQ(ToHex(*Hash(TpmAlg::Sha256, {})),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

  auto ctx = HashContext::Start(TpmAlg::Sha256);
  ASSERT_TRUE(ctx.ok());
  const Bytes thousand(1000, 'a');
  for (int i = 0; i < 1000; ++i) {
    ctx->Update(thousand);
  }
  EXPECT_EQ(ToHex(ctx->Finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(CryptoHash, IncrementalEqualsOneShot) {
  const Bytes data = Sequence(0, 300);
  for (uint16_t alg : kAllHashes) {
    const Bytes expected = *Hash(alg, data);
    ASSERT_EQ(expected.size(), DigestSize(alg));
    for (size_t split : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{129}, size_t{300}}) {
      auto ctx = HashContext::Start(alg);
      ASSERT_TRUE(ctx.ok());
      EXPECT_EQ(ctx->alg(), alg);
      ctx->Update(ByteSpan(data).first(split));
      ctx->Update(ByteSpan());
      ctx->Update(ByteSpan(data).subspan(split));
      EXPECT_EQ(ctx->Finish(), expected) << "alg " << alg << " split " << split;
    }
  }
}

TEST(CryptoHash, CloneIsIndependent) {
  for (uint16_t alg : kAllHashes) {
    auto ctx = HashContext::Start(alg);
    ASSERT_TRUE(ctx.ok());
    ctx->Update(ToBytes("ab"));
    HashContext clone = ctx->Clone();
    ASSERT_TRUE(clone.ok());
    EXPECT_EQ(clone.alg(), alg);
    ctx->Update(ToBytes("c"));
    EXPECT_EQ(ctx->Finish(), *Hash(alg, ToBytes("abc")));
    // The original is finished; the clone still holds "ab".
    HashContext clone2 = clone.Clone();
    clone.Update(ToBytes("x"));
    EXPECT_EQ(clone.Finish(), *Hash(alg, ToBytes("abx")));
    EXPECT_EQ(clone2.Finish(), *Hash(alg, ToBytes("ab")));
  }
}

TEST(CryptoHash, FinishedContextIsEmpty) {
  auto ctx = HashContext::Start(TpmAlg::Sha256);
  ASSERT_TRUE(ctx.ok());
  EXPECT_TRUE(ctx->ok());
  EXPECT_EQ(ctx->Finish().size(), 32u);
  EXPECT_FALSE(ctx->ok());
  ctx->Update(ToBytes("more"));
  EXPECT_TRUE(ctx->Finish().empty());
  EXPECT_FALSE(ctx->Clone().ok());
}

TEST(CryptoHash, DefaultAndMovedFromContextsAreEmpty) {
  HashContext empty;
  EXPECT_FALSE(empty.ok());
  EXPECT_EQ(empty.alg(), TpmAlg::Error);
  EXPECT_TRUE(empty.Finish().empty());

  auto started = HashContext::Start(TpmAlg::Sha384);
  ASSERT_TRUE(started.ok());
  HashContext moved = std::move(*started);
  EXPECT_FALSE(started->ok());  // NOLINT(bugprone-use-after-move): pins the moved-from state
  EXPECT_EQ(moved.alg(), TpmAlg::Sha384);
  empty = std::move(moved);
  EXPECT_EQ(empty.Finish(), *Hash(TpmAlg::Sha384, {}));
}

struct HmacVector {
  uint16_t alg;
  Bytes key;
  Bytes data;
  const char* hmac;
};

// RFC 4231 test cases 1, 2 and 6 (HMAC-SHA256/384/512) and RFC 2202 test case 1 (HMAC-SHA1).
std::vector<HmacVector> RfcVectors() {
  const Bytes key1(20, 0x0b);
  const Bytes data1 = ToBytes("Hi There");
  const Bytes key2 = ToBytes("Jefe");
  const Bytes data2 = ToBytes("what do ya want for nothing?");
  const Bytes key6(131, 0xaa);
  const Bytes data6 = ToBytes("Test Using Larger Than Block-Size Key - Hash Key First");
  return {
      {TpmAlg::Sha1, key1, data1, "b617318655057264e28bc0b6fb378c8ef146be00"},
      {TpmAlg::Sha256, key1, data1,
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {TpmAlg::Sha384, key1, data1,
       "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec6"
       "82aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"},
      {TpmAlg::Sha512, key1, data1,
       "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
       "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
      {TpmAlg::Sha256, key2, data2,
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {TpmAlg::Sha384, key2, data2,
       "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47"
       "e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"},
      {TpmAlg::Sha512, key2, data2,
       "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
       "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
      {TpmAlg::Sha256, key6, data6,
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {TpmAlg::Sha384, key6, data6,
       "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f"
       "3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952"},
      {TpmAlg::Sha512, key6, data6,
       "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
       "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
  };
}

TEST(CryptoHmac, RfcKnownAnswers) {
  for (const HmacVector& v : RfcVectors()) {
    auto mac = Hmac(v.alg, v.key, v.data);
    ASSERT_TRUE(mac.ok());
    EXPECT_EQ(ToHex(*mac), v.hmac) << "alg " << v.alg << " key size " << v.key.size();

    auto ctx = HmacContext::Start(v.alg, v.key);
    ASSERT_TRUE(ctx.ok());
    EXPECT_EQ(ctx->alg(), v.alg);
    for (uint8_t b : v.data) {
      ctx->Update(ByteSpan(&b, 1));
    }
    EXPECT_EQ(ToHex(ctx->Finish()), v.hmac);
  }
}

// Unbound, unsalted sessions and empty authValues make empty HMAC keys common in a TPM.
// python3 -c "import hmac;print(hmac.new(b'',b'abc','sha256').hexdigest())"
TEST(CryptoHmac, EmptyKey) {
  auto mac = Hmac(TpmAlg::Sha256, {}, ToBytes("abc"));
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(ToHex(*mac), "fd7adb152c05ef80dccf50a1fa4c05d5a3ec6da95575fc312ae7c5d091836351");
}

TEST(CryptoHmac, MatchesOpenSslOneShotForManyKeySizes) {
  const Bytes data = Sequence(0x40, 77);
  for (uint16_t alg : kAllHashes) {
    for (size_t key_size : {0, 1, 20, 63, 64, 65, 127, 128, 129, 200}) {
      const Bytes key = Sequence(static_cast<uint8_t>(key_size), key_size);
      uint8_t expected[EVP_MAX_MD_SIZE];
      unsigned int expected_len = 0;
      ASSERT_NE(HMAC(OpenSslMd(alg), key.data(), static_cast<int>(key.size()), data.data(),
                     data.size(), expected, &expected_len),
                nullptr);
      auto mac = Hmac(alg, key, data);
      ASSERT_TRUE(mac.ok());
      EXPECT_EQ(*mac, Bytes(expected, expected + expected_len))
          << "alg " << alg << " key size " << key_size;
    }
  }
}

TEST(CryptoHmac, CloneIsIndependent) {
  const Bytes key = ToBytes("key");
  for (uint16_t alg : kAllHashes) {
    auto ctx = HmacContext::Start(alg, key);
    ASSERT_TRUE(ctx.ok());
    ctx->Update(ToBytes("ab"));
    HmacContext clone = ctx->Clone();
    ASSERT_TRUE(clone.ok());
    EXPECT_EQ(clone.alg(), alg);
    ctx->Update(ToBytes("c"));
    EXPECT_EQ(ctx->Finish(), *Hmac(alg, key, ToBytes("abc")));
    HmacContext clone2 = clone.Clone();
    clone.Update(ToBytes("x"));
    EXPECT_EQ(clone.Finish(), *Hmac(alg, key, ToBytes("abx")));
    EXPECT_EQ(clone2.Finish(), *Hmac(alg, key, ToBytes("ab")));
  }
}

TEST(CryptoHmac, KeyNeedNotOutliveStart) {
  Bytes key = ToBytes("short-lived key");
  auto ctx = HmacContext::Start(TpmAlg::Sha256, key);
  ASSERT_TRUE(ctx.ok());
  const Bytes expected = *Hmac(TpmAlg::Sha256, key, ToBytes("data"));
  std::fill(key.begin(), key.end(), uint8_t{0});
  key.clear();
  key.shrink_to_fit();
  ctx->Update(ToBytes("data"));
  EXPECT_EQ(ctx->Finish(), expected);
}

TEST(CryptoHmac, FinishedAndDefaultContextsAreEmpty) {
  auto ctx = HmacContext::Start(TpmAlg::Sha1, ToBytes("k"));
  ASSERT_TRUE(ctx.ok());
  EXPECT_EQ(ctx->Finish().size(), 20u);
  EXPECT_FALSE(ctx->ok());
  EXPECT_TRUE(ctx->Finish().empty());
  EXPECT_FALSE(ctx->Clone().ok());

  HmacContext empty;
  EXPECT_FALSE(empty.ok());
  EXPECT_EQ(empty.alg(), TpmAlg::Error);
  EXPECT_TRUE(empty.Finish().empty());
}

// The fetched-algorithm cache is built on first use, possibly by several threads at once, and
// then shared without locking. (ctest runs each case in its own process, so here the threads
// race to build it.)
TEST(CryptoHmac, ConcurrentFirstUseGivesTheSameResults) {
  const Bytes key = Sequence(0x21, 32);
  const Bytes data = Sequence(0x99, 100);
  constexpr int kRounds = 100;
  std::vector<std::vector<Bytes>> results(4);
  std::vector<std::thread> threads;
  for (std::vector<Bytes>& out : results) {
    threads.emplace_back([&key, &data, &out] {
      for (int i = 0; i < kRounds; ++i) {
        auto mac = Hmac(TpmAlg::Sha256, key, data);
        auto digest = Hash(TpmAlg::Sha384, data);
        out.push_back(mac.ok() ? *mac : Bytes());
        out.push_back(digest.ok() ? *digest : Bytes());
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  const Bytes expected_mac = *Hmac(TpmAlg::Sha256, key, data);
  const Bytes expected_digest = *Hash(TpmAlg::Sha384, data);
  for (const std::vector<Bytes>& out : results) {
    ASSERT_EQ(out.size(), 2u * kRounds);
    for (size_t i = 0; i < out.size(); i += 2) {
      ASSERT_EQ(out[i], expected_mac);
      ASSERT_EQ(out[i + 1], expected_digest);
    }
  }
}

}  // namespace
}  // namespace tpm2emu::crypto
