// Command dispatch (Part 3 §5): header checks, handle area, authorization area, the handler,
// and the response. Handlers only do the command.

#include <array>
#include <exception>
#include <vector>

#include "engine/command.h"
#include "engine/commands/commands.h"
#include "engine/tpm.h"
#include "engine/wire/reader.h"

namespace tpm2emu::engine {
namespace {

constexpr size_t kHeaderSize = 10;

Bytes ErrorResponse(TpmRc rc) {
  wire::Writer w;
  w.U16(TpmSt::NoSessions);
  w.U32(kHeaderSize);
  w.U32(rc.value());
  return w.Take();
}

Result<std::vector<AuthSession>> ParseAuthArea(wire::Reader& r) {
  uint32_t auth_size = 0;
  TRY(r.U32(auth_size));
  // The smallest session is 9 octets: handle, empty nonce, attributes, empty hmac.
  if (auth_size < 9 || auth_size > r.remaining()) {
    return Rc::AuthSize;
  }
  TRY_ASSIGN(auto area, r.Sub(auth_size));
  std::vector<AuthSession> sessions;
  while (!area.empty()) {
    if (sessions.size() == wire::kMaxSessionNumber) {
      return Rc::AuthSize;
    }
    uint32_t n = static_cast<uint32_t>(sessions.size() + 1);
    AuthSession s;
    auto fail = [&](const RcStatus& st) { return st.error().Base() == Rc::Insufficient
                                                     ? Rc::AuthSize
                                                     : st.error().Session(n); };
    if (auto st = area.U32(s.handle); !st.ok()) {
      return fail(st);
    }
    if (auto st = wire::Unmarshal(area, s.nonce); !st.ok()) {
      return fail(st);
    }
    if (auto st = area.U8(s.attributes); !st.ok()) {
      return fail(st);
    }
    if ((s.attributes & wire::TpmaSession::Reserved) != 0) {
      return Rc::ReservedBits.Session(n);
    }
    if (auto st = wire::Unmarshal(area, s.hmac); !st.ok()) {
      return fail(st);
    }
    sessions.push_back(std::move(s));
  }
  return sessions;
}

// An audit digest's update (Part 1 §17.1 and §32): digest := H(digest || cpHash || rpHash).
void ExtendAudit(uint16_t alg, Bytes& digest, ByteSpan cp_data, ByteSpan rp_data) {
  auto cp_hash = crypto::Hash(alg, cp_data);
  auto rp_hash = crypto::Hash(alg, rp_data);
  if (!cp_hash.ok() || !rp_hash.ok()) {
    return;  // the algorithm was checked when it was chosen
  }
  Bytes data = digest;
  data.insert(data.end(), cp_hash->begin(), cp_hash->end());
  data.insert(data.end(), rp_hash->begin(), rp_hash->end());
  if (auto next = crypto::Hash(alg, data); next.ok()) {
    digest = std::move(next).value();
  }
}

}  // namespace

Bytes Tpm::Execute(std::span<const uint8_t> command, uint8_t locality) noexcept {
  try {
    if (!powered_) {
      return {};  // a powered-off TPM does not answer; transports send an empty response
    }
    // Part 1 §31.1: a command between _TPM_Hash_Start and _TPM_Hash_End abandons the H-CRTM
    // Event Sequence.
    hcrtm_.sequence.reset();
    locality_ = locality;
    return ExecuteChecked(command);
  } catch (const std::exception& e) {
    EnterFailureMode(std::string("exception: ") + e.what());
  } catch (...) {
    EnterFailureMode("unknown exception");
  }
  return ErrorResponse(Rc::Failure);
}

Bytes Tpm::ExecuteChecked(std::span<const uint8_t> command) {
  wire::Reader r(command);
  uint16_t tag = 0;
  uint32_t size = 0;
  uint32_t code = 0;
  if (command.size() < kHeaderSize) {
    return ErrorResponse(Rc::CommandSize);
  }
  (void)r.U16(tag);
  (void)r.U32(size);
  (void)r.U32(code);
  // Part 3 §5.2: tag, then size, then code.
  if (tag != TpmSt::NoSessions && tag != TpmSt::Sessions) {
    return ErrorResponse(Rc::BadTag);
  }
  if (size != command.size() || size > wire::kMaxCommandSize) {
    return ErrorResponse(Rc::CommandSize);
  }
  if (failure_mode_ && code != TpmCc::GetTestResult && code != TpmCc::GetCapability) {
    return ErrorResponse(Rc::Failure);
  }
  const CommandDef* def = FindCommand(code);
  if (def == nullptr) {
    return ErrorResponse(Rc::CommandCode);
  }
  command_code_ = code;
  policy_authorized_ = {};
  if (!started_ && code != TpmCc::Startup && !failure_mode_) {
    return ErrorResponse(Rc::Initialize);
  }
  if (started_ && code == TpmCc::Startup) {
    return ErrorResponse(Rc::Initialize);
  }

  // Handle area (Part 3 §5.3).
  size_t handle_octets = size_t{def->num_handles} * 4;
  auto handle_bytes = r.Take(handle_octets);
  if (!handle_bytes.ok()) {
    return ErrorResponse(Rc::Insufficient);
  }
  if (auto st = def->check_handles(*handle_bytes); !st.ok()) {
    return ErrorResponse(st.error());
  }
  std::array<uint32_t, 3> handles{};
  for (size_t i = 0; i < def->num_handles; ++i) {
    handles[i] = LoadBe32(handle_bytes->data() + 4 * i);
    if (auto st = CheckHandleReference(handles[i], static_cast<uint32_t>(i)); !st.ok()) {
      return ErrorResponse(st.error());
    }
  }

  // Authorization area (Part 3 §5.4).
  size_t auth_handles = 0;
  std::array<uint32_t, 3> auth_entity{};  // the entity each authorization session authorizes
  std::array<Role, 3> auth_role{};
  for (size_t i = 0; i < def->num_handles; ++i) {
    if (def->roles[i] != Role::kNone) {
      auth_role[auth_handles] = def->roles[i];
      auth_entity[auth_handles++] = handles[i];
    }
  }
  std::vector<AuthSession> sessions;
  if (tag == TpmSt::Sessions) {
    if ((def->flags & kNoSessions) != 0) {
      return ErrorResponse(Rc::AuthContext);
    }
    auto parsed = ParseAuthArea(r);
    if (!parsed.ok()) {
      return ErrorResponse(parsed.error());
    }
    sessions = std::move(parsed).value();
  }
  if (sessions.size() < auth_handles) {
    return ErrorResponse(Rc::AuthMissing);
  }
  ByteSpan params = r.rest();
  auto checked = CheckSessions(*def, sessions, auth_handles, auth_entity);
  if (!checked.ok()) {
    return ErrorResponse(checked.error());
  }
  SessionUse use = std::move(checked).value();

  // cpHash (Part 1 §15.7): H(commandCode || Names of the handles || parameters), computed
  // over the parameters as received (before any decryption).
  Bytes cp_data;
  AppendBe32(cp_data, code);
  for (size_t i = 0; i < def->num_handles; ++i) {
    auto name = EntityName(handles[i]);
    if (!name.ok()) {
      return ErrorResponse(name.error());
    }
    cp_data.insert(cp_data.end(), name->begin(), name->end());
  }
  const size_t names_end = cp_data.size();
  cp_data.insert(cp_data.end(), params.begin(), params.end());
  if (auto st = AuthorizeSessions(sessions, use, auth_handles, auth_entity, auth_role, cp_data,
                                  names_end);
      !st.ok()) {
    // A counted failure must survive a power loss, or guesses would be free.
    if (auto pst = Persist(); !pst.ok()) {
      EnterFailureMode("cannot commit state: " + pst.message());
      return ErrorResponse(Rc::Failure);
    }
    return ErrorResponse(st.error());
  }
  if ((def->flags & kNv) != 0 && !nv_available_) {
    return ErrorResponse(Rc::NvUnavailable);
  }

  // Parameter decryption (Part 1 §18), after the HMAC checks.
  Bytes plain(params.begin(), params.end());
  if (use.decrypt) {
    if (auto st = CryptParameter(sessions[*use.decrypt], use, *use.decrypt, auth_entity, plain,
                                 /*command=*/true);
        !st.ok()) {
      return ErrorResponse(st.error());
    }
  }

  // The handler.
  CommandContext ctx;
  ctx.code = code;
  ctx.handle_bytes = *handle_bytes;
  ctx.params = wire::Reader(plain);
  skip_command_audit_ = false;
  auto result = def->run(*this, ctx);
  UpdateNvClock();
  // Every change the command made is durable before any response goes out.
  auto commit = [&] {
    Status st = Persist();
    if (!st.ok()) {
      EnterFailureMode("cannot commit state: " + st.message());
    }
    return st.ok();
  };
  if (!result.ok()) {
    return ErrorResponse(commit() ? result.error() : Rc::Failure);
  }

  wire::Writer w;
  w.U16(tag);
  size_t size_mark = w.BeginSize32();
  w.U32(0);
  w.Raw(ctx.response_handles.bytes());
  Bytes rsp_params = ctx.response_params.Take();
  if (tag == TpmSt::Sessions) {
    // Roll the nonces and encrypt the first response parameter.
    for (auto& s : sessions) {
      if (s.session != nullptr) {
        s.session->nonce_caller = s.nonce.data;
        Random(s.session->nonce_tpm);
      }
    }
    if (use.encrypt) {
      if (auto st = CryptParameter(sessions[*use.encrypt], use, *use.encrypt, auth_entity,
                                   rsp_params, /*command=*/false);
          !st.ok()) {
        return ErrorResponse(commit() ? st.error() : Rc::Failure);
      }
    }
  }
  // rpHash data (Part 1 §15.8): responseCode (success) || commandCode || parameters as sent.
  Bytes rp_data;
  AppendBe32(rp_data, 0);
  AppendBe32(rp_data, code);
  rp_data.insert(rp_data.end(), rsp_params.begin(), rsp_params.end());
  RecordAudit(*def, sessions, use, cp_data, rp_data);
  if (tag == TpmSt::Sessions) {
    w.U32(static_cast<uint32_t>(rsp_params.size()));
    w.Raw(rsp_params);
    for (size_t i = 0; i < sessions.size(); ++i) {
      const AuthSession& s = sessions[i];
      if (s.session == nullptr) {
        w.U16(0);  // nonceTPM: none for a password session
        w.U8(wire::TpmaSession::ContinueSession);
        w.U16(0);  // hmac: empty for a password session
        continue;
      }
      w.U16(static_cast<uint16_t>(s.session->nonce_tpm.size()));
      w.Raw(s.session->nonce_tpm);
      w.U8(s.attributes);
      Bytes hmac = ResponseHmac(s, use, i, auth_entity, rp_data);
      w.U16(static_cast<uint16_t>(hmac.size()));
      w.Raw(hmac);
    }
    if (use.audit) {
      // Part 1 §17.1: once a session audits, its bind value is lost.
      sessions[*use.audit].session->bound = false;
    }
    for (size_t i = 0; i < sessions.size(); ++i) {
      if (sessions[i].session != nullptr && sessions[i].session->is_policy()) {
        policy::AfterUse(*this, *sessions[i].session, i < use.auth_handles);
      }
    }
    for (const auto& s : sessions) {
      if (s.session != nullptr && (s.attributes & wire::TpmaSession::ContinueSession) == 0) {
        if (reset_.exclusive_audit_session == s.handle) {
          reset_.exclusive_audit_session = 0;
        }
        reset_.sessions.erase(s.handle);
      }
    }
  } else {
    w.Raw(rsp_params);
  }
  if (!commit()) {
    return ErrorResponse(Rc::Failure);
  }
  Bytes out = w.Take();
  StoreBe32(&out[size_mark - 4], static_cast<uint32_t>(out.size()));
  return out;
}

void Tpm::RecordAudit(const CommandDef& def, std::vector<AuthSession>& sessions,
                      const SessionUse& use, ByteSpan cp_data, ByteSpan rp_data) {
  uint32_t& exclusive = reset_.exclusive_audit_session;
  if (use.audit) {
    AuthSession& s = sessions[*use.audit];
    Session& session = *s.session;
    // Part 1 §17.2: the first audit, or auditReset, starts the digest afresh and makes the
    // session the exclusive one.
    if (!session.audit || (s.attributes & wire::TpmaSession::AuditReset) != 0) {
      session.audit = true;
      session.audit_digest.assign(crypto::DigestSize(session.auth_hash), 0);
      exclusive = s.handle;
    }
    ExtendAudit(session.auth_hash, session.audit_digest, cp_data, rp_data);
  }
  // Any other command that may carry sessions ends the exclusivity; the context commands,
  // Startup and ReadClock do not (Part 1 §17.2).
  if ((def.flags & kNoSessions) == 0 && def.code != TpmCc::ReadClock &&
      (!use.audit || sessions[*use.audit].handle != exclusive)) {
    exclusive = 0;
  }
  if (use.audit) {
    // Part 2 §8.4: auditReset is CLEAR in a response, auditExclusive tells exclusivity.
    AuthSession& s = sessions[*use.audit];
    s.attributes &= static_cast<uint8_t>(
        ~(wire::TpmaSession::AuditReset | wire::TpmaSession::AuditExclusive));
    if (exclusive == s.handle) {
      s.attributes |= wire::TpmaSession::AuditExclusive;
    }
  }

  // Command audit (Part 1 §32; Part 3 §21.1): not in Failure mode, never TPM2_Shutdown.
  PersistentState& p = persistent_;
  if (skip_command_audit_ || failure_mode_ || def.code == TpmCc::Shutdown ||
      p.audit_commands.count(def.code) == 0) {
    return;
  }
  if (p.audit_digest.empty()) {
    // A new audit log: the counter counts logs, so a missing one shows.
    ++p.audit_counter;
    p.audit_digest.assign(crypto::DigestSize(p.audit_alg), 0);
  }
  ExtendAudit(p.audit_alg, p.audit_digest, cp_data, rp_data);
}

Bytes Tpm::AuditedCommandsDigest() const {
  Bytes codes;
  for (uint32_t cc : persistent_.audit_commands) {
    AppendBe32(codes, cc);
  }
  auto digest = crypto::Hash(persistent_.audit_alg, codes);
  return digest.ok() ? std::move(digest).value() : Bytes{};
}

}  // namespace tpm2emu::engine
