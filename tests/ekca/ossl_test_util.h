#pragma once
// OpenSSL owners and helpers for the ekca tests: software EK keys and certificate parsing.

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ekca/ossl.h"
#include "engine/base/bytes.h"
#include "engine/wire/public.h"

namespace tpm2emu::ekca::testing {

using ossl::BnPtr;
using ossl::Pkey;
using ossl::X509Ptr;

inline X509Ptr ParseDer(const Bytes& der) {
  const uint8_t* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert && p != der.data() + der.size()) {
    return nullptr;
  }
  return cert;
}

inline std::string OidText(const ASN1_OBJECT* obj) {
  char text[80];
  OBJ_obj2txt(text, sizeof(text), obj, 1);
  return text;
}

// The TPMT_PUBLIC of `key` (RSA 2048 or P-256) in the shape of the EK templates.
inline wire::TpmtPublic PublicOf(EVP_PKEY* key, wire::TpmtPublic tmpl) {
  if (auto* rsa = std::get_if<wire::RsaDetail>(&tmpl.detail)) {
    BIGNUM* n = nullptr;
    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n);
    BnPtr owned(n);
    rsa->unique.assign(256, 0);
    BN_bn2binpad(n, rsa->unique.data(), 256);
  } else if (auto* ecc = std::get_if<wire::EccDetail>(&tmpl.detail)) {
    uint8_t point[65];
    size_t len = 0;
    EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &len);
    ecc->x.assign(point + 1, point + 33);
    ecc->y.assign(point + 33, point + 65);
  }
  return tmpl;
}

inline Pkey NewRsaKey() {
  return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
}
inline Pkey NewEccKey() {
  return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}

// X509_verify_cert of `cert` against the CA alone.
inline int VerifyAgainst(X509* ca, X509* cert) {
  ossl::X509StorePtr store(X509_STORE_new());
  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_add_cert(store.get(), ca);
  X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr);
  if (X509_verify_cert(ctx.get()) == 1) {
    return X509_V_OK;
  }
  return X509_STORE_CTX_get_error(ctx.get());
}

// A fresh temporary directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ekca-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace tpm2emu::ekca::testing
