// Part 3 §29 Clocks and timers.

#include <algorithm>

#include "engine/commands/commands.h"
#include "engine/tpm.h"

namespace tpm2emu::engine::clock {

// Part 3 §29.1 TPM2_ReadClock
Result<ReadClockOut> ReadClock(Tpm& tpm, const Empty& /*in*/) {
  ReadClockOut out;
  out.current_time.time = tpm.time_ms();
  out.current_time.clock_info = tpm.ClockInfo();
  return out;
}

// Part 3 §29.2 TPM2_ClockSet: Clock only moves forward, and not past its maximum.
Result<Empty> ClockSet(Tpm& tpm, const ClockSetIn& in) {
  constexpr uint64_t kMaxClock = 0xFFFF000000000000ull;
  if (in.new_time > kMaxClock || in.new_time < tpm.clock_ms()) {
    return Rc::Value.Param(1);
  }
  tpm.SetClock(in.new_time);
  return Empty{};
}

// Part 3 §29.3 TPM2_ClockRateAdjust: TPM_CLOCK_ADJUST is -3..3 (coarse, medium, fine steps).
// Each step changes the rate by 1, 5 or 25 parts per thousand, within +/-100.
Result<Empty> ClockRateAdjust(Tpm& tpm, const ClockRateAdjustIn& in) {
  if (in.rate_adjust < -3 || in.rate_adjust > 3) {
    return Rc::Value.Param(1);
  }
  static constexpr int kStep[] = {0, 1, 5, 25};
  int magnitude = in.rate_adjust < 0 ? -in.rate_adjust : in.rate_adjust;
  int step = in.rate_adjust < 0 ? -kStep[magnitude] : kStep[magnitude];
  int next = std::clamp(tpm.persistent().clock_adjust + step, -100, 100);
  tpm.SetClockRate(static_cast<int8_t>(next));
  return Empty{};
}

}  // namespace tpm2emu::engine::clock
