// NV index state: no indices are implemented yet; these hooks keep the core engine's handle,
// name and persistence paths uniform.

#include "engine/state/nv.h"

#include "engine/tpm.h"

namespace tpm2emu::engine::nv {

RcStatus CheckReference(Tpm& /*tpm*/, uint32_t /*handle*/, uint32_t n) {
  return Rc::Handle.Handle(n + 1);
}

Result<Bytes> Name(Tpm& /*tpm*/, uint32_t /*handle*/) { return Rc::Handle; }

Result<ByteSpan> Auth(Tpm& /*tpm*/, uint32_t /*handle*/) { return Rc::Handle; }

wire::TpmtHa Policy(Tpm& /*tpm*/, uint32_t /*handle*/) { return wire::TpmtHa{TpmAlg::Null, {}}; }

std::vector<uint32_t> Handles(Tpm& /*tpm*/) { return {}; }

void Encode(Tpm& /*tpm*/, nvstore::Records& /*out*/) {}

Status Decode(Tpm& /*tpm*/, const nvstore::Records& /*in*/) { return Status::Ok(); }

void OnStartup(Tpm& /*tpm*/, bool /*clear*/) {}

}  // namespace tpm2emu::engine::nv
