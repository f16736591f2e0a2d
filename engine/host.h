#pragma once
// What the engine takes from its host: time and entropy. Tests inject fakes.

#include <chrono>
#include <cstdint>
#include <span>

namespace tpm2emu::engine {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds from an arbitrary origin; never goes backwards.
  virtual uint64_t NowMs() = 0;
};

class SteadyClock final : public Clock {
 public:
  uint64_t NowMs() override {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  }
};

// A clock that moves only when told (tests).
class ManualClock final : public Clock {
 public:
  uint64_t NowMs() override { return now_ms_; }
  void Advance(uint64_t ms) { now_ms_ += ms; }

 private:
  uint64_t now_ms_ = 1000;
};

class EntropySource {
 public:
  virtual ~EntropySource() = default;
  virtual void Fill(std::span<uint8_t> out) = 0;
};

// Entropy from the operating system (getrandom).
class OsEntropy final : public EntropySource {
 public:
  void Fill(std::span<uint8_t> out) override;
};

// A deterministic stream from a seed (tests that pin primary keys).
class FixedEntropy final : public EntropySource {
 public:
  explicit FixedEntropy(uint8_t seed) : next_(seed) {}
  void Fill(std::span<uint8_t> out) override {
    for (auto& b : out) {
      b = next_;
      next_ = static_cast<uint8_t>(next_ * 33u + 7u);
    }
  }

 private:
  uint8_t next_;
};

}  // namespace tpm2emu::engine
