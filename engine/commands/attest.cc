// Part 3 §18 attestation commands and §12.5/§12.6 credentials.

#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "crypto/symmetric.h"
#include "engine/command.h"
#include "engine/commands/commands.h"
#include "engine/state/object_util.h"
#include "engine/tpm.h"

namespace tpm2emu::engine::attest {
namespace {

using wire::TpmaObject::Decrypt;
using wire::TpmaObject::Restricted;
using wire::TpmaObject::SignEncrypt;

uint64_t FirmwareVersion(const Tpm& tpm) {
  return (uint64_t{tpm.profile().firmware_version_1} << 32) | tpm.profile().firmware_version_2;
}

// Part 2 §10.12.12 TPMS_ATTEST, built around the type-specific `attested` body, and signed with
// `sign_handle` (TPM_RH_NULL: unsigned). Part 3 §18.1: when the signer is not in the
// endorsement or platform hierarchy, resetCount, restartCount and firmwareVersion are
// obfuscated with KDFa(nameAlg, shProof, "OBFUSCATE", signer Name, -, 128).
Result<AttestOut> MakeAttest(Tpm& tpm, uint32_t sign_handle, uint32_t sign_handle_number,
                             const wire::TpmtScheme& in_scheme, uint32_t scheme_param,
                             uint16_t type, const wire::Tpm2bData& qualifying_data,
                             ByteSpan attested) {
  const Object* key = nullptr;
  wire::TpmtScheme scheme;
  if (sign_handle != TpmRh::Null) {
    TRY_ASSIGN(Object * k, tpm.FindObject(sign_handle, sign_handle_number));
    if (k->sequence || k->public_only || !k->pub.Has(SignEncrypt)) {
      return Rc::Key.Handle(sign_handle_number);
    }
    key = k;
    TRY_ASSIGN(scheme, asym::SigningScheme(*key, in_scheme, scheme_param));
  }
  wire::TpmsClockInfo clock = tpm.ClockInfo();
  uint64_t firmware = FirmwareVersion(tpm);
  if (key != nullptr && key->hierarchy != TpmRh::Endorsement &&
      key->hierarchy != TpmRh::Platform) {
    TRY_ASSIGN(SecretBytes mask, crypto::KdfA(key->pub.name_alg, tpm.persistent().sh_proof,
                                              "OBFUSCATE", key->name, {}, 128));
    uint64_t counts = (uint64_t{clock.reset_count} << 32) | clock.restart_count;
    counts ^= LoadBe64(mask.data());
    firmware ^= LoadBe64(mask.data() + 8);
    clock.reset_count = static_cast<uint32_t>(counts >> 32);
    clock.restart_count = static_cast<uint32_t>(counts);
  }
  // Part 1 §28.5 and §44.3.3.3: an anonymous (ECDAA) signature leaves qualifiedSigner and
  // extraData empty; qualifyingData goes into the signed value instead.
  bool anonymous = key != nullptr && scheme.scheme == TpmAlg::EcDaa;
  wire::Writer w;
  w.U32(kTpmGeneratedValue);
  w.U16(type);
  Bytes signer_name;
  if (anonymous) {
    // Empty Buffer
  } else if (key != nullptr) {
    signer_name = key->qualified_name;
  } else {
    AppendBe32(signer_name, TpmRh::Null);
  }
  w.U16(static_cast<uint16_t>(signer_name.size()));
  w.Raw(signer_name);
  wire::Marshal(w, anonymous ? wire::Tpm2bData{} : qualifying_data);
  wire::Marshal(w, clock);
  w.U64(firmware);
  w.Raw(attested);
  AttestOut out;
  out.attest.data = w.Take();
  if (key == nullptr) {
    out.signature.sig_alg = TpmAlg::Null;
    return out;
  }
  TRY_ASSIGN(Bytes digest, crypto::Hash(scheme.hash_alg, out.attest.data));
  if (anonymous) {
    // P := H(qualifyingData || H(TPMS_ATTEST))
    Bytes p = qualifying_data.data;
    p.insert(p.end(), digest.begin(), digest.end());
    TRY_ASSIGN(Bytes value, crypto::Hash(scheme.hash_alg, p));
    TRY_ASSIGN(out.signature, asym::EcdaaSignDigest(tpm, *key, scheme, value, scheme_param));
    return out;
  }
  TRY_ASSIGN(out.signature, asym::SignDigest(*key, scheme, digest, scheme_param));
  return out;
}

// Whether `sign_handle` will sign anonymously (ECDAA) under `in_scheme`; errors are left for
// MakeAttest to report.
bool AnonymousSigner(Tpm& tpm, uint32_t sign_handle, const wire::TpmtScheme& in_scheme) {
  if (sign_handle == TpmRh::Null) {
    return false;
  }
  auto key = tpm.FindObject(sign_handle, 1);
  if (!key.ok()) {
    return false;
  }
  auto scheme = asym::SigningScheme(**key, in_scheme, 0);
  return scheme.ok() && scheme->scheme == TpmAlg::EcDaa;
}

// A TPM2B_NAME or TPM2B_DIGEST.
void PutName(wire::Writer& w, ByteSpan name) {
  w.U16(static_cast<uint16_t>(name.size()));
  w.Raw(name);
}

}  // namespace

// Part 3 §18.4 TPM2_Quote: the digest of the selected PCRs, in selection order.
Result<AttestOut> Quote(Tpm& tpm, const QuoteIn& in) {
  TRY_ASSIGN(Object * key, tpm.FindObject(in.sign_handle, 1));
  TRY_ASSIGN(wire::TpmtScheme scheme, asym::SigningScheme(*key, in.in_scheme.value, 2));
  Bytes concat;
  wire::TpmlPcrSelection used;
  for (const auto& sel : in.pcr_select.items) {
    wire::TpmsPcrSelection u;
    u.hash = sel.hash;
    u.pcr_select.assign(sel.pcr_select.size(), 0);
    auto bank = tpm.BankIndex(sel.hash);
    for (size_t n = 0; bank && n < kPcrCount && n / 8 < sel.pcr_select.size(); ++n) {
      if (sel.IsSelected(n) && tpm.IsPcrAllocated(*bank, n)) {
        u.pcr_select[n / 8] = static_cast<uint8_t>(u.pcr_select[n / 8] | (1u << (n % 8)));
        const Bytes& v = tpm.pcr_values()[*bank][n];
        concat.insert(concat.end(), v.begin(), v.end());
      }
    }
    used.items.push_back(std::move(u));
  }
  TRY_ASSIGN(Bytes pcr_digest, crypto::Hash(scheme.hash_alg, concat));
  wire::Writer body;
  wire::Marshal(body, used);
  body.U16(static_cast<uint16_t>(pcr_digest.size()));
  body.Raw(pcr_digest);
  wire::TpmtScheme chosen = scheme;
  return MakeAttest(tpm, in.sign_handle, 1, chosen, 2, TpmSt::AttestQuote, in.qualifying_data,
                    body.bytes());
}

// Part 3 §18.2 TPM2_Certify
Result<AttestOut> Certify(Tpm& tpm, const CertifyIn& in) {
  TRY_ASSIGN(Object * obj, tpm.FindObject(in.object_handle, 1));
  wire::Writer body;
  PutName(body, obj->name);
  // Part 1 §28.5: an anonymous signature hides the certified key's qualifiedName too.
  PutName(body, AnonymousSigner(tpm, in.sign_handle, in.in_scheme.value) ? ByteSpan{}
                                                                         : obj->qualified_name);
  return MakeAttest(tpm, in.sign_handle, 2, in.in_scheme.value, 2, TpmSt::AttestCertify,
                    in.qualifying_data, body.bytes());
}

// Part 3 §18.3 TPM2_CertifyCreation: the creation ticket must be the one the TPM made.
Result<AttestOut> CertifyCreation(Tpm& tpm, const CertifyCreationIn& in) {
  TRY_ASSIGN(Object * obj, tpm.FindObject(in.object_handle, 2));
  const wire::TpmtTicket& t = in.creation_ticket;
  Bytes data = obj->name;
  data.insert(data.end(), in.creation_hash.data.begin(), in.creation_hash.data.end());
  if (t.tag != TpmSt::Creation || t.hierarchy != obj->hierarchy ||
      !ConstantTimeEqual(t.digest.span(), tpm.Ticket(t.hierarchy, TpmSt::Creation, data))) {
    return Rc::Ticket.Param(4);
  }
  wire::Writer body;
  PutName(body, obj->name);
  body.U16(static_cast<uint16_t>(in.creation_hash.size()));
  body.Raw(in.creation_hash.span());
  return MakeAttest(tpm, in.sign_handle, 1, in.in_scheme.value, 3, TpmSt::AttestCreation,
                    in.qualifying_data, body.bytes());
}

// Part 3 §18.7 TPM2_GetTime
Result<AttestOut> GetTime(Tpm& tpm, const GetTimeIn& in) {
  if (in.privacy_admin_handle != TpmRh::Endorsement) {
    return Rc::Value.Handle(1);
  }
  wire::TpmsTimeInfo time;
  time.time = tpm.time_ms();
  time.clock_info = tpm.ClockInfo();
  wire::Writer body;
  wire::Marshal(body, time);
  body.U64(FirmwareVersion(tpm));
  return MakeAttest(tpm, in.sign_handle, 2, in.in_scheme.value, 2, TpmSt::AttestTime,
                    in.qualifying_data, body.bytes());
}

// Part 3 §18.5 TPM2_GetSessionAuditDigest: TPMS_SESSION_AUDIT_INFO of an audit session. The
// digest signed is the one before this command (the dispatcher extends it afterwards).
Result<AttestOut> GetSessionAuditDigest(Tpm& tpm, const GetSessionAuditDigestIn& in) {
  if (in.privacy_admin_handle != TpmRh::Endorsement) {
    return Rc::Value.Handle(1);
  }
  if (static_cast<uint8_t>(in.session_handle >> 24) != TpmHt::HmacSession) {
    return Rc::Value.Handle(3);  // TPMI_SH_HMAC
  }
  ResetState& r = tpm.reset_state();
  auto it = r.sessions.find(in.session_handle);
  if (it == r.sessions.end()) {
    return Rc::ReferenceH(2);
  }
  if (!it->second.audit) {
    return Rc::Type.Handle(3);
  }
  wire::Writer body;
  body.U8(r.exclusive_audit_session == in.session_handle ? 1 : 0);
  PutName(body, it->second.audit_digest);  // TPM2B_DIGEST
  return MakeAttest(tpm, in.sign_handle, 2, in.in_scheme.value, 2, TpmSt::AttestSessionAudit,
                    in.qualifying_data, body.bytes());
}

// Part 3 §18.6 TPM2_GetCommandAuditDigest: TPMS_COMMAND_AUDIT_INFO; a signed report ends the
// audit log (the digest is cleared, and the next audited command starts a new one).
Result<AttestOut> GetCommandAuditDigest(Tpm& tpm, const GetTimeIn& in) {
  if (in.privacy_admin_handle != TpmRh::Endorsement) {
    return Rc::Value.Handle(1);
  }
  PersistentState& p = tpm.persistent();
  wire::Writer body;
  body.U64(p.audit_counter);
  body.U16(p.audit_alg);
  PutName(body, p.audit_digest);
  PutName(body, tpm.AuditedCommandsDigest());
  TRY_ASSIGN(AttestOut out, MakeAttest(tpm, in.sign_handle, 2, in.in_scheme.value, 2,
                                       TpmSt::AttestCommandAudit, in.qualifying_data,
                                       body.bytes()));
  if (in.sign_handle != TpmRh::Null) {
    p.audit_digest.clear();
  }
  return out;
}

// Part 3 §21.2 TPM2_SetCommandCodeAuditStatus: either a new audit hash (which clears the
// digest and is not itself audited) or changes to the list, never both.
Result<Empty> SetCommandCodeAuditStatus(Tpm& tpm, const SetCommandCodeAuditStatusIn& in) {
  PersistentState& p = tpm.persistent();
  if (in.audit_alg != TpmAlg::Null && in.audit_alg != p.audit_alg) {
    if (!in.set_list.items.empty() || !in.clear_list.items.empty()) {
      return Rc::Value.Param(1);
    }
    p.audit_alg = in.audit_alg;
    p.audit_digest.clear();
    tpm.SkipCommandAudit();
    return Empty{};
  }
  // Setting comes first, so a command in both lists ends up not audited; codes of commands
  // that are not implemented are ignored, as is clearing this command itself.
  for (uint32_t cc : in.set_list.items) {
    if (FindCommand(cc) != nullptr) {
      p.audit_commands.insert(cc);
    }
  }
  for (uint32_t cc : in.clear_list.items) {
    if (cc != TpmCc::SetCommandCodeAuditStatus) {
      p.audit_commands.erase(cc);
    }
  }
  return Empty{};
}

// Part 3 §31.16 TPM2_NV_Certify: size 0 and offset 0 certify a digest of the whole index
// (TPM_ST_ATTEST_NV_DIGEST); otherwise the selected octets.
Result<AttestOut> NvCertify(Tpm& tpm, const NvCertifyIn& in) {
  TRY_ASSIGN(Bytes name, tpm.EntityName(in.nv_index));
  wire::Writer body;
  PutName(body, name);
  uint16_t type = TpmSt::AttestNv;
  if (in.size == 0 && in.offset == 0) {
    const NvIndex* index = nv::Find(tpm, in.nv_index);
    if (index == nullptr) {
      return Rc::Handle.Handle(3);
    }
    TRY_ASSIGN(Bytes all, nv::ReadForCertify(tpm, in.auth_handle, in.nv_index,
                                             static_cast<uint16_t>(index->data.size()), 0));
    uint16_t hash_alg = kContextHashAlg;  // unsigned: any hash serves
    if (in.sign_handle != TpmRh::Null) {
      TRY_ASSIGN(Object * key, tpm.FindObject(in.sign_handle, 1));
      TRY_ASSIGN(wire::TpmtScheme scheme, asym::SigningScheme(*key, in.in_scheme.value, 2));
      hash_alg = scheme.hash_alg;
    }
    TRY_ASSIGN(Bytes digest, crypto::Hash(hash_alg, all));
    body.U16(static_cast<uint16_t>(digest.size()));
    body.Raw(digest);
    type = TpmSt::AttestNvDigest;
  } else {
    TRY_ASSIGN(Bytes data,
               nv::ReadForCertify(tpm, in.auth_handle, in.nv_index, in.size, in.offset));
    body.U16(in.offset);
    body.U16(static_cast<uint16_t>(data.size()));
    body.Raw(data);
  }
  return MakeAttest(tpm, in.sign_handle, 1, in.in_scheme.value, 2, type, in.qualifying_data,
                    body.bytes());
}

// Part 3 §12.6 TPM2_MakeCredential (Part 1 §21 credential protection): a fresh seed shared
// with `handle` under "IDENTITY"; the credential is wrapped like a sensitive area with keys
// KDFa(nameAlg, seed, "STORAGE", objectName) and KDFa(nameAlg, seed, "INTEGRITY").
Result<MakeCredentialOut> MakeCredential(Tpm& tpm, const MakeCredentialIn& in) {
  TRY_ASSIGN(Object * key, tpm.FindObject(in.handle, 1));
  if (key->sequence || (key->pub.type != TpmAlg::Rsa && key->pub.type != TpmAlg::Ecc) ||
      !key->pub.Has(Restricted) || !key->pub.Has(Decrypt)) {
    return Rc::Key.Handle(1);
  }
  if (in.object_name.size() < 2) {
    return Rc::Size.Param(2);
  }
  TRY_ASSIGN(auto shared, tpm.EncryptSecret(*key, "IDENTITY"));
  uint16_t h = key->pub.name_alg;
  TRY_ASSIGN(SecretBytes sym, crypto::KdfA(h, shared.first, "STORAGE", in.object_name.span(), {},
                                           ProtectionKeyBits(*key)));
  TRY_ASSIGN(SecretBytes hmac_key,
             crypto::KdfA(h, shared.first, "INTEGRITY", {}, {},
                          static_cast<uint32_t>(crypto::DigestSize(h) * 8)));
  Bytes plain;
  AppendBe16(plain, static_cast<uint16_t>(in.credential.size()));
  plain.insert(plain.end(), in.credential.data.begin(), in.credential.data.end());
  TRY_ASSIGN(Bytes enc, crypto::AesCfbEncrypt(sym, Bytes(16, 0), plain));
  Bytes mac_input = enc;
  mac_input.insert(mac_input.end(), in.object_name.data.begin(), in.object_name.data.end());
  TRY_ASSIGN(Bytes integrity, crypto::Hmac(h, hmac_key, mac_input));
  MakeCredentialOut out;
  AppendBe16(out.credential_blob.data, static_cast<uint16_t>(integrity.size()));
  out.credential_blob.data.insert(out.credential_blob.data.end(), integrity.begin(),
                                  integrity.end());
  out.credential_blob.data.insert(out.credential_blob.data.end(), enc.begin(), enc.end());
  out.secret.data = std::move(shared.second);
  return out;
}

// Part 3 §12.5 TPM2_ActivateCredential
Result<ActivateCredentialOut> ActivateCredential(Tpm& tpm, const ActivateCredentialIn& in) {
  TRY_ASSIGN(Object * activate, tpm.FindObject(in.activate_handle, 1));
  TRY_ASSIGN(Object * key, tpm.FindObject(in.key_handle, 2));
  if (!key->pub.Has(Restricted) || !key->pub.Has(Decrypt)) {
    return Rc::Type.Handle(2);
  }
  TRY_ASSIGN(SecretBytes seed, tpm.DecryptSecret(in.key_handle, "IDENTITY", in.secret.span(), 2));
  uint16_t h = key->pub.name_alg;
  wire::Reader r(in.credential_blob.span());
  uint16_t n = 0;
  if (!r.U16(n).ok() || n != crypto::DigestSize(h)) {
    return Rc::Size.Param(1);
  }
  ByteSpan integrity = *r.Take(n);
  ByteSpan enc = r.rest();
  TRY_ASSIGN(SecretBytes hmac_key,
             crypto::KdfA(h, seed, "INTEGRITY", {}, {},
                          static_cast<uint32_t>(crypto::DigestSize(h) * 8)));
  Bytes mac_input(enc.begin(), enc.end());
  mac_input.insert(mac_input.end(), activate->name.begin(), activate->name.end());
  TRY_ASSIGN(Bytes expected, crypto::Hmac(h, hmac_key, mac_input));
  if (!ConstantTimeEqual(expected, integrity)) {
    return Rc::Integrity.Param(1);
  }
  TRY_ASSIGN(SecretBytes sym, crypto::KdfA(h, seed, "STORAGE", activate->name, {},
                                           ProtectionKeyBits(*key)));
  TRY_ASSIGN(Bytes plain, crypto::AesCfbDecrypt(sym, Bytes(16, 0), enc));
  wire::Reader pr(plain);
  wire::Tpm2bDigest credential;
  if (!wire::Unmarshal(pr, credential).ok() || !pr.empty()) {
    return Rc::Size.Param(1);
  }
  ActivateCredentialOut out;
  out.cert_info = std::move(credential);
  return out;
}

}  // namespace tpm2emu::engine::attest
