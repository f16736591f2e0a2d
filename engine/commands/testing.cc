// Part 3 §10 Testing.

#include "engine/commands/commands.h"
#include "engine/tpm.h"

namespace tpm2emu::engine::testing {

// Part 3 §10.2 TPM2_SelfTest: our algorithms are tested on first use by the crypto layer's
// own checks, so a full or partial self-test completes at once.
Result<Empty> SelfTest(Tpm& tpm, const SelfTestIn& in) {
  if (in.full_test > 1) {
    return Rc::Value.Param(1);  // TPMI_YES_NO
  }
  if (tpm.self_test_result() != 0) {
    return Rc::Failure;
  }
  return Empty{};
}

// Part 3 §10.3 TPM2_IncrementalSelfTest: nothing is left to test afterwards.
Result<AlgList> IncrementalSelfTest(Tpm& /*tpm*/, const AlgList& /*in*/) { return AlgList{}; }

// Part 3 §10.4 TPM2_GetTestResult
Result<GetTestResultOut> GetTestResult(Tpm& tpm, const Empty& /*in*/) {
  GetTestResultOut out;
  out.test_result = tpm.self_test_result();
  return out;
}

}  // namespace tpm2emu::engine::testing
