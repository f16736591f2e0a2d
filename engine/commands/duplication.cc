// Part 3 §13 duplication commands (Part 1 §23.3 duplication: an optional inner wrapper with a
// caller's symmetric key, and an outer wrapper keyed from a seed shared with the new parent
// under "DUPLICATE").

#include "crypto/cipher.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "crypto/symmetric.h"
#include "engine/commands/commands.h"
#include "engine/state/object_util.h"
#include "engine/tpm.h"

namespace tpm2emu::engine::duplication {

RcStatus Unmarshal(wire::Reader& r, SymDefObjectParam& v) {
  TRY(r.U16(v.value.algorithm));
  v.value.key_bits = 0;
  v.value.mode = TpmAlg::Null;
  if (v.value.algorithm == TpmAlg::Null) {
    return {};
  }
  if (v.value.algorithm != TpmAlg::Aes) {
    return Rc::Symmetric;
  }
  TRY(r.U16(v.value.key_bits));
  TRY(r.U16(v.value.mode));
  if (v.value.key_bits != 128 && v.value.key_bits != 192 && v.value.key_bits != 256) {
    return Rc::Value;
  }
  if (v.value.mode != TpmAlg::Cfb) {
    return Rc::Mode;  // Part 1 §23.3.2: the inner wrapper is CFB
  }
  return {};
}

namespace {

// The outer wrapper keys from a seed under a parent with `name_alg` and symmetric `key_bits`.
struct OuterKeys {
  SecretBytes sym;
  SecretBytes hmac;
};
Result<OuterKeys> OuterWrapKeys(uint16_t name_alg, uint16_t key_bits, ByteSpan seed,
                                ByteSpan name) {
  OuterKeys k;
  TRY_ASSIGN(k.sym, crypto::KdfA(name_alg, seed, "STORAGE", name, {}, key_bits));
  TRY_ASSIGN(k.hmac, crypto::KdfA(name_alg, seed, "INTEGRITY", {}, {},
                                  static_cast<uint32_t>(crypto::DigestSize(name_alg) * 8)));
  return k;
}

// A parent that duplication wraps for or unwraps from (Part 1 §20.3.2.3: the seed is shared by
// the parent's asymmetric key): a loaded restricted decryption RSA or ECC key, else
// TPM_RC_TYPE for handle `handle_number`.
Result<Object*> FindWrapParent(Tpm& tpm, uint32_t handle, uint32_t handle_number) {
  TRY_ASSIGN(Object * parent, tpm.FindObject(handle, handle_number));
  if (!parent->pub.Has(wire::TpmaObject::Restricted) ||
      !parent->pub.Has(wire::TpmaObject::Decrypt) ||
      (parent->pub.type != TpmAlg::Rsa && parent->pub.type != TpmAlg::Ecc)) {
    return Rc::Type.Handle(handle_number);
  }
  return parent;
}

// Part 1 §20.3.2.3 outer wrapper for `parent`: a fresh "DUPLICATE" seed encrypted to it, then
// TPM2B(HMAC(enc || name)) || enc with enc = CFB(KDFa(seed, "STORAGE", name), inner).
struct OuterWrapped {
  Bytes duplicate;
  Bytes sym_seed;
};
Result<OuterWrapped> WrapOuter(Tpm& tpm, const Object& parent, ByteSpan name, ByteSpan inner) {
  TRY_ASSIGN(auto shared, tpm.EncryptSecret(parent, "DUPLICATE"));
  uint16_t h = parent.pub.name_alg;
  TRY_ASSIGN(OuterKeys keys, OuterWrapKeys(h, ProtectionKeyBits(parent), shared.first, name));
  TRY_ASSIGN(Bytes enc, crypto::AesCfbEncrypt(keys.sym, Bytes(16, 0), inner));
  Bytes mac_input = enc;
  mac_input.insert(mac_input.end(), name.begin(), name.end());
  TRY_ASSIGN(Bytes outer, crypto::Hmac(h, keys.hmac, mac_input));
  OuterWrapped out;
  AppendBe16(out.duplicate, static_cast<uint16_t>(outer.size()));
  out.duplicate.insert(out.duplicate.end(), outer.begin(), outer.end());
  out.duplicate.insert(out.duplicate.end(), enc.begin(), enc.end());
  out.sym_seed = std::move(shared.second);
  return out;
}

// The inverse, for the loaded parent `parent_handle` (handle 1 of the command): recovers the
// seed from `sym_seed` (its errors carry `seed_param`), checks the HMAC and decrypts.
// TPM_RC_INTEGRITY for parameter `dup_param` when the wrapper is short or the HMAC differs.
Result<Bytes> UnwrapOuter(Tpm& tpm, uint32_t parent_handle, const Object& parent, ByteSpan name,
                          ByteSpan dup, ByteSpan sym_seed, uint32_t dup_param,
                          uint32_t seed_param) {
  TRY_ASSIGN(SecretBytes seed, tpm.DecryptSecret(parent_handle, "DUPLICATE", sym_seed, seed_param));
  uint16_t h = parent.pub.name_alg;
  wire::Reader r(dup);
  uint16_t n = 0;
  if (!r.U16(n).ok() || n != crypto::DigestSize(h) || r.remaining() < n) {
    return Rc::Integrity.Param(dup_param);
  }
  ByteSpan outer = *r.Take(n);
  ByteSpan enc = r.rest();
  TRY_ASSIGN(OuterKeys keys, OuterWrapKeys(h, ProtectionKeyBits(parent), seed, name));
  Bytes mac_input(enc.begin(), enc.end());
  mac_input.insert(mac_input.end(), name.begin(), name.end());
  TRY_ASSIGN(Bytes expected, crypto::Hmac(h, keys.hmac, mac_input));
  if (!ConstantTimeEqual(expected, outer)) {
    return Rc::Integrity.Param(dup_param);
  }
  return crypto::AesCfbDecrypt(keys.sym, Bytes(16, 0), enc);
}

}  // namespace

// Part 3 §13.1 TPM2_Duplicate
Result<DuplicateOut> Duplicate(Tpm& tpm, const DuplicateIn& in) {
  TRY_ASSIGN(Object * obj, tpm.FindObject(in.object_handle, 1));
  if (obj->sequence || obj->public_only) {
    return Rc::Type.Handle(1);
  }
  if (obj->pub.Has(wire::TpmaObject::FixedParent)) {
    return Rc::Attributes.Handle(1);
  }
  bool encrypted_dup = obj->pub.Has(wire::TpmaObject::EncryptedDuplication);
  const wire::TpmtSymDefObject& sym = in.symmetric_alg.value;
  if (encrypted_dup && sym.algorithm == TpmAlg::Null) {
    return Rc::Symmetric.Param(2);
  }
  if (encrypted_dup && in.new_parent_handle == TpmRh::Null) {
    return Rc::Hierarchy.Handle(2);
  }
  DuplicateOut out;
  Bytes dup = EncodeSensitiveArea(*obj);
  if (sym.algorithm != TpmAlg::Null) {
    // Inner wrapper: CFB(key, 0, TPM2B(H_nameAlg(sensitive || Name)) || sensitive).
    SecretBytes key;
    if (in.encryption_key_in.empty()) {
      key = tpm.RandomSecret(sym.key_bits / 8u);
      out.encryption_key_out.data = ToBytes(key.span());
    } else {
      if (in.encryption_key_in.size() * 8 != sym.key_bits) {
        return Rc::Size.Param(1);
      }
      key = SecretBytes(in.encryption_key_in.span());
    }
    Bytes h_in = dup;
    h_in.insert(h_in.end(), obj->name.begin(), obj->name.end());
    TRY_ASSIGN(Bytes integrity, crypto::Hash(obj->pub.name_alg, h_in));
    Bytes plain;
    AppendBe16(plain, static_cast<uint16_t>(integrity.size()));
    plain.insert(plain.end(), integrity.begin(), integrity.end());
    plain.insert(plain.end(), dup.begin(), dup.end());
    TRY_ASSIGN(dup, crypto::AesCfbEncrypt(key, Bytes(16, 0), plain));
  }
  if (in.new_parent_handle != TpmRh::Null) {
    TRY_ASSIGN(Object * parent, FindWrapParent(tpm, in.new_parent_handle, 2));
    TRY_ASSIGN(OuterWrapped wrapped, WrapOuter(tpm, *parent, obj->name, dup));
    dup = std::move(wrapped.duplicate);
    out.out_sym_seed.data = std::move(wrapped.sym_seed);
  }
  out.duplicate.data = std::move(dup);
  return out;
}

// Part 3 §13.2 TPM2_Rewrap: replaces the outer wrapper of a duplicate (Part 1 §20.3.3, a
// duplication authority); the inner wrapper, if any, passes through untouched. A seed comes
// with an old parent and only then; TPM_RH_NULL as newParent leaves the blob without one.
Result<RewrapOut> Rewrap(Tpm& tpm, const RewrapIn& in) {
  if (in.in_sym_seed.empty() != (in.old_parent == TpmRh::Null)) {
    return Rc::Handle.Handle(1);
  }
  // The Name keys the wrappers: it must be nameAlg || digest of an object.
  wire::Reader nr(in.name.span());
  uint16_t name_alg = 0;
  if (!nr.U16(name_alg).ok() || crypto::DigestSize(name_alg) == 0 ||
      nr.remaining() != crypto::DigestSize(name_alg)) {
    return Rc::Size.Param(2);
  }
  Object* new_parent = nullptr;
  if (in.new_parent != TpmRh::Null) {
    TRY_ASSIGN(new_parent, FindWrapParent(tpm, in.new_parent, 2));
  }
  Bytes dup = in.in_duplicate.data;
  if (in.old_parent != TpmRh::Null) {
    TRY_ASSIGN(Object * old_parent, FindWrapParent(tpm, in.old_parent, 1));
    TRY_ASSIGN(dup, UnwrapOuter(tpm, in.old_parent, *old_parent, in.name.span(), dup,
                                in.in_sym_seed.span(), 1, 3));
  }
  RewrapOut out;
  if (new_parent != nullptr) {
    TRY_ASSIGN(OuterWrapped wrapped, WrapOuter(tpm, *new_parent, in.name.span(), dup));
    dup = std::move(wrapped.duplicate);
    out.out_sym_seed.data = std::move(wrapped.sym_seed);
  }
  if (dup.size() > wire::Tpm2bPrivate::kMax) {
    return Rc::Size.Param(1);  // a larger new parent hash than the old one's can overflow
  }
  out.out_duplicate.data = std::move(dup);
  return out;
}

// Part 3 §13.3 TPM2_Import: unwraps a duplicate and re-wraps it under `parent`.
Result<ImportOut> Import(Tpm& tpm, const ImportIn& in) {
  TRY_ASSIGN(Object * parent, tpm.FindObject(in.parent_handle, 1));
  if (!parent->IsStorageParent()) {
    return Rc::Type.Handle(1);
  }
  const wire::TpmtPublic& pub = in.object_public.value;
  if (pub.Has(wire::TpmaObject::FixedTpm) || pub.Has(wire::TpmaObject::FixedParent) ||
      !X509SignConsistent(pub)) {
    return Rc::Attributes.Param(2);
  }
  if (pub.name_alg == TpmAlg::Null) {
    return Rc::Hash.Param(2);
  }
  const wire::TpmtSymDefObject& sym = in.symmetric_alg.value;
  if (pub.Has(wire::TpmaObject::EncryptedDuplication) &&
      (sym.algorithm == TpmAlg::Null || in.in_sym_seed.empty())) {
    return Rc::Attributes.Param(2);
  }
  Object obj;
  obj.pub = pub;
  obj.hierarchy = parent->hierarchy;
  TRY_ASSIGN(obj.name, ComputeName(obj.pub));
  Bytes dup = in.duplicate.data;
  if (!in.in_sym_seed.empty()) {
    TRY_ASSIGN(dup, UnwrapOuter(tpm, in.parent_handle, *parent, obj.name, dup,
                                in.in_sym_seed.span(), 3, 4));
  }
  if (sym.algorithm != TpmAlg::Null) {
    if (in.encryption_key.size() * 8 != sym.key_bits) {
      return Rc::Size.Param(1);
    }
    TRY_ASSIGN(Bytes plain, crypto::AesCfbDecrypt(in.encryption_key.span(), Bytes(16, 0), dup));
    wire::Reader r(plain);
    uint16_t n = 0;
    if (!r.U16(n).ok() || n != crypto::DigestSize(pub.name_alg) || r.remaining() < n) {
      return Rc::Integrity.Param(3);
    }
    Bytes integrity = ToBytes(*r.Take(n));
    Bytes rest = ToBytes(r.rest());
    Bytes h_in = rest;
    h_in.insert(h_in.end(), obj.name.begin(), obj.name.end());
    TRY_ASSIGN(Bytes expected, crypto::Hash(pub.name_alg, h_in));
    if (!ConstantTimeEqual(expected, integrity)) {
      return Rc::Integrity.Param(3);
    }
    dup = std::move(rest);
  }
  wire::Reader sr(dup);
  uint16_t size = 0;
  wire::TpmtSensitive s;
  if (!sr.U16(size).ok() || size != sr.remaining() || !wire::Unmarshal(sr, s).ok() || !sr.empty() ||
      s.type != pub.type) {
    return Rc::Sensitive.Param(3);
  }
  obj.auth = SecretBytes(TrimTrailingZeros(s.auth_value));
  obj.seed_value = SecretBytes(s.seed_value);
  obj.sensitive = SecretBytes(s.sensitive);
  if (auto st = CheckBinding(obj); !st.ok()) {
    return st.error().Param(2);
  }
  ImportOut out;
  TRY_ASSIGN(out.out_private.data, ProtectSensitive(*parent, obj, tpm.RandomSource()));
  return out;
}

}  // namespace tpm2emu::engine::duplication
