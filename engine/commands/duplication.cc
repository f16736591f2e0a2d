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
    TRY_ASSIGN(Object * parent, tpm.FindObject(in.new_parent_handle, 2));
    if (!parent->pub.Has(wire::TpmaObject::Restricted) ||
        !parent->pub.Has(wire::TpmaObject::Decrypt) ||
        (parent->pub.type != TpmAlg::Rsa && parent->pub.type != TpmAlg::Ecc)) {
      return Rc::Type.Handle(2);
    }
    TRY_ASSIGN(auto shared, tpm.EncryptSecret(*parent, "DUPLICATE"));
    uint16_t h = parent->pub.name_alg;
    TRY_ASSIGN(OuterKeys keys, OuterWrapKeys(h, ProtectionKeyBits(*parent), shared.first, obj->name));
    TRY_ASSIGN(Bytes enc, crypto::AesCfbEncrypt(keys.sym, Bytes(16, 0), dup));
    Bytes mac_input = enc;
    mac_input.insert(mac_input.end(), obj->name.begin(), obj->name.end());
    TRY_ASSIGN(Bytes outer, crypto::Hmac(h, keys.hmac, mac_input));
    dup.clear();
    AppendBe16(dup, static_cast<uint16_t>(outer.size()));
    dup.insert(dup.end(), outer.begin(), outer.end());
    dup.insert(dup.end(), enc.begin(), enc.end());
    out.out_sym_seed.data = std::move(shared.second);
  }
  out.duplicate.data = std::move(dup);
  return out;
}

// Part 3 §13.3 TPM2_Import: unwraps a duplicate and re-wraps it under `parent`.
Result<ImportOut> Import(Tpm& tpm, const ImportIn& in) {
  TRY_ASSIGN(Object * parent, tpm.FindObject(in.parent_handle, 1));
  if (!parent->IsStorageParent()) {
    return Rc::Type.Handle(1);
  }
  const wire::TpmtPublic& pub = in.object_public.value;
  if (pub.Has(wire::TpmaObject::FixedTpm) || pub.Has(wire::TpmaObject::FixedParent)) {
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
    TRY_ASSIGN(SecretBytes seed, tpm.DecryptSecret(in.parent_handle, "DUPLICATE",
                                                   in.in_sym_seed.span(), 4));
    uint16_t h = parent->pub.name_alg;
    wire::Reader r(dup);
    uint16_t n = 0;
    if (!r.U16(n).ok() || n != crypto::DigestSize(h) || r.remaining() < n) {
      return Rc::Integrity.Param(3);
    }
    ByteSpan outer = *r.Take(n);
    Bytes enc = ToBytes(r.rest());
    TRY_ASSIGN(OuterKeys keys, OuterWrapKeys(h, ProtectionKeyBits(*parent), seed, obj.name));
    Bytes mac_input = enc;
    mac_input.insert(mac_input.end(), obj.name.begin(), obj.name.end());
    TRY_ASSIGN(Bytes expected, crypto::Hmac(h, keys.hmac, mac_input));
    if (!ConstantTimeEqual(expected, outer)) {
      return Rc::Integrity.Param(3);
    }
    TRY_ASSIGN(dup, crypto::AesCfbDecrypt(keys.sym, Bytes(16, 0), enc));
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
  if (!sr.U16(size).ok() || size != sr.remaining() || !wire::Unmarshal(sr, s).ok() ||
      !sr.empty() || s.type != pub.type) {
    return Rc::Sensitive.Param(3);
  }
  obj.auth = SecretBytes(TrimTrailingZeros(s.auth_value));
  obj.seed_value = SecretBytes(s.seed_value);
  obj.sensitive = SecretBytes(s.sensitive);
  if (auto st = CheckBinding(obj); !st.ok()) {
    return st.error().Param(2);
  }
  ImportOut out;
  TRY_ASSIGN(out.out_private.data, ProtectSensitive(*parent, obj));
  return out;
}

}  // namespace tpm2emu::engine::duplication
