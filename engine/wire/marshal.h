#pragma once
// Generic marshaling of Part 2 types. A structure lists its fields once in `kFields`; the
// building blocks below cover TPM2B (u16-sized), TPML (u32 count), TPMI (checked domains) and
// TPMA (reserved-bit checks). Types with a union provide their own Marshal/Unmarshal overloads.

#include <array>
#include <concepts>
#include <cstdint>
#include <optional>
#include <tuple>
#include <type_traits>
#include <vector>

#include "engine/base/bytes.h"
#include "engine/wire/reader.h"

namespace tpm2emu::wire {

template <class T>
concept Fielded = requires { T::kFields; };

// --- Integers ---------------------------------------------------------------------------------
inline RcStatus Unmarshal(Reader& r, uint8_t& v) { return r.U8(v); }
inline RcStatus Unmarshal(Reader& r, uint16_t& v) { return r.U16(v); }
inline RcStatus Unmarshal(Reader& r, uint32_t& v) { return r.U32(v); }
inline RcStatus Unmarshal(Reader& r, uint64_t& v) { return r.U64(v); }
inline RcStatus Unmarshal(Reader& r, int8_t& v) {
  uint8_t u = 0;
  TRY(r.U8(u));
  v = static_cast<int8_t>(u);
  return {};
}
inline void Marshal(Writer& w, uint8_t v) { w.U8(v); }
inline void Marshal(Writer& w, uint16_t v) { w.U16(v); }
inline void Marshal(Writer& w, uint32_t v) { w.U32(v); }
inline void Marshal(Writer& w, uint64_t v) { w.U64(v); }
inline void Marshal(Writer& w, int8_t v) { w.U8(static_cast<uint8_t>(v)); }

// --- TPM2B of bytes: u16 size then the bytes, size limited to Max -----------------------------
template <size_t Max>
struct Tpm2bBytes {
  static constexpr size_t kMax = Max;
  Bytes data;
  size_t size() const { return data.size(); }
  bool empty() const { return data.empty(); }
  ByteSpan span() const { return data; }
  friend bool operator==(const Tpm2bBytes&, const Tpm2bBytes&) = default;
};

template <size_t Max>
RcStatus Unmarshal(Reader& r, Tpm2bBytes<Max>& v) {
  uint16_t n = 0;
  TRY(r.U16(n));
  if (n > Max) {
    return Rc::Size;
  }
  TRY_ASSIGN(auto s, r.Take(n));
  v.data.assign(s.begin(), s.end());
  return {};
}
template <size_t Max>
void Marshal(Writer& w, const Tpm2bBytes<Max>& v) {
  w.U16(static_cast<uint16_t>(v.data.size()));
  w.Raw(v.data);
}

// --- The rest of the buffer, for a union whose handler reads it itself -------------------------
struct Rest {
  Bytes data;
};
inline RcStatus Unmarshal(Reader& r, Rest& v) {
  ByteSpan s = r.rest();
  v.data.assign(s.begin(), s.end());
  (void)r.Take(s.size());
  return {};
}
inline void Marshal(Writer& w, const Rest& v) { w.Raw(v.data); }

// --- TPM2B of a structure: u16 size, then exactly that many bytes of T ------------------------
template <class T>
struct Tpm2b {
  T value{};
  bool present = true;  // a zero size is allowed only where the spec permits an empty structure
};

// --- TPML: u32 count (at most Max), then count elements ----------------------------------------
template <class T, size_t Max>
struct List {
  static constexpr size_t kMax = Max;
  std::vector<T> items;
  friend bool operator==(const List&, const List&) = default;
};

// --- TPMI: a base type whose values are checked against a domain ------------------------------
// Domain provides `static std::optional<TpmRc> Check(Base)`.
template <class Base, class Domain>
struct Checked {
  Base value{};
  constexpr operator Base() const { return value; }  // NOLINT
  friend bool operator==(const Checked&, const Checked&) = default;
};

template <class Base, class Domain>
RcStatus Unmarshal(Reader& r, Checked<Base, Domain>& v) {
  TRY(Unmarshal(r, v.value));
  if (auto rc = Domain::Check(v.value)) {
    return *rc;
  }
  return {};
}
template <class Base, class Domain>
void Marshal(Writer& w, const Checked<Base, Domain>& v) {
  Marshal(w, v.value);
}

// --- TPMA: attribute bits with reserved bits that must be clear -------------------------------
template <class Base, Base ReservedMask>
struct Attributes {
  Base value{};
  constexpr bool Has(Base bit) const { return (value & bit) != 0; }
  friend bool operator==(const Attributes&, const Attributes&) = default;
};
template <class Base, Base ReservedMask>
RcStatus Unmarshal(Reader& r, Attributes<Base, ReservedMask>& v) {
  TRY(Unmarshal(r, v.value));
  if ((v.value & ReservedMask) != 0) {
    return Rc::ReservedBits;
  }
  return {};
}
template <class Base, Base ReservedMask>
void Marshal(Writer& w, const Attributes<Base, ReservedMask>& v) {
  Marshal(w, v.value);
}

// --- Structures listing their fields -----------------------------------------------------------
template <Fielded T>
RcStatus Unmarshal(Reader& r, T& v);
template <Fielded T>
void Marshal(Writer& w, const T& v);

template <class T>
RcStatus Unmarshal(Reader& r, Tpm2b<T>& v) {
  uint16_t n = 0;
  TRY(r.U16(n));
  if (n == 0) {
    v.present = false;
    v.value = T{};
    return {};
  }
  TRY_ASSIGN(auto sub, r.Sub(n));
  v.present = true;
  TRY(Unmarshal(sub, v.value));
  if (!sub.empty()) {
    return Rc::Size;
  }
  return {};
}
template <class T>
void Marshal(Writer& w, const Tpm2b<T>& v) {
  size_t mark = w.BeginSize16();
  if (v.present) {
    Marshal(w, v.value);
  }
  w.EndSize16(mark);
}

template <class T, size_t Max>
RcStatus Unmarshal(Reader& r, List<T, Max>& v) {
  uint32_t n = 0;
  TRY(r.U32(n));
  if (n > Max) {
    return Rc::Size;
  }
  v.items.clear();
  v.items.resize(n);
  for (auto& item : v.items) {
    TRY(Unmarshal(r, item));
  }
  return {};
}
template <class T, size_t Max>
void Marshal(Writer& w, const List<T, Max>& v) {
  w.U32(static_cast<uint32_t>(v.items.size()));
  for (const auto& item : v.items) {
    Marshal(w, item);
  }
}

template <Fielded T>
RcStatus Unmarshal(Reader& r, T& v) {
  RcStatus status;
  std::apply(
      [&](auto... member) {
        ((status.ok() ? (void)(status = Unmarshal(r, v.*member)) : (void)0), ...);
      },
      T::kFields);
  return status;
}
template <Fielded T>
void Marshal(Writer& w, const T& v) {
  std::apply([&](auto... member) { (Marshal(w, v.*member), ...); }, T::kFields);
}

// Whole-buffer helpers: the buffer must hold exactly one T.
template <class T>
Result<T> UnmarshalExact(ByteSpan data) {
  Reader r(data);
  T v{};
  TRY(Unmarshal(r, v));
  if (!r.empty()) {
    return Rc::Size;
  }
  return v;
}
template <class T>
Bytes MarshalToBytes(const T& v) {
  Writer w;
  Marshal(w, v);
  return w.Take();
}

}  // namespace tpm2emu::wire
