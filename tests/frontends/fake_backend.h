#pragma once
// A scripted Backend for frontend tests: records every call and answers Execute with a
// recognisable response (a success header followed by the locality and the command bytes).

#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/base/endian.h"
#include "frontends/backend/backend.h"

namespace tpm2emu::testing {

class FakeBackend : public backend::Backend {
 public:
  // The response Execute gives for `command` at `locality`.
  static Bytes ResponseFor(std::span<const uint8_t> command, uint8_t locality) {
    Bytes r;
    AppendBe16(r, 0x8001);
    AppendBe32(r, static_cast<uint32_t>(10 + 1 + command.size()));
    AppendBe32(r, 0);
    r.push_back(locality);
    r.insert(r.end(), command.begin(), command.end());
    return r;
  }

  Bytes Execute(std::span<const uint8_t> command, uint8_t locality) override {
    std::lock_guard lock(mu_);
    commands_.emplace_back(command.begin(), command.end());
    localities_.push_back(locality);
    return ResponseFor(command, locality);
  }
  Status PowerOn() override {
    std::lock_guard lock(mu_);
    ++power_on_calls_;
    powered_ = true;
    return Status::Ok();
  }
  Status PowerOff() override {
    std::lock_guard lock(mu_);
    powered_ = false;
    return Status::Ok();
  }
  Status Reset() override {
    std::lock_guard lock(mu_);
    ++reset_calls_;
    return Status::Ok();
  }
  bool IsPoweredOn() override {
    std::lock_guard lock(mu_);
    return powered_;
  }
  Status SetNvAvailable(bool on) override {
    std::lock_guard lock(mu_);
    nv_on_ = on;
    return Status::Ok();
  }
  Status SetPhysicalPresence(bool on) override {
    std::lock_guard lock(mu_);
    pp_on_ = on;
    return Status::Ok();
  }
  void SetCancel(bool on) override { cancel_on_ = on; }
  StatusOr<Bytes> SaveState(backend::StateBlob which) override {
    std::lock_guard lock(mu_);
    if (which != backend::StateBlob::kVolatile) {
      return Status(StatusCode::kUnsupported, "no");
    }
    return volatile_blob_;
  }
  Status RestoreState(backend::StateBlob which, std::span<const uint8_t> blob) override {
    std::lock_guard lock(mu_);
    if (which != backend::StateBlob::kVolatile) {
      return Status(StatusCode::kUnsupported, "no");
    }
    volatile_blob_.assign(blob.begin(), blob.end());
    powered_ = true;
    return Status::Ok();
  }
  StatusOr<bool> TpmEstablished() override { return false; }
  Status ResetEstablished(uint8_t) override { return Status::Ok(); }
  Status HashStart() override {
    std::lock_guard lock(mu_);
    hash_signals_.emplace_back("start");
    return Status::Ok();
  }
  Status HashData(std::span<const uint8_t> data) override {
    std::lock_guard lock(mu_);
    hash_signals_.emplace_back("data");
    hash_data_.insert(hash_data_.end(), data.begin(), data.end());
    return Status::Ok();
  }
  Status HashEnd() override {
    std::lock_guard lock(mu_);
    hash_signals_.emplace_back("end");
    return Status::Ok();
  }
  Status Flush() override {
    std::lock_guard lock(mu_);
    ++flush_calls_;
    return Status::Ok();
  }

  std::vector<Bytes> commands() {
    std::lock_guard lock(mu_);
    return commands_;
  }
  std::vector<uint8_t> localities() {
    std::lock_guard lock(mu_);
    return localities_;
  }
  // The hash indications in order ("start", "data", "end"), and all the data they carried.
  std::vector<std::string> hash_signals() {
    std::lock_guard lock(mu_);
    return hash_signals_;
  }
  Bytes hash_data() {
    std::lock_guard lock(mu_);
    return hash_data_;
  }
  int power_on_calls() {
    std::lock_guard lock(mu_);
    return power_on_calls_;
  }
  int reset_calls() {
    std::lock_guard lock(mu_);
    return reset_calls_;
  }
  int flush_calls() {
    std::lock_guard lock(mu_);
    return flush_calls_;
  }
  bool nv_on() {
    std::lock_guard lock(mu_);
    return nv_on_;
  }
  bool pp_on() {
    std::lock_guard lock(mu_);
    return pp_on_;
  }
  bool cancel_on() const { return cancel_on_; }
  void set_powered(bool on) {
    std::lock_guard lock(mu_);
    powered_ = on;
  }
  void set_volatile_blob(Bytes blob) {
    std::lock_guard lock(mu_);
    volatile_blob_ = std::move(blob);
  }
  Bytes volatile_blob() {
    std::lock_guard lock(mu_);
    return volatile_blob_;
  }

 private:
  std::mutex mu_;
  std::vector<Bytes> commands_;
  std::vector<uint8_t> localities_;
  std::vector<std::string> hash_signals_;
  Bytes hash_data_;
  int power_on_calls_ = 0;
  int reset_calls_ = 0;
  int flush_calls_ = 0;
  bool powered_ = true;
  bool nv_on_ = false;
  bool pp_on_ = false;
  std::atomic<bool> cancel_on_ = false;
  Bytes volatile_blob_;
};

}  // namespace tpm2emu::testing
