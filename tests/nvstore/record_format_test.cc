#include "nvstore/record_format.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "tests/nvstore/test_util.h"

namespace tpm2emu::nvstore {
namespace {

using testing::MakeBatch;
using testing::MakeRecords;

Bytes Sha256(ByteSpan data) {
  Bytes out(32);
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr), 1);
  return out;
}

// Replaces the trailing SHA-256 so that a deliberately malformed body passes the checksum.
Bytes Reseal(const Bytes& image) {
  EXPECT_GE(image.size(), 32u);
  Bytes out(image.begin(), image.end() - std::min<ptrdiff_t>(32, std::ssize(image)));
  Bytes digest = Sha256(out);
  out.insert(out.end(), digest.begin(), digest.end());
  return out;
}

Bytes Encode(const Records& records, uint64_t generation = 1) {
  auto image = EncodeState(State{records, generation});
  EXPECT_TRUE(image.ok()) << image.error().message();
  return image.ok() ? *image : Bytes();
}

std::string DecodeError(ByteSpan image) {
  auto state = DecodeState(image);
  if (state.ok()) {
    return "decoded";
  }
  EXPECT_EQ(state.error().code(), StatusCode::kCorrupt) << state.error().message();
  return state.error().message();
}

TEST(RecordFormat, ImageLayoutIsPinned) {
  Bytes image = Encode(MakeRecords({{"ab", "\x01\x02\x03"}}), 5);
  Bytes body = {'T', '2', 'E', 'M', 'U', 'S', 'T', 0,            // magic
                0,   0,   0,   1,                                // format version
                0,   0,   0,   0,   0,   0,   0,   5,            // generation
                0,   0,   0,   1,                                // record count
                0,   2,   'a', 'b', 0,   0,   0,   3, 1, 2, 3};  // key, value
  Bytes expected = body;
  Bytes digest = Sha256(body);
  expected.insert(expected.end(), digest.begin(), digest.end());
  EXPECT_EQ(image, expected);
}

TEST(RecordFormat, RoundTripKeepsRecordsAndGeneration) {
  Records records = MakeRecords({{"", "empty key"}, {"empty value", ""}, {"seed", "s"}});
  records[std::string("\x00\xff", 2)] = Bytes{0, 0xff};
  records["big"] = Bytes(100000, 0xA5);
  auto state = DecodeState(Encode(records, 0x0102030405060708));
  ASSERT_TRUE(state.ok()) << state.error().message();
  EXPECT_EQ(state->records, records);
  EXPECT_EQ(state->generation, 0x0102030405060708u);
}

TEST(RecordFormat, EmptyStateRoundTrips) {
  auto state = DecodeState(Encode({}, 0));
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->records.empty());
  EXPECT_EQ(Encode({}, 0).size(), EncodedSize({}));
}

TEST(RecordFormat, EncodedSizeMatchesTheImage) {
  Records records = MakeRecords({{"a", "1"}, {"bb", "22"}});
  EXPECT_EQ(Encode(records).size(), EncodedSize(records));
}

TEST(RecordFormat, EveryTruncationIsCorrupt) {
  Bytes image = Encode(MakeRecords({{"a", "1"}, {"key", "value"}}));
  for (size_t n = 0; n < image.size(); ++n) {
    EXPECT_NE(DecodeError(ByteSpan(image).first(n)), "decoded") << "length " << n;
  }
  EXPECT_EQ(DecodeError(ByteSpan(image).first(0)), "is empty (truncated)");
  EXPECT_EQ(DecodeError(ByteSpan(image).first(5)), "is truncated (5 bytes)");
  EXPECT_EQ(DecodeError(ByteSpan(image).first(30)), "is truncated (30 bytes)");
  EXPECT_EQ(DecodeError(ByteSpan(image).first(image.size() - 1)),
            "fails its checksum (corrupted or truncated)");
}

TEST(RecordFormat, EveryBitFlipIsCorrupt) {
  Bytes image = Encode(MakeRecords({{"a", "1"}, {"key", "value"}}));
  for (size_t i = 0; i < image.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes damaged = image;
      damaged[i] = static_cast<uint8_t>(damaged[i] ^ (1u << bit));
      EXPECT_NE(DecodeError(damaged), "decoded") << "byte " << i << " bit " << bit;
    }
  }
}

TEST(RecordFormat, WrongMagicIsNotAStateFile) {
  Bytes image = Encode({});
  image[0] = 'X';
  EXPECT_EQ(DecodeError(image), "is not a tpm2emu state file (wrong magic)");
  EXPECT_EQ(DecodeError(ToBytes("hello")), "is not a tpm2emu state file (wrong magic)");
}

TEST(RecordFormat, UnknownVersionIsNamed) {
  Bytes image = Encode(MakeRecords({{"a", "1"}}));
  image[11] = 2;
  EXPECT_EQ(DecodeError(Reseal(image)),
            "has format version 2, but this tpm2emu reads only version 1 (written by a newer "
            "tpm2emu, or damaged)");
  image[8] = 0x80;  // without resealing: the version is still what gets reported
  EXPECT_NE(DecodeError(image).find("has format version 2147483650"), std::string::npos);
}

TEST(RecordFormat, MalformedRecordsUnderAValidChecksumAreCorrupt) {
  Bytes image = Encode(MakeRecords({{"a", "1"}, {"b", "2"}}));
  constexpr size_t kCount = 20;
  constexpr size_t kFirstRecord = 24;

  Bytes too_many = image;
  too_many[kCount + 3] = 3;
  EXPECT_EQ(DecodeError(Reseal(too_many)), "claims 3 records, more than its 40 bytes can hold");

  Bytes long_key = image;
  long_key[kFirstRecord + 8 + 1] = 0x10;  // second key length 1 -> 16
  EXPECT_EQ(DecodeError(Reseal(long_key)),
            "has a malformed record #1 (key runs past the end) despite a valid checksum");

  Bytes absurd_count = image;
  absurd_count[kCount] = 0xff;
  EXPECT_NE(DecodeError(Reseal(absurd_count)).find("claims 4278190082 records"), std::string::npos);

  Bytes long_value = image;
  long_value[kFirstRecord + 2 + 1 + 3] = 0x40;  // first value length 1 -> 0x40
  EXPECT_EQ(DecodeError(Reseal(long_value)),
            "has a malformed record #0 (value runs past the end) despite a valid checksum");

  Bytes repeated = image;
  repeated[kFirstRecord + 8 + 2] = 'a';  // second key "b" -> "a"
  EXPECT_EQ(DecodeError(Reseal(repeated)),
            "has a malformed record #1 (keys out of order or repeated) despite a valid checksum");

  Bytes fewer = image;
  fewer[kCount + 3] = 1;
  EXPECT_EQ(DecodeError(Reseal(fewer)),
            "has 8 bytes after its last record despite a valid checksum");
}

TEST(RecordFormat, OversizedImageIsRefusedBeforeParsing) {
  Bytes huge(kMaxImageSize + 1);
  EXPECT_NE(DecodeError(huge).find("is larger than any state tpm2emu writes"), std::string::npos);
}

TEST(RecordFormat, LimitsAreCheckedBeforeEncoding) {
  EXPECT_TRUE(CheckBatch(MakeBatch({{std::string(kMaxKeySize, 'k'), "v"}})).ok());
  Status long_key = CheckBatch(MakeBatch({{std::string(kMaxKeySize + 1, 'k'), "v"}}));
  EXPECT_EQ(long_key.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(long_key.message(), "record key of 65536 bytes is longer than the 65535-byte limit");

  Records big;
  big["v"] = Bytes(kMaxImageSize, 0);
  EXPECT_EQ(CheckRecords(big).code(), StatusCode::kInvalidArgument);
  auto image = EncodeState(State{big, 1});
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.error().code(), StatusCode::kInvalidArgument);
}

TEST(RecordFormat, ApplyBatchReplacesAndDeletes) {
  Records records = MakeRecords({{"keep", "1"}, {"change", "2"}, {"drop", "3"}});
  ApplyBatch(
      MakeBatch(
          {{"change", "two"}, {"drop", std::nullopt}, {"new", "4"}, {"absent", std::nullopt}}),
      records);
  EXPECT_EQ(records, MakeRecords({{"keep", "1"}, {"change", "two"}, {"new", "4"}}));
}

// Random damage, resealed so that the record parser sees it: decoding never misbehaves (the
// sanitizers watch), and whatever decodes re-encodes to the same bytes (the format is canonical).
TEST(RecordFormat, RandomDamageIsRejectedOrCanonical) {
  Bytes image = Encode(MakeRecords({{"a", "1"}, {"bb", "22"}, {"ccc", "333"}}), 9);
  std::mt19937 rng(20261128);
  int decoded = 0;
  for (int iteration = 0; iteration < 20000; ++iteration) {
    Bytes damaged = image;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t at = rng() % (damaged.size() - 32);
      switch (rng() % 3) {
        case 0:
          damaged[at] = static_cast<uint8_t>(rng());
          break;
        case 1:
          damaged.erase(damaged.begin() + static_cast<ptrdiff_t>(at));
          break;
        default:
          damaged.insert(damaged.begin() + static_cast<ptrdiff_t>(at), static_cast<uint8_t>(rng()));
          break;
      }
    }
    if (damaged.size() < 32) {
      continue;
    }
    Bytes resealed = Reseal(damaged);
    auto state = DecodeState(resealed);
    if (!state.ok()) {
      EXPECT_EQ(state.error().code(), StatusCode::kCorrupt);
      continue;
    }
    ++decoded;
    auto again = EncodeState(*state);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, resealed);
  }
  EXPECT_GT(decoded, 0);  // some damage lands in values and keeps the image well-formed
}

}  // namespace
}  // namespace tpm2emu::nvstore
