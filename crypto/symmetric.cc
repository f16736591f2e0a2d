#include "crypto/symmetric.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>

#include "crypto/evp.h"
#include "crypto/kdf.h"

namespace tpm2emu::crypto {
namespace {

constexpr size_t kAesBlockSize = 16;

// AES-CFB128 for 16-, 24- and 32-octet keys, fetched once (thread-safe function-local static)
// and immutable afterwards.
class AesCfbCiphers {
 public:
  static const AesCfbCiphers& Get() {
    static const AesCfbCiphers ciphers;
    return ciphers;
  }

  // nullptr for an unsupported key length or a cipher that could not be fetched.
  const EVP_CIPHER* ForKeySize(size_t key_size) const {
    switch (key_size) {
      case 16:
        return ciphers_[0].get();
      case 24:
        return ciphers_[1].get();
      case 32:
        return ciphers_[2].get();
      default:
        return nullptr;
    }
  }

 private:
  AesCfbCiphers() {
    constexpr const char* kNames[] = {"AES-128-CFB", "AES-192-CFB", "AES-256-CFB"};
    for (size_t i = 0; i < ciphers_.size(); ++i) {
      ciphers_[i].reset(EVP_CIPHER_fetch(nullptr, kNames[i], nullptr));
      if (ciphers_[i] == nullptr) {
        LogOpenSslErrors(kNames[i]);
      }
    }
  }

  std::array<EvpCipher, 3> ciphers_;
};

Result<Bytes> AesCfb(ByteSpan key, ByteSpan iv, ByteSpan data, bool encrypt) {
  if (key.size() != 16 && key.size() != 24 && key.size() != 32) {
    return Rc::KeySize;
  }
  if (iv.size() != kAesBlockSize) {
    return Rc::Size;
  }
  const EVP_CIPHER* cipher = AesCfbCiphers::Get().ForKeySize(key.size());
  if (cipher == nullptr) {
    return Rc::Failure;  // logged when fetching
  }
  EvpCipherCtx ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr ||
      EVP_CipherInit_ex2(ctx.get(), cipher, key.data(), iv.data(), encrypt ? 1 : 0, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1) {
    return OpenSslFailure("AES-CFB init");
  }
  Bytes out(data.size());
  // EVP_CipherUpdate takes an int length; CFB is a stream mode, so each call returns exactly
  // what it was given and the pieces join up.
  constexpr size_t kMaxPiece = INT_MAX / 2;
  for (size_t offset = 0; offset < data.size();) {
    const size_t n = std::min(kMaxPiece, data.size() - offset);
    int out_len = 0;
    if (EVP_CipherUpdate(ctx.get(), out.data() + offset, &out_len, data.data() + offset,
                         static_cast<int>(n)) != 1 ||
        static_cast<size_t>(out_len) != n) {
      return OpenSslFailure("AES-CFB update");
    }
    offset += n;
  }
  int final_len = 0;
  if (EVP_CipherFinal_ex(ctx.get(), out.data() + out.size(), &final_len) != 1 || final_len != 0) {
    return OpenSslFailure("AES-CFB final");
  }
  return out;
}

}  // namespace

Result<Bytes> AesCfbEncrypt(ByteSpan key, ByteSpan iv, ByteSpan data) {
  return AesCfb(key, iv, data, /*encrypt=*/true);
}

Result<Bytes> AesCfbDecrypt(ByteSpan key, ByteSpan iv, ByteSpan data) {
  return AesCfb(key, iv, data, /*encrypt=*/false);
}

Bytes XorObfuscate(uint16_t hash_alg, ByteSpan key, ByteSpan nonce_newer, ByteSpan nonce_older,
                   ByteSpan data) {
  if (data.empty()) {
    return {};
  }
  // KDFa's bits is 32-bit (Part 1 §8.4.10.2), so the mask covers at most 2^29 - 1 octets.
  if (data.size() > UINT32_MAX / 8) {
    std::fputs("tpm2emu crypto: XOR obfuscation of an over-long parameter\n", stderr);
    return {};
  }
  auto mask =
      KdfA(hash_alg, key, "XOR", nonce_newer, nonce_older, static_cast<uint32_t>(data.size() * 8));
  if (!mask.ok()) {
    std::fputs("tpm2emu crypto: XOR obfuscation failed (unsupported hash or OpenSSL fault)\n",
               stderr);
    return {};
  }
  Bytes out(data.begin(), data.end());
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<uint8_t>(out[i] ^ (*mask)[i]);
  }
  return out;
}

}  // namespace tpm2emu::crypto
