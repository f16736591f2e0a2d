// Part 3 §24 Hierarchy commands.

#include "crypto/hash.h"
#include "engine/commands/commands.h"
#include "engine/tpm.h"

namespace tpm2emu::engine::hierarchy {

// Part 3 §24.8 TPM2_HierarchyChangeAuth
Result<Empty> HierarchyChangeAuth(Tpm& tpm, const HierarchyChangeAuthIn& in) {
  // The new value may not be longer than the context integrity digest.
  if (in.new_auth.size() > crypto::DigestSize(kContextHashAlg)) {
    return Rc::Size.Param(1);
  }
  SecretBytes* auth = tpm.AuthValueFor(in.auth_handle);
  if (auth == nullptr) {
    return Rc::Hierarchy.Handle(1);
  }
  *auth = SecretBytes(TrimTrailingZeros(in.new_auth.span()));
  return Empty{};  // the dispatcher's response uses the new value for any HMAC
}

}  // namespace tpm2emu::engine::hierarchy
