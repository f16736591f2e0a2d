#pragma once
// Bounds-checked big-endian cursor over a command buffer, and a writer that back-fills sizes.
// Reader errors carry no position: the dispatcher adds the handle, parameter or session number.

#include <cstddef>
#include <cstdint>

#include "engine/base/bytes.h"
#include "engine/base/endian.h"
#include "engine/base/tpm_rc.h"

namespace tpm2emu::wire {

class Reader {
 public:
  Reader() = default;
  explicit Reader(ByteSpan data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  bool empty() const { return remaining() == 0; }
  size_t offset() const { return pos_; }
  ByteSpan rest() const { return data_.subspan(pos_); }
  ByteSpan consumed() const { return data_.first(pos_); }

  RcStatus U8(uint8_t& v) {
    TRY_ASSIGN(auto s, Take(1));
    v = s[0];
    return {};
  }
  RcStatus U16(uint16_t& v) {
    TRY_ASSIGN(auto s, Take(2));
    v = LoadBe16(s.data());
    return {};
  }
  RcStatus U32(uint32_t& v) {
    TRY_ASSIGN(auto s, Take(4));
    v = LoadBe32(s.data());
    return {};
  }
  RcStatus U64(uint64_t& v) {
    TRY_ASSIGN(auto s, Take(8));
    v = LoadBe64(s.data());
    return {};
  }
  // The next n bytes; TPM_RC_INSUFFICIENT when fewer remain.
  Result<ByteSpan> Take(size_t n) {
    if (n > remaining()) {
      pos_ = data_.size();
      return Rc::Insufficient;
    }
    ByteSpan s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  // A reader over the next n bytes (for a sized structure).
  Result<Reader> Sub(size_t n) {
    TRY_ASSIGN(auto s, Take(n));
    return Reader(s);
  }

 private:
  ByteSpan data_;
  size_t pos_ = 0;
};

class Writer {
 public:
  void U8(uint8_t v) { buf_.push_back(v); }
  void U16(uint16_t v) { AppendBe16(buf_, v); }
  void U32(uint32_t v) { AppendBe32(buf_, v); }
  void U64(uint64_t v) { AppendBe64(buf_, v); }
  void Raw(ByteSpan b) { buf_.insert(buf_.end(), b.begin(), b.end()); }

  // Reserves a size field; EndSize writes the number of bytes written since.
  size_t BeginSize16() {
    U16(0);
    return buf_.size();
  }
  void EndSize16(size_t mark) {
    auto n = static_cast<uint16_t>(buf_.size() - mark);
    buf_[mark - 2] = static_cast<uint8_t>(n >> 8);
    buf_[mark - 1] = static_cast<uint8_t>(n);
  }
  size_t BeginSize32() {
    U32(0);
    return buf_.size();
  }
  void EndSize32(size_t mark) {
    StoreBe32(&buf_[mark - 4], static_cast<uint32_t>(buf_.size() - mark));
  }

  // Overwrites four octets written earlier at `offset` (a count known only afterwards).
  void PatchU32(size_t offset, uint32_t v) { StoreBe32(&buf_[offset], v); }

  size_t size() const { return buf_.size(); }
  const Bytes& bytes() const { return buf_; }
  Bytes Take() { return std::move(buf_); }

 private:
  Bytes buf_;
};

}  // namespace tpm2emu::wire
