// Part 3 §16 Random number generator.

#include <algorithm>

#include "engine/commands/commands.h"
#include "engine/tpm.h"

namespace tpm2emu::engine::random {

// Part 3 §16.1 TPM2_GetRandom: at most sizeof(TPMU_HA) octets, without error for more.
Result<GetRandomOut> GetRandom(Tpm& tpm, const GetRandomIn& in) {
  GetRandomOut out;
  out.random_bytes.data.resize(std::min<size_t>(in.bytes_requested, wire::kMaxDigestSize));
  tpm.Random(out.random_bytes.data);
  return out;
}

// Part 3 §16.2 TPM2_StirRandom: the data is additional input to the DRBG.
Result<Empty> StirRandom(Tpm& tpm, const StirRandomIn& in) {
  tpm.StirEntropy(in.in_data.span());
  return Empty{};
}

}  // namespace tpm2emu::engine::random
