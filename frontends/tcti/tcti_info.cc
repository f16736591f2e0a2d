// The one symbol libtss2-tcti-tpm2emu.so exports: what tctildr looks up by name.

#include <tss2/tss2_tcti.h>

#include "frontends/tcti/engine_session.h"
#include "frontends/tcti/tcti_context.h"

namespace {

TSS2_RC Init(TSS2_TCTI_CONTEXT* context, size_t* size, const char* config) {
  return tpm2emu::tcti::InitContext(context, size, config, tpm2emu::tcti::OpenEngineSession);
}

constexpr TSS2_TCTI_INFO kInfo = {
    2,
    "tcti-tpm2emu",
    "In-process tpm2emu TPM 2.0 emulator: no daemon, the TPM runs inside the calling process.",
    "Empty: a fresh in-memory TPM, gone when the context is finalized. Otherwise the path of a "
    "state directory (created if missing; its lock serializes processes that use it); the TPM "
    "stays powered across processes that use it one after another.",
    Init,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const TSS2_TCTI_INFO* Tss2_Tcti_Info(void);

extern "C" __attribute__((visibility("default"))) const TSS2_TCTI_INFO* Tss2_Tcti_Info(void) {
  return &kInfo;
}
