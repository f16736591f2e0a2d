#pragma once
// Drives a TpmInstance through tpm2-tss's ESYS (a real client that computes names, session
// HMACs and parameter encryption in software) via a minimal in-test TCTI.

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tcti.h>

#include <cstring>
#include <memory>

#include "engine/tpm_api.h"

namespace tpm2emu::engine::test {

class EsysClient {
 public:
  explicit EsysClient(TpmInstance& tpm) {
    tcti_.common.v1.version = 2;
    tcti_.common.v1.magic = 0x7470326575ull;
    tcti_.common.v1.transmit = &Transmit;
    tcti_.common.v1.receive = &Receive;
    tcti_.common.v1.finalize = &Finalize;
    tcti_.tpm = &tpm;
    rc_ = Esys_Initialize(&ctx_, reinterpret_cast<TSS2_TCTI_CONTEXT*>(&tcti_), nullptr);
  }
  ~EsysClient() {
    if (ctx_ != nullptr) {
      Esys_Finalize(&ctx_);
    }
  }
  EsysClient(const EsysClient&) = delete;
  EsysClient& operator=(const EsysClient&) = delete;
  TSS2_RC init_rc() const { return rc_; }
  ESYS_CONTEXT* ctx() { return ctx_; }

 private:
  struct Tcti {
    TSS2_TCTI_CONTEXT_COMMON_V2 common;
    TpmInstance* tpm;
    Bytes response;
  };
  static Tcti* Self(TSS2_TCTI_CONTEXT* c) { return reinterpret_cast<Tcti*>(c); }
  static TSS2_RC Transmit(TSS2_TCTI_CONTEXT* c, size_t size, const uint8_t* cmd) {
    Self(c)->response = Self(c)->tpm->Execute(std::span<const uint8_t>(cmd, size), 0);
    return TSS2_RC_SUCCESS;
  }
  static TSS2_RC Receive(TSS2_TCTI_CONTEXT* c, size_t* size, uint8_t* rsp, int32_t /*timeout*/) {
    const Bytes& r = Self(c)->response;
    if (rsp == nullptr) {
      *size = r.size();
      return TSS2_RC_SUCCESS;
    }
    if (*size < r.size()) {
      return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
    }
    std::memcpy(rsp, r.data(), r.size());
    *size = r.size();
    return TSS2_RC_SUCCESS;
  }
  static void Finalize(TSS2_TCTI_CONTEXT* /*c*/) {}

  Tcti tcti_{};
  ESYS_CONTEXT* ctx_ = nullptr;
  TSS2_RC rc_ = 0;
};

}  // namespace tpm2emu::engine::test
