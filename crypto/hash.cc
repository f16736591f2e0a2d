#include "crypto/hash.h"

#include <array>
#include <utility>

#include <openssl/core_names.h>

#include "crypto/evp.h"
#include "engine/wire/constants.h"

namespace tpm2emu::crypto {
namespace {

// OpenSSL's name and the digest size of each supported TPM_ALG_ID (Part 2 §6.3).
struct HashInfo {
  uint16_t alg;
  const char* name;
  size_t size;
};
constexpr std::array<HashInfo, 4> kHashInfo = {{
    {TpmAlg::Sha1, "SHA1", 20},
    {TpmAlg::Sha256, "SHA2-256", 32},
    {TpmAlg::Sha384, "SHA2-384", 48},
    {TpmAlg::Sha512, "SHA2-512", 64},
}};

// HMAC contexts are dup'ed from a per-algorithm template that already holds the digest, so that
// starting an HMAC does not fetch the digest by name again. The template is keyed (with the
// empty key) because OpenSSL cannot copy an HMAC context that was never initialised; Start()
// re-keys the copy. A non-null pointer is passed for an empty key: a null key asks OpenSSL to
// keep the previous one.
constexpr uint8_t kNoKey = 0;

struct Algorithm {
  uint16_t alg = 0;
  size_t size = 0;
  EvpMd md;
  EvpMacCtx hmac_template;
};

// The fetched algorithms. Built once, on first use (a function-local static, so the
// initialisation is thread-safe); immutable afterwards, so concurrent readers need no lock.
class Algorithms {
 public:
  static const Algorithms& Get() {
    static const Algorithms algorithms;
    return algorithms;
  }

  // nullptr when `alg` is unknown or could not be fetched.
  const Algorithm* Find(uint16_t alg) const {
    for (const Algorithm& a : table_) {
      if (a.alg == alg && a.md != nullptr && a.hmac_template != nullptr) {
        return &a;
      }
    }
    return nullptr;
  }

 private:
  Algorithms() {
    EvpMac hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    if (hmac == nullptr) {
      LogOpenSslErrors("fetching HMAC");
    }
    for (size_t i = 0; i < kHashInfo.size(); ++i) {
      const HashInfo& info = kHashInfo[i];
      Algorithm& a = table_[i];
      a.alg = info.alg;
      a.size = info.size;
      a.md.reset(EVP_MD_fetch(nullptr, info.name, nullptr));
      if (a.md == nullptr || static_cast<size_t>(EVP_MD_get_size(a.md.get())) != info.size) {
        LogOpenSslErrors(info.name);
        a.md.reset();
        continue;
      }
      if (hmac == nullptr) {
        continue;
      }
      EvpMacCtx ctx(EVP_MAC_CTX_new(hmac.get()));
      const OSSL_PARAM params[] = {
          OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(info.name), 0),
          OSSL_PARAM_construct_end(),
      };
      if (ctx == nullptr || EVP_MAC_init(ctx.get(), &kNoKey, 0, params) != 1) {
        LogOpenSslErrors(info.name);
        continue;
      }
      a.hmac_template = std::move(ctx);
    }
  }

  std::array<Algorithm, kHashInfo.size()> table_;
};

}  // namespace

size_t DigestSize(uint16_t hash_alg) {
  const Algorithm* a = Algorithms::Get().Find(hash_alg);
  return a == nullptr ? 0 : a->size;
}

bool IsHashSupported(uint16_t hash_alg) {
  return Algorithms::Get().Find(hash_alg) != nullptr;
}

Result<Bytes> Hash(uint16_t hash_alg, ByteSpan data) {
  const Algorithm* a = Algorithms::Get().Find(hash_alg);
  if (a == nullptr) {
    return Rc::Hash;
  }
  Bytes out(a->size);
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, a->md.get(), nullptr) != 1 ||
      len != out.size()) {
    return OpenSslFailure("EVP_Digest");
  }
  return out;
}

struct HashContext::State {
  EvpMdCtx ctx;
};

HashContext::HashContext() : alg_(TpmAlg::Error) {}
HashContext::HashContext(uint16_t alg, std::unique_ptr<State> state)
    : alg_(alg), state_(std::move(state)) {}
HashContext::HashContext(HashContext&& other) noexcept
    : alg_(std::exchange(other.alg_, TpmAlg::Error)), state_(std::move(other.state_)) {}
HashContext& HashContext::operator=(HashContext&& other) noexcept {
  alg_ = std::exchange(other.alg_, TpmAlg::Error);
  state_ = std::move(other.state_);
  return *this;
}
HashContext::~HashContext() = default;

bool HashContext::ok() const {
  return state_ != nullptr;
}

Result<HashContext> HashContext::Start(uint16_t hash_alg) {
  const Algorithm* a = Algorithms::Get().Find(hash_alg);
  if (a == nullptr) {
    return Rc::Hash;
  }
  auto state = std::make_unique<State>();
  state->ctx.reset(EVP_MD_CTX_new());
  if (state->ctx == nullptr || EVP_DigestInit_ex2(state->ctx.get(), a->md.get(), nullptr) != 1) {
    return OpenSslFailure("EVP_DigestInit_ex2");
  }
  return HashContext(hash_alg, std::move(state));
}

HashContext HashContext::Clone() const {
  if (state_ == nullptr) {
    return HashContext();
  }
  auto state = std::make_unique<State>();
  state->ctx.reset(EVP_MD_CTX_new());
  if (state->ctx == nullptr || EVP_MD_CTX_copy_ex(state->ctx.get(), state_->ctx.get()) != 1) {
    LogOpenSslErrors("EVP_MD_CTX_copy_ex");
    return HashContext();
  }
  return HashContext(alg_, std::move(state));
}

void HashContext::Update(ByteSpan data) {
  if (state_ == nullptr || data.empty()) {
    return;
  }
  if (EVP_DigestUpdate(state_->ctx.get(), data.data(), data.size()) != 1) {
    LogOpenSslErrors("EVP_DigestUpdate");
    state_.reset();
  }
}

Bytes HashContext::Finish() {
  if (state_ == nullptr) {
    return {};
  }
  std::unique_ptr<State> state = std::move(state_);
  Bytes out(static_cast<size_t>(EVP_MD_CTX_get_size(state->ctx.get())));
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(state->ctx.get(), out.data(), &len) != 1 || len != out.size()) {
    LogOpenSslErrors("EVP_DigestFinal_ex");
    return {};
  }
  return out;
}

struct HmacContext::State {
  EvpMacCtx ctx;
  size_t size = 0;
};

HmacContext::HmacContext() : alg_(TpmAlg::Error) {}
HmacContext::HmacContext(uint16_t alg, std::unique_ptr<State> state)
    : alg_(alg), state_(std::move(state)) {}
HmacContext::HmacContext(HmacContext&& other) noexcept
    : alg_(std::exchange(other.alg_, TpmAlg::Error)), state_(std::move(other.state_)) {}
HmacContext& HmacContext::operator=(HmacContext&& other) noexcept {
  alg_ = std::exchange(other.alg_, TpmAlg::Error);
  state_ = std::move(other.state_);
  return *this;
}
HmacContext::~HmacContext() = default;

bool HmacContext::ok() const {
  return state_ != nullptr;
}

Result<HmacContext> HmacContext::Start(uint16_t hash_alg, ByteSpan key) {
  const Algorithm* a = Algorithms::Get().Find(hash_alg);
  if (a == nullptr) {
    return Rc::Hash;
  }
  auto state = std::make_unique<State>();
  state->size = a->size;
  state->ctx.reset(EVP_MAC_CTX_dup(a->hmac_template.get()));
  const uint8_t* key_data = key.empty() ? &kNoKey : key.data();
  if (state->ctx == nullptr || EVP_MAC_init(state->ctx.get(), key_data, key.size(), nullptr) != 1) {
    return OpenSslFailure("EVP_MAC_init");
  }
  return HmacContext(hash_alg, std::move(state));
}

HmacContext HmacContext::Clone() const {
  if (state_ == nullptr) {
    return HmacContext();
  }
  auto state = std::make_unique<State>();
  state->size = state_->size;
  state->ctx.reset(EVP_MAC_CTX_dup(state_->ctx.get()));
  if (state->ctx == nullptr) {
    LogOpenSslErrors("EVP_MAC_CTX_dup");
    return HmacContext();
  }
  return HmacContext(alg_, std::move(state));
}

void HmacContext::Update(ByteSpan data) {
  if (state_ == nullptr || data.empty()) {
    return;
  }
  if (EVP_MAC_update(state_->ctx.get(), data.data(), data.size()) != 1) {
    LogOpenSslErrors("EVP_MAC_update");
    state_.reset();
  }
}

Bytes HmacContext::Finish() {
  if (state_ == nullptr) {
    return {};
  }
  std::unique_ptr<State> state = std::move(state_);
  Bytes out(state->size);
  size_t len = 0;
  if (EVP_MAC_final(state->ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size()) {
    LogOpenSslErrors("EVP_MAC_final");
    return {};
  }
  return out;
}

Result<Bytes> Hmac(uint16_t hash_alg, ByteSpan key, ByteSpan data) {
  TRY_ASSIGN(HmacContext ctx, HmacContext::Start(hash_alg, key));
  ctx.Update(data);
  Bytes out = ctx.Finish();
  if (out.empty()) {
    return Rc::Failure;  // already logged
  }
  return out;
}

}  // namespace tpm2emu::crypto
