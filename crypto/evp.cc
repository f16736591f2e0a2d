#include "crypto/evp.h"

#include <cstdio>

#include <openssl/err.h>

namespace tpm2emu::crypto {

void LogOpenSslErrors(std::string_view what) {
  const int what_len = static_cast<int>(what.size());
  bool any = false;
  const char* file = nullptr;
  const char* func = nullptr;
  const char* data = nullptr;
  int line = 0;
  int flags = 0;
  for (unsigned long err = ERR_get_error_all(&file, &line, &func, &data, &flags); err != 0;
       err = ERR_get_error_all(&file, &line, &func, &data, &flags)) {
    char text[256];
    ERR_error_string_n(err, text, sizeof(text));
    const bool has_data = data != nullptr && (flags & ERR_TXT_STRING) != 0;
    std::fprintf(stderr, "tpm2emu crypto: %.*s: %s%s%s\n", what_len, what.data(), text,
                 has_data ? ": " : "", has_data ? data : "");
    any = true;
  }
  if (!any) {
    std::fprintf(stderr, "tpm2emu crypto: %.*s failed\n", what_len, what.data());
  }
}

TpmRc OpenSslFailure(std::string_view what) {
  LogOpenSslErrors(what);
  return Rc::Failure;
}

Result<Bn> NewBn(bool secret) {
  Bn bn(BN_new());
  if (bn == nullptr) {
    return OpenSslFailure("BN_new");
  }
  if (secret) {
    BN_set_flags(bn.get(), BN_FLG_CONSTTIME);
  }
  return bn;
}

Result<BnCtx> NewBnCtx() {
  BnCtx ctx(BN_CTX_new());
  if (ctx == nullptr) {
    return OpenSslFailure("BN_CTX_new");
  }
  return ctx;
}

}  // namespace tpm2emu::crypto
