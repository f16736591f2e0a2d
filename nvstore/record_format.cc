#include "nvstore/record_format.h"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "engine/base/endian.h"

namespace tpm2emu::nvstore {
namespace {

constexpr std::array<uint8_t, 8> kMagic = {'T', '2', 'E', 'M', 'U', 'S', 'T', '\0'};
constexpr size_t kVersionOffset = kMagic.size();
constexpr size_t kGenerationOffset = kVersionOffset + 4;
constexpr size_t kCountOffset = kGenerationOffset + 8;
constexpr size_t kHeaderSize = kCountOffset + 4;
constexpr size_t kDigestSize = 32;  // SHA-256
constexpr size_t kRecordOverhead = 2 + 4;

using Digest = std::array<uint8_t, kDigestSize>;

StatusOr<Digest> Sha256(ByteSpan data) {
  Digest out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != kDigestSize) {
    std::string why;
    for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
      std::array<char, 256> buf{};
      ERR_error_string_n(e, buf.data(), buf.size());
      why += why.empty() ? "" : "; ";
      why += buf.data();
    }
    return Status(StatusCode::kInternal, "SHA-256 of the state failed (OpenSSL: " +
                                             (why.empty() ? "no error" : why) + ")");
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

}  // namespace tpm2emu::nvstore
