// Random and mutated command frames into TpmInstance::Execute. Every answer must be a
// well-formed response (Part 1 §18 command/response structure): at least a header, the size field
// equal to the length, a response tag the TPM may send, an error response that is a bare header,
// and never failure mode. The seed is fixed, so a failure reproduces; set
// TPM2EMU_FUZZ_ITERATIONS / TPM2EMU_FUZZ_SEED to explore further.

#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/base/bytes.h"
#include "engine/host.h"
#include "engine/tpm_api.h"
#include "engine/wire/constants.h"
#include "nvstore/store.h"

namespace tpm2emu::engine {
namespace {

constexpr uint32_t kRsPw = 0x40000009;  // TPM_RS_PW
constexpr uint32_t kRcSuccess = 0x000;
constexpr uint32_t kRcFailure = 0x101;
constexpr uint32_t kRcInitialize = 0x100;
constexpr uint32_t kRcCommandCode = 0x143;
constexpr uint32_t kFirstTransient = 0x80000000;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    return fallback;
  }
  return std::strtoull(v, nullptr, 0);
}

std::string Hex(std::span<const uint8_t> b, size_t max = 96) {
  std::ostringstream o;
  for (size_t i = 0; i < b.size() && i < max; ++i) {
    o << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(b[i]);
  }
  if (b.size() > max) {
    o << "...(" << std::dec << b.size() << " bytes)";
  }
  return o.str();
}

uint16_t Get16(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint16_t>((b[at] << 8) | b[at + 1]);
}

uint32_t Get32(std::span<const uint8_t> b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) |
         uint32_t{b[at + 3]};
}

void Put32(Bytes& b, size_t at, uint32_t v) {
  b[at] = static_cast<uint8_t>(v >> 24);
  b[at + 1] = static_cast<uint8_t>(v >> 16);
  b[at + 2] = static_cast<uint8_t>(v >> 8);
  b[at + 3] = static_cast<uint8_t>(v);
}

// Builds a command frame field by field; Finish() fills in the size.
class Frame {
 public:
  Frame(uint16_t tag, uint32_t cc) {
    U16(tag);
    U32(0);
    U32(cc);
  }
  Frame& U8(uint8_t v) {
    b_.push_back(v);
    return *this;
  }
  Frame& U16(uint16_t v) {
    b_.push_back(static_cast<uint8_t>(v >> 8));
    b_.push_back(static_cast<uint8_t>(v));
    return *this;
  }
  Frame& U32(uint32_t v) {
    U16(static_cast<uint16_t>(v >> 16));
    return U16(static_cast<uint16_t>(v));
  }
  Frame& Raw(std::span<const uint8_t> d) {
    b_.insert(b_.end(), d.begin(), d.end());
    return *this;
  }
  Frame& Sized(std::span<const uint8_t> d) {  // TPM2B
    U16(static_cast<uint16_t>(d.size()));
    return Raw(d);
  }
  // One password session (TPMS_AUTH_COMMAND for TPM_RS_PW) with the given password.
  Frame& PasswordSession(std::span<const uint8_t> password = {}) {
    U32(static_cast<uint32_t>(4 + 2 + 1 + 2 + password.size()));
    U32(kRsPw);
    U16(0);  // nonce
    U8(1);   // continueSession
    return Sized(password);
  }
  Bytes Finish() {
    Put32(b_, 2, static_cast<uint32_t>(b_.size()));
    return b_;
  }

 private:
  Bytes b_;
};

Bytes Pattern(size_t n, uint8_t start) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) {
    b[i] = static_cast<uint8_t>(start + i * 7);
  }
  return b;
}

// Valid frames of the commands the engine implements: the starting points of mutation.
std::vector<Bytes> SeedFrames() {
  std::vector<Bytes> seeds;
  auto no = TpmSt::NoSessions;
  auto with = TpmSt::Sessions;
  seeds.push_back(Frame(no, TpmCc::Startup).U16(TpmSu::Clear).Finish());
  seeds.push_back(Frame(no, TpmCc::Startup).U16(TpmSu::State).Finish());
  seeds.push_back(Frame(no, TpmCc::Shutdown).U16(TpmSu::State).Finish());
  seeds.push_back(Frame(no, TpmCc::GetRandom).U16(8).Finish());
  seeds.push_back(Frame(no, TpmCc::GetRandom).U16(64).Finish());
  seeds.push_back(Frame(no, TpmCc::StirRandom).Sized(Pattern(16, 1)).Finish());
  seeds.push_back(Frame(no, TpmCc::SelfTest).U8(1).Finish());
  seeds.push_back(Frame(no, 0x17C /* GetTestResult */).Finish());
  seeds.push_back(Frame(no, 0x181 /* ReadClock */).Finish());
  // PCR_Extend(16, sha1 + sha256)
  seeds.push_back(Frame(with, TpmCc::PcrExtend)
                      .U32(16)
                      .PasswordSession()
                      .U32(2)
                      .U16(TpmAlg::Sha1)
                      .Raw(Pattern(20, 3))
                      .U16(TpmAlg::Sha256)
                      .Raw(Pattern(32, 5))
                      .Finish());
  seeds.push_back(Frame(with, TpmCc::PcrReset).U32(16).PasswordSession().Finish());
  seeds.push_back(
      Frame(with, TpmCc::PcrEvent).U32(16).PasswordSession().Sized(Pattern(40, 9)).Finish());
  // PCR_Read(sha256: 0, 16, 23)
  seeds.push_back(Frame(no, 0x17E /* PCR_Read */)
                      .U32(1)
                      .U16(TpmAlg::Sha256)
                      .U8(3)
                      .U8(0x01)
                      .U8(0x00)
                      .U8(0x81)
                      .Finish());
  // GetCapability: properties, algorithms, commands, PCRs, handles.
  seeds.push_back(Frame(no, 0x17A).U32(6).U32(0x100).U32(64).Finish());
  seeds.push_back(Frame(no, 0x17A).U32(6).U32(0x200).U32(64).Finish());
  seeds.push_back(Frame(no, 0x17A).U32(0).U32(0).U32(64).Finish());
  seeds.push_back(Frame(no, 0x17A).U32(2).U32(0x11F).U32(256).Finish());
  seeds.push_back(Frame(no, 0x17A).U32(5).U32(0).U32(1).Finish());
  seeds.push_back(Frame(no, 0x17A).U32(1).U32(kFirstTransient).U32(16).Finish());
  seeds.push_back(Frame(no, 0x17A).U32(8).U32(0).U32(16).Finish());  // ECC curves
  // Hash(data, sha256, owner) and with the NULL hierarchy.
  seeds.push_back(
      Frame(no, TpmCc::Hash).Sized(Pattern(100, 11)).U16(TpmAlg::Sha256).U32(0x40000001).Finish());
  seeds.push_back(
      Frame(no, TpmCc::Hash).Sized(Pattern(1024, 13)).U16(TpmAlg::Sha1).U32(0x40000007).Finish());
  // A hash sequence and an event sequence.
  seeds.push_back(Frame(no, TpmCc::HashSequenceStart).Sized({}).U16(TpmAlg::Sha256).Finish());
  seeds.push_back(Frame(no, TpmCc::HashSequenceStart).Sized({}).U16(TpmAlg::Null).Finish());
  seeds.push_back(Frame(with, TpmCc::SequenceUpdate)
                      .U32(kFirstTransient)
                      .PasswordSession()
                      .Sized(Pattern(500, 17))
                      .Finish());
  seeds.push_back(Frame(with, TpmCc::SequenceComplete)
                      .U32(kFirstTransient)
                      .PasswordSession()
                      .Sized(Pattern(10, 19))
                      .U32(0x40000001)
                      .Finish());
  seeds.push_back(Frame(with, 0x185 /* EventSequenceComplete */)
                      .U32(16)
                      .U32(kFirstTransient + 1)
                      .PasswordSession()
                      .PasswordSession()
                      .Sized(Pattern(10, 23))
                      .Finish());
  seeds.push_back(Frame(no, TpmCc::FlushContext).U32(kFirstTransient).Finish());
  // TestParms(ECC P-256 ECDSA), HierarchyChangeAuth(owner), ClockSet(owner).
  seeds.push_back(Frame(no, 0x18A /* TestParms */)
                      .U16(0x0023)  // TPM_ALG_ECC
                      .U16(0x0010)  // symmetric: TPM_ALG_NULL
                      .U16(0x0018)  // scheme: ECDSA
                      .U16(TpmAlg::Sha256)
                      .U16(0x0003)  // TPM_ECC_NIST_P256
                      .U16(0x0010)  // kdf: TPM_ALG_NULL
                      .Finish());
  seeds.push_back(Frame(with, TpmCc::HierarchyChangeAuth)
                      .U32(0x40000001)
                      .PasswordSession()
                      .Sized(Pattern(8, 29))
                      .Finish());
  seeds.push_back(Frame(with, TpmCc::ClockSet)
                      .U32(0x40000001)
                      .PasswordSession()
                      .U32(0)
                      .U32(0x7FFFFFFF)
                      .Finish());
  // Sessions, objects and NV: StartAuthSession (unbound, unsalted HMAC), an ECC P-256 signing
  // primary, ReadPublic/ContextSave of the first transient, an NV index written and read.
  seeds.push_back(Frame(no, TpmCc::StartAuthSession)
                      .U32(0x40000007)  // tpmKey: TPM_RH_NULL
                      .U32(0x40000007)  // bind: TPM_RH_NULL
                      .Sized(Pattern(16, 31))
                      .Sized({})
                      .U8(0x00)  // TPM_SE_HMAC
                      .U16(TpmAlg::Null)
                      .U16(TpmAlg::Sha256)
                      .Finish());
  Bytes ecc_template =
      Frame(0, 0)       // header bytes dropped below
          .U16(0x0023)  // TPM_ALG_ECC
          .U16(TpmAlg::Sha256)
          .U32(0x00040072)  // fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|sign
          .Sized({})
          .U16(TpmAlg::Null)  // symmetric
          .U16(0x0018)        // ECDSA
          .U16(TpmAlg::Sha256)
          .U16(0x0003)  // NIST P-256
          .U16(TpmAlg::Null)
          .U16(0)
          .U16(0)
          .Finish();
  ecc_template.erase(ecc_template.begin(), ecc_template.begin() + 10);
  seeds.push_back(Frame(with, TpmCc::CreatePrimary)
                      .U32(0x40000001)
                      .PasswordSession()
                      .U16(4)
                      .U16(0)
                      .U16(0)  // inSensitive: empty auth and data
                      .Sized(ecc_template)
                      .Sized({})
                      .U32(0)
                      .Finish());
  seeds.push_back(Frame(no, 0x173 /* ReadPublic */).U32(kFirstTransient).Finish());
  seeds.push_back(Frame(no, TpmCc::ContextSave).U32(kFirstTransient).Finish());
  constexpr uint32_t kNvIndex = 0x01500000;
  seeds.push_back(Frame(with, TpmCc::NvDefineSpace)
                      .U32(0x40000001)
                      .PasswordSession()
                      .Sized({})
                      .U16(14)
                      .U32(kNvIndex)
                      .U16(TpmAlg::Sha256)
                      .U32(0x02060006)  // OWNERWRITE|AUTHWRITE|OWNERREAD|AUTHREAD|NO_DA
                      .U16(0)
                      .U16(32)
                      .Finish());
  seeds.push_back(Frame(with, TpmCc::NvWrite)
                      .U32(kNvIndex)
                      .U32(kNvIndex)
                      .PasswordSession()
                      .Sized(Pattern(8, 37))
                      .U16(0)
                      .Finish());
  seeds.push_back(Frame(with, TpmCc::NvRead)
                      .U32(kNvIndex)
                      .U32(kNvIndex)
                      .PasswordSession()
                      .U16(8)
                      .U16(0)
                      .Finish());
  return seeds;
}

constexpr uint32_t kInteresting32[] = {0,          1,          0x7F,       0x80,       0xFF,
                                       0x100,      0x400,      0x1000,     0xFFFF,     0x10000,
                                       0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x40000001, 0x40000009,
                                       0x80000000, 0x81000000, 0x01000000, 0x8001,     0x8002};

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  size_t Below(size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng_);
  }
  uint8_t Byte() { return static_cast<uint8_t>(Below(256)); }
  bool Chance(unsigned percent) { return Below(100) < percent; }

  Bytes RandomFrame() {
    Bytes b(Below(64));
    for (auto& x : b) {
      x = Byte();
    }
    if (b.size() >= 10 && Chance(70)) {
      // A plausible header so the frame reaches the dispatcher.
      b[0] = 0x80;
      b[1] = Chance(50) ? 0x01 : 0x02;
      Put32(b, 2, static_cast<uint32_t>(b.size()));
      Put32(b, 6, 0x11F + static_cast<uint32_t>(Below(0x19A - 0x11F + 8)));
    }
    return b;
  }

  Bytes Mutate(const Bytes& seed, const std::vector<Bytes>& seeds) {
    Bytes b = seed;
    size_t rounds = 1 + Below(4);
    for (size_t r = 0; r < rounds; ++r) {
      switch (Below(10)) {
        case 0:  // flip a bit
          if (!b.empty()) {
            b[Below(b.size())] ^= static_cast<uint8_t>(1u << Below(8));
          }
          break;
        case 1:  // set a byte
          if (!b.empty()) {
            b[Below(b.size())] = Byte();
          }
          break;
        case 2:  // an interesting 32-bit value (a size, a handle, a tag)
          if (b.size() >= 4) {
            Put32(b, Below(b.size() - 3), kInteresting32[Below(std::size(kInteresting32))]);
          }
          break;
        case 3:  // an interesting 16-bit size
          if (b.size() >= 2) {
            size_t at = Below(b.size() - 1);
            uint16_t v = Chance(50) ? 0xFFFF : static_cast<uint16_t>(Below(2048));
            b[at] = static_cast<uint8_t>(v >> 8);
            b[at + 1] = static_cast<uint8_t>(v);
          }
          break;
        case 4:  // truncate
          b.resize(Below(b.size() + 1));
          break;
        case 5: {  // append junk
          size_t n = 1 + Below(Chance(10) ? 3000 : 32);
          for (size_t i = 0; i < n; ++i) {
            b.push_back(Byte());
          }
          break;
        }
        case 6: {  // insert or delete in the middle
          if (b.empty()) {
            break;
          }
          size_t at = Below(b.size());
          if (Chance(50)) {
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), 1 + Below(8), Byte());
          } else {
            b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                    b.begin() + static_cast<std::ptrdiff_t>(std::min(b.size(), at + 1 + Below(8))));
          }
          break;
        }
        case 7: {  // splice with another seed
          const Bytes& other = seeds[Below(seeds.size())];
          size_t cut = Below(b.size() + 1);
          size_t from = Below(other.size() + 1);
          b.resize(cut);
          b.insert(b.end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
          break;
        }
        case 8:  // another command code
          if (b.size() >= 10) {
            Put32(b, 6,
                  Chance(80) ? 0x11F + static_cast<uint32_t>(Below(0x19A - 0x11F + 8))
                             : static_cast<uint32_t>(rng_()));
          }
          break;
        default:  // another tag
          if (b.size() >= 2) {
            static constexpr uint16_t kTags[] = {0x8001, 0x8002, 0x00C1, 0x00C2,
                                                 0x8000, 0x0000, 0xFFFF, 0x8003};
            uint16_t t = kTags[Below(std::size(kTags))];
            b[0] = static_cast<uint8_t>(t >> 8);
            b[1] = static_cast<uint8_t>(t);
          }
          break;
      }
    }
    // Most of the time keep the header's size honest so the frame gets past the size check.
    if (b.size() >= 6 && Chance(75)) {
      Put32(b, 2, static_cast<uint32_t>(b.size()));
    }
    return b;
  }

 private:
  std::mt19937_64 rng_;
};

class ExecuteFuzzTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = nvstore::NewMemoryStore();
    ASSERT_NE(store_, nullptr);
    auto tpm = CreateTpm(*store_, clock_, entropy_);
    ASSERT_TRUE(tpm.ok()) << tpm.error().message();
    tpm_ = std::move(tpm).value();
    tpm_->PowerOn();
    tpm_->SetNvAvailable(true);
    Restart();
  }

  // _TPM_Init + Startup(CLEAR) must always work, whatever came before.
  void Restart() {
    tpm_->Reset();
    Bytes startup = Frame(TpmSt::NoSessions, TpmCc::Startup).U16(TpmSu::Clear).Finish();
    Bytes rsp = tpm_->Execute(startup, 0);
    ASSERT_GE(rsp.size(), 10u);
    ASSERT_EQ(Get32(rsp, 6), kRcSuccess) << "Startup(CLEAR) after _TPM_Init: " << Hex(rsp);
    Bytes random = tpm_->Execute(Frame(TpmSt::NoSessions, TpmCc::GetRandom).U16(8).Finish(), 0);
    ASSERT_EQ(random.size(), 20u) << "GetRandom(8) after Startup: " << Hex(random);
    ASSERT_EQ(Get32(random, 6), kRcSuccess) << "GetRandom(8) after Startup: " << Hex(random);
  }

  // Returns a description of what is wrong with `rsp` as the answer to `cmd`, or "".
  static std::string CheckResponse(std::span<const uint8_t> cmd, std::span<const uint8_t> rsp) {
    if (rsp.size() < 10) {
      return "response shorter than a header";
    }
    uint16_t tag = Get16(rsp, 0);
    uint32_t size = Get32(rsp, 2);
    uint32_t rc = Get32(rsp, 6);
    if (size != rsp.size()) {
      return "size field " + std::to_string(size) + " != length " + std::to_string(rsp.size());
    }
    if (tag != TpmSt::NoSessions && tag != TpmSt::Sessions && tag != TpmSt::RspCommand) {
      return "response tag " + std::to_string(tag);
    }
    if (rc == kRcFailure) {
      return "TPM_RC_FAILURE: the TPM went into failure mode";
    }
    if (rc != kRcSuccess && size != 10) {
      return "an error response must be a bare header";
    }
    if (rc == kRcSuccess && cmd.size() >= 2 && Get16(cmd, 0) != tag) {
      return "a success response must carry the command's tag";
    }
    return "";
  }

  void Run(const std::string& what, uint64_t seed, uint64_t iterations, bool mutate) {
    Mutator m(seed);
    std::vector<Bytes> seeds = SeedFrames();
    size_t failures = 0;
    size_t successes = 0;
    std::map<uint32_t, size_t> rc_counts;
    for (uint64_t i = 0; i < iterations && failures < 10; ++i) {
      if (i % 256 == 255) {
        Restart();
        if (HasFatalFailure()) {
          ADD_FAILURE() << what << ": the TPM did not come back after iteration " << i;
          return;
        }
      }
      Bytes cmd;
      if (!mutate || m.Chance(5)) {
        cmd = m.RandomFrame();
      } else if (m.Chance(15)) {
        cmd = seeds[m.Below(seeds.size())];  // keep a realistic state going
      } else {
        cmd = m.Mutate(seeds[m.Below(seeds.size())], seeds);
      }
      auto locality = static_cast<uint8_t>(m.Chance(90) ? 0 : m.Below(5));
      clock_.Advance(m.Below(50));
      Bytes rsp = tpm_->Execute(cmd, locality);
      std::string problem = CheckResponse(cmd, rsp);
      if (!problem.empty()) {
        ++failures;
        ADD_FAILURE() << what << " (seed " << seed << ", iteration " << i << ", locality "
                      << int{locality} << "): " << problem << "\n  command:  " << Hex(cmd, 4096)
                      << "\n  response: " << Hex(rsp);
      } else {
        if (Get32(rsp, 6) == kRcSuccess) {
          ++successes;
        }
        ++rc_counts[Get32(rsp, 6)];
      }
    }
    std::cout << what << ": " << iterations << " frames, response codes (count):";
    for (const auto& [rc, count] : rc_counts) {
      std::cout << " " << std::hex << rc << std::dec << " (" << count << ")";
    }
    std::cout << "\n";
    // Sanity: the run exercised the engine beyond the header checks.
    if (mutate) {
      EXPECT_GT(successes, iterations / 50) << what << ": too few commands succeeded";
    }
    Restart();
  }

  ManualClock clock_;
  FixedEntropy entropy_{42};
  std::unique_ptr<nvstore::Store> store_;
  std::unique_ptr<TpmInstance> tpm_;
};

TEST_F(ExecuteFuzzTest, SeedFramesAreWellFormedAndMostlySucceed) {
  auto seeds = SeedFrames();
  size_t ok = 0;
  for (const Bytes& cmd : seeds) {
    Bytes rsp = tpm_->Execute(cmd, 0);
    std::string problem = CheckResponse(cmd, rsp);
    EXPECT_EQ(problem, "") << "command " << Hex(cmd) << " answered " << Hex(rsp);
    if (rsp.size() >= 10 && Get32(rsp, 6) == kRcSuccess) {
      ++ok;
    } else if (rsp.size() >= 10 && Get32(rsp, 6) == kRcInitialize) {
      Restart();
    }
  }
  EXPECT_GT(ok, seeds.size() / 2) << "most seed frames should be valid commands";
}

TEST_F(ExecuteFuzzTest, MutatedFramesGetWellFormedResponses) {
  Run("mutated", EnvOr("TPM2EMU_FUZZ_SEED", 0x7e57ab1e), EnvOr("TPM2EMU_FUZZ_ITERATIONS", 4000),
      true);
}

TEST_F(ExecuteFuzzTest, RandomFramesGetWellFormedResponses) {
  Run("random", EnvOr("TPM2EMU_FUZZ_SEED", 0x7e57ab1e) + 1,
      EnvOr("TPM2EMU_FUZZ_ITERATIONS", 4000) / 4, false);
}

TEST_F(ExecuteFuzzTest, ExecuteBeforeStartupAnswersInitialize) {
  tpm_->Reset();
  for (const Bytes& cmd : SeedFrames()) {
    if (cmd.size() >= 10 && Get32(cmd, 6) == TpmCc::Startup) {
      continue;
    }
    Bytes rsp = tpm_->Execute(cmd, 0);
    EXPECT_EQ(CheckResponse(cmd, rsp), "") << Hex(cmd);
    // Part 3 §5.3 mode check 3 and §9.3.1; an unimplemented command fails the header checks
    // of §5.2 first.
    if (rsp.size() >= 10 && Get32(rsp, 6) != kRcCommandCode) {
      EXPECT_EQ(Get32(rsp, 6), kRcInitialize) << "before Startup: " << Hex(cmd);
    }
  }
  Restart();
}

}  // namespace
}  // namespace tpm2emu::engine
