// Part 3 §12 Object commands and §24.1 TPM2_CreatePrimary.

#include "crypto/drbg.h"
#include "crypto/hash.h"
#include "engine/commands/commands.h"
#include "engine/state/object_util.h"
#include "engine/tpm.h"

namespace tpm2emu::engine::object {
namespace {

// Part 1 §24.8/Part 2 §15: the creation data and its hash, and the creation ticket
// HMAC(proof, TPM_ST_CREATION || Name || creationHash).
struct Creation {
  Tpm2bCreationData data;
  wire::Tpm2bDigest hash;
  wire::TpmtTicket ticket;
};

Result<Creation> MakeCreation(Tpm& tpm, const Object& obj, uint16_t parent_name_alg,
                              ByteSpan parent_name, ByteSpan parent_qn,
                              const wire::Tpm2bData& outside_info,
                              const wire::TpmlPcrSelection& pcrs) {
  Creation c;
  wire::TpmsCreationData& d = c.data.value;
  // Only allocated PCRs are digested; the selection reports what was used.
  Bytes pcr_concat;
  for (const auto& sel : pcrs.items) {
    wire::TpmsPcrSelection used;
    used.hash = sel.hash;
    used.pcr_select.assign(sel.pcr_select.size(), 0);
    auto bank = tpm.BankIndex(sel.hash);
    for (size_t n = 0; bank && n < kPcrCount && n / 8 < sel.pcr_select.size(); ++n) {
      if (sel.IsSelected(n) && tpm.IsPcrAllocated(*bank, n)) {
        used.pcr_select[n / 8] = static_cast<uint8_t>(used.pcr_select[n / 8] | (1u << (n % 8)));
        const Bytes& v = tpm.pcr_values()[*bank][n];
        pcr_concat.insert(pcr_concat.end(), v.begin(), v.end());
      }
    }
    d.pcr_select.items.push_back(std::move(used));
  }
  if (!pcrs.items.empty()) {
    TRY_ASSIGN(d.pcr_digest.data, crypto::Hash(obj.pub.name_alg, pcr_concat));
  }
  d.locality = static_cast<uint8_t>(1u << std::min<uint8_t>(tpm.locality(), 4));
  d.parent_name_alg = parent_name_alg;
  d.parent_name.data = ToBytes(parent_name);
  d.parent_qualified_name.data = ToBytes(parent_qn);
  d.outside_info = outside_info;
  TRY_ASSIGN(c.hash.data, crypto::Hash(obj.pub.name_alg, wire::MarshalToBytes(d)));
  c.ticket.tag = TpmSt::Creation;
  c.ticket.hierarchy = obj.hierarchy;
  Bytes ticket_data = obj.name;
  ticket_data.insert(ticket_data.end(), c.hash.data.begin(), c.hash.data.end());
  c.ticket.digest.data = tpm.Ticket(obj.hierarchy, TpmSt::Creation, ticket_data);
  return c;
}

Bytes HandleBytes(uint32_t h) {
  Bytes b;
  AppendBe32(b, h);
  return b;
}

// The storage parent named by a handle (Part 3 §12.1: TPM_RC_TYPE when it cannot be one).
Result<Object*> StorageParent(Tpm& tpm, uint32_t handle, uint32_t handle_number) {
  TRY_ASSIGN(Object * parent, tpm.FindObject(handle, handle_number));
  if (!parent->IsStorageParent()) {
    return Rc::Type.Handle(handle_number);
  }
  return parent;
}

// A primary object under `hierarchy`, generated from the hierarchy's seed: the DRBG is
// personalised with the template's digest, so the same template gives the same key until
// the seed changes.
Result<Object> MakePrimary(Tpm& tpm, uint32_t hierarchy, const wire::Tpm2bSensitiveCreate& sens,
                           const wire::TpmtPublic& tmpl) {
  TRY(CheckTemplate(tmpl, nullptr, sens));
  const SecretBytes* seed = tpm.HierarchySeed(hierarchy);
  if (seed == nullptr) {
    return Rc::Hierarchy.Handle(1);
  }
  TRY_ASSIGN(Bytes tmpl_digest, crypto::Hash(tmpl.name_alg, wire::MarshalToBytes(tmpl)));
  Bytes personalization = ToBytes(std::string_view("tpm2emu primary object"));
  AppendBe16(personalization, tmpl.name_alg);
  personalization.insert(personalization.end(), tmpl_digest.begin(), tmpl_digest.end());
  crypto::Drbg drbg(seed->span(), personalization);
  Object obj;
  obj.pub = tmpl;
  obj.hierarchy = hierarchy;
  obj.is_primary = true;
  TRY(GenerateObject(obj, sens, [&drbg](std::span<uint8_t> out) { drbg.Generate(out); }));
  if (!drbg.ok()) {
    return Rc::Failure;
  }
  TRY_ASSIGN(obj.name, ComputeName(obj.pub));
  TRY_ASSIGN(obj.qualified_name,
             ComputeQualifiedName(obj.pub.name_alg, HandleBytes(hierarchy), obj.name));
  return obj;
}

Result<Object> MakeOrdinary(Tpm& tpm, const Object& parent, const wire::Tpm2bSensitiveCreate& sens,
                            const wire::TpmtPublic& tmpl) {
  TRY(CheckTemplate(tmpl, &parent, sens));
  Object obj;
  obj.pub = tmpl;
  obj.hierarchy = parent.hierarchy;
  TRY(GenerateObject(obj, sens, tpm.RandomSource()));
  TRY_ASSIGN(obj.name, ComputeName(obj.pub));
  TRY_ASSIGN(obj.qualified_name,
             ComputeQualifiedName(obj.pub.name_alg, parent.qualified_name, obj.name));
  return obj;
}

}  // namespace

// Part 3 §24.1 TPM2_CreatePrimary
Result<CreatePrimaryOut> CreatePrimary(Tpm& tpm, const CreatePrimaryIn& in) {
  TRY_ASSIGN(Object obj, MakePrimary(tpm, in.primary_handle, in.in_sensitive, in.in_public.value));
  Bytes parent = HandleBytes(in.primary_handle);
  TRY_ASSIGN(Creation c, MakeCreation(tpm, obj, TpmAlg::Null, parent, parent, in.outside_info,
                                      in.creation_pcr));
  CreatePrimaryOut out;
  out.out_public.value = obj.pub;
  out.name.data = obj.name;
  out.creation_data = std::move(c.data);
  out.creation_hash = std::move(c.hash);
  out.creation_ticket = std::move(c.ticket);
  TRY_ASSIGN(out.object_handle, tpm.InsertObject(std::move(obj)));
  return out;
}

// Part 3 §12.1 TPM2_Create
Result<CreateOut> Create(Tpm& tpm, const CreateIn& in) {
  TRY_ASSIGN(Object * parent, StorageParent(tpm, in.parent_handle, 1));
  TRY_ASSIGN(Object obj, MakeOrdinary(tpm, *parent, in.in_sensitive, in.in_public.value));
  TRY_ASSIGN(Creation c, MakeCreation(tpm, obj, parent->pub.name_alg, parent->name,
                                      parent->qualified_name, in.outside_info, in.creation_pcr));
  CreateOut out;
  TRY_ASSIGN(out.out_private.data, ProtectSensitive(*parent, obj, tpm.RandomSource()));
  out.out_public.value = obj.pub;
  out.creation_data = std::move(c.data);
  out.creation_hash = std::move(c.hash);
  out.creation_ticket = std::move(c.ticket);
  return out;
}

// Part 3 §12.2 TPM2_Load
Result<LoadOut> Load(Tpm& tpm, const LoadIn& in) {
  TRY_ASSIGN(Object * parent, StorageParent(tpm, in.parent_handle, 1));
  if (in.in_private.empty()) {
    return Rc::Size.Param(1);
  }
  const wire::TpmtPublic& pub = in.in_public.value;
  if (pub.name_alg == TpmAlg::Null) {
    return Rc::Hash.Param(2);
  }
  // Part 3 §12.2.1: the attributes must be consistent with the parent.
  if ((pub.Has(wire::TpmaObject::FixedTpm) && !pub.Has(wire::TpmaObject::FixedParent)) ||
      (pub.Has(wire::TpmaObject::FixedTpm) && !parent->pub.Has(wire::TpmaObject::FixedTpm)) ||
      !X509SignConsistent(pub)) {
    return Rc::Attributes.Param(2);
  }
  Object obj;
  obj.pub = pub;
  obj.hierarchy = parent->hierarchy;
  TRY_ASSIGN(obj.name, ComputeName(obj.pub));
  auto sensitive = UnprotectSensitive(*parent, obj.name, in.in_private.span());
  if (!sensitive.ok()) {
    return sensitive.error().Param(1);
  }
  if (sensitive->type != pub.type) {
    return Rc::Type.Param(2);
  }
  obj.auth = SecretBytes(TrimTrailingZeros(sensitive->auth_value));
  obj.seed_value = SecretBytes(sensitive->seed_value);
  obj.sensitive = SecretBytes(sensitive->sensitive);
  if (auto st = CheckBinding(obj); !st.ok()) {
    return st.error().Param(2);
  }
  TRY_ASSIGN(obj.qualified_name,
             ComputeQualifiedName(obj.pub.name_alg, parent->qualified_name, obj.name));
  LoadOut out;
  out.name.data = obj.name;
  TRY_ASSIGN(out.object_handle, tpm.InsertObject(std::move(obj)));
  return out;
}

// Part 3 §12.3 TPM2_LoadExternal
Result<LoadOut> LoadExternal(Tpm& tpm, const LoadExternalIn& in) {
  const wire::TpmtPublic& pub = in.in_public.value;
  if (!X509SignConsistent(pub)) {
    return Rc::Attributes.Param(2);
  }
  Object obj;
  obj.pub = pub;
  obj.hierarchy = in.hierarchy;
  if (!in.in_private.empty()) {
    // A key with its private part is only accepted into the null hierarchy, and cannot
    // claim to be TPM-resident.
    if (in.hierarchy != TpmRh::Null) {
      return Rc::Hierarchy.Param(3);
    }
    if (pub.Has(wire::TpmaObject::FixedTpm) || pub.Has(wire::TpmaObject::FixedParent)) {
      return Rc::Attributes.Param(2);
    }
    auto sensitive = wire::UnmarshalExact<wire::TpmtSensitive>(in.in_private.span());
    if (!sensitive.ok()) {
      return sensitive.error().Param(1);
    }
    if (sensitive->type != pub.type) {
      return Rc::Type.Param(2);
    }
    obj.auth = SecretBytes(TrimTrailingZeros(sensitive->auth_value));
    obj.seed_value = SecretBytes(sensitive->seed_value);
    obj.sensitive = SecretBytes(sensitive->sensitive);
    if (pub.name_alg == TpmAlg::Null) {
      return Rc::Hash.Param(2);
    }
    if (auto st = CheckBinding(obj); !st.ok()) {
      return st.error().Param(2);
    }
  } else {
    obj.public_only = true;
  }
  uint32_t handle = 0;
  if (pub.name_alg != TpmAlg::Null) {
    TRY_ASSIGN(obj.name, ComputeName(obj.pub));
    TRY_ASSIGN(obj.qualified_name,
               ComputeQualifiedName(obj.pub.name_alg, HandleBytes(in.hierarchy), obj.name));
    TRY_ASSIGN(handle, tpm.InsertObject(std::move(obj)));
  } else {
    TRY_ASSIGN(handle, tpm.InsertObject(std::move(obj)));
    Object* loaded = *tpm.FindObject(handle, 1);
    loaded->name = HandleBytes(handle);  // Part 1 §14: no nameAlg, so the Name is the handle
    loaded->qualified_name = loaded->name;
  }
  LoadOut out;
  out.object_handle = handle;
  out.name.data = (*tpm.FindObject(handle, 1))->name;
  return out;
}

// Part 3 §12.4 TPM2_ReadPublic
Result<ReadPublicOut> ReadPublic(Tpm& tpm, const ReadPublicIn& in) {
  TRY_ASSIGN(Object * obj, tpm.FindObject(in.object_handle, 1));
  if (obj->sequence) {
    return Rc::Sequence;
  }
  ReadPublicOut out;
  out.out_public.value = obj->pub;
  out.name.data = obj->name;
  out.qualified_name.data = obj->qualified_name;
  return out;
}

// Part 3 §12.7 TPM2_Unseal
Result<UnsealOut> Unseal(Tpm& tpm, const UnsealIn& in) {
  TRY_ASSIGN(Object * obj, tpm.FindObject(in.item_handle, 1));
  if (obj->sequence || obj->pub.type != TpmAlg::KeyedHash) {
    return Rc::Type.Handle(1);
  }
  if (obj->pub.Has(wire::TpmaObject::SignEncrypt) || obj->pub.Has(wire::TpmaObject::Decrypt) ||
      obj->pub.Has(wire::TpmaObject::Restricted)) {
    return Rc::Attributes.Handle(1);
  }
  UnsealOut out;
  out.out_data.data = ToBytes(obj->sensitive.span());
  return out;
}

// Part 3 §12.8 TPM2_ObjectChangeAuth: returns the object's private area re-wrapped with the
// new authValue; the loaded object is unchanged.
Result<ObjectChangeAuthOut> ObjectChangeAuth(Tpm& tpm, const ObjectChangeAuthIn& in) {
  TRY_ASSIGN(Object * obj, tpm.FindObject(in.object_handle, 1));
  if (obj->sequence || obj->public_only || obj->is_primary) {
    return Rc::Type.Handle(1);
  }
  TRY_ASSIGN(Object * parent, StorageParent(tpm, in.parent_handle, 2));
  TRY_ASSIGN(Bytes qn, ComputeQualifiedName(obj->pub.name_alg, parent->qualified_name, obj->name));
  if (qn != obj->qualified_name) {
    return Rc::Type.Handle(2);  // not this object's parent
  }
  if (in.new_auth.size() > crypto::DigestSize(obj->pub.name_alg)) {
    return Rc::Size.Param(1);
  }
  Object changed = CopyKeyObject(*obj);
  changed.auth = SecretBytes(TrimTrailingZeros(in.new_auth.span()));
  ObjectChangeAuthOut out;
  TRY_ASSIGN(out.out_private.data, ProtectSensitive(*parent, changed, tpm.RandomSource()));
  return out;
}

// Part 3 §12.9 TPM2_CreateLoaded: a primary object under a hierarchy, or an ordinary object
// under a storage parent (derivation parents are not supported).
Result<CreateLoadedOut> CreateLoaded(Tpm& tpm, const CreateLoadedIn& in) {
  auto tmpl = wire::UnmarshalExact<wire::TpmtPublic>(in.in_public.span());
  if (!tmpl.ok()) {
    return tmpl.error().Param(2);
  }
  CreateLoadedOut out;
  Object obj;
  uint32_t h = in.parent_handle;
  if (h == TpmRh::Owner || h == TpmRh::Endorsement || h == TpmRh::Platform || h == TpmRh::Null) {
    TRY_ASSIGN(obj, MakePrimary(tpm, h, in.in_sensitive, *tmpl));
  } else {
    TRY_ASSIGN(Object * parent, tpm.FindObject(h, 1));
    if (!parent->IsStorageParent()) {
      return Rc::Type.Handle(1);
    }
    TRY_ASSIGN(obj, MakeOrdinary(tpm, *parent, in.in_sensitive, *tmpl));
    TRY_ASSIGN(out.out_private.data, ProtectSensitive(*parent, obj, tpm.RandomSource()));
  }
  out.out_public.value = obj.pub;
  out.name.data = obj.name;
  TRY_ASSIGN(out.object_handle, tpm.InsertObject(std::move(obj)));
  return out;
}

// Part 3 §28.5 TPM2_EvictControl: makes a loaded object persistent, or removes a persistent
// one. Owner authorization covers the owner range (0x81000000-0x817FFFFF) and objects of the
// storage and endorsement hierarchies; platform authorization the platform range and
// hierarchy, and may evict a persistent object of any range. The checks and their codes
// follow the order of §28.5.1. Public-only objects (TPM2_LoadExternal without a private part)
// may be persisted since v1.85.
Result<Empty> EvictControl(Tpm& tpm, const EvictControlIn& in) {
  constexpr uint32_t kPlatformFirst = 0x81800000;
  if (static_cast<uint8_t>(in.persistent_handle >> 24) != TpmHt::Persistent) {
    return Rc::Value.Param(1);
  }
  bool platform_range = in.persistent_handle >= kPlatformFirst;
  PersistentState& p = tpm.persistent();
  TRY_ASSIGN(Object * obj, tpm.FindObject(in.object_handle, 2));
  if (static_cast<uint8_t>(in.object_handle >> 24) == TpmHt::Persistent) {
    if (in.auth == TpmRh::Owner && in.object_handle >= kPlatformFirst) {
      return Rc::Range.Handle(2);
    }
    if (in.object_handle != in.persistent_handle) {
      return Rc::Handle.Param(1);
    }
    p.objects.erase(in.object_handle);
    return Empty{};
  }
  if (obj->sequence || obj->hierarchy == TpmRh::Null ||
      obj->pub.Has(wire::TpmaObject::StClear)) {
    return Rc::Attributes.Handle(2);
  }
  bool platform_object = obj->hierarchy == TpmRh::Platform;
  if ((in.auth == TpmRh::Owner) == platform_object) {
    return Rc::Hierarchy.Handle(2);
  }
  if (platform_range != (in.auth == TpmRh::Platform)) {
    return Rc::Range.Param(1);
  }
  if (p.objects.count(in.persistent_handle) != 0) {
    return Rc::NvDefined;
  }
  if (p.objects.size() >= kMaxPersistentObjects) {
    return Rc::NvSpace;
  }
  p.objects.emplace(in.persistent_handle, CopyKeyObject(*obj));
  return Empty{};
}

}  // namespace tpm2emu::engine::object
