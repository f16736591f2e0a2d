// Encryption at rest: the AES-256-GCM image format (record_format.h) and DirStoreOptions::key.

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "nvstore/record_format.h"
#include "nvstore/store.h"
#include "tests/nvstore/test_util.h"

namespace tpm2emu::nvstore {
namespace {

using testing::MakeBatch;
using testing::MakeRecords;
using testing::ReadFileBytes;
using testing::TempDir;
using testing::WriteFileBytes;

constexpr size_t kHeaderSize = 32;  // magic, version, key id, nonce
constexpr size_t kTagSize = 16;

SecretBytes Key(uint8_t fill) {
  SecretBytes key(kStateKeySize);
  for (size_t i = 0; i < key.size(); ++i) {
    key[i] = static_cast<uint8_t>(fill + i);
  }
  return key;
}

std::array<uint8_t, kStateNonceSize> Nonce(uint8_t fill) {
  std::array<uint8_t, kStateNonceSize> nonce{};
  nonce.fill(fill);
  return nonce;
}

const State kState{MakeRecords({{"nv/01500000", "the secret NV value"}, {"seed", "0123456789"}}),
                   7};

Bytes Encrypt(const State& state, const SecretBytes& key, uint8_t nonce_fill = 1) {
  auto image = EncodeEncryptedState(state, key, Nonce(nonce_fill));
  EXPECT_TRUE(image.ok()) << image.error().message();
  return image.ok() ? *image : Bytes();
}

bool Contains(ByteSpan haystack, const std::string& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

// AES-256-GCM decryption straight from the documented layout, independent of the code under
// test: pins the layout, the additional data and the tag position.
std::optional<Bytes> DecryptByTheLayout(ByteSpan image, const SecretBytes& key) {
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      &EVP_CIPHER_CTX_free);
  const size_t body = image.size() - kHeaderSize - kTagSize;
  Bytes plain(body);
  Bytes tag(image.end() - kTagSize, image.end());
  int len = 0;
  bool ok = EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(),
                               image.data() + 20) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, image.data(),
                              static_cast<int>(kHeaderSize)) == 1 &&
            EVP_DecryptUpdate(ctx.get(), plain.data(), &len, image.data() + kHeaderSize,
                              static_cast<int>(body)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagSize),
                                tag.data()) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), plain.data() + body, &len) == 1;
  return ok ? std::optional<Bytes>(plain) : std::nullopt;
}

TEST(EncryptedRecordFormat, RoundTrips) {
  auto state = DecodeEncryptedState(Encrypt(kState, Key(1)), Key(1));
  ASSERT_TRUE(state.ok()) << state.error().message();
  EXPECT_EQ(state->records, kState.records);
  EXPECT_EQ(state->generation, 7u);
}

TEST(EncryptedRecordFormat, LayoutIsAesGcmOverThePlainImageWithTheHeaderAsAdditionalData) {
  Bytes image = Encrypt(kState, Key(1), 0xA5);
  Bytes plain = *EncodeState(kState);
  ASSERT_EQ(image.size(), plain.size() + kEncryptionOverhead);
  EXPECT_EQ(Bytes(image.begin(), image.begin() + 12),
            (Bytes{'T', '2', 'E', 'M', 'U', 'E', 'N', 0, 0, 0, 0, 1}));
  EXPECT_EQ(Bytes(image.begin() + 20, image.begin() + 32), Bytes(kStateNonceSize, 0xA5));
  auto decrypted = DecryptByTheLayout(image, Key(1));
  ASSERT_TRUE(decrypted.has_value());
  EXPECT_EQ(*decrypted, plain);
}

TEST(EncryptedRecordFormat, HoldsNoPlaintext) {
  Bytes image = Encrypt(kState, Key(1));
  EXPECT_FALSE(Contains(image, "the secret NV value"));
  EXPECT_FALSE(Contains(image, "nv/01500000"));
  EXPECT_FALSE(Contains(image, "T2EMUST"));
}

TEST(EncryptedRecordFormat, KeyIdDependsOnlyOnTheKey) {
  Bytes a = Encrypt(kState, Key(1), 1);
  Bytes b = Encrypt(State{{}, 1}, Key(1), 2);
  Bytes c = Encrypt(kState, Key(2), 1);
  EXPECT_EQ(Bytes(a.begin() + 12, a.begin() + 20), Bytes(b.begin() + 12, b.begin() + 20));
  EXPECT_NE(Bytes(a.begin() + 12, a.begin() + 20), Bytes(c.begin() + 12, c.begin() + 20));
  EXPECT_NE(Bytes(a.begin() + kHeaderSize, a.end()), Bytes(c.begin() + kHeaderSize, c.end()));
}

TEST(EncryptedRecordFormat, WrongKeyIsAPreconditionNotCorruption) {
  auto state = DecodeEncryptedState(Encrypt(kState, Key(1)), Key(2));
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(state.error().message(),
            "was encrypted with a different state key (or its header is damaged)");
}

TEST(EncryptedRecordFormat, EveryFlippedByteIsRefused) {
  const Bytes image = Encrypt(kState, Key(1));
  for (size_t i = 0; i < image.size(); ++i) {
    Bytes damaged = image;
    damaged[i] ^= 0x10;
    auto state = DecodeEncryptedState(damaged, Key(1));
    ASSERT_FALSE(state.ok()) << "byte " << i;
    const std::string& message = state.error().message();
    if (i < 8) {
      EXPECT_EQ(message, "is not a tpm2emu state file (wrong magic)") << i;
    } else if (i < 12) {
      EXPECT_NE(message.find("has encrypted format version"), std::string::npos) << i;
    } else if (i < 20) {
      EXPECT_EQ(state.error().code(), StatusCode::kFailedPrecondition) << i;
    } else {
      // The nonce, the ciphertext and the tag: the GCM tag fails.
      EXPECT_EQ(state.error().code(), StatusCode::kCorrupt) << i;
      EXPECT_EQ(message, "fails its authentication tag (tampered with, corrupted or truncated)")
          << i;
    }
  }
}

TEST(EncryptedRecordFormat, EveryTruncationIsCorrupt) {
  const Bytes image = Encrypt(kState, Key(1));
  for (size_t keep = 0; keep < image.size(); ++keep) {
    auto state = DecodeEncryptedState(ByteSpan(image).first(keep), Key(1));
    ASSERT_FALSE(state.ok()) << keep;
    EXPECT_EQ(state.error().code(), StatusCode::kCorrupt) << keep << state.error().message();
  }
  Bytes longer = image;
  longer.push_back(0);
  EXPECT_EQ(DecodeEncryptedState(longer, Key(1)).error().code(), StatusCode::kCorrupt);
}

TEST(EncryptedRecordFormat, ModeMismatchesAreNamed) {
  auto plain_with_key = DecodeEncryptedState(*EncodeState(kState), Key(1));
  ASSERT_FALSE(plain_with_key.ok());
  EXPECT_EQ(plain_with_key.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(plain_with_key.error().message(), "is not encrypted, but a state key was given");

  auto encrypted_without_key = DecodeState(Encrypt(kState, Key(1)));
  ASSERT_FALSE(encrypted_without_key.ok());
  EXPECT_EQ(encrypted_without_key.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(encrypted_without_key.error().message(), "is encrypted, but no state key was given");
}

TEST(EncryptedRecordFormat, KeyOfTheWrongSizeIsRefused) {
  SecretBytes short_key(kStateKeySize - 1);
  EXPECT_EQ(EncodeEncryptedState(kState, short_key, Nonce(1)).error().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeEncryptedState(Encrypt(kState, Key(1)), short_key).error().code(),
            StatusCode::kInvalidArgument);
}

TEST(EncryptedRecordFormat, StateTooLargeForAnEncryptedFileIsRefused) {
  // Fits a plain image, but not with the encryption overhead added.
  State state;
  size_t plain_overhead = EncodedSize(Records{{"k", Bytes{}}});
  state.records["k"] = Bytes(kMaxImageSize - plain_overhead - kEncryptionOverhead + 1);
  ASSERT_TRUE(CheckRecords(state.records).ok());
  auto image = EncodeEncryptedState(state, Key(1), Nonce(1));
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.error().code(), StatusCode::kInvalidArgument);
}

class EncryptedDirStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(tmp_.ok());
    dir_ = tmp_.path() + "/state";
    state_path_ = dir_ + "/" + kStateFileName;
    backup_path_ = dir_ + "/" + kBackupFileName;
  }

  DirStoreOptions Options(std::optional<SecretBytes> key, bool backup = false) {
    DirStoreOptions options;
    options.key = std::move(key);
    options.keep_backup = backup;
    options.warn = [this](std::string_view message) { warnings_.emplace_back(message); };
    return options;
  }

  void CommitAll(const std::vector<Batch>& batches, const DirStoreOptions& options) {
    auto store = OpenDirStore(dir_, options);
    ASSERT_TRUE(store.ok()) << store.error().message();
    auto loaded = (*store)->Load();
    ASSERT_TRUE(loaded.ok()) << loaded.error().message();
    for (const Batch& batch : batches) {
      Status st = (*store)->Commit(batch);
      ASSERT_TRUE(st.ok()) << st.message();
    }
  }

  StatusOr<Records> Reload(const DirStoreOptions& options) {
    auto store = OpenDirStore(dir_, options);
    if (!store.ok()) {
      return store.error();
    }
    return (*store)->Load();
  }

  TempDir tmp_;
  std::string dir_;
  std::string state_path_;
  std::string backup_path_;
  std::vector<std::string> warnings_;
};

TEST_F(EncryptedDirStoreTest, CommittedRecordsSurviveReopenAndTheFileHoldsNoPlaintext) {
  CommitAll({MakeBatch({{"nv/1", "plaintext canary"}, {"b", "2"}}),
             MakeBatch({{"b", std::nullopt}, {"c", "another canary"}})},
            Options(Key(1)));
  auto records = Reload(Options(Key(1)));
  ASSERT_TRUE(records.ok()) << records.error().message();
  EXPECT_EQ(*records, MakeRecords({{"nv/1", "plaintext canary"}, {"c", "another canary"}}));
  Bytes file = ReadFileBytes(state_path_);
  EXPECT_FALSE(Contains(file, "canary"));
  auto state = DecodeEncryptedState(file, Key(1));
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->generation, 2u);
}

TEST_F(EncryptedDirStoreTest, EveryCommitHasAFreshNonce) {
  auto store = OpenDirStore(dir_, Options(Key(1)));
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Load().ok());
  std::vector<Bytes> nonces;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE((*store)->Commit(MakeBatch({{"a", "same"}, {"i", std::to_string(i % 2)}})).ok());
    Bytes file = ReadFileBytes(state_path_);
    nonces.emplace_back(file.begin() + 20, file.begin() + 32);
  }
  std::sort(nonces.begin(), nonces.end());
  EXPECT_EQ(std::adjacent_find(nonces.begin(), nonces.end()), nonces.end());
}

TEST_F(EncryptedDirStoreTest, BackupIsEncryptedToo) {
  CommitAll({MakeBatch({{"a", "first canary"}}), MakeBatch({{"a", "second canary"}})},
            Options(Key(1), /*backup=*/true));
  Bytes backup = ReadFileBytes(backup_path_);
  EXPECT_FALSE(Contains(backup, "canary"));
  auto state = DecodeEncryptedState(backup, Key(1));
  ASSERT_TRUE(state.ok()) << state.error().message();
  EXPECT_EQ(state->records, MakeRecords({{"a", "first canary"}}));
}

TEST_F(EncryptedDirStoreTest, WrongKeyIsRefusedNamingTheFileEvenWithABackup) {
  CommitAll({MakeBatch({{"a", "1"}}), MakeBatch({{"a", "2"}})}, Options(Key(1), true));
  Bytes before = ReadFileBytes(state_path_);
  auto store = OpenDirStore(dir_, Options(Key(2), true));
  ASSERT_TRUE(store.ok());
  auto records = (*store)->Load();
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(records.error().message(),
            "state file " + state_path_ +
                " was encrypted with a different state key (or its header is damaged); "
                "refusing to start");
  EXPECT_TRUE(warnings_.empty());  // no fallback to the backup, which has the same key
  EXPECT_EQ((*store)->Commit(MakeBatch({{"x", "y"}})).code(), StatusCode::kFailedPrecondition);
  store->reset();
  EXPECT_EQ(ReadFileBytes(state_path_), before);
  EXPECT_EQ(*Reload(Options(Key(1))), MakeRecords({{"a", "2"}}));
}

TEST_F(EncryptedDirStoreTest, TamperedFileIsRefusedNamingTheFileAndLeftAlone) {
  CommitAll({MakeBatch({{"a", "1"}})}, Options(Key(1)));
  Bytes image = ReadFileBytes(state_path_);
  image[image.size() / 2] ^= 0x01;
  WriteFileBytes(state_path_, image);
  auto records = Reload(Options(Key(1)));
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.error().code(), StatusCode::kCorrupt);
  EXPECT_EQ(records.error().message(),
            "state file " + state_path_ +
                " fails its authentication tag (tampered with, corrupted or truncated); "
                "refusing to start");
  EXPECT_EQ(ReadFileBytes(state_path_), image);
}

TEST_F(EncryptedDirStoreTest, TamperedFileFallsBackToTheBackupLikeAnyDamage) {
  CommitAll({MakeBatch({{"a", "1"}}), MakeBatch({{"a", "2"}})}, Options(Key(1), true));
  Bytes image = ReadFileBytes(state_path_);
  image[40] ^= 0x01;
  WriteFileBytes(state_path_, image);
  auto records = Reload(Options(Key(1), true));
  ASSERT_TRUE(records.ok()) << records.error().message();
  EXPECT_EQ(*records, MakeRecords({{"a", "1"}}));
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("fails its authentication tag"), std::string::npos);
}

TEST_F(EncryptedDirStoreTest, PlainStateOpenedWithAKeyIsRefused) {
  CommitAll({MakeBatch({{"a", "1"}})}, Options(std::nullopt));
  Bytes before = ReadFileBytes(state_path_);
  auto records = Reload(Options(Key(1), true));
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(records.error().message(),
            "state file " + state_path_ +
                " is not encrypted, but a state key was given; refusing to start");
  EXPECT_EQ(ReadFileBytes(state_path_), before);
}

TEST_F(EncryptedDirStoreTest, EncryptedStateOpenedWithoutAKeyIsRefused) {
  CommitAll({MakeBatch({{"a", "1"}})}, Options(Key(1)));
  Bytes before = ReadFileBytes(state_path_);
  auto records = Reload(Options(std::nullopt, true));
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      records.error().message(),
      "state file " + state_path_ + " is encrypted, but no state key was given; refusing to start");
  EXPECT_TRUE(warnings_.empty());
  EXPECT_EQ(ReadFileBytes(state_path_), before);
}

TEST_F(EncryptedDirStoreTest, KeyOfTheWrongSizeIsRefusedAtOpen) {
  auto store = OpenDirStore(dir_, Options(SecretBytes(16)));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.error().message(), "a state key must be 32 bytes, not 16");
}

}  // namespace
}  // namespace tpm2emu::nvstore
