#pragma once
// Byte buffers: Bytes for public data, SecretBytes for keys, seeds and auth values (wiped on
// destruction, compared in constant time).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace tpm2emu {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline Bytes ToBytes(ByteSpan s) { return Bytes(s.begin(), s.end()); }

// The span without its trailing zero octets (authValues ignore them: Part 1 §16.6.4.3).
inline ByteSpan TrimTrailingZeros(ByteSpan s) {
  size_t n = s.size();
  while (n > 0 && s[n - 1] == 0) {
    --n;
  }
  return s.first(n);
}

// Overwrites memory in a way the optimiser may not remove.
void SecureWipe(void* data, size_t size);

// Constant-time comparison (time depends on the lengths only).
bool ConstantTimeEqual(ByteSpan a, ByteSpan b);

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(ByteSpan data) : data_(data.begin(), data.end()) {}
  explicit SecretBytes(size_t size) : data_(size) {}
  SecretBytes(const SecretBytes&) = default;
  SecretBytes& operator=(const SecretBytes& other) {
    if (this != &other) {
      Wipe();
      data_ = other.data_;
    }
    return *this;
  }
  SecretBytes(SecretBytes&& other) noexcept : data_(std::move(other.data_)) { other.data_.clear(); }
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      Wipe();
      data_ = std::move(other.data_);
      other.data_.clear();
    }
    return *this;
  }
  ~SecretBytes() { Wipe(); }

  uint8_t* data() { return data_.data(); }
  const uint8_t* data() const { return data_.data(); }
  size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  void resize(size_t n) { data_.resize(n); }
  uint8_t& operator[](size_t i) { return data_[i]; }
  uint8_t operator[](size_t i) const { return data_[i]; }
  ByteSpan span() const { return data_; }
  operator ByteSpan() const { return data_; }  // NOLINT
  auto begin() const { return data_.begin(); }
  auto end() const { return data_.end(); }

 private:
  void Wipe() {
    if (!data_.empty()) {
      SecureWipe(data_.data(), data_.size());
    }
  }
  std::vector<uint8_t> data_;
};

inline bool operator==(const SecretBytes& a, const SecretBytes& b) {
  return ConstantTimeEqual(a.span(), b.span());
}

}  // namespace tpm2emu
