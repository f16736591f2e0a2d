// Part 3 §31 Non-volatile storage. The dispatcher has already checked the handles (an index
// exists and its hierarchy is enabled, nv::CheckReference) and the authorization, including
// whether an index's authValue or authPolicy may be used for this command (Part 3 §5.6,
// nv::CheckAuthorization); the handlers check which authorization handle the index accepts.

#include <algorithm>

#include "crypto/hash.h"
#include "engine/commands/commands.h"
#include "engine/tpm.h"

namespace tpm2emu::engine::nv {
namespace {

namespace TpmaNv = wire::TpmaNv;

bool IsPinType(uint8_t type) {
  return type == wire::TpmNt::PinFail || type == wire::TpmNt::PinPass;
}

// Part 3 §31.1: Owner and Platform Authorization need OWNERWRITE and PPWRITE; an index's own
// authorization (checked by the dispatcher) must be for this index.
RcStatus WriteAccess(uint32_t auth_handle, uint32_t nv_handle, const NvIndex& index) {
  const wire::TpmsNvPublic& pub = index.pub;
  if (pub.Has(TpmaNv::WriteLocked)) {
    return Rc::NvLocked;
  }
  if ((auth_handle == TpmRh::Owner && !pub.Has(TpmaNv::OwnerWrite)) ||
      (auth_handle == TpmRh::Platform && !pub.Has(TpmaNv::PpWrite)) ||
      (auth_handle != TpmRh::Owner && auth_handle != TpmRh::Platform && auth_handle != nv_handle)) {
    return Rc::NvAuthorization;
  }
  return {};
}

// The read counterpart; the WRITTEN check comes last so that TPM2_NV_ReadLock can tell a
// missing authorization from an unwritten index.
RcStatus ReadAccess(uint32_t auth_handle, uint32_t nv_handle, const NvIndex& index) {
  const wire::TpmsNvPublic& pub = index.pub;
  if (pub.Has(TpmaNv::ReadLocked)) {
    return Rc::NvLocked;
  }
  if ((auth_handle == TpmRh::Owner && !pub.Has(TpmaNv::OwnerRead)) ||
      (auth_handle == TpmRh::Platform && !pub.Has(TpmaNv::PpRead)) ||
      (auth_handle != TpmRh::Owner && auth_handle != TpmRh::Platform && auth_handle != nv_handle)) {
    return Rc::NvAuthorization;
  }
  if (!pub.Has(TpmaNv::Written)) {
    return Rc::NvUninitialized;
  }
  return {};
}

// The index named by a handle that nv::CheckReference accepted.
Result<NvIndex*> Get(Tpm& tpm, uint32_t handle, uint32_t handle_number) {
  NvIndex* index = Find(tpm, handle);
  if (index == nullptr) {
    return Rc::Handle.Handle(handle_number);
  }
  return index;
}

// The first write of an index starts from all-zero data (Part 1 §34.2.6.2).
void MarkWritten(NvIndex& index) {
  if (!index.pub.Has(TpmaNv::Written)) {
    std::fill(index.data.begin(), index.data.end(), 0);
    index.pub.Set(TpmaNv::Written);
  }
}

// Part 3 §31.3.1: the attribute and size rules for a new index, in the order given there.
RcStatus CheckDefinition(const NvDefineSpaceIn& in) {
  const wire::TpmsNvPublic& pub = in.public_info.value;
  const uint32_t attrs = pub.attributes.value;
  const uint8_t type = pub.type();
  const size_t digest_size = crypto::DigestSize(pub.name_alg);
  switch (type) {
    case wire::TpmNt::Ordinary:
    case wire::TpmNt::Counter:
    case wire::TpmNt::Bits:
    case wire::TpmNt::Extend:
    case wire::TpmNt::PinFail:
    case wire::TpmNt::PinPass:
      break;
    default:
      return Rc::Attributes.Param(2);
  }
  if ((attrs & (TpmaNv::Written | TpmaNv::ReadLocked | TpmaNv::WriteLocked)) != 0) {
    return Rc::Attributes.Param(2);
  }
  const size_t size = pub.data_size;
  if (type == wire::TpmNt::Extend ? size != digest_size
                                  : (type != wire::TpmNt::Ordinary && size != 8)) {
    return Rc::Size.Param(2);
  }
  if (size > wire::kMaxNvIndexSize ||
      (size > wire::kMaxNvBufferSize && pub.Has(TpmaNv::WriteAll))) {
    return Rc::Size.Param(2);
  }
  if ((attrs & TpmaNv::AnyRead) == 0 || (attrs & TpmaNv::AnyWrite) == 0) {
    return Rc::Attributes.Param(2);
  }
  if (type == wire::TpmNt::Counter && pub.Has(TpmaNv::ClearStclear)) {
    return Rc::Attributes.Param(2);
  }
  // The index must be deletable by whoever created it: PLATFORMCREATE matches the hierarchy.
  if (pub.Has(TpmaNv::PlatformCreate) != (in.auth_handle == TpmRh::Platform)) {
    return Rc::Attributes.Handle(1);
  }
  if (pub.Has(TpmaNv::PolicyDelete) && in.auth_handle != TpmRh::Platform) {
    return Rc::Attributes.Param(2);
  }
  // A PIN Fail index has its own DA protection; a PIN index's authValue is not usable before
  // the first write, so it cannot authorize writes (Part 1 §34.2.6.1).
  if ((type == wire::TpmNt::PinFail && !pub.Has(TpmaNv::NoDa)) ||
      (IsPinType(type) && pub.Has(TpmaNv::AuthWrite))) {
    return Rc::Attributes.Param(2);
  }
  return {};
}

}  // namespace

// Part 3 §31.3 TPM2_NV_DefineSpace
Result<Empty> DefineSpace(Tpm& tpm, const NvDefineSpaceIn& in) {
  if (!in.public_info.present) {
    return Rc::Size.Param(2);
  }
  const wire::TpmsNvPublic& pub = in.public_info.value;
  const size_t digest_size = crypto::DigestSize(pub.name_alg);
  ByteSpan auth = TrimTrailingZeros(in.auth.span());
  if (auth.size() > digest_size) {
    return Rc::Size.Param(1);
  }
  // A policy of another size than nameAlg's digest could never be satisfied.
  if (!pub.auth_policy.empty() && pub.auth_policy.size() != digest_size) {
    return Rc::Size.Param(2);
  }
  // Owner Authorization was refused already if shEnable is CLEAR (Part 3 §31.1).
  if (in.auth_handle == TpmRh::Platform && !tpm.clear_state().ph_enable_nv) {
    return Rc::Hierarchy.Handle(1);
  }
  TRY(CheckDefinition(in));
  NvState& state = tpm.nv();
  if (state.indices.count(pub.nv_index) != 0) {
    return Rc::NvDefined;
  }
  if (state.indices.size() >= kMaxNvIndices ||
      UsedBytes(tpm) + Cost(pub.data_size) > kNvMemoryBytes) {
    return Rc::NvSpace;
  }
  NvIndex index;
  index.pub = pub;
  index.auth = SecretBytes(auth);
  index.data.assign(pub.data_size, 0);
  state.indices.emplace(pub.nv_index, std::move(index));
  return Empty{};
}

// Part 3 §31.4 TPM2_NV_UndefineSpace
Result<Empty> UndefineSpace(Tpm& tpm, const NvUndefineSpaceIn& in) {
  TRY_ASSIGN(NvIndex * index, Get(tpm, in.nv_index, 2));
  if (index->pub.Has(TpmaNv::PolicyDelete)) {
    return Rc::Attributes.Handle(2);  // only TPM2_NV_UndefineSpaceSpecial deletes it
  }
  if (in.auth_handle == TpmRh::Owner && index->pub.Has(TpmaNv::PlatformCreate)) {
    return Rc::NvAuthorization;
  }
  Remove(tpm, in.nv_index);
  return Empty{};
}

// Part 3 §31.5 TPM2_NV_UndefineSpaceSpecial. The dispatcher computes the response HMAC after
// the index is gone, with an empty authValue, as §31.5.1 requires.
Result<Empty> UndefineSpaceSpecial(Tpm& tpm, const NvUndefineSpaceSpecialIn& in) {
  TRY_ASSIGN(NvIndex * index, Get(tpm, in.nv_index, 1));
  if (!index->pub.Has(TpmaNv::PolicyDelete) || !index->pub.Has(TpmaNv::PlatformCreate)) {
    return Rc::Attributes.Handle(1);
  }
  Remove(tpm, in.nv_index);
  return Empty{};
}

// Part 3 §31.6 TPM2_NV_ReadPublic
Result<NvReadPublicOut> ReadPublic(Tpm& tpm, const NvReadPublicIn& in) {
  TRY_ASSIGN(NvIndex * index, Get(tpm, in.nv_index, 1));
  NvReadPublicOut out;
  out.nv_public.value = index->pub;
  TRY_ASSIGN(out.nv_name.data, Name(tpm, in.nv_index));
  return out;
}

// Part 3 §31.7 TPM2_NV_Write
Result<Empty> Write(Tpm& tpm, const NvWriteIn& in) {
  TRY_ASSIGN(NvIndex * index, Get(tpm, in.nv_index, 2));
  TRY(WriteAccess(in.auth_handle, in.nv_index, *index));
  const uint8_t type = index->pub.type();
  if (type == wire::TpmNt::Counter || type == wire::TpmNt::Bits || type == wire::TpmNt::Extend) {
    return Rc::Attributes;
  }
  const size_t size = index->pub.data_size;
  if (in.offset > size) {
    return Rc::Value.Param(2);
  }
  if (in.data.size() > size - in.offset ||
      (index->pub.Has(TpmaNv::WriteAll) && in.data.size() != size)) {
    return Rc::NvRange;
  }
  MarkWritten(*index);
  std::copy(in.data.data.begin(), in.data.data.end(),
            index->data.begin() + static_cast<std::ptrdiff_t>(in.offset));
  return Empty{};
}

// Part 3 §31.8 TPM2_NV_Increment. Part 1 §34.2.6.3: the first increment starts above every
// value a deleted counter had, so deleting and redefining a counter never rolls it back.
Result<Empty> Increment(Tpm& tpm, const NvIndexIn& in) {
  TRY_ASSIGN(NvIndex * index, Get(tpm, in.nv_index, 2));
  TRY(WriteAccess(in.auth_handle, in.nv_index, *index));
  if (index->pub.type() != wire::TpmNt::Counter) {
    return Rc::Attributes.Handle(2);
  }
  uint64_t value = index->pub.Has(TpmaNv::Written) ? ValueOf(*index) : tpm.nv().max_counter;
  index->pub.Set(TpmaNv::Written);
  SetValue(*index, value + 1);
  return Empty{};
}

// Part 3 §31.9 TPM2_NV_Extend: data = H_nameAlg(data || buffer), from a Zero Digest.
Result<Empty> Extend(Tpm& tpm, const NvExtendIn& in) {
  TRY_ASSIGN(NvIndex * index, Get(tpm, in.nv_index, 2));
  TRY(WriteAccess(in.auth_handle, in.nv_index, *index));
  if (index->pub.type() != wire::TpmNt::Extend) {
    return Rc::Attributes.Handle(2);
  }
  MarkWritten(*index);
  Bytes msg = index->data;
  msg.insert(msg.end(), in.data.data.begin(), in.data.data.end());
  TRY_ASSIGN(index->data, crypto::Hash(index->pub.name_alg, msg));
  return Empty{};
}

// Part 3 §31.10 TPM2_NV_SetBits: WRITTEN is SET even when no bit is.
Result<Empty> SetBits(Tpm& tpm, const NvSetBitsIn& in) {
  TRY_ASSIGN(NvIndex * index, Get(tpm, in.nv_index, 2));
  TRY(WriteAccess(in.auth_handle, in.nv_index, *index));
  if (index->pub.type() != wire::TpmNt::Bits) {
    return Rc::Attributes.Handle(2);
  }
  MarkWritten(*index);
  SetValue(*index, ValueOf(*index) | in.bits);
  return Empty{};
}

// Part 3 §31.11 TPM2_NV_WriteLock: locking a locked index succeeds.
Result<Empty> WriteLock(Tpm& tpm, const NvIndexIn& in) {
  TRY_ASSIGN(NvIndex * index, Get(tpm, in.nv_index, 2));
  if (auto st = WriteAccess(in.auth_handle, in.nv_index, *index); !st.ok()) {
    if (st.error() == Rc::NvLocked) {
      return Empty{};
    }
    return st.error();
  }
  if (!index->pub.Has(TpmaNv::WriteDefine) && !index->pub.Has(TpmaNv::WriteStclear)) {
    return Rc::Attributes.Handle(2);
  }
  index->pub.Set(TpmaNv::WriteLocked);
  return Empty{};
}

// Part 3 §31.12 TPM2_NV_GlobalWriteLock: locks every index that has GLOBALLOCK now; an index
// defined later is not locked until the next TPM2_NV_GlobalWriteLock. nv::OnStartup keeps the
// lock of an index that also has WRITEDEFINE and has been written.
Result<Empty> GlobalWriteLock(Tpm& tpm, const NvGlobalWriteLockIn& /*in*/) {
  for (auto& [h, index] : tpm.nv().indices) {
    if (index.pub.Has(TpmaNv::GlobalLock)) {
      index.pub.Set(TpmaNv::WriteLocked);
    }
  }
  return Empty{};
}

// Part 3 §31.13 TPM2_NV_Read
Result<NvReadOut> Read(Tpm& tpm, const NvReadIn& in) {
  TRY_ASSIGN(NvIndex * index, Get(tpm, in.nv_index, 2));
  TRY(ReadAccess(in.auth_handle, in.nv_index, *index));
  if (in.size > wire::kMaxNvBufferSize) {
    return Rc::Value.Param(1);
  }
  const size_t size = index->pub.data_size;
  if (in.offset > size) {
    return Rc::Value.Param(2);
  }
  if (in.size > size - in.offset) {
    return Rc::NvRange;
  }
  NvReadOut out;
  auto first = index->data.begin() + static_cast<std::ptrdiff_t>(in.offset);
  out.data.data.assign(first, first + in.size);
  return out;
}

// Part 3 §31.14 TPM2_NV_ReadLock: an unwritten index may be locked; locking a locked index
// succeeds.
Result<Empty> ReadLock(Tpm& tpm, const NvIndexIn& in) {
  TRY_ASSIGN(NvIndex * index, Get(tpm, in.nv_index, 2));
  if (auto st = ReadAccess(in.auth_handle, in.nv_index, *index); !st.ok()) {
    if (st.error() == Rc::NvLocked) {
      return Empty{};
    }
    if (st.error() != Rc::NvUninitialized) {
      return st.error();
    }
  }
  if (!index->pub.Has(TpmaNv::ReadStclear)) {
    return Rc::Attributes.Handle(2);
  }
  index->pub.Set(TpmaNv::ReadLocked);
  return Empty{};
}

// Part 3 §31.15 TPM2_NV_ChangeAuth. The dispatcher's response HMAC uses the new value.
Result<Empty> ChangeAuth(Tpm& tpm, const NvChangeAuthIn& in) {
  TRY_ASSIGN(NvIndex * index, Get(tpm, in.nv_index, 1));
  ByteSpan auth = TrimTrailingZeros(in.new_auth.span());
  if (auth.size() > crypto::DigestSize(index->pub.name_alg)) {
    return Rc::Size.Param(1);
  }
  index->auth = SecretBytes(auth);
  return Empty{};
}

Result<Bytes> ReadForCertify(Tpm& tpm, uint32_t auth_handle, uint32_t nv_index, uint16_t size,
                             uint16_t offset) {
  TRY_ASSIGN(NvIndex * index, Get(tpm, nv_index, 3));
  TRY(ReadAccess(auth_handle, nv_index, *index));
  if (size > wire::kMaxNvBufferSize) {
    return Rc::Value.Param(3);
  }
  const size_t data_size = index->pub.data_size;
  if (offset > data_size || size > data_size - offset) {
    return Rc::NvRange;
  }
  auto first = index->data.begin() + static_cast<std::ptrdiff_t>(offset);
  return Bytes(first, first + size);
}

}  // namespace tpm2emu::engine::nv
