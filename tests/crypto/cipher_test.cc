#include "crypto/cipher.h"

#include <gtest/gtest.h>

#include "engine/wire/constants.h"
#include "tests/crypto/test_hex.h"

namespace tpm2emu::crypto {
namespace {

using test::FromHex;
using test::Sequence;
using test::ToHex;

constexpr uint16_t kAllModes[] = {TpmAlg::Cfb, TpmAlg::Cbc, TpmAlg::Ctr, TpmAlg::Ofb, TpmAlg::Ecb};

// NIST SP 800-38A Appendix F: AES-128 key, the four plaintext blocks, and the IV (counter for
// CTR) of each mode. Also reproduced with `openssl enc -aes-128-<mode> -K ... -iv ... -nopad`.
constexpr const char* kKey128 = "2b7e151628aed2a6abf7158809cf4f3c";
constexpr const char* kPlaintext =
    "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";
constexpr const char* kIv = "000102030405060708090a0b0c0d0e0f";
constexpr const char* kCounter = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

struct ModeVector {
  uint16_t mode;
  const char* name;
  const char* iv;
  const char* ciphertext;
};
constexpr ModeVector kSp800_38a[] = {
    {TpmAlg::Ecb, "F.1.1 ECB-AES128", "",
     "3ad77bb40d7a3660a89ecaf32466ef97 f5d3d58503b9699de785895a96fdbaaf"
     "43b1cd7f598ece23881b00e3ed030688 7b0c785e27e8ad3f8223207104725dd4"},
    {TpmAlg::Cbc, "F.2.1 CBC-AES128", kIv,
     "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2"
     "73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7"},
    {TpmAlg::Cfb, "F.3.13 CFB128-AES128", kIv,
     "3b3fd92eb72dad20333449f8e83cfb4a c8a64537a0b3a93fcde3cdad9f1ce58b"
     "26751f67a3cbb140b1808cf187a4f4df c04b05357c5d1c0eeac4c66f9ff7f2e6"},
    {TpmAlg::Ofb, "F.4.1 OFB-AES128", kIv,
     "3b3fd92eb72dad20333449f8e83cfb4a 7789508d16918f03f53c52dac54ed825"
     "9740051e9c5fecf64344f7a82260edcc 304c6528f659c77866a510d9c1d6ae5e"},
    {TpmAlg::Ctr, "F.5.1 CTR-AES128", kCounter,
     "874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff"
     "5ae4df3edbd5d35e5b4f09020db03eab 1e031dda2fbe03d1792170a0f3009cee"},
};

Bytes Xor(ByteSpan a, ByteSpan b) {
  Bytes out(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    out[i] = static_cast<uint8_t>(a[i] ^ b[i]);
  }
  return out;
}

// AES-128 of one block (ECB, itself pinned by F.1.1): the building block of the expected IVs.
Bytes EncryptBlock(ByteSpan key, ByteSpan block) {
  Bytes no_iv;
  auto out = SymCrypt(TpmAlg::Ecb, false, key, no_iv, block);
  return out.ok() ? *out : Bytes{};
}

TEST(CryptoSymCrypt, Sp800_38aAes128) {
  for (const ModeVector& v : kSp800_38a) {
    Bytes iv = FromHex(v.iv);
    auto c = SymCrypt(v.mode, false, FromHex(kKey128), iv, FromHex(kPlaintext));
    ASSERT_TRUE(c.ok()) << v.name;
    EXPECT_EQ(ToHex(*c), ToHex(FromHex(v.ciphertext))) << v.name;
    iv = FromHex(v.iv);
    auto p = SymCrypt(v.mode, true, FromHex(kKey128), iv, FromHex(v.ciphertext));
    ASSERT_TRUE(p.ok()) << v.name;
    EXPECT_EQ(ToHex(*p), ToHex(FromHex(kPlaintext))) << v.name;
  }
}

// SP 800-38A F.2.5 (CBC-AES256) and F.5.5 (CTR-AES256): the key length selects the variant.
TEST(CryptoSymCrypt, Sp800_38aAes256) {
  const Bytes key = FromHex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
  Bytes iv = FromHex(kIv);
  auto cbc = SymCrypt(TpmAlg::Cbc, false, key, iv, FromHex(kPlaintext));
  ASSERT_TRUE(cbc.ok());
  EXPECT_EQ(*cbc, FromHex("f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d"
                          "39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b"));
  Bytes counter = FromHex(kCounter);
  auto ctr = SymCrypt(TpmAlg::Ctr, false, key, counter, FromHex(kPlaintext));
  ASSERT_TRUE(ctr.ok());
  EXPECT_EQ(*ctr, FromHex("601ec313775789a5b7a7f504bbf3d228 f443e3ca4d62b59aca84e990cacaf5c5"
                          "2b0930daa23de94ce87017ba2d84988d dfc9c58db67aada613c2dd08457941a6"));
}

// Part 3 §15.1: the chaining value returned as ivOut after the four SP 800-38A blocks.
TEST(CryptoSymCrypt, IvOutAfterWholeBlocks) {
  const Bytes key = FromHex(kKey128);
  const Bytes plaintext = FromHex(kPlaintext);
  for (const ModeVector& v : kSp800_38a) {
    const Bytes ciphertext = FromHex(v.ciphertext);
    const ByteSpan last_c = ByteSpan(ciphertext).last(16);
    const ByteSpan last_p = ByteSpan(plaintext).last(16);
    Bytes expected;
    switch (v.mode) {
      case TpmAlg::Cbc:
      case TpmAlg::Cfb:
        expected = ToBytes(last_c);  // the last ciphertext block
        break;
      case TpmAlg::Ofb:
        expected = Xor(last_c, last_p);  // the last keystream block
        break;
      case TpmAlg::Ctr:
        expected = FromHex("f0f1f2f3f4f5f6f7f8f9fafbfcfdff03");  // + 4, with a carry
        break;
      default:
        break;  // ECB: empty
    }
    for (bool decrypt : {false, true}) {
      Bytes iv = FromHex(v.iv);
      ASSERT_TRUE(SymCrypt(v.mode, decrypt, key, iv, decrypt ? ciphertext : plaintext).ok());
      EXPECT_EQ(ToHex(iv), ToHex(expected)) << v.name << (decrypt ? " decrypt" : " encrypt");
    }
  }
}

// Calls on consecutive pieces (all but the last whole blocks) equal one call on the whole.
TEST(CryptoSymCrypt, ChunkedEqualsOneShot) {
  const Bytes key = Sequence(0x10, 24);  // AES-192
  const Bytes iv_in = Sequence(0xE0, 16);
  for (uint16_t mode : kAllModes) {
    const bool whole_blocks = mode == TpmAlg::Cbc || mode == TpmAlg::Ecb;
    const Bytes data = Sequence(3, whole_blocks ? 96 : 101);
    for (bool decrypt : {false, true}) {
      Bytes iv_one = iv_in;
      auto one = SymCrypt(mode, decrypt, key, iv_one, data);
      ASSERT_TRUE(one.ok()) << mode;
      Bytes iv = iv_in;
      Bytes pieces;
      size_t offset = 0;
      for (size_t len : {size_t{16}, size_t{48}, size_t{0}, size_t{32}, data.size() - 96}) {
        auto part = SymCrypt(mode, decrypt, key, iv, ByteSpan(data).subspan(offset, len));
        ASSERT_TRUE(part.ok()) << mode << " at " << offset;
        pieces.insert(pieces.end(), part->begin(), part->end());
        offset += len;
      }
      EXPECT_EQ(pieces, *one) << mode << (decrypt ? " decrypt" : " encrypt");
      EXPECT_EQ(iv, iv_one) << mode;
    }
  }
}

// After a partial last block (20 octets = one block + 4), ivOut is what the TPM leaves in its
// chaining register, computed here from single-block AES.
TEST(CryptoSymCrypt, IvOutAfterPartialBlock) {
  const Bytes key = FromHex(kKey128);
  const Bytes iv_in = FromHex(kIv);
  const Bytes plaintext = FromHex(kPlaintext);
  const Bytes data(plaintext.begin(), plaintext.begin() + 20);

  // CFB: the 4 new ciphertext octets, then octets 4..15 of E(C1), the unused keystream.
  Bytes iv = iv_in;
  auto cfb = SymCrypt(TpmAlg::Cfb, false, key, iv, data);
  ASSERT_TRUE(cfb.ok());
  const Bytes e_c1 = EncryptBlock(key, ByteSpan(*cfb).first(16));
  Bytes expected(cfb->begin() + 16, cfb->end());
  expected.insert(expected.end(), e_c1.begin() + 4, e_c1.end());
  EXPECT_EQ(ToHex(iv), ToHex(expected));
  // Decrypting leaves the same register.
  Bytes iv_dec = iv_in;
  auto back = SymCrypt(TpmAlg::Cfb, true, key, iv_dec, *cfb);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, data);
  EXPECT_EQ(iv_dec, iv);

  // OFB: the whole second keystream block E(E(IV)).
  iv = iv_in;
  ASSERT_TRUE(SymCrypt(TpmAlg::Ofb, false, key, iv, data).ok());
  EXPECT_EQ(ToHex(iv), ToHex(EncryptBlock(key, EncryptBlock(key, iv_in))));

  // CTR: the counter moved on for the partial block too (IV + 2).
  iv = iv_in;
  ASSERT_TRUE(SymCrypt(TpmAlg::Ctr, false, key, iv, data).ok());
  EXPECT_EQ(ToHex(iv), "000102030405060708090a0b0c0d0e11");
}

// Part 3 §15.1: "All the bits of the IV are incremented": the counter carries through all 16
// octets and wraps from ff..ff to 00..00.
TEST(CryptoSymCrypt, CounterCarriesThroughAllOctets) {
  const Bytes key = FromHex(kKey128);
  Bytes iv(16, 0xFF);
  auto out = SymCrypt(TpmAlg::Ctr, false, key, iv, Bytes(40, 0));
  ASSERT_TRUE(out.ok());
  Bytes keystream = EncryptBlock(key, Bytes(16, 0xFF));
  const Bytes zero_block = EncryptBlock(key, Bytes(16, 0));
  Bytes one(16, 0);
  one[15] = 1;
  const Bytes one_block = EncryptBlock(key, one);
  keystream.insert(keystream.end(), zero_block.begin(), zero_block.end());
  keystream.insert(keystream.end(), one_block.begin(), one_block.begin() + 8);
  EXPECT_EQ(ToHex(*out), ToHex(keystream));
  Bytes two(16, 0);
  two[15] = 2;
  EXPECT_EQ(iv, two);
}

TEST(CryptoSymCrypt, EcbIgnoresAndClearsTheIv) {
  const Bytes key = FromHex(kKey128);
  Bytes iv = FromHex(kIv);
  auto c = SymCrypt(TpmAlg::Ecb, false, key, iv, FromHex(kPlaintext));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, FromHex(kSp800_38a[0].ciphertext));
  EXPECT_TRUE(iv.empty());
}

TEST(CryptoSymCrypt, EmptyDataLeavesTheIv) {
  const Bytes key = FromHex(kKey128);
  for (uint16_t mode : kAllModes) {
    Bytes iv = FromHex(kIv);
    auto out = SymCrypt(mode, false, key, iv, {});
    ASSERT_TRUE(out.ok()) << mode;
    EXPECT_TRUE(out->empty());
    EXPECT_EQ(iv, mode == TpmAlg::Ecb ? Bytes{} : FromHex(kIv)) << mode;
  }
}

TEST(CryptoSymCrypt, Errors) {
  const Bytes key = FromHex(kKey128);
  const Bytes iv_in = FromHex(kIv);
  Bytes iv = iv_in;
  EXPECT_EQ(SymCrypt(TpmAlg::Null, false, key, iv, Bytes(16)).error(), Rc::Mode);
  EXPECT_EQ(SymCrypt(TpmAlg::Aes, false, key, iv, Bytes(16)).error(), Rc::Mode);
  EXPECT_EQ(SymCrypt(TpmAlg::Cfb, false, Bytes(15), iv, Bytes(16)).error(), Rc::KeySize);
  EXPECT_EQ(SymCrypt(TpmAlg::Ecb, false, Bytes(40), iv, Bytes(16)).error(), Rc::KeySize);
  EXPECT_EQ(SymCrypt(TpmAlg::Cbc, false, key, iv, Bytes(17)).error(), Rc::Size);
  EXPECT_EQ(SymCrypt(TpmAlg::Cbc, true, key, iv, Bytes(8)).error(), Rc::Size);
  EXPECT_EQ(SymCrypt(TpmAlg::Ecb, false, key, iv, Bytes(31)).error(), Rc::Size);
  EXPECT_EQ(iv, iv_in);  // untouched by a failed call
  for (uint16_t mode : {TpmAlg::Cfb, TpmAlg::Cbc, TpmAlg::Ctr, TpmAlg::Ofb}) {
    Bytes short_iv(15, 0);
    EXPECT_EQ(SymCrypt(mode, false, key, short_iv, Bytes(16)).error(), Rc::Size) << mode;
    Bytes no_iv;
    EXPECT_EQ(SymCrypt(mode, false, key, no_iv, Bytes(16)).error(), Rc::Size) << mode;
  }
  // Stream modes take any length.
  for (uint16_t mode : {TpmAlg::Cfb, TpmAlg::Ctr, TpmAlg::Ofb}) {
    Bytes stream_iv = iv_in;
    auto out = SymCrypt(mode, false, key, stream_iv, Bytes(7, 1));
    ASSERT_TRUE(out.ok()) << mode;
    EXPECT_EQ(out->size(), 7u);
  }
}

}  // namespace
}  // namespace tpm2emu::crypto
