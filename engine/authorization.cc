// Session-based authorization (Part 1 §16.6), policy checks at use (Part 1 §16.7.8), and
// parameter encryption (Part 1 §18). The dispatcher calls these in order: CheckSessions,
// AuthorizeSessions, CryptParameter (command), the handler, CryptParameter (response),
// ResponseHmac.

#include <algorithm>

#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "crypto/symmetric.h"
#include "engine/command.h"
#include "engine/commands/commands.h"
#include "engine/tpm.h"

namespace tpm2emu::engine {
namespace {

constexpr uint8_t kAuditBits = wire::TpmaSession::Audit | wire::TpmaSession::AuditExclusive |
                               wire::TpmaSession::AuditReset;

Bytes Concat(std::initializer_list<ByteSpan> parts) {
  Bytes out;
  for (ByteSpan p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

// Part 1 §16.6.5: a session's command HMAC over cpHash, the nonces and its attributes; the
// first session also covers the nonceTPM of other sessions used for decryption and encryption.
Result<Bytes> CommandHmac(const std::vector<AuthSession>& sessions, const SessionUse& use,
                          size_t i, const SecretBytes& key, ByteSpan cp_data) {
  const AuthSession& s = sessions[i];
  const Session& session = *s.session;
  TRY_ASSIGN(Bytes cp_hash, crypto::Hash(session.auth_hash, cp_data));
  Bytes extra;
  if (i == 0) {
    if (use.decrypt && *use.decrypt != 0) {
      const Bytes& nd = sessions[*use.decrypt].session->nonce_tpm;
      extra.insert(extra.end(), nd.begin(), nd.end());
    }
    if (use.encrypt && *use.encrypt != 0 && use.encrypt != use.decrypt) {
      const Bytes& ne = sessions[*use.encrypt].session->nonce_tpm;
      extra.insert(extra.end(), ne.begin(), ne.end());
    }
  }
  uint8_t attrs = s.attributes;
  Bytes data = Concat({cp_hash, s.nonce.span(), session.nonce_tpm, extra, ByteSpan(&attrs, 1)});
  return crypto::Hmac(session.auth_hash, key, data);
}

}  // namespace

SecretBytes Tpm::SessionValue(const Session& s, ByteSpan auth) {
  ByteSpan trimmed = TrimTrailingZeros(auth);
  SecretBytes value(s.session_key.size() + trimmed.size());
  std::copy(s.session_key.begin(), s.session_key.end(), value.data());
  std::copy(trimmed.begin(), trimmed.end(), value.data() + s.session_key.size());
  return value;
}

Result<SessionUse> Tpm::CheckSessions(const CommandDef& def, std::vector<AuthSession>& sessions,
                                      size_t auth_handles,
                                      const std::array<uint32_t, 3>& /*auth_entity*/) {
  SessionUse use;
  use.auth_handles = auth_handles;
  for (size_t i = 0; i < sessions.size(); ++i) {
    AuthSession& s = sessions[i];
    uint32_t n = static_cast<uint32_t>(i + 1);
    uint8_t ht = static_cast<uint8_t>(s.handle >> 24);
    if (s.handle == TpmRh::Pw) {
      if (i >= auth_handles) {
        return Rc::Value.Session(n);  // a password session cannot audit or encrypt
      }
      if (!s.nonce.empty()) {
        return Rc::Nonce.Session(n);
      }
      if ((s.attributes & static_cast<uint8_t>(~wire::TpmaSession::ContinueSession)) != 0) {
        return Rc::Attributes.Session(n);
      }
      continue;
    }
    if (ht != TpmHt::HmacSession && ht != TpmHt::PolicySession) {
      return Rc::Value.Session(n);
    }
    auto it = reset_.sessions.find(s.handle);
    if (it == reset_.sessions.end() || !it->second.loaded) {
      return Rc::ReferenceS(static_cast<uint32_t>(i));
    }
    for (size_t j = 0; j < i; ++j) {
      if (sessions[j].handle == s.handle) {
        return Rc::Value.Session(n);  // one session used twice in a command
      }
    }
    s.session = &it->second;
    if ((s.attributes & kAuditBits) != 0) {
      // Part 2 §8.4: auditExclusive and auditReset only with audit; one audit session per
      // command, never a policy session (Part 1 §17.1), though an HMAC session may also
      // authorize (Part 2 §8.4, audit bit).
      if ((s.attributes & wire::TpmaSession::Audit) == 0 || s.session->is_policy() ||
          use.audit) {
        return Rc::Attributes.Session(n);
      }
      use.audit = i;
    }
    if (i >= auth_handles &&
        (s.attributes & (wire::TpmaSession::Decrypt | wire::TpmaSession::Encrypt |
                         wire::TpmaSession::Audit)) == 0) {
      return Rc::Attributes.Session(n);  // Part 3 §5.5: a session must have a purpose
    }
    if (s.session->type == TpmSe::Trial && i < auth_handles) {
      return Rc::Attributes.Session(n);  // a trial session computes digests, never authorizes
    }
    if (s.nonce.size() > s.session->nonce_tpm.size()) {
      return Rc::Size.Session(n);
    }
    bool decrypt = (s.attributes & wire::TpmaSession::Decrypt) != 0;
    bool encrypt = (s.attributes & wire::TpmaSession::Encrypt) != 0;
    if ((decrypt || encrypt) && s.session->symmetric.algorithm == TpmAlg::Null) {
      return Rc::Symmetric.Session(n);
    }
    if (decrypt) {
      if (use.decrypt || (def.flags & kDecrypt2) == 0) {
        return Rc::Attributes.Session(n);
      }
      use.decrypt = i;
    }
    if (encrypt) {
      if (use.encrypt || (def.flags & kEncrypt2) == 0) {
        return Rc::Attributes.Session(n);
      }
      use.encrypt = i;
    }
  }
  // Part 1 §17.3: auditExclusive gates the command on the session being exclusive now.
  if (use.audit && (sessions[*use.audit].attributes & wire::TpmaSession::AuditExclusive) != 0 &&
      reset_.exclusive_audit_session != sessions[*use.audit].handle) {
    return Rc::Exclusive;
  }
  return use;
}

RcStatus Tpm::AuthorizeSessions(std::vector<AuthSession>& sessions, SessionUse& use,
                                size_t auth_handles, const std::array<uint32_t, 3>& auth_entity,
                                const std::array<Role, 3>& auth_role, ByteSpan cp_data,
                                size_t names_end) {
  for (size_t i = 0; i < auth_handles; ++i) {
    AuthSession& s = sessions[i];
    uint32_t n = static_cast<uint32_t>(i + 1);
    uint32_t entity = auth_entity[i];
    // Part 1 §16.6.17: an object's userWithAuth / adminWithPolicy decide whether its authValue
    // may be used (password or HMAC) or only its policy.
    bool is_policy = s.session != nullptr && s.session->is_policy();
    if (const Object* obj = LookupObject(entity); obj != nullptr && !is_policy) {
      const wire::TpmtPublic& pub = obj->pub;
      bool user_ok = pub.Has(wire::TpmaObject::UserWithAuth) || obj->sequence.has_value() ||
                     pub.name_alg == TpmAlg::Null;
      if ((auth_role[i] == Role::kUser && !user_ok) ||
          (auth_role[i] == Role::kAdmin && pub.Has(wire::TpmaObject::AdminWithPolicy)) ||
          auth_role[i] == Role::kDup) {  // Part 1 §16.2: DUP needs a policy session
        return Rc::AuthUnavailable;
      }
    }
    // A policy that does not use the authValue (no PolicyAuthValue or PolicyPassword) is not
    // subject to dictionary-attack lockout: that is how lockoutPolicy recovers (§16.8.5).
    bool uses_auth_value =
        !is_policy || s.session->needs_auth_value || s.session->needs_password;
    if (uses_auth_value) {
      TRY(CheckLockout(entity));
    }
    if (static_cast<uint8_t>(entity >> 24) == TpmHt::NvIndex) {  // Part 3 §5.6 items 5, 7
      TRY(nv::CheckAuthorization(*this, entity, command_code_, auth_role[i], is_policy));
    }
    if (s.session == nullptr) {
      TRY(AuthorizeWithPassword(entity, s.hmac.span(), n));
      continue;
    }
    Session& session = *s.session;
    TRY_ASSIGN(ByteSpan auth, EntityAuth(entity));
    ByteSpan include_auth = auth;
    if (session.is_policy()) {
      // Part 3 §5.6 item 8: the policy digest must equal the entity's authPolicy, and the
      // deferred assertions must hold for this command.
      TRY(policy::CheckAtUse(*this, session, entity, auth_role[i], n, cp_data, names_end));
      policy_authorized_[i] = true;
      if (session.needs_password) {
        if (!ConstantTimeEqual(TrimTrailingZeros(auth), TrimTrailingZeros(s.hmac.span()))) {
          return AuthFailure(entity, n);
        }
        continue;
      }
      if (!session.needs_auth_value) {
        include_auth = {};
      }
    } else {
      TRY_ASSIGN(Bytes name, EntityName(entity));
      if (session.bound && name == session.bind_name &&
          ConstantTimeEqual(TrimTrailingZeros(auth), session.bind_auth)) {
        include_auth = {};  // Part 1 §16.6.5: EmptyAuth for the bound entity
      }
    }
    SecretBytes key = SessionValue(session, include_auth);
    if (key.empty() && s.hmac.empty()) {
      continue;  // Part 1 §16.6.16: no HMAC is needed when its key would be empty
    }
    TRY_ASSIGN(Bytes expected, CommandHmac(sessions, use, i, key, cp_data));
    if (!ConstantTimeEqual(expected, s.hmac.span())) {
      return AuthFailure(entity, n);
    }
  }
  // Sessions only for audit or parameter encryption are HMAC sessions too, keyed with an
  // Empty authValue (Part 1 §17.1); a bound or salted one protects the command's integrity.
  for (size_t i = auth_handles; i < sessions.size(); ++i) {
    if (sessions[i].session == nullptr) {
      continue;
    }
    SecretBytes key = SessionValue(*sessions[i].session, {});
    if (key.empty() && sessions[i].hmac.empty()) {
      continue;
    }
    TRY_ASSIGN(Bytes expected, CommandHmac(sessions, use, i, key, cp_data));
    if (!ConstantTimeEqual(expected, sessions[i].hmac.span())) {
      return Rc::BadAuth.Session(static_cast<uint32_t>(i + 1));  // no entity: not a DA failure
    }
  }
  for (size_t i = 0; i < auth_handles; ++i) {
    if (static_cast<uint8_t>(auth_entity[i] >> 24) == TpmHt::NvIndex) {
      nv::OnAuthorized(*this, auth_entity[i],
                       sessions[i].session != nullptr && sessions[i].session->is_policy());
    }
  }
  return {};
}

RcStatus Tpm::CryptParameter(const AuthSession& s, const SessionUse& use, size_t index,
                             const std::array<uint32_t, 3>& auth_entity, Bytes& params,
                             bool command) {
  const Session& session = *s.session;
  // Part 1 §18.1: an authorization session adds the authValue of what it authorizes, whether
  // or not it is bound to it.
  ByteSpan auth;
  if (index < use.auth_handles) {
    TRY_ASSIGN(auth, EntityAuth(auth_entity[index]));
  }
  SecretBytes value = SessionValue(session, auth);
  if (params.size() < 2) {
    return command ? Rc::Size.Param(1) : Rc::Failure;
  }
  size_t size = LoadBe16(params.data());
  if (size > params.size() - 2) {
    return command ? Rc::Size.Param(1) : Rc::Failure;
  }
  ByteSpan data(params.data() + 2, size);
  // Commands: nonceNewer = nonceCaller, nonceOlder = nonceTPM; responses the other way round.
  ByteSpan newer = command ? s.nonce.span() : ByteSpan(session.nonce_tpm);
  ByteSpan older = command ? ByteSpan(session.nonce_tpm) : s.nonce.span();
  Bytes out;
  if (session.symmetric.algorithm == TpmAlg::Xor) {
    out = crypto::XorObfuscate(session.auth_hash, value, newer, older, data);
  } else {
    size_t key_bytes = session.symmetric.key_bits / 8u;
    TRY_ASSIGN(SecretBytes key_iv,
               crypto::KdfA(session.auth_hash, value, "CFB", newer, older,
                            static_cast<uint32_t>((key_bytes + 16) * 8)));
    ByteSpan key(key_iv.data(), key_bytes);
    ByteSpan iv(key_iv.data() + key_bytes, 16);
    if (command) {
      TRY_ASSIGN(out, crypto::AesCfbDecrypt(key, iv, data));
    } else {
      TRY_ASSIGN(out, crypto::AesCfbEncrypt(key, iv, data));
    }
  }
  if (out.size() != data.size()) {
    return Rc::Failure;  // never let a parameter go out in the clear
  }
  std::copy(out.begin(), out.end(), params.begin() + 2);
  return {};
}

Bytes Tpm::ResponseHmac(const AuthSession& s, const SessionUse& use, size_t index,
                        const std::array<uint32_t, 3>& auth_entity, ByteSpan rp_data) {
  const Session& session = *s.session;
  if (session.is_policy() && session.needs_password && index < use.auth_handles) {
    return {};  // a PolicyPassword authorization has no response HMAC
  }
  ByteSpan auth;
  if (index < use.auth_handles && (!session.is_policy() || session.needs_auth_value)) {
    // After the command: a changed authValue is the new one, and it also ends the binding
    // (the bound entity is its Name with the authValue it had).
    auto a = EntityAuth(auth_entity[index]);
    auto name = EntityName(auth_entity[index]);
    if (a.ok()) {
      bool bound = !session.is_policy() && session.bound && name.ok() &&
                   *name == session.bind_name &&
                   ConstantTimeEqual(TrimTrailingZeros(*a), session.bind_auth);
      if (!bound) {
        auth = *a;
      }
    }
  }
  SecretBytes key = SessionValue(session, auth);
  auto rp_hash = crypto::Hash(session.auth_hash, rp_data);
  if (!rp_hash.ok()) {
    return {};
  }
  uint8_t attrs = s.attributes;
  Bytes data = Concat({*rp_hash, session.nonce_tpm, s.nonce.span(), ByteSpan(&attrs, 1)});
  auto mac = crypto::Hmac(session.auth_hash, key, data);
  return mac.ok() ? std::move(mac).value() : Bytes{};
}

}  // namespace tpm2emu::engine
