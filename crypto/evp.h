#pragma once
// Internal to crypto/: owners for OpenSSL 3 objects and the error-queue logger. Only crypto/*.cc
// include this header; crypto's public headers carry no OpenSSL type (STYLE §5).
//
// Every OpenSSL object lives in one of these std::unique_ptr aliases; nothing else calls *_free.

#include <memory>
#include <string_view>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/params.h>

#include "engine/base/tpm_rc.h"

namespace tpm2emu::crypto {

namespace internal {
template <auto kFree>
struct OsslDeleter {
  template <class T>
  void operator()(T* p) const {
    kFree(p);
  }
};
}  // namespace internal

using EvpMd = std::unique_ptr<EVP_MD, internal::OsslDeleter<&EVP_MD_free>>;
using EvpMdCtx = std::unique_ptr<EVP_MD_CTX, internal::OsslDeleter<&EVP_MD_CTX_free>>;
using EvpMac = std::unique_ptr<EVP_MAC, internal::OsslDeleter<&EVP_MAC_free>>;
using EvpMacCtx = std::unique_ptr<EVP_MAC_CTX, internal::OsslDeleter<&EVP_MAC_CTX_free>>;
using EvpCipher = std::unique_ptr<EVP_CIPHER, internal::OsslDeleter<&EVP_CIPHER_free>>;
using EvpCipherCtx = std::unique_ptr<EVP_CIPHER_CTX, internal::OsslDeleter<&EVP_CIPHER_CTX_free>>;
using EvpKdf = std::unique_ptr<EVP_KDF, internal::OsslDeleter<&EVP_KDF_free>>;
using EvpKdfCtx = std::unique_ptr<EVP_KDF_CTX, internal::OsslDeleter<&EVP_KDF_CTX_free>>;
using EvpPkey = std::unique_ptr<EVP_PKEY, internal::OsslDeleter<&EVP_PKEY_free>>;
using EvpPkeyCtx = std::unique_ptr<EVP_PKEY_CTX, internal::OsslDeleter<&EVP_PKEY_CTX_free>>;
// BN_clear_free: a bignum may hold a private exponent or scalar.
using Bn = std::unique_ptr<BIGNUM, internal::OsslDeleter<&BN_clear_free>>;
using BnCtx = std::unique_ptr<BN_CTX, internal::OsslDeleter<&BN_CTX_free>>;
using OsslParamBld = std::unique_ptr<OSSL_PARAM_BLD, internal::OsslDeleter<&OSSL_PARAM_BLD_free>>;
using OsslParams = std::unique_ptr<OSSL_PARAM, internal::OsslDeleter<&OSSL_PARAM_free>>;

// Drains the calling thread's OpenSSL error queue into stderr, one line per entry, each prefixed
// with `what` (the operation that failed). Logs `what` alone when the queue is empty. Never logs
// key material: OpenSSL's messages carry none and callers pass a fixed description.
void LogOpenSslErrors(std::string_view what);

// LogOpenSslErrors(what), then TPM_RC_FAILURE: for an OpenSSL call that should not fail.
TpmRc OpenSslFailure(std::string_view what);

// A new bignum (constant-time operations when it will hold a secret) and a BN_CTX, or
// TPM_RC_FAILURE.
Result<Bn> NewBn(bool secret);
Result<BnCtx> NewBnCtx();

}  // namespace tpm2emu::crypto
