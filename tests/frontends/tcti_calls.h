#pragma once
// The TSS2_TCTI function-pointer calls as tctildr/ESYS make them, without the <tss2_tcti.h>
// convenience macros (their C casts do not pass -Wold-style-cast).

#include <cstddef>
#include <cstdint>

#include <tss2/tss2_tcti.h>

namespace tpm2emu::testing {

inline TSS2_TCTI_CONTEXT_COMMON_V2* Common(TSS2_TCTI_CONTEXT* ctx) {
  return reinterpret_cast<TSS2_TCTI_CONTEXT_COMMON_V2*>(ctx);
}

inline TSS2_RC TctiTransmit(TSS2_TCTI_CONTEXT* ctx, size_t size, const uint8_t* command) {
  return Common(ctx)->v1.transmit(ctx, size, command);
}
inline TSS2_RC TctiReceive(TSS2_TCTI_CONTEXT* ctx, size_t* size, uint8_t* response,
                           int32_t timeout) {
  return Common(ctx)->v1.receive(ctx, size, response, timeout);
}
inline void TctiFinalize(TSS2_TCTI_CONTEXT* ctx) {
  Common(ctx)->v1.finalize(ctx);
}
inline TSS2_RC TctiCancel(TSS2_TCTI_CONTEXT* ctx) {
  return Common(ctx)->v1.cancel(ctx);
}
inline TSS2_RC TctiGetPollHandles(TSS2_TCTI_CONTEXT* ctx, TSS2_TCTI_POLL_HANDLE* handles,
                                  size_t* n) {
  return Common(ctx)->v1.getPollHandles(ctx, handles, n);
}
inline TSS2_RC TctiSetLocality(TSS2_TCTI_CONTEXT* ctx, uint8_t locality) {
  return Common(ctx)->v1.setLocality(ctx, locality);
}
inline TSS2_RC TctiMakeSticky(TSS2_TCTI_CONTEXT* ctx, TPM2_HANDLE* handle, uint8_t sticky) {
  return Common(ctx)->makeSticky(ctx, handle, sticky);
}

}  // namespace tpm2emu::testing
