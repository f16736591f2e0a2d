#pragma once
// The bench's TPM client: ESYS over a TCTI loaded by tpm2-tss's tctildr, so the bench pays
// what a real client pays (the mssim TCTI's framing and socket use, ESYS marshaling).
// Every call is one TPM command; errors carry the command name and the decoded TSS2_RC.

#include <cstdint>
#include <memory>
#include <string>

#include <tss2/tss2_esys.h>

#include "engine/base/status.h"

namespace tpm2emu::bench {

class Client {
 public:
  // Tss2_TctiLdr_Initialize_Ex(name, config), then Esys_Initialize. `name` is a TCTI name
  // ("mssim") or a library path.
  static StatusOr<std::unique_ptr<Client>> Open(const std::string& name, const std::string& config);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  Status Startup();
  Status GetRandom(uint16_t bytes);
  // SHA-256 PCRs 0-7.
  Status PcrRead();

  // A primary storage key (RSA-2048 or ECC P-256, AES-128-CFB) in the owner hierarchy, its
  // unique field seeded with `unique`: the derivation then starts from new input, so no
  // cache anywhere can answer a repeated request.
  StatusOr<ESYS_TR> CreateStoragePrimary(TPM2_ALG_ID type, uint32_t unique);
  // A primary signing key: RSA-2048 RSASSA or ECC P-256 ECDSA, SHA-256.
  StatusOr<ESYS_TR> CreateSigningPrimary(TPM2_ALG_ID type);
  // Signs a SHA-256 digest derived from `counter` with the key's scheme.
  Status Sign(ESYS_TR key, uint32_t counter);

  // Defines an ordinary owner NV index of `size` bytes, read and written with its auth value
  // `auth`.
  StatusOr<ESYS_TR> DefineNv(TPM2_HANDLE index, uint16_t size, const std::string& auth);
  // Writes `size` bytes derived from `counter` at offset 0, authorized by password.
  Status NvWrite(ESYS_TR nv, uint16_t size, uint32_t counter);
  // An unbound, unsalted HMAC session (SHA-256) with AES-128-CFB parameter encryption, kept
  // open after each command.
  StatusOr<ESYS_TR> StartHmacSession();
  // Reads `size` bytes, authorized by `session` and encrypted in the response.
  Status NvRead(ESYS_TR nv, ESYS_TR session, uint16_t size);

  Status Flush(ESYS_TR handle);

 private:
  Client(TSS2_TCTI_CONTEXT* tcti, ESYS_CONTEXT* esys) : tcti_(tcti), esys_(esys) {}

  TSS2_TCTI_CONTEXT* tcti_;
  ESYS_CONTEXT* esys_;
};

}  // namespace tpm2emu::bench
