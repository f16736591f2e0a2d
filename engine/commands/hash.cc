// Part 3 §15.4 TPM2_Hash and §17 hash and event sequences.

#include "engine/commands/commands.h"
#include "engine/commands/pcr_attributes.h"
#include "engine/tpm.h"

namespace tpm2emu::engine::hash {
namespace {

bool StartsWithGeneratedValue(ByteSpan data) {
  return data.size() >= 4 && LoadBe32(data.data()) == kTpmGeneratedValue;
}

// Part 2 §10.6.7 TPMT_TK_HASHCHECK: HMAC(proof, TPM_ST_HASHCHECK || digest), or the NULL ticket.
wire::TpmtTkHashcheck HashcheckTicket(Tpm& tpm, uint32_t hierarchy, ByteSpan digest,
                                      bool generated) {
  wire::TpmtTkHashcheck t;
  t.tag = TpmSt::Hashcheck;
  if (hierarchy == TpmRh::Null || generated) {
    t.hierarchy.value = TpmRh::Null;
    return t;
  }
  t.hierarchy.value = hierarchy;
  t.digest.data = tpm.Ticket(hierarchy, TpmSt::Hashcheck, digest);
  return t;
}

Result<SequenceObject*> FindSequence(Tpm& tpm, uint32_t handle, uint32_t handle_number) {
  auto& objects = tpm.reset_state().objects;
  auto it = objects.find(handle);
  if (it == objects.end()) {
    return Rc::ReferenceH(handle_number - 1);
  }
  if (!it->second.sequence) {
    return Rc::Mode.Handle(handle_number);  // not a sequence object
  }
  return &*it->second.sequence;
}

}  // namespace

Result<SequenceObject> StartEventSequence() {
  SequenceObject seq;
  seq.is_event = true;
  for (uint16_t alg : wire::kHashAlgs) {
    TRY_ASSIGN(auto ctx, crypto::ResumableHash::Start(alg));
    seq.contexts.push_back(std::move(ctx));
  }
  return seq;
}

void UpdateSequence(SequenceObject& seq, ByteSpan data) {
  if (!seq.first_block_seen) {
    seq.first_block_seen = true;
    seq.generated_prefix = StartsWithGeneratedValue(data);
  }
  for (auto& ctx : seq.contexts) {
    ctx.Update(data);
  }
  if (seq.is_hmac) {
    seq.hmac.Update(data);
  }
}

wire::TpmlDigestValues FinishEventSequence(SequenceObject& seq) {
  wire::TpmlDigestValues out;
  for (auto& ctx : seq.contexts) {
    out.items.push_back(wire::TpmtHa{ctx.alg(), ctx.Finish()});
  }
  return out;
}

// Part 3 §15.4 TPM2_Hash
Result<HashOut> Hash(Tpm& tpm, const HashIn& in) {
  TRY_ASSIGN(auto digest, crypto::Hash(in.hash_alg, in.data.span()));
  HashOut out;
  out.validation =
      HashcheckTicket(tpm, in.hierarchy, digest, StartsWithGeneratedValue(in.data.span()));
  out.out_hash.data = std::move(digest);
  return out;
}

// Part 3 §17.3 TPM2_HashSequenceStart: TPM_ALG_NULL starts an event sequence.
Result<HandleOut> HashSequenceStart(Tpm& tpm, const HashSequenceStartIn& in) {
  if (tpm.LoadedObjectCount() >= kMaxLoadedObjects) {
    return Rc::ObjectMemory;
  }
  SequenceObject seq;
  if (in.hash_alg == TpmAlg::Null) {
    TRY_ASSIGN(seq, StartEventSequence());
  } else {
    TRY_ASSIGN(auto ctx, crypto::ResumableHash::Start(in.hash_alg));
    seq.contexts.push_back(std::move(ctx));
  }
  uint32_t handle = tpm.AllocateTransientHandle();
  if (handle == 0) {
    return Rc::ObjectHandles;
  }
  Object obj;
  obj.auth = SecretBytes(TrimTrailingZeros(in.auth.span()));
  obj.pub.name_alg = TpmAlg::Null;  // Part 1 §14: a sequence object's Name is empty
  obj.sequence = std::move(seq);
  tpm.reset_state().objects.emplace(handle, std::move(obj));
  HandleOut out;
  out.handle = handle;
  return out;
}

// Part 3 §17.4 TPM2_SequenceUpdate
Result<Empty> SequenceUpdate(Tpm& tpm, const SequenceUpdateIn& in) {
  TRY_ASSIGN(SequenceObject * seq, FindSequence(tpm, in.sequence_handle, 1));
  UpdateSequence(*seq, in.buffer.span());
  return Empty{};
}

// Part 3 §17.5 TPM2_SequenceComplete
Result<SequenceCompleteOut> SequenceComplete(Tpm& tpm, const SequenceCompleteIn& in) {
  TRY_ASSIGN(SequenceObject * seq, FindSequence(tpm, in.sequence_handle, 1));
  if (seq->is_event) {
    return Rc::Mode.Handle(1);
  }
  UpdateSequence(*seq, in.buffer.span());
  SequenceCompleteOut out;
  if (seq->is_hmac) {
    out.result.data = seq->hmac.Finish();
    out.validation.hierarchy.value = TpmRh::Null;  // HMAC sequences give no ticket
  } else {
    out.result.data = seq->contexts.front().Finish();
    out.validation =
        HashcheckTicket(tpm, in.hierarchy, out.result.data, seq->generated_prefix);
  }
  tpm.reset_state().objects.erase(in.sequence_handle);
  return out;
}

// Part 3 §17.6 TPM2_EventSequenceComplete
Result<DigestValuesOut> EventSequenceComplete(Tpm& tpm, const EventSequenceCompleteIn& in) {
  TRY_ASSIGN(SequenceObject * seq, FindSequence(tpm, in.sequence_handle, 2));
  if (!seq->is_event) {
    return Rc::Mode.Handle(2);
  }
  if (in.pcr_handle != TpmRh::Null && !pcr::CanExtend(in.pcr_handle, tpm.locality())) {
    return Rc::Locality;
  }
  UpdateSequence(*seq, in.buffer.span());
  DigestValuesOut out;
  out.results = FinishEventSequence(*seq);
  if (in.pcr_handle != TpmRh::Null) {
    TRY(pcr::ExtendAll(tpm, in.pcr_handle, out.results));
  }
  tpm.reset_state().objects.erase(in.sequence_handle);
  return out;
}

}  // namespace tpm2emu::engine::hash
