#pragma once
// Helpers for engine tests: a Tpm over a memory store with a manual clock and fixed entropy,
// a command builder, and EXPECT_RC which prints decoded response-code names.

#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/base/endian.h"
#include "engine/base/tpm_rc.h"
#include "engine/tpm_api.h"
#include "engine/wire/constants.h"
#include "engine/wire/reader.h"
#include "nvstore/store.h"

namespace tpm2emu::engine::test {

// Builds a command: handles, an optional password session per auth handle, parameters.
class Command {
 public:
  explicit Command(uint32_t code) : code_(code) {}
  Command& Handle(uint32_t h) {
    handles_.push_back(h);
    return *this;
  }
  // Adds a password session (TPM_RS_PW) carrying `password`.
  Command& Password(std::string_view password = "") {
    passwords_.emplace_back(password);
    return *this;
  }
  Command& U8(uint8_t v) {
    params_.push_back(v);
    return *this;
  }
  Command& U16(uint16_t v) {
    AppendBe16(params_, v);
    return *this;
  }
  Command& U32(uint32_t v) {
    AppendBe32(params_, v);
    return *this;
  }
  Command& U64(uint64_t v) {
    AppendBe64(params_, v);
    return *this;
  }
  Command& Raw(ByteSpan b) {
    params_.insert(params_.end(), b.begin(), b.end());
    return *this;
  }
  Command& Sized(ByteSpan b) {  // a TPM2B
    U16(static_cast<uint16_t>(b.size()));
    return Raw(b);
  }
  Command& Sized(std::string_view s) { return Sized(ToBytes(s)); }
  Bytes Build() const {
    Bytes out;
    AppendBe16(out, passwords_.empty() ? TpmSt::NoSessions : TpmSt::Sessions);
    AppendBe32(out, 0);
    AppendBe32(out, code_);
    for (uint32_t h : handles_) {
      AppendBe32(out, h);
    }
    if (!passwords_.empty()) {
      Bytes area;
      for (const auto& p : passwords_) {
        AppendBe32(area, TpmRh::Pw);
        AppendBe16(area, 0);
        area.push_back(0x01);  // continueSession
        AppendBe16(area, static_cast<uint16_t>(p.size()));
        area.insert(area.end(), p.begin(), p.end());
      }
      AppendBe32(out, static_cast<uint32_t>(area.size()));
      out.insert(out.end(), area.begin(), area.end());
    }
    out.insert(out.end(), params_.begin(), params_.end());
    StoreBe32(&out[2], static_cast<uint32_t>(out.size()));
    return out;
  }

 private:
  uint32_t code_;
  std::vector<uint32_t> handles_;
  std::vector<std::string> passwords_;
  Bytes params_;
};

// A command whose sessions are given explicitly: each a session handle and its hmac field (a
// password for TPM_RS_PW), with nonce and continueSession as a password session has them.
struct Auth {
  uint32_t handle = TpmRh::Pw;
  std::string hmac{};
};
inline Bytes WithSessions(uint32_t code, const std::vector<uint32_t>& handles,
                          const std::vector<Auth>& auths, ByteSpan params) {
  Bytes out;
  AppendBe16(out, TpmSt::Sessions);
  AppendBe32(out, 0);
  AppendBe32(out, code);
  for (uint32_t h : handles) {
    AppendBe32(out, h);
  }
  Bytes area;
  for (const Auth& a : auths) {
    AppendBe32(area, a.handle);
    AppendBe16(area, 0);
    area.push_back(0x01);  // continueSession
    AppendBe16(area, static_cast<uint16_t>(a.hmac.size()));
    area.insert(area.end(), a.hmac.begin(), a.hmac.end());
  }
  AppendBe32(out, static_cast<uint32_t>(area.size()));
  out.insert(out.end(), area.begin(), area.end());
  out.insert(out.end(), params.begin(), params.end());
  StoreBe32(&out[2], static_cast<uint32_t>(out.size()));
  return out;
}

inline uint32_t ResponseCode(const Bytes& rsp) {
  return rsp.size() >= 10 ? LoadBe32(rsp.data() + 6) : 0xFFFFFFFF;
}

// The response parameters (after the header, any handle, and the parameterSize field).
inline wire::Reader Params(const Bytes& rsp, size_t response_handles = 0) {
  wire::Reader r(rsp);
  (void)r.Take(10 + 4 * response_handles);
  if (LoadBe16(rsp.data()) == TpmSt::Sessions) {
    uint32_t size = 0;
    (void)r.U32(size);
    auto sub = r.Sub(size);
    return sub.ok() ? *sub : wire::Reader();
  }
  return r;
}

struct RcMatcher {
  uint32_t got;
  uint32_t want;
};

inline ::testing::AssertionResult RcEquals(const char* got_expr, const char* /*want_expr*/,
                                           uint32_t got, uint32_t want) {
  if (got == want) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << got_expr << " is " << RcName(got) << ", expected "
                                       << RcName(want);
}

#define EXPECT_RC(rsp, rc) \
  EXPECT_PRED_FORMAT2(::tpm2emu::engine::test::RcEquals, ::tpm2emu::engine::test::ResponseCode(rsp), (rc).value())
#define EXPECT_SUCCESS(rsp) \
  EXPECT_PRED_FORMAT2(::tpm2emu::engine::test::RcEquals, ::tpm2emu::engine::test::ResponseCode(rsp), 0u)
#define ASSERT_SUCCESS(rsp) \
  ASSERT_PRED_FORMAT2(::tpm2emu::engine::test::RcEquals, ::tpm2emu::engine::test::ResponseCode(rsp), 0u)

// A TPM over a memory store; Restart() makes a new instance over the same store (a process
// restart of the daemon).
class TestTpm {
 public:
  explicit TestTpm(bool start = true) : store_(nvstore::NewMemoryStore()) {
    Create();
    if (start) {
      Startup();
    }
  }
  void Create() {
    tpm_.reset();
    auto t = CreateTpm(*store_, clock_, entropy_);
    if (!t.ok()) {
      ADD_FAILURE() << "CreateTpm: " << t.error().message();
      return;
    }
    tpm_ = std::move(t).value();
    tpm_->PowerOn();
  }
  Bytes Run(const Command& c, uint8_t locality = 0) { return Run(c.Build(), locality); }
  Bytes Run(const Bytes& c, uint8_t locality = 0) { return tpm_->Execute(c, locality); }
  void Startup(uint16_t type = TpmSu::Clear) {
    auto rsp = Run(Command(TpmCc::Startup).U16(type));
    ASSERT_SUCCESS(rsp);
  }
  TpmInstance& tpm() { return *tpm_; }
  ManualClock& clock() { return clock_; }
  nvstore::Store& store() { return *store_; }

 private:
  std::unique_ptr<nvstore::Store> store_;
  ManualClock clock_;
  FixedEntropy entropy_{7};
  std::unique_ptr<TpmInstance> tpm_;
};

// TPM2_PCR_Read of one PCR in one bank: its value (empty when the bank does not return it);
// pcrUpdateCounter goes to *counter when given.
inline Bytes ReadPcr(TestTpm& t, uint16_t alg, uint32_t pcr, uint32_t* counter = nullptr) {
  Bytes select(3);
  select[pcr / 8] = static_cast<uint8_t>(1u << (pcr % 8));
  Bytes rsp = t.Run(Command(TpmCc::PcrRead).U32(1).U16(alg).U8(3).Raw(select));
  EXPECT_SUCCESS(rsp);
  auto r = Params(rsp);
  uint32_t c = 0, nsel = 0, ndig = 0;
  EXPECT_TRUE(r.U32(c).ok());
  if (counter != nullptr) {
    *counter = c;
  }
  EXPECT_TRUE(r.U32(nsel).ok());
  (void)r.Take(nsel * 6);
  EXPECT_TRUE(r.U32(ndig).ok());
  if (ndig != 1) {
    return {};
  }
  uint16_t n = 0;
  EXPECT_TRUE(r.U16(n).ok());
  auto d = r.Take(n);
  return d.ok() ? ToBytes(*d) : Bytes{};
}

// TPM2_ReadClock's answer.
struct ClockInfo {
  uint64_t time = 0, clock = 0;
  uint32_t reset_count = 0, restart_count = 0;
  uint8_t safe = 0;
};

inline ClockInfo ReadClock(TestTpm& t) {
  Bytes rsp = t.Run(Command(TpmCc::ReadClock));
  EXPECT_SUCCESS(rsp);
  auto r = Params(rsp);
  ClockInfo c;
  EXPECT_TRUE(r.U64(c.time).ok() && r.U64(c.clock).ok() && r.U32(c.reset_count).ok() &&
              r.U32(c.restart_count).ok() && r.U8(c.safe).ok());
  return c;
}

}  // namespace tpm2emu::engine::test
