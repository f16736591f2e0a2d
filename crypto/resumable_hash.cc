// Why OpenSSL's low-level SHA1_CTX/SHA256_CTX/SHA512_CTX and not EVP (STYLE §5 prefers EVP): an
// EVP_MD_CTX in OpenSSL 3 keeps its running state inside the provider, with no way to read it
// out or put it back, while the low-level contexts are plain structures with public fields in
// <openssl/sha.h>. They are deprecated in OpenSSL 3, hence the macro below, which must come
// before the first OpenSSL header and is defined in this file only. No OpenSSL type leaves this
// file, and the state is copied field by field into the explicit format of resumable_hash.h,
// never as a structure image.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "crypto/resumable_hash.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <iterator>
#include <type_traits>
#include <utility>
#include <variant>

#include <openssl/sha.h>

#include "crypto/evp.h"
#include "engine/wire/constants.h"
#include "engine/wire/reader.h"

namespace tpm2emu::crypto {
namespace {

// The shape of each algorithm's running state (FIPS 180-4 §5.3, §6).
struct Info {
  uint16_t alg;
  size_t digest_size;
  size_t block_size;
  size_t word_size;  // octets per chaining-value word
  size_t words;      // words in the chaining value
};
constexpr std::array<Info, 4> kInfo = {{
    {TpmAlg::Sha1, 20, 64, 4, 5},
    {TpmAlg::Sha256, 32, 64, 4, 8},
    {TpmAlg::Sha384, 48, 128, 8, 8},
    {TpmAlg::Sha512, 64, 128, 8, 8},
}};
constexpr size_t kMaxBlock = 128;

const Info* FindInfo(uint16_t alg) {
  for (const Info& info : kInfo) {
    if (info.alg == alg) {
      return &info;
    }
  }
  return nullptr;
}

// The running state as plain values: what Export() writes and Import() reads. Wiped when it
// goes out of scope (it may be a function of secret data).
struct Fields {
  std::array<uint64_t, 8> h{};               // the chaining value; the first Info::words are used
  uint64_t length = 0;                       // octets hashed so far
  std::array<uint8_t, kMaxBlock> pending{};  // the first length mod block_size are valid

  Fields() = default;
  Fields(const Fields&) = delete;
  Fields& operator=(const Fields&) = delete;
  ~Fields() { SecureWipe(this, sizeof(*this)); }
};

// OpenSSL keeps the message length in bits as two words, Nh:Nl (32-bit words for SHA-1 and
// SHA-256, 64-bit for SHA-384 and SHA-512), and the octets not yet compressed at the start of
// its block buffer (`num` of them), in input order.
template <class Ctx>
auto& BlockBuffer(Ctx& c) {
  if constexpr (std::is_same_v<std::remove_const_t<Ctx>, SHA512_CTX>) {
    return c.u.p;
  } else {
    return c.data;
  }
}

// Shift from an octet count to Nh (the count in bits, high word).
template <class Ctx>
constexpr unsigned kNhShift = sizeof(Ctx::Nl) * 8 - 3;

template <class Ctx>
void GetFields(const Ctx& c, Fields& f) {
  if constexpr (std::is_same_v<Ctx, SHA_CTX>) {
    f.h = {c.h0, c.h1, c.h2, c.h3, c.h4};
  } else {
    std::copy(std::begin(c.h), std::end(c.h), f.h.begin());
  }
  const uint64_t nh = c.Nh;
  const uint64_t nl = c.Nl;
  // 2^64 octets cannot be reached in practice; Export() refuses a count it cannot represent.
  f.length = (nh >> (64 - kNhShift<Ctx>)) != 0 ? UINT64_MAX : (nh << kNhShift<Ctx>) | (nl >> 3);
  static_assert(sizeof(BlockBuffer(c)) <= kMaxBlock);
  std::memcpy(f.pending.data(), BlockBuffer(c), sizeof(BlockBuffer(c)));
}

// Called on a freshly initialised context, which fixes the output length (SHA-384 vs SHA-512).
// The caller has checked that `f.length` is within the algorithm's limit.
template <class Ctx>
void SetFields(Ctx& c, const Fields& f, size_t block) {
  using Word = decltype(Ctx::Nl);
  if constexpr (std::is_same_v<Ctx, SHA_CTX>) {
    Word* h[] = {&c.h0, &c.h1, &c.h2, &c.h3, &c.h4};
    for (size_t i = 0; i < std::size(h); ++i) {
      *h[i] = static_cast<Word>(f.h[i]);
    }
  } else {
    for (size_t i = 0; i < std::size(c.h); ++i) {
      c.h[i] = static_cast<Word>(f.h[i]);
    }
  }
  c.Nl = static_cast<Word>(f.length << 3);
  c.Nh = static_cast<Word>(f.length >> kNhShift<Ctx>);
  static_assert(sizeof(BlockBuffer(c)) <= kMaxBlock);
  std::memcpy(BlockBuffer(c), f.pending.data(), sizeof(BlockBuffer(c)));
  c.num = static_cast<unsigned int>(f.length % block);
}

int UpdateCtx(SHA_CTX& c, ByteSpan d) {
  return SHA1_Update(&c, d.data(), d.size());
}
int UpdateCtx(SHA256_CTX& c, ByteSpan d) {
  return SHA256_Update(&c, d.data(), d.size());
}
int UpdateCtx(SHA512_CTX& c, ByteSpan d) {
  return SHA512_Update(&c, d.data(), d.size());
}
// The output length follows from the Init function (SHA384_Init sets 48 octets).
int FinalCtx(SHA_CTX& c, uint8_t* md) {
  return SHA1_Final(md, &c);
}
int FinalCtx(SHA256_CTX& c, uint8_t* md) {
  return SHA256_Final(md, &c);
}
int FinalCtx(SHA512_CTX& c, uint8_t* md) {
  return SHA512_Final(md, &c);
}

// SHA-1 and SHA-256 count bits in 64 bits (FIPS 180-4 §5.1.1): at most 2^61 - 1 octets.
bool LengthInRange(const Info& info, uint64_t length) {
  return info.block_size != 64 || length < (uint64_t{1} << 61);
}

}  // namespace

struct ResumableHash::State {
  const Info* info = nullptr;
  std::variant<SHA_CTX, SHA256_CTX, SHA512_CTX> ctx;

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    std::visit([](auto& c) { SecureWipe(&c, sizeof(c)); }, ctx);
  }

  bool Init(const Info& i) {
    info = &i;
    switch (i.alg) {
      case TpmAlg::Sha1:
        return SHA1_Init(&ctx.emplace<SHA_CTX>()) == 1;
      case TpmAlg::Sha256:
        return SHA256_Init(&ctx.emplace<SHA256_CTX>()) == 1;
      case TpmAlg::Sha384:
        return SHA384_Init(&ctx.emplace<SHA512_CTX>()) == 1;
      case TpmAlg::Sha512:
        return SHA512_Init(&ctx.emplace<SHA512_CTX>()) == 1;
      default:
        return false;
    }
  }
};

ResumableHash::ResumableHash() : alg_(TpmAlg::Error) {}
ResumableHash::ResumableHash(uint16_t alg, std::unique_ptr<State> state)
    : alg_(alg), state_(std::move(state)) {}
ResumableHash::ResumableHash(ResumableHash&& other) noexcept
    : alg_(std::exchange(other.alg_, TpmAlg::Error)), state_(std::move(other.state_)) {}
ResumableHash& ResumableHash::operator=(ResumableHash&& other) noexcept {
  alg_ = std::exchange(other.alg_, TpmAlg::Error);
  state_ = std::move(other.state_);
  return *this;
}
ResumableHash::~ResumableHash() = default;

Result<ResumableHash> ResumableHash::Start(uint16_t hash_alg) {
  const Info* info = FindInfo(hash_alg);
  if (info == nullptr) {
    return Rc::Hash;
  }
  auto state = std::make_unique<State>();
  if (!state->Init(*info)) {
    return OpenSslFailure("SHA init");
  }
  return ResumableHash(hash_alg, std::move(state));
}

void ResumableHash::Update(ByteSpan data) {
  if (state_ == nullptr || data.empty()) {
    return;
  }
  if (std::visit([data](auto& c) { return UpdateCtx(c, data); }, state_->ctx) != 1) {
    LogOpenSslErrors("SHA update");
    state_.reset();
  }
}

Bytes ResumableHash::Finish() {
  if (state_ == nullptr) {
    return {};
  }
  std::unique_ptr<State> state = std::move(state_);
  alg_ = TpmAlg::Error;
  Bytes out(state->info->digest_size);
  if (std::visit([&out](auto& c) { return FinalCtx(c, out.data()); }, state->ctx) != 1) {
    LogOpenSslErrors("SHA final");
    return {};
  }
  return out;
}

Result<SecretBytes> ResumableHash::Export() const {
  if (state_ == nullptr) {
    return Rc::Failure;
  }
  const Info& info = *state_->info;
  Fields f;
  std::visit([&f](const auto& c) { GetFields(c, f); }, state_->ctx);
  if (!LengthInRange(info, f.length) || f.length == UINT64_MAX) {
    return Rc::Failure;
  }
  wire::Writer w;
  w.U16(info.alg);
  w.U64(f.length);
  for (size_t i = 0; i < info.words; ++i) {
    if (info.word_size == 4) {
      w.U32(static_cast<uint32_t>(f.h[i]));
    } else {
      w.U64(f.h[i]);
    }
  }
  w.Raw(ByteSpan(f.pending).first(f.length % info.block_size));
  Bytes plain = w.Take();
  SecretBytes out(plain);
  SecureWipe(plain.data(), plain.size());
  return out;
}

Result<ResumableHash> ResumableHash::ImportPrefix(ByteSpan state, size_t& consumed) {
  wire::Reader r(state);
  uint16_t alg = 0;
  Fields f;
  if (!r.U16(alg).ok()) {
    return Rc::Value;
  }
  const Info* info = FindInfo(alg);
  if (info == nullptr) {
    return Rc::Hash;
  }
  bool ok = r.U64(f.length).ok() && LengthInRange(*info, f.length);
  for (size_t i = 0; ok && i < info->words; ++i) {
    uint32_t word = 0;
    ok = info->word_size == 4 ? r.U32(word).ok() : r.U64(f.h[i]).ok();
    if (info->word_size == 4) {
      f.h[i] = word;
    }
  }
  auto pending = ok ? r.Take(f.length % info->block_size) : Result<ByteSpan>(Rc::Value);
  if (!pending.ok()) {
    return Rc::Value;
  }
  std::copy(pending->begin(), pending->end(), f.pending.begin());
  auto s = std::make_unique<State>();
  if (!s->Init(*info)) {
    return OpenSslFailure("SHA init");
  }
  std::visit([&f, info](auto& c) { SetFields(c, f, info->block_size); }, s->ctx);
  consumed = r.offset();
  return ResumableHash(alg, std::move(s));
}

Result<ResumableHash> ResumableHash::Import(ByteSpan state) {
  size_t consumed = 0;
  TRY_ASSIGN(ResumableHash h, ImportPrefix(state, consumed));
  if (consumed != state.size()) {
    return Rc::Value;
  }
  return h;
}

Result<ResumableHmac> ResumableHmac::Start(uint16_t hash_alg, ByteSpan key) {
  const Info* info = FindInfo(hash_alg);
  if (info == nullptr) {
    return Rc::Hash;
  }
  // RFC 2104 §2: K0 is the key zero-padded to one block, or its digest when it is longer.
  SecretBytes k0(info->block_size);
  if (key.size() > info->block_size) {
    TRY_ASSIGN(ResumableHash h, ResumableHash::Start(hash_alg));
    h.Update(key);
    SecretBytes digest(h.Finish());
    if (digest.size() != info->digest_size) {
      return Rc::Failure;  // logged by ResumableHash
    }
    std::copy(digest.begin(), digest.end(), k0.data());
  } else {
    std::copy(key.begin(), key.end(), k0.data());
  }
  TRY_ASSIGN(ResumableHash inner, ResumableHash::Start(hash_alg));
  SecretBytes ipad(k0.span());
  for (size_t i = 0; i < ipad.size(); ++i) {
    ipad[i] ^= 0x36;
  }
  inner.Update(ipad);
  return ResumableHmac(std::move(inner), std::move(k0));
}

Bytes ResumableHmac::Finish() {
  if (!inner_.ok()) {
    return {};
  }
  SecretBytes k0 = std::move(k0_);
  uint16_t alg = inner_.alg();
  Bytes inner_digest = inner_.Finish();
  auto outer = ResumableHash::Start(alg);
  if (inner_digest.empty() || !outer.ok()) {
    return {};  // logged
  }
  SecretBytes opad(k0.span());
  for (size_t i = 0; i < opad.size(); ++i) {
    opad[i] ^= 0x5c;
  }
  outer->Update(opad);
  outer->Update(inner_digest);
  return outer->Finish();
}

Result<SecretBytes> ResumableHmac::Export() const {
  TRY_ASSIGN(SecretBytes inner, inner_.Export());
  SecretBytes out(inner.size() + k0_.size());
  std::copy(inner.begin(), inner.end(), out.data());
  std::copy(k0_.begin(), k0_.end(), out.data() + inner.size());
  return out;
}

Result<ResumableHmac> ResumableHmac::Import(ByteSpan state) {
  size_t consumed = 0;
  TRY_ASSIGN(ResumableHash inner, ResumableHash::ImportPrefix(state, consumed));
  const Info& info = *FindInfo(inner.alg());
  // The inner hash always starts with the block K0 ^ ipad.
  uint64_t hashed = LoadBe64(state.data() + 2);
  if (state.size() - consumed != info.block_size || hashed < info.block_size) {
    return Rc::Value;
  }
  return ResumableHmac(std::move(inner), SecretBytes(state.subspan(consumed)));
}

}  // namespace tpm2emu::crypto
