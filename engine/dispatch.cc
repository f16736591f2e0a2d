// Command dispatch (Part 3 §5): header checks, handle area, authorization area, the handler,
// and the response. Handlers only do the command.

#include <array>
#include <exception>
#include <vector>

#include "engine/command.h"
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

// One entry of the command's authorization area (Part 1 §19.6, Part 2 §10.13.2).
struct AuthSession {
  uint32_t handle = 0;
  wire::Tpm2bNonce nonce;
  uint8_t attributes = 0;
  wire::Tpm2bAuth hmac;
};

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

}  // namespace

Bytes Tpm::Execute(std::span<const uint8_t> command, uint8_t locality) noexcept {
  try {
    if (!powered_) {
      return {};  // a powered-off TPM does not answer; transports send an empty response
    }
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
  for (size_t i = 0; i < def->num_handles; ++i) {
    if (def->roles[i] != Role::kNone) {
      ++auth_handles;
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
  for (size_t i = 0; i < sessions.size(); ++i) {
    const AuthSession& s = sessions[i];
    uint32_t n = static_cast<uint32_t>(i + 1);
    uint8_t ht = static_cast<uint8_t>(s.handle >> 24);
    if (s.handle == TpmRh::Pw) {
      if (i >= auth_handles) {
        return ErrorResponse(Rc::Handle.Session(n));  // a password cannot audit or encrypt
      }
      if (!s.nonce.empty()) {
        return ErrorResponse(Rc::Nonce.Session(n));
      }
      if ((s.attributes & static_cast<uint8_t>(~wire::TpmaSession::ContinueSession)) != 0) {
        return ErrorResponse(Rc::Attributes.Session(n));
      }
    } else if (ht == TpmHt::HmacSession || ht == TpmHt::PolicySession) {
      // HMAC and policy sessions arrive with the sessions work; none can be loaded yet.
      return ErrorResponse(Rc::ReferenceS(static_cast<uint32_t>(i)));
    } else {
      return ErrorResponse(Rc::Handle.Session(n));
    }
  }
  size_t auth_index = 0;
  for (size_t i = 0; i < def->num_handles; ++i) {
    if (def->roles[i] == Role::kNone) {
      continue;
    }
    const AuthSession& s = sessions[auth_index++];
    if (auto st = AuthorizeWithPassword(handles[i], s.hmac.span(),
                                        static_cast<uint32_t>(auth_index));
        !st.ok()) {
      return ErrorResponse(st.error());
    }
  }
  if ((def->flags & kNv) != 0 && !nv_available_) {
    return ErrorResponse(Rc::NvUnavailable);
  }

  // Parameters and the handler.
  CommandContext ctx;
  ctx.code = code;
  ctx.handle_bytes = *handle_bytes;
  ctx.params = wire::Reader(r.rest());
  auto result = def->run(*this, ctx);
  UpdateNvClock();
  if (auto st = Persist(); !st.ok()) {
    EnterFailureMode("cannot commit state: " + st.message());
    return ErrorResponse(Rc::Failure);
  }
  if (!result.ok()) {
    return ErrorResponse(result.error());
  }

  wire::Writer w;
  w.U16(tag);
  size_t size_mark = w.BeginSize32();
  w.U32(0);
  w.Raw(ctx.response_handles.bytes());
  if (tag == TpmSt::Sessions) {
    w.U32(static_cast<uint32_t>(ctx.response_params.size()));
    w.Raw(ctx.response_params.bytes());
    for (size_t i = 0; i < sessions.size(); ++i) {
      w.U16(0);  // nonceTPM: none for a password session
      w.U8(wire::TpmaSession::ContinueSession);
      w.U16(0);  // hmac: empty for a password session
    }
  } else {
    w.Raw(ctx.response_params.bytes());
  }
  Bytes out = w.Take();
  StoreBe32(&out[size_mark - 4], static_cast<uint32_t>(out.size()));
  return out;
}

}  // namespace tpm2emu::engine
