// Part 3 §23 Enhanced Authorization (policy) commands, TPM2_PolicyRestart (§11.2), and the checks
// a policy session's deferred assertions make when it authorizes a command (Part 3 §5.6 item 8).
//
// Policy time: the policy context's startTime and timeout, and the timeout in a ticket, are Clock
// values in milliseconds (Part 1 §16.7.8 sets startTime from clockInfo.clock). Clock is kept
// across TPM Restart and Resume and only steps back after a disorderly shutdown, which makes the
// next Startup a TPM Reset; so resetCount serves as the timeEpoch of Part 1 §16.7.12. An
// expiration without nonceTPM is a value of Time (seconds since _TPM_Init) and is translated to
// Clock.
//
// Trial sessions (Part 3 §23.1) only compute policyDigest: the checks that need real values
// (signatures, tickets, PCR and NV contents, Clock, the current digest) and the deferred
// context are skipped. Checks of a parameter's own form (TPM2_PolicyAuthorize's keySign,
// TPM2_PolicyOR's list length) and the dispatcher's authorization (TPM2_PolicySecret,
// TPM2_PolicyNV, TPM2_PolicyAuthorizeNV) still apply.

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <optional>

#include "crypto/hash.h"
#include "engine/command.h"
#include "engine/commands/commands.h"
#include "engine/state/nv.h"
#include "engine/tpm.h"

namespace tpm2emu::engine::policy {
namespace {

namespace TpmaNv = wire::TpmaNv;

Bytes Be16(uint16_t v) {
  Bytes b;
  AppendBe16(b, v);
  return b;
}

Bytes Be32(uint32_t v) {
  Bytes b;
  AppendBe32(b, v);
  return b;
}

Bytes Be64(uint64_t v) {
  Bytes b;
  AppendBe64(b, v);
  return b;
}

Bytes Concat(std::initializer_list<ByteSpan> parts) {
  Bytes out;
  for (ByteSpan p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

// A big-endian unsigned value of up to eight octets.
uint64_t BeValue(ByteSpan b) {
  uint64_t v = 0;
  for (uint8_t octet : b) {
    v = (v << 8) | octet;
  }
  return v;
}

bool IsTrial(const Session& s) {
  return s.type == TpmSe::Trial;
}

// The policy session named by handle number `handle_number` (1-based), which the dispatcher
// found loaded; TPMI_SH_POLICY made sure it is a policy or trial session.
Result<Session*> GetSession(Tpm& tpm, uint32_t handle, uint32_t handle_number) {
  auto& sessions = tpm.reset_state().sessions;
  auto it = sessions.find(handle);
  if (it == sessions.end() || !it->second.loaded || !it->second.is_policy()) {
    return Rc::ReferenceH(handle_number - 1);
  }
  return &it->second;
}

// policyDigest_new := H_policyAlg(policyDigest_old || commandCode || args...)
RcStatus Extend(Session& s, uint32_t command_code, std::initializer_list<ByteSpan> args) {
  Bytes msg = s.policy_digest;
  AppendBe32(msg, command_code);
  for (ByteSpan a : args) {
    msg.insert(msg.end(), a.begin(), a.end());
  }
  TRY_ASSIGN(s.policy_digest, crypto::Hash(s.auth_hash, msg));
  return {};
}

// Part 3 §23.2.3 PolicyUpdate(commandCode, arg2, arg3): two extends, so that the boundary
// between the two variable-size values counts.
RcStatus PolicyUpdate(Session& s, uint32_t command_code, ByteSpan name, ByteSpan ref) {
  TRY(Extend(s, command_code, {name}));
  Bytes msg = s.policy_digest;
  msg.insert(msg.end(), ref.begin(), ref.end());
  TRY_ASSIGN(s.policy_digest, crypto::Hash(s.auth_hash, msg));
  return {};
}

// Part 3 §23.2.2 items 3-5 (cpHashA, parameter `param`): it may not differ from a cpHash the
// session holds already, and it must be a digest of the session's hash.
RcStatus CheckCpHashA(const Session& s, ByteSpan cp_hash_a, uint32_t param) {
  if (cp_hash_a.empty()) {
    return {};
  }
  if (s.cp_hash_kind != PolicyHashKind::kNone &&
      (s.cp_hash_kind != PolicyHashKind::kCpHash || !std::ranges::equal(s.cp_hash, cp_hash_a))) {
    return Rc::CpHash;
  }
  if (cp_hash_a.size() != s.policy_digest.size()) {
    return Rc::Size.Param(param);
  }
  return {};
}

// Part 3 §23.2.4: records cpHashA and keeps the earlier of two timeouts.
void ApplyAuthContext(Session& s, ByteSpan cp_hash_a, uint64_t timeout_ms) {
  if (!cp_hash_a.empty()) {
    s.cp_hash = ToBytes(cp_hash_a);
    s.cp_hash_kind = PolicyHashKind::kCpHash;
  }
  s.timeout_ms = std::min(s.timeout_ms, timeout_ms);
}

// Part 3 §23.2.2 for TPM2_PolicySigned and TPM2_PolicySecret (nonceTPM is parameter 1,
// cpHashA 2, expiration 4): the timeout the assertion sets, kNoPolicyTimeout for none.
Result<uint64_t> CheckAuthParams(Tpm& tpm, const Session& s, ByteSpan nonce_tpm, ByteSpan cp_hash_a,
                                 int32_t expiration) {
  if (!nonce_tpm.empty() && !ConstantTimeEqual(nonce_tpm, s.nonce_tpm)) {
    return Rc::Value.Param(1);
  }
  uint64_t timeout = kNoPolicyTimeout;
  if (expiration != 0) {
    uint64_t ms = static_cast<uint64_t>(std::llabs(int64_t{expiration})) * 1000;
    uint64_t now = tpm.clock_ms();
    uint64_t time = tpm.time_ms();
    // With nonceTPM: from the session's startTime; without: an absolute value of Time.
    uint64_t base = !nonce_tpm.empty() ? s.start_time_ms : (now >= time ? now - time : 0);
    timeout = base + ms;
    if (timeout < now) {
      return Rc::Expired.Param(4);
    }
  }
  TRY(CheckCpHashA(s, cp_hash_a, 2));
  return timeout;
}

// Part 3 §23.2.5: the data of a TPMT_TK_AUTH after its tag. The epoch (resetCount) stands for
// both timeEpoch and resetCount.
Bytes AuthTicketData(Tpm& tpm, ByteSpan cp_hash_a, ByteSpan policy_ref, ByteSpan auth_name,
                     ByteSpan timeout) {
  return Concat({cp_hash_a, policy_ref, auth_name, timeout, Be32(tpm.persistent().reset_count)});
}

// TPM2_PolicySigned's and TPM2_PolicySecret's response: a ticket when `make` (a negative
// expiration), otherwise a NULL Ticket and an empty timeout.
PolicyAuthOut AuthOut(Tpm& tpm, uint16_t tag, uint32_t hierarchy, bool make, ByteSpan cp_hash_a,
                      ByteSpan policy_ref, ByteSpan auth_name, uint64_t timeout_ms) {
  PolicyAuthOut out;
  out.policy_ticket.tag = tag;
  out.policy_ticket.hierarchy = TpmRh::Null;
  if (make) {
    out.timeout.data = Be64(timeout_ms);
    out.policy_ticket.hierarchy = hierarchy;
    out.policy_ticket.digest.data = tpm.Ticket(
        hierarchy, tag, AuthTicketData(tpm, cp_hash_a, policy_ref, auth_name, out.timeout.data));
  }
  return out;
}

// The hierarchy whose proof protects a ticket for an entity's authorization (Part 3 §23.2.5).
uint32_t EntityHierarchy(Tpm& tpm, uint32_t handle) {
  switch (static_cast<uint8_t>(handle >> 24)) {
    case TpmHt::Permanent:
      if (handle == TpmRh::Endorsement || handle == TpmRh::Platform || handle == TpmRh::Null) {
        return handle;
      }
      return TpmRh::Owner;
    case TpmHt::NvIndex: {
      const NvIndex* index = nv::Find(tpm, handle);
      return index != nullptr && index->pub.Has(TpmaNv::PlatformCreate) ? TpmRh::Platform
                                                                        : TpmRh::Owner;
    }
    case TpmHt::Transient:
    case TpmHt::Persistent:
      if (const Object* obj = tpm.LookupObject(handle)) {
        return obj->hierarchy;
      }
      return TpmRh::Null;
    default:
      return TpmRh::Owner;
  }
}

// Part 3 §23.9.1 and §23.10.1: operandA against operandB (equal sizes, most significant octet
// first, two's complement for the signed comparisons).
bool Compare(ByteSpan a, ByteSpan b, uint16_t operation) {
  int unsigned_order = 0;
  for (size_t i = 0; i < a.size() && unsigned_order == 0; ++i) {
    unsigned_order = a[i] < b[i] ? -1 : a[i] > b[i] ? 1 : 0;
  }
  int signed_order = unsigned_order;
  if (!a.empty()) {
    bool a_negative = (a[0] & 0x80) != 0;
    bool b_negative = (b[0] & 0x80) != 0;
    if (a_negative != b_negative) {
      signed_order = a_negative ? -1 : 1;
    }
  }
  switch (operation) {
    case TpmEo::Eq:
      return unsigned_order == 0;
    case TpmEo::Neq:
      return unsigned_order != 0;
    case TpmEo::SignedGt:
      return signed_order > 0;
    case TpmEo::UnsignedGt:
      return unsigned_order > 0;
    case TpmEo::SignedLt:
      return signed_order < 0;
    case TpmEo::UnsignedLt:
      return unsigned_order < 0;
    case TpmEo::SignedGe:
      return signed_order >= 0;
    case TpmEo::UnsignedGe:
      return unsigned_order >= 0;
    case TpmEo::SignedLe:
      return signed_order <= 0;
    case TpmEo::UnsignedLe:
      return unsigned_order <= 0;
    case TpmEo::Bitset:
      for (size_t i = 0; i < a.size(); ++i) {
        if ((a[i] & b[i]) != b[i]) {
          return false;
        }
      }
      return true;
    case TpmEo::Bitclear:
      for (size_t i = 0; i < a.size(); ++i) {
        if ((a[i] & b[i]) != 0) {
          return false;
        }
      }
      return true;
    default:
      return false;
  }
}

// H(operandB.buffer || offset || operation), Part 3 equations (4) and (6).
Result<Bytes> OperandArgs(const Session& s, ByteSpan operand_b, uint16_t offset,
                          uint16_t operation) {
  return crypto::Hash(s.auth_hash, Concat({operand_b, Be16(offset), Be16(operation)}));
}

// Reading an index for a policy: Owner and Platform Authorization need OWNERREAD and PPREAD,
// an index's own authorization must be for this index (as for TPM2_NV_Read, Part 3 §31.13).
// With `state`, also TPM_RC_NV_UNINITIALIZED for an unwritten and TPM_RC_NV_LOCKED for a
// read-locked index.
Result<const NvIndex*> ReadableIndex(Tpm& tpm, uint32_t auth_handle, uint32_t nv_handle,
                                     bool state) {
  const NvIndex* index = nv::Find(tpm, nv_handle);
  if (index == nullptr) {
    return Rc::Handle.Handle(2);
  }
  const wire::TpmsNvPublic& pub = index->pub;
  if ((auth_handle == TpmRh::Owner && !pub.Has(TpmaNv::OwnerRead)) ||
      (auth_handle == TpmRh::Platform && !pub.Has(TpmaNv::PpRead)) ||
      (auth_handle != TpmRh::Owner && auth_handle != TpmRh::Platform && auth_handle != nv_handle)) {
    return Rc::NvAuthorization;
  }
  if (state && !pub.Has(TpmaNv::Written)) {
    return Rc::NvUninitialized;
  }
  if (state && pub.Has(TpmaNv::ReadLocked)) {
    return Rc::NvLocked;
  }
  return index;
}

// Part 1 §14.5 (Selecting Multiple PCR): `pcrs` loses the PCR that are not allocated; the
// result is the digest, with the session's hash, of the remaining PCR values in selection
// order and then PCR order.
Result<Bytes> CurrentPcrDigest(Tpm& tpm, uint16_t hash_alg, wire::TpmlPcrSelection& pcrs) {
  Bytes values;
  for (auto& sel : pcrs.items) {
    auto bank = tpm.BankIndex(sel.hash);
    for (size_t pcr = 0; pcr < sel.pcr_select.size() * 8; ++pcr) {
      if (!sel.IsSelected(pcr)) {
        continue;
      }
      if (!bank || pcr >= kPcrCount || !tpm.IsPcrAllocated(*bank, pcr)) {
        sel.pcr_select[pcr / 8] =
            static_cast<uint8_t>(sel.pcr_select[pcr / 8] & ~(1u << (pcr % 8)));
        continue;
      }
      const Bytes& v = tpm.pcr_values()[*bank][pcr];
      values.insert(values.end(), v.begin(), v.end());
    }
  }
  return crypto::Hash(hash_alg, values);
}

// The inPublic parameter of a creation command, from the parameters as received: it follows
// the sized inSensitive in TPM2_Create, TPM2_CreatePrimary and TPM2_CreateLoaded.
std::optional<ByteSpan> CreationTemplate(ByteSpan params) {
  wire::Reader r(params);
  uint16_t size = 0;
  if (!r.U16(size).ok() || !r.Take(size).ok() || !r.U16(size).ok()) {
    return std::nullopt;
  }
  auto in_public = r.Take(size);
  if (!in_public.ok()) {
    return std::nullopt;
  }
  return *in_public;
}

}  // namespace

// Part 3 §11.2 TPM2_PolicyRestart: policyDigest and the deferred context start over; nonceTPM
// and startTime stay.
Result<Empty> PolicyRestart(Tpm& tpm, const SessionIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 1));
  s->ResetPolicy();
  return Empty{};
}

// Part 3 §23.3 TPM2_PolicySigned: aHash := H_sigHash(nonceTPM || expiration || cpHashA ||
// policyRef) must carry a valid signature by authObject.
Result<PolicyAuthOut> PolicySigned(Tpm& tpm, const PolicySignedIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 2));
  TRY_ASSIGN(Bytes name, tpm.EntityName(in.auth_object));
  const int32_t expiration = static_cast<int32_t>(in.expiration);
  if (IsTrial(*s)) {
    TRY(PolicyUpdate(*s, TpmCc::PolicySigned, name, in.policy_ref.span()));
    return AuthOut(tpm, TpmSt::AuthSigned, TpmRh::Null, false, {}, {}, {}, 0);
  }
  TRY_ASSIGN(uint64_t timeout,
             CheckAuthParams(tpm, *s, in.nonce_tpm.span(), in.cp_hash_a.span(), expiration));
  if (crypto::DigestSize(in.auth.hash_alg) == 0) {
    return Rc::Scheme.Param(5);  // TPM_ALG_NULL: no signature at all
  }
  TRY_ASSIGN(Bytes a_hash,
             crypto::Hash(in.auth.hash_alg, Concat({in.nonce_tpm.span(), Be32(in.expiration),
                                                    in.cp_hash_a.span(), in.policy_ref.span()})));
  asym::VerifySignatureIn verify;
  verify.key_handle.value = in.auth_object;
  verify.digest.data = std::move(a_hash);
  verify.signature = in.auth;
  if (auto checked = asym::VerifySignature(tpm, verify); !checked.ok()) {
    // TPM2_VerifySignature's signature is its parameter 2; here auth is parameter 5.
    TpmRc rc = checked.error();
    if (rc.Base() == Rc::Signature) {
      return Rc::PolicyFail.Param(5);
    }
    return rc == rc.Base().Param(2) ? rc.Base().Param(5) : rc;
  }
  TRY(PolicyUpdate(*s, TpmCc::PolicySigned, name, in.policy_ref.span()));
  ApplyAuthContext(*s, in.cp_hash_a.span(), timeout);
  const Object* key = tpm.LookupObject(in.auth_object);
  return AuthOut(tpm, TpmSt::AuthSigned, key != nullptr ? key->hierarchy : TpmRh::Null,
                 expiration < 0, in.cp_hash_a.span(), in.policy_ref.span(), name, timeout);
}

// Part 3 §23.4 TPM2_PolicySecret: the dispatcher has checked the authorization of authHandle
// (Auth Role USER), also for a trial session.
Result<PolicyAuthOut> PolicySecret(Tpm& tpm, const PolicySecretIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 2));
  TRY_ASSIGN(Bytes name, tpm.EntityName(in.auth_handle));
  const int32_t expiration = static_cast<int32_t>(in.expiration);
  if (IsTrial(*s)) {
    TRY(PolicyUpdate(*s, TpmCc::PolicySecret, name, in.policy_ref.span()));
    return AuthOut(tpm, TpmSt::AuthSecret, TpmRh::Null, false, {}, {}, {}, 0);
  }
  TRY_ASSIGN(uint64_t timeout,
             CheckAuthParams(tpm, *s, in.nonce_tpm.span(), in.cp_hash_a.span(), expiration));
  TRY(PolicyUpdate(*s, TpmCc::PolicySecret, name, in.policy_ref.span()));
  ApplyAuthContext(*s, in.cp_hash_a.span(), timeout);
  // Part 1 §16.7.12: no ticket for a PIN Pass index, or it would bypass pinLimit.
  const NvIndex* index = static_cast<uint8_t>(in.auth_handle >> 24) == TpmHt::NvIndex
                             ? nv::Find(tpm, in.auth_handle)
                             : nullptr;
  bool pin_pass = index != nullptr && index->pub.type() == wire::TpmNt::PinPass;
  return AuthOut(tpm, TpmSt::AuthSecret, EntityHierarchy(tpm, in.auth_handle),
                 expiration < 0 && !pin_pass, in.cp_hash_a.span(), in.policy_ref.span(), name,
                 timeout);
}

// Part 3 §23.5 TPM2_PolicyTicket
Result<Empty> PolicyTicket(Tpm& tpm, const PolicyTicketIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 1));
  const uint16_t tag = in.ticket.tag;
  const uint32_t code = tag == TpmSt::AuthSigned ? TpmCc::PolicySigned : TpmCc::PolicySecret;
  if (!IsTrial(*s)) {
    uint64_t timeout = BeValue(in.timeout.span());
    if (timeout < tpm.clock_ms()) {
      return Rc::Expired.Param(1);
    }
    TRY(CheckCpHashA(*s, in.cp_hash_a.span(), 2));
    Bytes expected = tpm.Ticket(in.ticket.hierarchy, tag,
                                AuthTicketData(tpm, in.cp_hash_a.span(), in.policy_ref.span(),
                                               in.auth_name.span(), in.timeout.span()));
    if (!ConstantTimeEqual(expected, in.ticket.digest.span())) {
      return Rc::Ticket.Param(5);
    }
    ApplyAuthContext(*s, in.cp_hash_a.span(), timeout);
  }
  TRY(PolicyUpdate(*s, code, in.auth_name.span(), in.policy_ref.span()));
  return Empty{};
}

// Part 3 §23.6 TPM2_PolicyOR: TPML_DIGEST needs at least two entries here (Part 2 §10.9.2).
Result<Empty> PolicyOr(Tpm& tpm, const PolicyOrIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 1));
  const auto& list = in.p_hash_list.items;
  if (list.size() < 2) {
    return Rc::Size.Param(1);
  }
  if (!IsTrial(*s) && std::ranges::none_of(list, [&](const wire::Tpm2bDigest& d) {
        return d.data == s->policy_digest;
      })) {
    return Rc::Value.Param(1);
  }
  Bytes digests;
  for (const auto& d : list) {
    digests.insert(digests.end(), d.data.begin(), d.data.end());
  }
  s->policy_digest.assign(s->policy_digest.size(), 0);
  TRY(Extend(*s, TpmCc::PolicyOr, {digests}));
  return Empty{};
}

// Part 3 §23.7 TPM2_PolicyPCR
Result<Empty> PolicyPcr(Tpm& tpm, const PolicyPcrIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 1));
  wire::TpmlPcrSelection allocated = in.pcrs;
  if (IsTrial(*s)) {
    // The caller's selection unchanged; without a digest, the current PCR values.
    Bytes digest = in.pcr_digest.data;
    if (digest.empty()) {
      TRY_ASSIGN(digest, CurrentPcrDigest(tpm, s->auth_hash, allocated));
    }
    TRY(Extend(*s, TpmCc::PolicyPCR, {wire::MarshalToBytes(in.pcrs), digest}));
    return Empty{};
  }
  TRY_ASSIGN(Bytes current, CurrentPcrDigest(tpm, s->auth_hash, allocated));
  if (!in.pcr_digest.empty() && in.pcr_digest.data != current) {
    return Rc::Value.Param(1);
  }
  const uint32_t counter = tpm.reset_state().pcr_update_counter;
  if (s->has_pcr_update_counter && s->pcr_update_counter != counter) {
    return Rc::PcrChanged;
  }
  TRY(Extend(*s, TpmCc::PolicyPCR, {wire::MarshalToBytes(allocated), current}));
  s->has_pcr_update_counter = true;
  s->pcr_update_counter = counter;
  return Empty{};
}

// Part 3 §23.8 TPM2_PolicyLocality: localities 0-4 as bits, or one extended locality (>31).
Result<Empty> PolicyLocality(Tpm& tpm, const PolicyLocalityIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 1));
  uint8_t allowed = in.locality;
  if (!IsTrial(*s)) {
    const uint8_t previous = s->command_locality;
    if (in.locality > 31) {
      if (previous != 0 && previous != in.locality) {
        return Rc::Range.Param(1);
      }
    } else {
      if (previous > 31) {
        return Rc::Range.Param(1);
      }
      allowed = previous == 0 ? in.locality : static_cast<uint8_t>(previous & in.locality);
      if ((allowed & 0x1F) == 0) {
        return Rc::Range.Param(1);
      }
    }
  }
  const uint8_t locality = in.locality;
  TRY(Extend(*s, TpmCc::PolicyLocality, {ByteSpan(&locality, 1)}));
  if (!IsTrial(*s)) {
    s->command_locality = allowed;
  }
  return Empty{};
}

// Part 3 §23.9 TPM2_PolicyNV: the dispatcher has authorized reading through authHandle.
Result<Empty> PolicyNv(Tpm& tpm, const PolicyNvIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 3));
  TRY_ASSIGN(const NvIndex* index, ReadableIndex(tpm, in.auth_handle, in.nv_index, !IsTrial(*s)));
  if (!IsTrial(*s)) {
    const size_t size = index->pub.data_size;
    if (in.offset > size) {
      return Rc::Value.Param(2);
    }
    if (in.offset + in.operand_b.size() > size) {
      return Rc::NvRange;
    }
    ByteSpan a(index->data.data() + in.offset, in.operand_b.size());
    if (!Compare(a, in.operand_b.span(), in.operation)) {
      return Rc::Policy;
    }
  }
  TRY_ASSIGN(Bytes args, OperandArgs(*s, in.operand_b.span(), in.offset, in.operation));
  TRY_ASSIGN(Bytes name, tpm.EntityName(in.nv_index));
  TRY(Extend(*s, TpmCc::PolicyNV, {args, name}));
  return Empty{};
}

// Part 3 §23.10 TPM2_PolicyCounterTimer: operand A is in the marshaled TPMS_TIME_INFO. An
// unsigned "less than" at offset 0 is an expiration in seconds from startTime (since v1.83).
Result<Empty> PolicyCounterTimer(Tpm& tpm, const PolicyCounterTimerIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 1));
  uint64_t timeout = kNoPolicyTimeout;
  if (!IsTrial(*s)) {
    if (in.offset == 0 && in.operation == TpmEo::UnsignedLt) {
      // Part 3 §23.10.1 allows refusing an expiration beyond 2^31 - 1 seconds.
      uint64_t seconds = BeValue(in.operand_b.span());
      if (in.operand_b.size() > 8 || seconds > 0x7FFFFFFF) {
        return Rc::Value.Param(1);
      }
      timeout = s->start_time_ms + seconds * 1000;
      if (timeout < tpm.clock_ms()) {
        return Rc::Expired.Param(1);
      }
    } else {
      wire::TpmsTimeInfo info;
      info.time = tpm.time_ms();
      info.clock_info = tpm.ClockInfo();
      Bytes marshaled = wire::MarshalToBytes(info);
      if (in.offset > marshaled.size()) {
        return Rc::Value.Param(2);
      }
      if (in.offset + in.operand_b.size() > marshaled.size()) {
        return Rc::Range.Param(1);
      }
      ByteSpan a(marshaled.data() + in.offset, in.operand_b.size());
      if (!Compare(a, in.operand_b.span(), in.operation)) {
        return Rc::Policy;
      }
    }
  }
  TRY_ASSIGN(Bytes args, OperandArgs(*s, in.operand_b.span(), in.offset, in.operation));
  TRY(Extend(*s, TpmCc::PolicyCounterTimer, {args}));
  s->timeout_ms = std::min(s->timeout_ms, timeout);
  return Empty{};
}

// Part 3 §23.11 TPM2_PolicyCommandCode
Result<Empty> PolicyCommandCode(Tpm& tpm, const PolicyCommandCodeIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 1));
  if (!IsTrial(*s)) {
    if (s->command_code != 0 && s->command_code != in.code) {
      return Rc::Value.Param(1);
    }
    if (FindCommand(in.code) == nullptr) {
      return Rc::PolicyCc.Param(1);
    }
  }
  TRY(Extend(*s, TpmCc::PolicyCommandCode, {Be32(in.code)}));
  if (!IsTrial(*s)) {
    s->command_code = in.code;
  }
  return Empty{};
}

// Part 3 §23.12 TPM2_PolicyPhysicalPresence
Result<Empty> PolicyPhysicalPresence(Tpm& tpm, const SessionIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 1));
  TRY(Extend(*s, TpmCc::PolicyPhysicalPresence, {}));
  s->pp_required = !IsTrial(*s);
  return Empty{};
}

// Part 3 §23.13 TPM2_PolicyCpHash: repeating the same cpHash is allowed.
Result<Empty> PolicyCpHash(Tpm& tpm, const PolicyDigestIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 1));
  if (!IsTrial(*s)) {
    if (s->cp_hash_kind != PolicyHashKind::kNone &&
        (s->cp_hash_kind != PolicyHashKind::kCpHash || s->cp_hash != in.digest.data)) {
      return Rc::CpHash;
    }
    if (in.digest.size() != s->policy_digest.size()) {
      return Rc::Size.Param(1);
    }
  }
  TRY(Extend(*s, TpmCc::PolicyCpHash, {in.digest.span()}));
  if (!IsTrial(*s)) {
    s->cp_hash = in.digest.data;
    s->cp_hash_kind = PolicyHashKind::kCpHash;
  }
  return Empty{};
}

// Part 3 §23.14 TPM2_PolicyNameHash: only once per policy.
Result<Empty> PolicyNameHash(Tpm& tpm, const PolicyDigestIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 1));
  if (!IsTrial(*s)) {
    if (s->cp_hash_kind != PolicyHashKind::kNone) {
      return Rc::CpHash;
    }
    if (in.digest.size() != s->policy_digest.size()) {
      return Rc::Size.Param(1);
    }
  }
  TRY(Extend(*s, TpmCc::PolicyNameHash, {in.digest.span()}));
  if (!IsTrial(*s)) {
    s->cp_hash = in.digest.data;
    s->cp_hash_kind = PolicyHashKind::kNameHash;
  }
  return Empty{};
}

// Part 3 §23.15 TPM2_PolicyDuplicationSelect: nameHash := H(objectName || newParentName) and
// the policy is limited to TPM2_Duplicate.
Result<Empty> PolicyDuplicationSelect(Tpm& tpm, const PolicyDuplicationSelectIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 1));
  if (!IsTrial(*s)) {
    if (s->cp_hash_kind != PolicyHashKind::kNone) {
      return Rc::CpHash;
    }
    if (s->command_code != 0 && s->command_code != TpmCc::Duplicate) {
      return Rc::PolicyCc;
    }
  }
  const uint8_t include = in.include_object;
  if (include != 0) {
    TRY(Extend(*s, TpmCc::PolicyDuplicationSelect,
               {in.object_name.span(), in.new_parent_name.span(), ByteSpan(&include, 1)}));
  } else {
    TRY(Extend(*s, TpmCc::PolicyDuplicationSelect,
               {in.new_parent_name.span(), ByteSpan(&include, 1)}));
  }
  if (!IsTrial(*s)) {
    TRY_ASSIGN(
        s->cp_hash,
        crypto::Hash(s->auth_hash, Concat({in.object_name.span(), in.new_parent_name.span()})));
    s->cp_hash_kind = PolicyHashKind::kNameHash;
    s->command_code = TpmCc::Duplicate;
  }
  return Empty{};
}

// Part 3 §23.16 TPM2_PolicyAuthorize: checkTicket is TPM2_VerifySignature's ticket over
// aHash := H_nameAlg(approvedPolicy || policyRef) and keySign. A ticket that does not check
// gives TPM_RC_POLICY as v1.85 §23.16.1 says (earlier versions named TPM_RC_VALUE).
Result<Empty> PolicyAuthorize(Tpm& tpm, const PolicyAuthorizeIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 1));
  ByteSpan key_sign = in.key_sign.span();
  if (key_sign.size() < 2 || !wire::IsImplementedHash(LoadBe16(key_sign.data()))) {
    return Rc::Hash.Param(3);
  }
  const uint16_t name_alg = LoadBe16(key_sign.data());
  if (key_sign.size() != 2 + crypto::DigestSize(name_alg)) {
    return Rc::Size.Param(3);
  }
  if (!IsTrial(*s)) {
    if (in.approved_policy.data != s->policy_digest) {
      return Rc::Value.Param(1);
    }
    TRY_ASSIGN(Bytes a_hash,
               crypto::Hash(name_alg, Concat({in.approved_policy.span(), in.policy_ref.span()})));
    const auto& t = in.check_ticket;
    if (t.hierarchy == TpmRh::Null ||
        !ConstantTimeEqual(t.digest.span(),
                           tpm.Ticket(t.hierarchy, TpmSt::Verified, Concat({a_hash, key_sign})))) {
      return Rc::Policy;
    }
  }
  s->policy_digest.assign(s->policy_digest.size(), 0);
  TRY(PolicyUpdate(*s, TpmCc::PolicyAuthorize, key_sign, in.policy_ref.span()));
  return Empty{};
}

// Part 3 §23.17 TPM2_PolicyAuthValue
Result<Empty> PolicyAuthValue(Tpm& tpm, const SessionIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 1));
  TRY(Extend(*s, TpmCc::PolicyAuthValue, {}));
  s->needs_auth_value = true;
  s->needs_password = false;
  return Empty{};
}

// Part 3 §23.18 TPM2_PolicyPassword: the same digest as TPM2_PolicyAuthValue.
Result<Empty> PolicyPassword(Tpm& tpm, const SessionIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 1));
  TRY(Extend(*s, TpmCc::PolicyAuthValue, {}));
  s->needs_password = true;
  s->needs_auth_value = false;
  return Empty{};
}

// Part 3 §23.19 TPM2_PolicyGetDigest
Result<PolicyGetDigestOut> PolicyGetDigest(Tpm& tpm, const SessionIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 1));
  PolicyGetDigestOut out;
  out.policy_digest.data = s->policy_digest;
  return out;
}

// Part 3 §23.20 TPM2_PolicyNvWritten
Result<Empty> PolicyNvWritten(Tpm& tpm, const PolicyNvWrittenIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 1));
  const bool written = in.written_set == 1;
  if (!IsTrial(*s) && s->check_nv_written && s->nv_written_state != written) {
    return Rc::Value.Param(1);
  }
  const uint8_t value = in.written_set;
  TRY(Extend(*s, TpmCc::PolicyNvWritten, {ByteSpan(&value, 1)}));
  if (!IsTrial(*s)) {
    s->check_nv_written = true;
    s->nv_written_state = written;
  }
  return Empty{};
}

// Part 3 §23.21 TPM2_PolicyTemplate: repeating the same template is allowed.
Result<Empty> PolicyTemplate(Tpm& tpm, const PolicyDigestIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 1));
  if (!IsTrial(*s)) {
    if (s->cp_hash_kind == PolicyHashKind::kTemplate && s->cp_hash != in.digest.data) {
      return Rc::Value.Param(1);
    }
    if (s->cp_hash_kind != PolicyHashKind::kNone && s->cp_hash_kind != PolicyHashKind::kTemplate) {
      return Rc::CpHash;
    }
    if (in.digest.size() != s->policy_digest.size()) {
      return Rc::Size.Param(1);
    }
  }
  TRY(Extend(*s, TpmCc::PolicyTemplate, {in.digest.span()}));
  if (!IsTrial(*s)) {
    s->cp_hash = in.digest.data;
    s->cp_hash_kind = PolicyHashKind::kTemplate;
  }
  return Empty{};
}

// Part 3 §23.22 TPM2_PolicyAuthorizeNV: the index holds a TPMT_HA with the approved policy.
Result<Empty> PolicyAuthorizeNv(Tpm& tpm, const PolicyAuthorizeNvIn& in) {
  TRY_ASSIGN(Session * s, GetSession(tpm, in.policy_session, 3));
  TRY_ASSIGN(const NvIndex* index, ReadableIndex(tpm, in.auth_handle, in.nv_index, !IsTrial(*s)));
  if (!IsTrial(*s)) {
    const Bytes& data = index->data;
    if (data.size() < 2) {
      return Rc::Insufficient;
    }
    const uint16_t alg = LoadBe16(data.data());
    if (!wire::IsImplementedHash(alg) || alg != s->auth_hash) {
      return Rc::Hash;
    }
    const size_t digest_size = crypto::DigestSize(alg);
    if (data.size() < 2 + digest_size) {
      return Rc::Insufficient;
    }
    if (!std::equal(s->policy_digest.begin(), s->policy_digest.end(), data.begin() + 2)) {
      return Rc::Value;
    }
  }
  TRY_ASSIGN(Bytes name, tpm.EntityName(in.nv_index));
  s->policy_digest.assign(s->policy_digest.size(), 0);
  TRY(Extend(*s, TpmCc::PolicyAuthorizeNV, {name}));
  return Empty{};
}

RcStatus CheckAtUse(Tpm& tpm, const Session& s, uint32_t entity, Role role, uint32_t session_number,
                    ByteSpan cp_data, size_t names_end) {
  const uint32_t n = session_number;
  const uint32_t code = tpm.command_code();
  if (s.timeout_ms != kNoPolicyTimeout && tpm.clock_ms() > s.timeout_ms) {
    return Rc::Expired.Session(n);
  }
  if (s.cp_hash_kind != PolicyHashKind::kNone) {
    std::optional<Bytes> actual;
    if (s.cp_hash_kind == PolicyHashKind::kCpHash) {
      TRY_ASSIGN(actual, crypto::Hash(s.auth_hash, cp_data));
    } else if (s.cp_hash_kind == PolicyHashKind::kNameHash && names_end >= 4) {
      TRY_ASSIGN(actual, crypto::Hash(s.auth_hash, cp_data.subspan(4, names_end - 4)));
    } else if (s.cp_hash_kind == PolicyHashKind::kTemplate &&
               (code == TpmCc::Create || code == TpmCc::CreatePrimary ||
                code == TpmCc::CreateLoaded)) {
      if (auto in_public = CreationTemplate(cp_data.subspan(names_end))) {
        TRY_ASSIGN(actual, crypto::Hash(s.auth_hash, *in_public));
      }
    }
    if (!actual || *actual != s.cp_hash) {
      return Rc::PolicyFail.Session(n);
    }
  }
  if (s.command_code != 0 && s.command_code != code) {
    return Rc::PolicyCc.Session(n);
  }
  const wire::TpmtHa policy = tpm.EntityPolicy(entity);
  if (policy.hash_alg != s.auth_hash || policy.digest != s.policy_digest) {
    return Rc::PolicyFail.Session(n);
  }
  // Part 3 §5.6 item 6: an ADMIN or DUP role authorization names its command in the policy.
  if ((role == Role::kAdmin || role == Role::kDup) && s.command_code != code) {
    return Rc::PolicyFail.Session(n);
  }
  if (s.has_pcr_update_counter && s.pcr_update_counter != tpm.reset_state().pcr_update_counter) {
    return Rc::PcrChanged;
  }
  if (s.command_locality != 0) {
    const uint8_t locality = tpm.locality();
    bool allowed = s.command_locality > 31
                       ? locality == s.command_locality
                       : locality < 5 && (s.command_locality & (1u << locality)) != 0;
    if (!allowed) {
      return Rc::Locality;
    }
  }
  if (s.pp_required && !tpm.physical_presence()) {
    return Rc::Pp.Session(n);
  }
  if (s.check_nv_written && static_cast<uint8_t>(entity >> 24) == TpmHt::NvIndex) {
    const NvIndex* index = nv::Find(tpm, entity);
    if (index == nullptr || index->pub.Has(TpmaNv::Written) != s.nv_written_state) {
      return Rc::PolicyFail.Session(n);
    }
  }
  // Part 3 §23.4.1: TPM2_PolicySecret needs the authValue, as an HMAC or a password.
  if (code == TpmCc::PolicySecret && !s.needs_auth_value && !s.needs_password) {
    return Rc::Mode.Session(n);
  }
  return {};
}

void AfterUse(Tpm& tpm, Session& session, bool authorized) {
  session.start_time_ms = tpm.clock_ms();
  if (authorized) {
    session.ResetPolicy();
  }
}

}  // namespace tpm2emu::engine::policy
