#include "crypto/symmetric.h"

#include <gtest/gtest.h>

#include "crypto/kdf.h"
#include "engine/wire/constants.h"
#include "tests/crypto/test_hex.h"

namespace tpm2emu::crypto {
namespace {

using test::FromHex;
using test::Sequence;
using test::ToHex;

// NIST SP 800-38A Appendix F.3.13-F.3.18 (CFB128-AES128/192/256); the same four blocks of
// plaintext and IV for each key. Also reproduced with e.g.
//   openssl enc -aes-128-cfb -K 2b7e1516... -iv 00010203... -nopad
constexpr const char* kPlaintext =
    "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";
constexpr const char* kIv = "000102030405060708090a0b0c0d0e0f";

struct CfbVector {
  const char* key;
  const char* ciphertext;
};
constexpr CfbVector kSp800_38a[] = {
    {"2b7e151628aed2a6abf7158809cf4f3c",
     "3b3fd92eb72dad20333449f8e83cfb4a c8a64537a0b3a93fcde3cdad9f1ce58b"
     "26751f67a3cbb140b1808cf187a4f4df c04b05357c5d1c0eeac4c66f9ff7f2e6"},
    {"8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
     "cdc80d6fddf18cab34c25909c99a4174 67ce7f7f81173621961a2b70171d3d7a"
     "2e1e8a1dd59b88b1c8e60fed1efac4c9 c05f9f9ca9834fa042ae8fba584b09ff"},
    {"603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
     "dc7e84bfda79164b7ecd8486985d3860 39ffed143b28b1c832113c6331e5407b"
     "df10132415e54b92a13ed0a8267ae2f9 75a385741ab9cef82031623d55b1e471"},
};

TEST(CryptoAesCfb, Sp800_38aEncrypt) {
  for (const CfbVector& v : kSp800_38a) {
    auto out = AesCfbEncrypt(FromHex(v.key), FromHex(kIv), FromHex(kPlaintext));
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(*out, FromHex(v.ciphertext)) << "key " << v.key;
  }
}

TEST(CryptoAesCfb, Sp800_38aDecrypt) {
  for (const CfbVector& v : kSp800_38a) {
    auto out = AesCfbDecrypt(FromHex(v.key), FromHex(kIv), FromHex(v.ciphertext));
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(*out, FromHex(kPlaintext)) << "key " << v.key;
  }
}

// No padding: a partial last block gives the same prefix of the key stream (checked with
// `head -c 37 | openssl enc -aes-128-cfb ... -nopad`).
TEST(CryptoAesCfb, PartialBlockIsAPrefix) {
  const Bytes plaintext = FromHex(kPlaintext);
  auto out = AesCfbEncrypt(FromHex(kSp800_38a[0].key), FromHex(kIv), ByteSpan(plaintext).first(37));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(ToHex(*out),
            "3b3fd92eb72dad20333449f8e83cfb4ac8a64537a0b3a93fcde3cdad9f1ce58b26751f67a3");
}

TEST(CryptoAesCfb, RoundTripsEveryLength) {
  for (size_t key_size : {16, 24, 32}) {
    const Bytes key = Sequence(static_cast<uint8_t>(key_size), key_size);
    const Bytes iv = Sequence(0xf0, 16);
    for (size_t size = 0; size <= 70; ++size) {
      const Bytes data = Sequence(static_cast<uint8_t>(size * 3), size);
      auto encrypted = AesCfbEncrypt(key, iv, data);
      ASSERT_TRUE(encrypted.ok());
      ASSERT_EQ(encrypted->size(), size);
      if (size > 0) {
        EXPECT_NE(*encrypted, data);
      }
      auto decrypted = AesCfbDecrypt(key, iv, *encrypted);
      ASSERT_TRUE(decrypted.ok());
      EXPECT_EQ(*decrypted, data) << "key size " << key_size << " size " << size;
    }
  }
}

TEST(CryptoAesCfb, BadKeySizeGivesRcKeySize) {
  for (size_t key_size : {0, 8, 15, 17, 20, 31, 33, 64}) {
    auto out = AesCfbEncrypt(Bytes(key_size, 1), Bytes(16, 0), Bytes(16, 2));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error(), Rc::KeySize) << "key size " << key_size;
    auto back = AesCfbDecrypt(Bytes(key_size, 1), Bytes(16, 0), Bytes(16, 2));
    ASSERT_FALSE(back.ok());
    EXPECT_EQ(back.error(), Rc::KeySize);
  }
}

TEST(CryptoAesCfb, BadIvSizeGivesRcSize) {
  for (size_t iv_size : {0, 8, 15, 17, 32}) {
    auto out = AesCfbEncrypt(Bytes(16, 1), Bytes(iv_size, 0), Bytes(16, 2));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error(), Rc::Size) << "iv size " << iv_size;
  }
}

// python3 -c "import hmac,struct as s;d=bytes(range(0xc0,0xe8));m=b''.join(hmac.new(
//   bytes(range(32)),s.pack('>I',i)+b'XOR\0'+bytes(range(0xa0,0xc0))+s.pack('>I',320),
//   'sha256').digest() for i in (1,2));print(bytes(a^b for a,b in zip(d,m)).hex())"
TEST(CryptoXor, PinnedVector) {
  const Bytes out = XorObfuscate(TpmAlg::Sha256, Sequence(0x00, 32), Sequence(0xa0, 16),
                                 Sequence(0xb0, 16), Sequence(0xc0, 40));
  EXPECT_EQ(ToHex(out),
            "0541024c33968d55d816364c0cd6d49c4ec9c42a51e03fcc176a81e29561ae9aca7410ea30f149e4");
}

TEST(CryptoXor, IsDataXorKdfaMaskAndItsOwnInverse) {
  const Bytes key = Sequence(0x61, 20);
  const Bytes newer = Sequence(0x01, 32);
  const Bytes older = Sequence(0x81, 32);
  for (uint16_t alg : {TpmAlg::Sha1, TpmAlg::Sha256, TpmAlg::Sha384, TpmAlg::Sha512}) {
    for (size_t size : {1, 2, 31, 64, 65, 1024}) {
      const Bytes data = Sequence(static_cast<uint8_t>(size), size);
      const Bytes masked = XorObfuscate(alg, key, newer, older, data);
      auto mask = KdfA(alg, key, "XOR", newer, older, static_cast<uint32_t>(size * 8));
      ASSERT_TRUE(mask.ok());
      ASSERT_EQ(masked.size(), size);
      for (size_t i = 0; i < size; ++i) {
        ASSERT_EQ(masked[i], data[i] ^ (*mask)[i]) << "alg " << alg << " offset " << i;
      }
      EXPECT_EQ(XorObfuscate(alg, key, newer, older, masked), data);
      // Swapping the nonces (command vs response direction) gives a different mask.
      EXPECT_NE(XorObfuscate(alg, key, older, newer, data), masked);
    }
  }
}

TEST(CryptoXor, EmptyDataAndUnsupportedHash) {
  EXPECT_TRUE(XorObfuscate(TpmAlg::Sha256, Sequence(0, 8), {}, {}, {}).empty());
  EXPECT_TRUE(XorObfuscate(TpmAlg::Null, Sequence(0, 8), {}, {}, Sequence(0, 8)).empty());
}

}  // namespace
}  // namespace tpm2emu::crypto
