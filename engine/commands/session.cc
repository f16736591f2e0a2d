// Part 3 §11 Session commands and §28.4 TPM2_FlushContext.

#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "engine/commands/commands.h"
#include "engine/tpm.h"

namespace tpm2emu::engine {

namespace session {

// Part 3 §11.1 TPM2_StartAuthSession
Result<StartAuthSessionOut> StartAuthSession(Tpm& tpm, const StartAuthSessionIn& in) {
  size_t digest_size = crypto::DigestSize(in.auth_hash);
  // The first nonce sets the size of every nonceTPM (Part 1 §16.6.3.2).
  if (in.nonce_caller.size() < 16 || in.nonce_caller.size() > digest_size) {
    return Rc::Size.Param(1);
  }
  if (in.session_type != TpmSe::Hmac && in.session_type != TpmSe::Policy &&
      in.session_type != TpmSe::Trial) {
    return Rc::Value.Param(3);
  }
  // Part 3 §11.1.1: a block cipher is allowed in CFB mode only.
  if (in.symmetric.algorithm == TpmAlg::Aes && in.symmetric.mode != TpmAlg::Cfb) {
    return Rc::Mode.Param(4);
  }
  SecretBytes salt;
  if (in.tpm_key == TpmRh::Null) {
    if (!in.encrypted_salt.empty()) {
      return Rc::Value.Param(2);
    }
  } else {
    TRY_ASSIGN(salt, tpm.DecryptSecret(in.tpm_key, "SECRET", in.encrypted_salt.span(), 2));
  }

  Session s;
  s.type = in.session_type;
  s.auth_hash = in.auth_hash;
  s.symmetric = in.symmetric;
  s.nonce_caller = in.nonce_caller.data;
  s.nonce_tpm.resize(in.nonce_caller.size());
  tpm.Random(s.nonce_tpm);
  s.policy_digest.assign(digest_size, 0);
  s.start_time_ms = tpm.clock_ms();  // policy startTime (Part 1 §16.7.8)

  SecretBytes key_input;
  if (in.bind != TpmRh::Null) {
    TRY_ASSIGN(ByteSpan auth, tpm.EntityAuth(in.bind));
    TRY_ASSIGN(Bytes name, tpm.EntityName(in.bind));
    ByteSpan trimmed = TrimTrailingZeros(auth);
    s.bound = true;
    s.bind_name = std::move(name);
    s.bind_auth = SecretBytes(trimmed);
    key_input = SecretBytes(trimmed);
  }
  if (!salt.empty()) {
    SecretBytes joined(key_input.size() + salt.size());
    std::copy(key_input.begin(), key_input.end(), joined.data());
    std::copy(salt.begin(), salt.end(), joined.data() + key_input.size());
    key_input = std::move(joined);
  }
  // Part 1 §16.6.8 sessionKey = KDFa(authHash, bind.authValue || salt, "ATH", nonceTPM,
  // nonceCaller, digest size); empty only when there is neither a bind entity nor a salt key
  // (an empty authValue still gives a key).
  if (in.bind != TpmRh::Null || in.tpm_key != TpmRh::Null) {
    TRY_ASSIGN(s.session_key,
               crypto::KdfA(in.auth_hash, key_input, "ATH", s.nonce_tpm, s.nonce_caller,
                            static_cast<uint32_t>(digest_size * 8)));
  }

  TRY_ASSIGN(uint32_t handle, tpm.AllocateSessionHandle(s.is_policy()));
  s.handle = handle;
  StartAuthSessionOut out;
  out.session_handle = handle;
  out.nonce_tpm.data = s.nonce_tpm;
  tpm.reset_state().sessions.emplace(handle, std::move(s));
  return out;
}

}  // namespace session

namespace context {

// Part 3 §28.4 TPM2_FlushContext: a loaded transient object or a session.
Result<Empty> FlushContext(Tpm& tpm, const FlushContextIn& in) {
  uint8_t ht = static_cast<uint8_t>(in.flush_handle >> 24);
  ResetState& r = tpm.reset_state();
  if (ht == TpmHt::Transient) {
    if (r.objects.erase(in.flush_handle) == 0) {
      return Rc::Handle.Param(1);
    }
    return Empty{};
  }
  if (ht == TpmHt::HmacSession || ht == TpmHt::PolicySession) {
    if (r.sessions.erase(in.flush_handle) == 0) {
      return Rc::Handle.Param(1);
    }
    return Empty{};
  }
  return Rc::Value.Param(1);
}

}  // namespace context

}  // namespace tpm2emu::engine
