#include "crypto/cipher.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <iterator>
#include <utility>

#include <openssl/evp.h>

#include "crypto/evp.h"
#include "engine/wire/constants.h"

namespace tpm2emu::crypto {
namespace {

constexpr size_t kBlockSize = 16;

constexpr uint16_t kModes[] = {TpmAlg::Cfb, TpmAlg::Cbc, TpmAlg::Ctr, TpmAlg::Ofb, TpmAlg::Ecb};
constexpr const char* kModeNames[] = {"CFB", "CBC", "CTR", "OFB", "ECB"};
constexpr size_t kKeySizes[] = {16, 24, 32};

// The 15 AES ciphers, fetched once (thread-safe function-local static) and immutable afterwards.
class AesCiphers {
 public:
  static const AesCiphers& Get() {
    static const AesCiphers ciphers;
    return ciphers;
  }

  // nullptr when the mode or key size is unknown or the cipher could not be fetched.
  const EVP_CIPHER* Find(uint16_t mode, size_t key_size) const {
    for (size_t m = 0; m < std::size(kModes); ++m) {
      for (size_t k = 0; k < std::size(kKeySizes); ++k) {
        if (kModes[m] == mode && kKeySizes[k] == key_size) {
          return ciphers_[m][k].get();
        }
      }
    }
    return nullptr;
  }

 private:
  AesCiphers() {
    for (size_t m = 0; m < std::size(kModes); ++m) {
      for (size_t k = 0; k < std::size(kKeySizes); ++k) {
        char name[32];
        std::snprintf(name, sizeof(name), "AES-%zu-%s", kKeySizes[k] * 8, kModeNames[m]);
        ciphers_[m][k].reset(EVP_CIPHER_fetch(nullptr, name, nullptr));
        if (ciphers_[m][k] == nullptr) {
          LogOpenSslErrors(name);
        }
      }
    }
  }

  std::array<std::array<EvpCipher, std::size(kKeySizes)>, std::size(kModes)> ciphers_;
};

bool IsMode(uint16_t mode) {
  return std::find(std::begin(kModes), std::end(kModes), mode) != std::end(kModes);
}

}  // namespace

Result<Bytes> SymCrypt(uint16_t mode, bool decrypt, ByteSpan key, Bytes& iv_inout, ByteSpan data) {
  if (!IsMode(mode)) {
    return Rc::Mode;
  }
  if (std::find(std::begin(kKeySizes), std::end(kKeySizes), key.size()) == std::end(kKeySizes)) {
    return Rc::KeySize;
  }
  const bool uses_iv = mode != TpmAlg::Ecb;
  if (uses_iv && iv_inout.size() != kBlockSize) {
    return Rc::Size;
  }
  // Part 3 §15.1: CBC and ECB take whole blocks only (there is no padding).
  if ((mode == TpmAlg::Cbc || mode == TpmAlg::Ecb) && data.size() % kBlockSize != 0) {
    return Rc::Size;
  }
  const EVP_CIPHER* cipher = AesCiphers::Get().Find(mode, key.size());
  if (cipher == nullptr) {
    return Rc::Failure;  // logged when fetching
  }
  if (data.empty()) {
    if (!uses_iv) {
      iv_inout.clear();
    }
    return Bytes{};
  }
  EvpCipherCtx ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr ||
      EVP_CipherInit_ex2(ctx.get(), cipher, key.data(), uses_iv ? iv_inout.data() : nullptr,
                         decrypt ? 0 : 1, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1) {
    return OpenSslFailure("AES init");
  }
  Bytes out(data.size());
  // EVP_CipherUpdate takes an int length. Pieces are whole blocks (a stream mode carries its
  // position within a block across calls anyway), so each call returns what it was given.
  constexpr size_t kMaxPiece = (INT_MAX / 2) / kBlockSize * kBlockSize;
  for (size_t offset = 0; offset < data.size();) {
    const size_t n = std::min(kMaxPiece, data.size() - offset);
    int out_len = 0;
    if (EVP_CipherUpdate(ctx.get(), out.data() + offset, &out_len, data.data() + offset,
                         static_cast<int>(n)) != 1 ||
        static_cast<size_t>(out_len) != n) {
      return OpenSslFailure("AES update");
    }
    offset += n;
  }
  int final_len = 0;
  if (EVP_CipherFinal_ex(ctx.get(), out.data() + out.size(), &final_len) != 1 || final_len != 0) {
    return OpenSslFailure("AES final");
  }
  if (!uses_iv) {
    iv_inout.clear();
    return out;
  }
  if (mode == TpmAlg::Cbc) {
    // The last ciphertext block: our output when encrypting, our input when decrypting.
    const ByteSpan ciphertext = decrypt ? data : ByteSpan(out);
    std::copy(ciphertext.end() - kBlockSize, ciphertext.end(), iv_inout.begin());
    return out;
  }
  // CFB, OFB and CTR: OpenSSL keeps exactly the TPM's chaining value as its running IV (CFB:
  // the feedback register, updated octet by octet; OFB: the keystream block; CTR: the next
  // counter). The tests check each against values computed from single blocks.
  Bytes next(kBlockSize);
  if (EVP_CIPHER_CTX_get_updated_iv(ctx.get(), next.data(), next.size()) != 1) {
    return OpenSslFailure("AES updated IV");
  }
  iv_inout = std::move(next);
  return out;
}

}  // namespace tpm2emu::crypto
