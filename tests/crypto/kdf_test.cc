#include "crypto/kdf.h"

#include <string_view>

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
constexpr uint32_t kBitCounts[] = {1, 7, 8, 9, 13, 160, 256, 257, 384, 521, 1000, 2051};

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

void PushBe32(Bytes& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void Append(Bytes& out, ByteSpan data) {
  out.insert(out.end(), data.begin(), data.end());
}

// Keeps (bits + 7) / 8 octets and clears the unused high bits of the first.
Bytes Trim(Bytes stream, uint32_t bits) {
  stream.resize((bits + 7) / 8);
  if (bits % 8 != 0) {
    stream[0] = static_cast<uint8_t>(stream[0] & (0xFF >> (8 - bits % 8)));
  }
  return stream;
}

// Part 1 §8.4.10.2 written out separately from crypto/kdf.cc: each block is OpenSSL's one-shot
// HMAC() over an explicitly assembled message. `label` already carries its zero octet.
Bytes ReferenceKdfA(uint16_t alg, ByteSpan key, ByteSpan label, ByteSpan context, uint32_t bits) {
  static const uint8_t kNoKey = 0;
  Bytes stream;
  for (uint32_t i = 1; stream.size() * 8 < bits; ++i) {
    Bytes message;
    PushBe32(message, i);
    Append(message, label);
    Append(message, context);
    PushBe32(message, bits);
    uint8_t block[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const uint8_t* key_data = key.empty() ? &kNoKey : key.data();
    if (HMAC(OpenSslMd(alg), key_data, static_cast<int>(key.size()), message.data(), message.size(),
             block, &len) == nullptr) {
      ADD_FAILURE() << "HMAC failed";
      return {};
    }
    stream.insert(stream.end(), block, block + len);
  }
  return Trim(std::move(stream), bits);
}

// Part 1 §8.4.10.3 written out separately: one-shot EVP_Digest per block.
Bytes ReferenceKdfE(uint16_t alg, ByteSpan z, ByteSpan use, ByteSpan party_u, ByteSpan party_v,
                    uint32_t bits) {
  Bytes stream;
  for (uint32_t i = 1; stream.size() * 8 < bits; ++i) {
    Bytes message;
    PushBe32(message, i);
    Append(message, z);
    Append(message, use);
    Append(message, party_u);
    Append(message, party_v);
    uint8_t block[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(message.data(), message.size(), block, &len, OpenSslMd(alg), nullptr) != 1) {
      ADD_FAILURE() << "EVP_Digest failed";
      return {};
    }
    stream.insert(stream.end(), block, block + len);
  }
  return Trim(std::move(stream), bits);
}

Bytes ReferenceMgf1(uint16_t alg, ByteSpan seed, size_t length) {
  Bytes stream;
  for (uint32_t i = 0; stream.size() < length; ++i) {
    Bytes message(seed.begin(), seed.end());
    PushBe32(message, i);
    uint8_t block[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(message.data(), message.size(), block, &len, OpenSslMd(alg), nullptr) != 1) {
      ADD_FAILURE() << "EVP_Digest failed";
      return {};
    }
    stream.insert(stream.end(), block, block + len);
  }
  stream.resize(length);
  return stream;
}

Bytes ToPlain(const SecretBytes& s) {
  return Bytes(s.begin(), s.end());
}

// Pinned vectors, computed once with Python's hmac module, e.g. for the first:
//   python3 -c "import hmac,struct as s;print(hmac.new(bytes(range(32)),s.pack('>I',1)+b'ATH\0'
//     +bytes(range(0xa0,0xc0))+s.pack('>I',256),'sha256').hexdigest())"
// and for the 521-bit one (SHA-1, four blocks, top 7 bits cleared):
//   python3 -c "import hmac,struct as s;m=b''.join(hmac.new(bytes(range(64,84)),s.pack('>I',i)
//     +b'STORAGE\0'+bytes(range(16,50))+s.pack('>I',521),'sha1').digest() for i in range(1,5));
//     print((bytes([m[0]&1])+m[1:66]).hex())"
// Those with whole octets also agree with OpenSSL's SP 800-108 implementation, e.g.
//   openssl kdf -keylen 32 -kdfopt mac:HMAC -kdfopt digest:SHA256 -kdfopt hexkey:0001..1f
//     -kdfopt salt:ATH -kdfopt hexinfo:a0a1..bf KBKDF
TEST(CryptoKdfA, PinnedVectors) {
  auto a =
      KdfA(TpmAlg::Sha256, Sequence(0x00, 32), "ATH", Sequence(0xa0, 16), Sequence(0xb0, 16), 256);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(ToHex(*a), "c4f8c300878fcde061c6930a425a8900e00334f3df40fb144ccd329e3b59118c");

  auto b = KdfA(TpmAlg::Sha1, Sequence(0x40, 20), "STORAGE", Sequence(0x10, 34), {}, 521);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(ToHex(*b),
            "007a0ca1f89dacab4a351de18906b5c354a6ff46de13421f7fcdd86400ebb92e6ece06240ce1355875"
            "0935b015279fe60e6f111a10e05d12b0e1a3120adc490ef9fe");

  // Empty key, label and contexts: the label is then a single zero octet.
  auto c = KdfA(TpmAlg::Sha384, {}, "", {}, {}, 200);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(ToHex(*c), "e0480954b57621ca37858ff64ffe100ff1e2fb37cbb2b89d8a");

  auto d =
      KdfA(TpmAlg::Sha512, Sequence(0x80, 64), "CFB", Sequence(0x20, 32), Sequence(0x60, 32), 384);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(ToHex(*d),
            "1fcfef21f1a4efa87545425252cc9f20e51401bb52a2b0a5"
            "a07543d120e85dc053d02efaa793bcad904219d430a19ba1");

  // 13 bits: two octets, the first masked from 0xdd to 0x1d (masked, not shifted).
  auto e =
      KdfA(TpmAlg::Sha256, Sequence(0x00, 32), "ATH", Sequence(0xa0, 16), Sequence(0xb0, 16), 13);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(ToHex(*e), "1d10");
}

TEST(CryptoKdfA, MatchesIndependentImplementation) {
  const Bytes key = Sequence(0x33, 41);
  const Bytes u = Sequence(0x90, 20);
  const Bytes v = Sequence(0x07, 32);
  Bytes context = u;
  Append(context, v);
  for (uint16_t alg : kAllHashes) {
    for (uint32_t bits : kBitCounts) {
      for (std::string_view label : {"ATH", "XOR", "IDENTITY", ""}) {
        Bytes label_with_zero(label.begin(), label.end());
        label_with_zero.push_back(0);
        auto out = KdfA(alg, key, label, u, v, bits);
        ASSERT_TRUE(out.ok());
        EXPECT_EQ(ToPlain(*out), ReferenceKdfA(alg, key, label_with_zero, context, bits))
            << "alg " << alg << " bits " << bits << " label '" << label << "'";
      }
    }
  }
}

TEST(CryptoKdfA, LabelEndingInZeroGetsNoSecondZero) {
  const Bytes key = Sequence(1, 32);
  auto plain = KdfA(TpmAlg::Sha256, key, "ATH", {}, {}, 256);
  auto terminated = KdfA(TpmAlg::Sha256, key, std::string_view("ATH\0", 4), {}, {}, 256);
  ASSERT_TRUE(plain.ok());
  ASSERT_TRUE(terminated.ok());
  EXPECT_EQ(*plain, *terminated);
  // A label that is only the terminator equals the empty label.
  auto zero = KdfA(TpmAlg::Sha256, key, std::string_view("\0", 1), {}, {}, 256);
  auto empty = KdfA(TpmAlg::Sha256, key, "", {}, {}, 256);
  EXPECT_EQ(*zero, *empty);
}

TEST(CryptoKdfA, ContextIsTheConcatenationOfUAndV) {
  const Bytes key = Sequence(1, 32);
  const Bytes all = Sequence(0x50, 24);
  auto split1 =
      KdfA(TpmAlg::Sha256, key, "CFB", ByteSpan(all).first(10), ByteSpan(all).subspan(10), 128);
  auto split2 = KdfA(TpmAlg::Sha256, key, "CFB", all, {}, 128);
  auto split3 = KdfA(TpmAlg::Sha256, key, "CFB", {}, all, 128);
  EXPECT_EQ(*split1, *split2);
  EXPECT_EQ(*split2, *split3);
}

TEST(CryptoKdfA, HighBitsOfFirstOctetAreCleared) {
  for (uint32_t bits = 1; bits <= 16; ++bits) {
    auto out = KdfA(TpmAlg::Sha256, Sequence(static_cast<uint8_t>(bits), 16), "KEY", {}, {}, bits);
    ASSERT_TRUE(out.ok());
    ASSERT_EQ(out->size(), (bits + 7) / 8u);
    if (bits % 8 != 0) {
      EXPECT_EQ((*out)[0] >> (bits % 8), 0) << "bits " << bits;
    }
  }
}

TEST(CryptoKdfA, ZeroBitsGivesEmptyResult) {
  auto out = KdfA(TpmAlg::Sha256, Sequence(0, 8), "ATH", {}, {}, 0);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->empty());
}

TEST(CryptoKdfA, UnsupportedHashGivesRcHash) {
  auto out = KdfA(TpmAlg::Sm3_256, Sequence(0, 8), "ATH", {}, {}, 128);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error(), Rc::Hash);
  auto null = KdfA(TpmAlg::Null, Sequence(0, 8), "ATH", {}, {}, 128);
  ASSERT_FALSE(null.ok());
  EXPECT_EQ(null.error(), Rc::Hash);
}

// Pinned vectors, computed once with Python's hashlib:
//   python3 -c "import hashlib,struct as s;print(hashlib.sha256(s.pack('>I',1)
//     +bytes(range(0x11,0x31))+b'SECRET\0'+bytes(range(0x30,0x70))).hexdigest())"
//   python3 -c "import hashlib,struct as s;m=b''.join(hashlib.sha1(s.pack('>I',i)
//     +bytes(range(0x11,0x31))+b'DUPLICATE\0'+bytes(range(0x30,0x70))).digest()
//     for i in (1,2,3));print((bytes([m[0]&31])+m[1:42]).hex())"
// The first also agrees with OpenSSL's SP 800-56C one-step KDF:
//   openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:1112..30
//     -kdfopt hexinfo:<"SECRET\0" || 3031..4f || 5051..6f in hex> SSKDF
TEST(CryptoKdfE, PinnedVectors) {
  auto a = KdfE(TpmAlg::Sha256, Sequence(0x11, 32), "SECRET", Sequence(0x30, 32),
                Sequence(0x50, 32), 256);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(ToHex(*a), "693b82cea464b284ecf1cf2edd2dcc734ca56f8f03f3d8c5b9d86992bf5b0101");

  auto b = KdfE(TpmAlg::Sha1, Sequence(0x11, 32), "DUPLICATE", Sequence(0x30, 32),
                Sequence(0x50, 32), 333);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(ToHex(*b),
            "1556b7507f928d0bcdb083481a5c6d08a4f63b0ab95a1adedf9f7ee6627647d5b9d49d240330ed6b3c"
            "f2");
}

TEST(CryptoKdfE, MatchesIndependentImplementation) {
  const Bytes z = Sequence(0xe0, 48);
  const Bytes u = Sequence(0x01, 48);
  const Bytes v = Sequence(0x81, 48);
  for (uint16_t alg : kAllHashes) {
    for (uint32_t bits : kBitCounts) {
      for (std::string_view label : {"SECRET", "IDENTITY", "DUPLICATE"}) {
        Bytes use(label.begin(), label.end());
        use.push_back(0);
        auto out = KdfE(alg, z, label, u, v, bits);
        ASSERT_TRUE(out.ok());
        EXPECT_EQ(ToPlain(*out), ReferenceKdfE(alg, z, use, u, v, bits))
            << "alg " << alg << " bits " << bits << " label " << label;
      }
    }
  }
}

TEST(CryptoKdfE, LabelEndingInZeroGetsNoSecondZero) {
  const Bytes z = Sequence(9, 32);
  auto plain = KdfE(TpmAlg::Sha256, z, "SECRET", {}, {}, 128);
  auto terminated = KdfE(TpmAlg::Sha256, z, std::string_view("SECRET\0", 7), {}, {}, 128);
  ASSERT_TRUE(plain.ok());
  ASSERT_TRUE(terminated.ok());
  EXPECT_EQ(*plain, *terminated);
  const Bytes use = {0};
  auto empty = KdfE(TpmAlg::Sha256, z, "", {}, {}, 128);
  EXPECT_EQ(ToPlain(*empty), ReferenceKdfE(TpmAlg::Sha256, z, use, {}, {}, 128));
}

TEST(CryptoKdfE, UnsupportedHashGivesRcHash) {
  auto out = KdfE(TpmAlg::Sha3_384, Sequence(0, 32), "SECRET", {}, {}, 128);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error(), Rc::Hash);
}

// Pinned vectors, computed once with Python's hashlib:
//   python3 -c "import hashlib,struct as s;print(b''.join(hashlib.sha256(bytes(range(5,37))
//     +s.pack('>I',i)).digest() for i in range(4))[:100].hex())"
TEST(CryptoMgf1, PinnedVectors) {
  auto a = Mgf1(TpmAlg::Sha256, Sequence(0x05, 32), 100);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(ToHex(*a),
            "5e748c19229bbb6f4eba744c8df0eed11ed9cdc877845475e4efbf5dbe7815dd"
            "d659b515913aa37969f52cc56c39a50ac5d8bb076c86909e67d09b56b10c1cab"
            "82c81f2955ead0b38f4942756e2dfad45ede3f37ee490015c211a4aa4b2fba20"
            "db840ce9");
  auto b = Mgf1(TpmAlg::Sha1, Sequence(0x05, 20), 45);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(ToHex(*b),
            "cd43f07b2087ac382c4289558115ea2d86b9a43247abc226a79c119f2c700dff60d36fce9537b02027"
            "c5f409ad");
}

TEST(CryptoMgf1, MatchesIndependentImplementation) {
  const Bytes seed = Sequence(0x77, 37);
  for (uint16_t alg : kAllHashes) {
    for (size_t length : {1, 19, 20, 21, 64, 65, 255, 256, 1000}) {
      auto out = Mgf1(alg, seed, length);
      ASSERT_TRUE(out.ok());
      EXPECT_EQ(ToPlain(*out), ReferenceMgf1(alg, seed, length))
          << "alg " << alg << " length " << length;
    }
  }
}

TEST(CryptoMgf1, ZeroLengthAndUnsupportedHash) {
  auto empty = Mgf1(TpmAlg::Sha256, Sequence(0, 4), 0);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  auto bad = Mgf1(TpmAlg::Null, Sequence(0, 4), 16);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), Rc::Hash);
}

}  // namespace
}  // namespace tpm2emu::crypto
