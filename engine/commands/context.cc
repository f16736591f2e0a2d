// Part 3 §28.2 TPM2_ContextSave and §28.3 TPM2_ContextLoad (Part 1 §30 context management).
//
// Context blob: integrity (TPM2B_DIGEST) || AES-256-CFB(payload). The key and IV are
// KDFa(SHA-256, proof, "CONTEXT", sequence, savedHandle); the integrity value is
// HMAC-SHA-256(proof, resetValue || sequence || savedHandle || encrypted). The proof is the
// object's hierarchy proof (so a null-hierarchy object dies with the reset), or the null proof
// for sessions and sequence objects (they never survive a TPM Reset). resetValue binds stClear
// objects to the current restart.
//
// Object payloads are EncodeLoadedObject(); a sequence object's carries its running digests
// (crypto::ResumableHash/Hmac), its auth value and flags. As Part 1 §27.8 notes, a saved
// sequence has no replay protection: an older context of it loads as well as the newest.

#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "crypto/symmetric.h"
#include "engine/commands/commands.h"
#include "engine/state/object_util.h"
#include "engine/tpm.h"

namespace tpm2emu::engine::context {
namespace {

// Part 1 §27.2.3, Part 2 §9.12 TPMI_DH_SAVED: the savedHandle of an object context.
constexpr uint32_t kSavedObject = 0x80000000;
constexpr uint32_t kSavedSequence = 0x80000001;
constexpr uint32_t kSavedStClearObject = 0x80000002;

struct BlobKeys {
  SecretBytes key_iv;
};

Bytes SequenceBytes(uint64_t seq) {
  Bytes b;
  AppendBe64(b, seq);
  return b;
}

Bytes HandleBytes(uint32_t h) {
  Bytes b;
  AppendBe32(b, h);
  return b;
}

uint64_t ResetValue(Tpm& tpm, uint32_t saved_handle) {
  if (saved_handle == kSavedStClearObject) {
    const PersistentState& p = tpm.persistent();
    return (uint64_t{p.reset_count} << 32) | p.restart_count;
  }
  return 0;
}

Result<Bytes> Seal(Tpm& tpm, const SecretBytes& proof, uint64_t seq, uint32_t saved_handle,
                   ByteSpan payload) {
  TRY_ASSIGN(SecretBytes key_iv, crypto::KdfA(kContextHashAlg, proof, "CONTEXT",
                                              SequenceBytes(seq), HandleBytes(saved_handle),
                                              (32 + 16) * 8));
  TRY_ASSIGN(Bytes enc, crypto::AesCfbEncrypt(ByteSpan(key_iv.data(), 32),
                                              ByteSpan(key_iv.data() + 32, 16), payload));
  Bytes mac_input = SequenceBytes(ResetValue(tpm, saved_handle));
  Bytes s = SequenceBytes(seq);
  mac_input.insert(mac_input.end(), s.begin(), s.end());
  AppendBe32(mac_input, saved_handle);
  mac_input.insert(mac_input.end(), enc.begin(), enc.end());
  TRY_ASSIGN(Bytes integrity, crypto::Hmac(kContextHashAlg, proof, mac_input));
  Bytes blob;
  AppendBe16(blob, static_cast<uint16_t>(integrity.size()));
  blob.insert(blob.end(), integrity.begin(), integrity.end());
  blob.insert(blob.end(), enc.begin(), enc.end());
  return blob;
}

Result<Bytes> Open(Tpm& tpm, const SecretBytes& proof, const TpmsContext& ctx) {
  wire::Reader r(ctx.context_blob.span());
  uint16_t n = 0;
  if (!r.U16(n).ok() || n != crypto::DigestSize(kContextHashAlg)) {
    return Rc::Integrity.Param(1);
  }
  auto integrity = r.Take(n);
  if (!integrity.ok()) {
    return Rc::Integrity.Param(1);
  }
  ByteSpan enc = r.rest();
  Bytes mac_input = SequenceBytes(ResetValue(tpm, ctx.saved_handle));
  Bytes s = SequenceBytes(ctx.sequence);
  mac_input.insert(mac_input.end(), s.begin(), s.end());
  AppendBe32(mac_input, ctx.saved_handle);
  mac_input.insert(mac_input.end(), enc.begin(), enc.end());
  TRY_ASSIGN(Bytes expected, crypto::Hmac(kContextHashAlg, proof, mac_input));
  if (!ConstantTimeEqual(expected, *integrity)) {
    return Rc::Integrity.Param(1);
  }
  TRY_ASSIGN(SecretBytes key_iv, crypto::KdfA(kContextHashAlg, proof, "CONTEXT",
                                              SequenceBytes(ctx.sequence),
                                              HandleBytes(ctx.saved_handle), (32 + 16) * 8));
  return crypto::AesCfbDecrypt(ByteSpan(key_iv.data(), 32), ByteSpan(key_iv.data() + 32, 16),
                               enc);
}

}  // namespace

// Part 3 §28.2 TPM2_ContextSave
Result<ContextOut> ContextSave(Tpm& tpm, const ContextSaveIn& in) {
  ResetState& r = tpm.reset_state();
  uint8_t ht = static_cast<uint8_t>(in.save_handle >> 24);
  ContextOut out;
  TpmsContext& ctx = out.context;
  ctx.sequence = ++r.context_counter;
  if (ht == TpmHt::HmacSession || ht == TpmHt::PolicySession) {
    auto it = r.sessions.find(in.save_handle);
    if (it == r.sessions.end() || !it->second.loaded) {
      return Rc::ReferenceH(0);
    }
    ctx.saved_handle = in.save_handle;
    ctx.hierarchy = TpmRh::Null;
    TRY_ASSIGN(ctx.context_blob.data,
               Seal(tpm, r.null_proof, ctx.sequence, ctx.saved_handle, HandleBytes(in.save_handle)));
    it->second.loaded = false;
    it->second.context_sequence = ctx.sequence;
    return out;
  }
  if (ht != TpmHt::Transient) {
    return Rc::Value.Handle(1);  // TPMI_DH_SAVED: only transient objects and sessions
  }
  TRY_ASSIGN(Object * obj, tpm.FindObject(in.save_handle, 1));
  if (obj->sequence) {
    // Part 1 §27.2.3 and §27.2.4: a sequence object has its own savedHandle (so a resource
    // manager knows to save it again after each use) and belongs to the NULL hierarchy.
    ctx.saved_handle = kSavedSequence;
    ctx.hierarchy = TpmRh::Null;
  } else {
    ctx.saved_handle = obj->pub.Has(wire::TpmaObject::StClear) ? kSavedStClearObject : kSavedObject;
    ctx.hierarchy = obj->hierarchy;
  }
  const SecretBytes* proof = tpm.HierarchyProof(ctx.hierarchy);
  if (proof == nullptr) {
    return Rc::Hierarchy;
  }
  TRY_ASSIGN(Bytes payload, EncodeLoadedObject(*obj));
  auto blob = Seal(tpm, *proof, ctx.sequence, ctx.saved_handle, payload);
  SecureWipe(payload.data(), payload.size());
  TRY_ASSIGN(ctx.context_blob.data, std::move(blob));
  return out;
}

// Part 3 §28.3 TPM2_ContextLoad
Result<ContextLoadOut> ContextLoad(Tpm& tpm, const ContextLoadIn& in) {
  const TpmsContext& ctx = in.context;
  ResetState& r = tpm.reset_state();
  uint8_t ht = static_cast<uint8_t>(ctx.saved_handle >> 24);
  ContextLoadOut out;
  if (ht == TpmHt::HmacSession || ht == TpmHt::PolicySession) {
    TRY_ASSIGN(Bytes payload, Open(tpm, r.null_proof, ctx));
    auto it = r.sessions.find(ctx.saved_handle);
    if (it == r.sessions.end() || it->second.loaded ||
        it->second.context_sequence != ctx.sequence || payload != HandleBytes(ctx.saved_handle)) {
      return Rc::Handle.Param(1);  // not a saved session of this TPM, or a stale context
    }
    size_t loaded = 0;
    for (const auto& [h, s] : r.sessions) {
      loaded += s.loaded ? 1 : 0;
    }
    if (loaded >= kMaxLoadedSessions) {
      return Rc::SessionMemory;
    }
    it->second.loaded = true;
    out.loaded_handle = ctx.saved_handle;
    return out;
  }
  if (ctx.saved_handle != kSavedObject && ctx.saved_handle != kSavedSequence &&
      ctx.saved_handle != kSavedStClearObject) {
    return Rc::Handle.Param(1);
  }
  if (ctx.hierarchy != TpmRh::Null && !tpm.IsHierarchyEnabled(ctx.hierarchy)) {
    return Rc::Hierarchy.Param(1);
  }
  const SecretBytes* proof = tpm.HierarchyProof(ctx.hierarchy);
  if (proof == nullptr) {
    return Rc::Hierarchy.Param(1);
  }
  TRY_ASSIGN(Bytes payload, Open(tpm, *proof, ctx));
  auto obj = DecodeObject(payload);
  SecureWipe(payload.data(), payload.size());
  // The integrity HMAC covers savedHandle and the payload, so these can only disagree in a
  // context this TPM never made; refuse it all the same.
  if (!obj.ok() || obj->hierarchy != ctx.hierarchy ||
      obj->sequence.has_value() != (ctx.saved_handle == kSavedSequence)) {
    return Rc::Integrity.Param(1);
  }
  TRY_ASSIGN(out.loaded_handle, tpm.InsertObject(std::move(obj).value()));
  return out;
}

}  // namespace tpm2emu::engine::context
