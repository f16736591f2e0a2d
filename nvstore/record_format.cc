#include "nvstore/record_format.h"

#include <algorithm>
#include <array>
#include <climits>
#include <memory>
#include <string>
#include <utility>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "engine/base/endian.h"

namespace tpm2emu::nvstore {
namespace {

constexpr std::array<uint8_t, 8> kMagic = {'T', '2', 'E', 'M', 'U', 'S', 'T', '\0'};
constexpr std::array<uint8_t, 8> kEncryptedMagic = {'T', '2', 'E', 'M', 'U', 'E', 'N', '\0'};
constexpr size_t kVersionOffset = kMagic.size();
constexpr size_t kGenerationOffset = kVersionOffset + 4;
constexpr size_t kCountOffset = kGenerationOffset + 8;
constexpr size_t kHeaderSize = kCountOffset + 4;
constexpr size_t kDigestSize = 32;  // SHA-256
constexpr size_t kRecordOverhead = 2 + 4;

using Digest = std::array<uint8_t, kDigestSize>;

// Drains OpenSSL's error queue into a kInternal status.
Status OpenSslError(const std::string& what) {
  std::string why;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    std::array<char, 256> buf{};
    ERR_error_string_n(e, buf.data(), buf.size());
    why += why.empty() ? "" : "; ";
    why += buf.data();
  }
  return Status(StatusCode::kInternal,
                what + " failed (OpenSSL: " + (why.empty() ? "no error" : why) + ")");
}

StatusOr<Digest> Sha256(ByteSpan data) {
  Digest out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != kDigestSize) {
    return OpenSslError("SHA-256 of the state");
  }
  return out;
}

// A bounds-checked reader over a decoded image; every length is checked against what is left
// before anything is allocated for it.
class Cursor {
 public:
  explicit Cursor(ByteSpan data) : data_(data) {}
  size_t left() const { return data_.size() - pos_; }
  bool Take(size_t n, ByteSpan& out) {
    if (n > left()) {
      return false;
    }
    out = data_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool U16(size_t& out) {
    ByteSpan b;
    if (!Take(2, b)) {
      return false;
    }
    out = LoadBe16(b.data());
    return true;
  }
  bool U32(size_t& out) {
    ByteSpan b;
    if (!Take(4, b)) {
      return false;
    }
    out = LoadBe32(b.data());
    return true;
  }

 private:
  ByteSpan data_;
  size_t pos_ = 0;
};

Status Malformed(uint64_t index, const std::string& why) {
  return CorruptError("has a malformed record #" + std::to_string(index) + " (" + why +
                      ") despite a valid checksum");
}

}  // namespace

Status CheckBatch(const Batch& batch) {
  for (const auto& [key, value] : batch.changes) {
    if (key.size() > kMaxKeySize) {
      return InvalidArgument("record key of " + std::to_string(key.size()) +
                             " bytes is longer than the " + std::to_string(kMaxKeySize) +
                             "-byte limit");
    }
  }
  return Status::Ok();
}

void ApplyBatch(const Batch& batch, Records& records) {
  for (const auto& [key, value] : batch.changes) {
    if (value) {
      records[key] = *value;
    } else {
      records.erase(key);
    }
  }
}

size_t EncodedSize(const Records& records) {
  size_t size = kHeaderSize + kDigestSize;
  for (const auto& [key, value] : records) {
    size += kRecordOverhead + key.size() + value.size();
  }
  return size;
}

Status CheckRecords(const Records& records) {
  for (const auto& [key, value] : records) {
    if (key.size() > kMaxKeySize) {
      return InvalidArgument("record key of " + std::to_string(key.size()) +
                             " bytes is longer than the " + std::to_string(kMaxKeySize) +
                             "-byte limit");
    }
  }
  size_t size = EncodedSize(records);
  if (size > kMaxImageSize) {
    return InvalidArgument("state of " + std::to_string(size) + " bytes would exceed the " +
                           std::to_string(kMaxImageSize) + "-byte limit of a state file");
  }
  return Status::Ok();
}

StatusOr<Bytes> EncodeState(const State& state) {
  TRY(CheckRecords(state.records));
  Bytes out;
  out.reserve(EncodedSize(state.records));
  out.insert(out.end(), kMagic.begin(), kMagic.end());
  AppendBe32(out, kFormatVersion);
  AppendBe64(out, state.generation);
  // CheckRecords bounds the image, so the count and every length fit their fields.
  AppendBe32(out, static_cast<uint32_t>(state.records.size()));
  for (const auto& [key, value] : state.records) {
    AppendBe16(out, static_cast<uint16_t>(key.size()));
    out.insert(out.end(), key.begin(), key.end());
    AppendBe32(out, static_cast<uint32_t>(value.size()));
    out.insert(out.end(), value.begin(), value.end());
  }
  TRY_ASSIGN(Digest digest, Sha256(out));
  out.insert(out.end(), digest.begin(), digest.end());
  return out;
}

StatusOr<State> DecodeState(ByteSpan image) {
  const std::string size_text = " (" + std::to_string(image.size()) + " bytes)";
  if (image.size() > kMaxImageSize) {
    return CorruptError("is larger than any state tpm2emu writes" + size_text);
  }
  if (image.empty()) {
    return CorruptError("is empty (truncated)");
  }
  if (image.size() < kMagic.size()) {
    // A prefix of the magic is a truncated state file; anything else is not ours.
    bool prefix = std::equal(image.begin(), image.end(), kMagic.begin());
    return CorruptError(prefix ? "is truncated" + size_text
                               : "is not a tpm2emu state file (wrong magic)");
  }
  if (std::equal(kEncryptedMagic.begin(), kEncryptedMagic.end(), image.begin())) {
    return Status(StatusCode::kFailedPrecondition, "is encrypted, but no state key was given");
  }
  if (!std::equal(kMagic.begin(), kMagic.end(), image.begin())) {
    return CorruptError("is not a tpm2emu state file (wrong magic)");
  }
  if (image.size() < kHeaderSize) {
    return CorruptError("is truncated" + size_text);
  }
  // The version comes before the checksum: a later format may lay out its checksum differently,
  // and "unknown version" is then the useful message.
  uint32_t version = LoadBe32(image.data() + kVersionOffset);
  if (version != kFormatVersion) {
    return CorruptError("has format version " + std::to_string(version) +
                        ", but this tpm2emu reads only version " + std::to_string(kFormatVersion) +
                        " (written by a newer tpm2emu, or damaged)");
  }
  if (image.size() < kHeaderSize + kDigestSize) {
    return CorruptError("is truncated" + size_text);
  }
  ByteSpan body = image.first(image.size() - kDigestSize);
  TRY_ASSIGN(Digest digest, Sha256(body));
  if (!std::equal(digest.begin(), digest.end(), image.end() - kDigestSize)) {
    return CorruptError("fails its checksum (corrupted or truncated)");
  }

  State state;
  state.generation = LoadBe64(image.data() + kGenerationOffset);
  uint64_t count = LoadBe32(image.data() + kCountOffset);
  Cursor in(body.subspan(kHeaderSize));
  if (count > in.left() / kRecordOverhead) {
    return CorruptError("claims " + std::to_string(count) + " records, more than its " +
                        std::to_string(body.size()) + " bytes can hold");
  }
  const std::string* previous_key = nullptr;
  for (uint64_t i = 0; i < count; ++i) {
    size_t key_size = 0;
    size_t value_size = 0;
    ByteSpan key;
    ByteSpan value;
    if (!in.U16(key_size) || !in.Take(key_size, key)) {
      return Malformed(i, "key runs past the end");
    }
    if (!in.U32(value_size) || !in.Take(value_size, value)) {
      return Malformed(i, "value runs past the end");
    }
    std::string key_text(key.begin(), key.end());
    if (previous_key != nullptr && !(*previous_key < key_text)) {
      return Malformed(i, "keys out of order or repeated");
    }
    auto it = state.records.emplace(std::move(key_text), Bytes(value.begin(), value.end())).first;
    previous_key = &it->first;
  }
  if (in.left() != 0) {
    return CorruptError("has " + std::to_string(in.left()) +
                        " bytes after its last record despite a valid checksum");
  }
  return state;
}

namespace {

constexpr size_t kKeyIdSize = 8;
constexpr size_t kTagSize = 16;
constexpr size_t kEncryptedVersionOffset = kEncryptedMagic.size();
constexpr size_t kKeyIdOffset = kEncryptedVersionOffset + 4;
constexpr size_t kNonceOffset = kKeyIdOffset + kKeyIdSize;
constexpr size_t kEncryptedHeaderSize = kNonceOffset + kStateNonceSize;
static_assert(kEncryptionOverhead == kEncryptedHeaderSize + kTagSize);

using KeyId = std::array<uint8_t, kKeyIdSize>;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

Status CheckKey(const SecretBytes& key) {
  if (key.size() != kStateKeySize) {
    return InvalidArgument("a state key must be " + std::to_string(kStateKeySize) + " bytes, not " +
                           std::to_string(key.size()));
  }
  return Status::Ok();
}

StatusOr<KeyId> KeyIdOf(const SecretBytes& key) {
  static constexpr char kLabel[] = "tpm2emu state key id";
  std::array<uint8_t, kDigestSize> mac{};
  size_t len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                reinterpret_cast<const uint8_t*>(kLabel), sizeof(kLabel) - 1, mac.data(),
                mac.size(), &len) == nullptr ||
      len != mac.size()) {
    return OpenSslError("HMAC-SHA-256 of the state key");
  }
  KeyId id{};
  std::copy_n(mac.begin(), id.size(), id.begin());
  SecureWipe(mac.data(), mac.size());
  return id;
}

// One AES-256-GCM pass over `in` into `out` (the same size), with the header as the additional
// data. Encrypting writes the tag; decrypting checks it and reports a mismatch as false.
StatusOr<bool> Gcm(bool encrypt, const SecretBytes& key, ByteSpan header, ByteSpan nonce,
                   ByteSpan in, uint8_t* out, uint8_t* tag) {
  // The bound on images keeps every length within OpenSSL's int.
  static_assert(kMaxImageSize <= INT_MAX);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) {
    return OpenSslError("AES-256-GCM setup");
  }
  int len = 0;
  auto init = encrypt ? EVP_EncryptInit_ex : EVP_DecryptInit_ex;
  auto update = encrypt ? EVP_EncryptUpdate : EVP_DecryptUpdate;
  if (init(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(nonce.size()),
                          nullptr) != 1 ||
      init(ctx.get(), nullptr, nullptr, key.data(), nonce.data()) != 1 ||
      update(ctx.get(), nullptr, &len, header.data(), static_cast<int>(header.size())) != 1 ||
      update(ctx.get(), out, &len, in.data(), static_cast<int>(in.size())) != 1) {
    return OpenSslError(encrypt ? "AES-256-GCM encryption of the state"
                                : "AES-256-GCM decryption of the state");
  }
  if (encrypt) {
    if (EVP_EncryptFinal_ex(ctx.get(), out + in.size(), &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagSize), tag) !=
            1) {
      return OpenSslError("AES-256-GCM encryption of the state");
    }
    return true;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagSize), tag) != 1) {
    return OpenSslError("AES-256-GCM decryption of the state");
  }
  // A failed final step is the tag mismatch; it leaves nothing on the error queue that matters.
  bool authentic = EVP_DecryptFinal_ex(ctx.get(), out + in.size(), &len) == 1;
  ERR_clear_error();
  return authentic;
}

}  // namespace

StatusOr<Bytes> EncodeEncryptedState(const State& state, const SecretBytes& key,
                                     std::span<const uint8_t, kStateNonceSize> nonce) {
  TRY(CheckKey(key));
  TRY(CheckRecords(state.records));
  if (size_t size = EncodedSize(state.records); size > kMaxImageSize - kEncryptionOverhead) {
    return InvalidArgument("encrypted state of " + std::to_string(size + kEncryptionOverhead) +
                           " bytes would exceed the " + std::to_string(kMaxImageSize) +
                           "-byte limit of a state file");
  }
  TRY_ASSIGN(Bytes encoded, EncodeState(state));
  SecretBytes plain(encoded);
  SecureWipe(encoded.data(), encoded.size());
  TRY_ASSIGN(KeyId id, KeyIdOf(key));
  Bytes out;
  out.reserve(plain.size() + kEncryptionOverhead);
  out.insert(out.end(), kEncryptedMagic.begin(), kEncryptedMagic.end());
  AppendBe32(out, kEncryptedFormatVersion);
  out.insert(out.end(), id.begin(), id.end());
  out.insert(out.end(), nonce.begin(), nonce.end());
  out.resize(kEncryptedHeaderSize + plain.size() + kTagSize);
  ByteSpan header(out.data(), kEncryptedHeaderSize);
  TRY(Gcm(/*encrypt=*/true, key, header, nonce, plain, out.data() + kEncryptedHeaderSize,
          out.data() + kEncryptedHeaderSize + plain.size()));
  return out;
}

StatusOr<State> DecodeEncryptedState(ByteSpan image, const SecretBytes& key) {
  TRY(CheckKey(key));
  const std::string size_text = " (" + std::to_string(image.size()) + " bytes)";
  if (image.size() > kMaxImageSize) {
    return CorruptError("is larger than any state tpm2emu writes" + size_text);
  }
  if (image.empty()) {
    return CorruptError("is empty (truncated)");
  }
  auto starts_with = [&](const std::array<uint8_t, 8>& magic) {
    size_t n = std::min(image.size(), magic.size());
    return std::equal(image.begin(), image.begin() + static_cast<std::ptrdiff_t>(n), magic.begin());
  };
  if (!starts_with(kEncryptedMagic)) {
    if (image.size() >= kMagic.size() && starts_with(kMagic)) {
      return Status(StatusCode::kFailedPrecondition, "is not encrypted, but a state key was given");
    }
    return CorruptError("is not a tpm2emu state file (wrong magic)");
  }
  if (image.size() < kEncryptedVersionOffset + 4) {
    return CorruptError("is truncated" + size_text);
  }
  uint32_t version = LoadBe32(image.data() + kEncryptedVersionOffset);
  if (version != kEncryptedFormatVersion) {
    return CorruptError("has encrypted format version " + std::to_string(version) +
                        ", but this tpm2emu reads only version " +
                        std::to_string(kEncryptedFormatVersion) +
                        " (written by a newer tpm2emu, or damaged)");
  }
  if (image.size() < kEncryptionOverhead) {
    return CorruptError("is truncated" + size_text);
  }
  TRY_ASSIGN(KeyId id, KeyIdOf(key));
  if (!std::equal(id.begin(), id.end(), image.begin() + kKeyIdOffset)) {
    return Status(StatusCode::kFailedPrecondition,
                  "was encrypted with a different state key (or its header is damaged)");
  }
  ByteSpan header = image.first(kEncryptedHeaderSize);
  ByteSpan nonce = image.subspan(kNonceOffset, kStateNonceSize);
  ByteSpan ciphertext =
      image.subspan(kEncryptedHeaderSize, image.size() - kEncryptedHeaderSize - kTagSize);
  std::array<uint8_t, kTagSize> tag{};
  std::copy(image.end() - kTagSize, image.end(), tag.begin());
  SecretBytes plain(ciphertext.size());
  TRY_ASSIGN(bool authentic,
             Gcm(/*encrypt=*/false, key, header, nonce, ciphertext, plain.data(), tag.data()));
  if (!authentic) {
    return CorruptError("fails its authentication tag (tampered with, corrupted or truncated)");
  }
  auto state = DecodeState(plain);
  if (!state.ok() && state.error().code() == StatusCode::kCorrupt) {
    return CorruptError("holds an encrypted image that " + state.error().message());
  }
  return state;
}

}  // namespace tpm2emu::nvstore
