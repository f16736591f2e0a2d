// Drives the built libtss2-tcti-tpm2emu.so the way tctildr and ESYS do: dlopen, Tss2_Tcti_Info,
// init twice, then the function pointers; and through tctildr + ESYS themselves.

#include <dlfcn.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include "engine/base/bytes.h"
#include "engine/base/endian.h"
#include "tests/frontends/tcti_calls.h"

#ifndef TCTI_PATH
#error "TCTI_PATH must name the built libtss2-tcti-tpm2emu.so"
#endif

namespace tpm2emu::tcti {
namespace {

using namespace tpm2emu::testing;  // NOLINT: the Tcti* call helpers

constexpr uint32_t kRcInitialize = 0x100;

Bytes StartupClear() {
  Bytes c;
  AppendBe16(c, 0x8001);
  AppendBe32(c, 12);
  AppendBe32(c, 0x00000144);
  AppendBe16(c, 0x0000);
  return c;
}

Bytes GetRandom(uint16_t n) {
  Bytes c;
  AppendBe16(c, 0x8001);
  AppendBe32(c, 12);
  AppendBe32(c, 0x0000017B);
  AppendBe16(c, n);
  return c;
}

uint32_t ResponseCode(const Bytes& r) {
  return r.size() >= 10 ? LoadBe32(r.data() + 6) : ~0u;
}

class Library {
 public:
  Library() {
    handle_ = ::dlopen(TCTI_PATH, RTLD_NOW | RTLD_LOCAL);
    if (handle_ != nullptr) {
      auto info_fn = reinterpret_cast<TSS2_TCTI_INFO_FUNC>(::dlsym(handle_, "Tss2_Tcti_Info"));
      info_ = info_fn != nullptr ? info_fn() : nullptr;
    }
  }
  ~Library() {
    if (handle_ != nullptr) {
      ::dlclose(handle_);
    }
  }
  void* handle() const { return handle_; }
  const TSS2_TCTI_INFO* info() const { return info_; }

 private:
  void* handle_ = nullptr;
  const TSS2_TCTI_INFO* info_ = nullptr;
};

// One initialized context in its own buffer.
class Context {
 public:
  Context(const TSS2_TCTI_INFO* info, const char* config) {
    size_t size = 0;
    rc_ = info->init(nullptr, &size, config);
    if (rc_ != TSS2_RC_SUCCESS) {
      return;
    }
    buffer_.assign(size, 0);
    rc_ = info->init(get(), &size, config);
  }
  ~Context() { Finalize(); }
  void Finalize() {
    if (rc_ == TSS2_RC_SUCCESS && !finalized_) {
      TctiFinalize(get());
      finalized_ = true;
    }
  }
  TSS2_RC init_rc() const { return rc_; }
  TSS2_TCTI_CONTEXT* get() { return reinterpret_cast<TSS2_TCTI_CONTEXT*>(buffer_.data()); }

  Bytes Run(const Bytes& command) {
    if (TctiTransmit(get(), command.size(), command.data()) != TSS2_RC_SUCCESS) {
      return {};
    }
    Bytes response(4096);
    size_t size = response.size();
    if (TctiReceive(get(), &size, response.data(), TSS2_TCTI_TIMEOUT_BLOCK) != TSS2_RC_SUCCESS) {
      return {};
    }
    response.resize(size);
    return response;
  }

 private:
  std::vector<uint8_t> buffer_;
  TSS2_RC rc_ = TSS2_TCTI_RC_GENERAL_FAILURE;
  bool finalized_ = false;
};

// For the exit-handler test: the context a client's atexit handler finalizes.
Context* g_exit_context = nullptr;
void FinalizeAtExit() {
  if (g_exit_context != nullptr) {
    g_exit_context->Finalize();
  }
}

class TctiLibraryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(lib_.handle(), nullptr) << ::dlerror();
    ASSERT_NE(lib_.info(), nullptr);
    char tmpl[] = "/tmp/tpm2emu-tcti-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Library lib_;
  std::string dir_;
};

TEST_F(TctiLibraryTest, InfoDescribesVersionTwoTcti) {
  EXPECT_EQ(lib_.info()->version, 2u);
  EXPECT_STREQ(lib_.info()->name, "tcti-tpm2emu");
  EXPECT_NE(lib_.info()->init, nullptr);
  EXPECT_NE(lib_.info()->description, nullptr);
  EXPECT_NE(lib_.info()->config_help, nullptr);
  // Only Tss2_Tcti_Info is exported; our C++ symbols stay inside.
  EXPECT_EQ(::dlsym(lib_.handle(), "_ZN7tpm2emu4tcti11ContextSizeEv"), nullptr);
}

TEST_F(TctiLibraryTest, InMemoryGetRandom) {
  Context ctx(lib_.info(), nullptr);
  ASSERT_EQ(ctx.init_rc(), TSS2_RC_SUCCESS);
  EXPECT_EQ(ResponseCode(ctx.Run(StartupClear())), 0u);
  Bytes r = ctx.Run(GetRandom(8));
  ASSERT_EQ(r.size(), 20u);
  EXPECT_EQ(LoadBe16(r.data()), 0x8001);
  EXPECT_EQ(LoadBe32(r.data() + 2), 20u);
  EXPECT_EQ(ResponseCode(r), 0u);
  EXPECT_EQ(LoadBe16(r.data() + 10), 8u);
}

TEST_F(TctiLibraryTest, InMemoryContextsAreIndependent) {
  Context a(lib_.info(), "");
  Context b(lib_.info(), "");
  ASSERT_EQ(a.init_rc(), TSS2_RC_SUCCESS);
  ASSERT_EQ(b.init_rc(), TSS2_RC_SUCCESS);
  EXPECT_EQ(ResponseCode(a.Run(StartupClear())), 0u);
  EXPECT_EQ(ResponseCode(b.Run(StartupClear())), 0u);
  EXPECT_EQ(ResponseCode(a.Run(StartupClear())), kRcInitialize);
}

TEST_F(TctiLibraryTest, StateDirectoryKeepsTheTpmPoweredAcrossContexts) {
  std::string volatile_file = dir_ + "/tcti-volatile.bin";
  {
    Context first(lib_.info(), dir_.c_str());
    ASSERT_EQ(first.init_rc(), TSS2_RC_SUCCESS);
    EXPECT_EQ(ResponseCode(first.Run(StartupClear())), 0u);
  }
  EXPECT_TRUE(std::filesystem::exists(volatile_file));
  {
    Context second(lib_.info(), dir_.c_str());
    ASSERT_EQ(second.init_rc(), TSS2_RC_SUCCESS);
    // Resumed, not power-cycled: the TPM is already started.
    EXPECT_EQ(ResponseCode(second.Run(StartupClear())), kRcInitialize);
    EXPECT_EQ(ResponseCode(second.Run(GetRandom(4))), 0u);
    // Taken while in use, so a crash now would leave a power-cycled TPM, never a stale one.
    EXPECT_FALSE(std::filesystem::exists(volatile_file));
  }
  EXPECT_TRUE(std::filesystem::exists(volatile_file));
}

TEST_F(TctiLibraryTest, MissingSavedStateMeansPowerCycle) {
  {
    Context first(lib_.info(), dir_.c_str());
    ASSERT_EQ(first.init_rc(), TSS2_RC_SUCCESS);
    EXPECT_EQ(ResponseCode(first.Run(StartupClear())), 0u);
  }
  std::filesystem::remove(dir_ + "/tcti-volatile.bin");
  Context second(lib_.info(), dir_.c_str());
  ASSERT_EQ(second.init_rc(), TSS2_RC_SUCCESS);
  EXPECT_EQ(ResponseCode(second.Run(StartupClear())), 0u);
}

TEST_F(TctiLibraryTest, ContextsOnOneDirectoryTakeTurns) {
  auto first = std::make_unique<Context>(lib_.info(), dir_.c_str());
  ASSERT_EQ(first->init_rc(), TSS2_RC_SUCCESS);
  std::atomic<bool> second_ready = false;
  TSS2_RC second_rc = TSS2_TCTI_RC_GENERAL_FAILURE;
  std::thread waiter([&] {
    Context second(lib_.info(), dir_.c_str());
    second_rc = second.init_rc();
    second_ready = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(second_ready.load()) << "the second context must wait for the directory lock";
  first.reset();
  waiter.join();
  EXPECT_TRUE(second_ready.load());
  EXPECT_EQ(second_rc, TSS2_RC_SUCCESS);
}

TEST_F(TctiLibraryTest, UnusableStateDirectoryFailsInit) {
  std::string file = dir_ + "/plain-file";
  FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  size_t size = 0;
  ASSERT_EQ(lib_.info()->init(nullptr, &size, file.c_str()), TSS2_RC_SUCCESS);
  std::vector<uint8_t> buffer(size);
  EXPECT_NE(
      lib_.info()->init(reinterpret_cast<TSS2_TCTI_CONTEXT*>(buffer.data()), &size, file.c_str()),
      TSS2_RC_SUCCESS);
}

TEST_F(TctiLibraryTest, FinalizeFromAnExitHandlerIsSafe) {
  // tpm2-tools finalize the TCTI from an atexit handler registered before the TCTI (and OpenSSL)
  // were initialized, so it runs after OpenSSL's own cleanup handler. "threadsafe" runs the
  // child as a fresh process, where nothing initialized OpenSSL before.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const TSS2_TCTI_INFO* info = lib_.info();
  // The re-executed child has a fixture (and temp dir) of its own: hand it ours.
  const char* inherited = std::getenv("TPM2EMU_TCTI_EXIT_TEST_DIR");
  std::string dir = inherited != nullptr ? inherited : dir_;
  if (inherited != nullptr) {
    std::filesystem::remove_all(dir_);  // the child's own, unused (its TearDown never runs)
  }
  ::setenv("TPM2EMU_TCTI_EXIT_TEST_DIR", dir.c_str(), 1);
  EXPECT_EXIT(
      {
        std::atexit(FinalizeAtExit);
        g_exit_context = new Context(info, dir.c_str());
        std::exit(g_exit_context->init_rc() == TSS2_RC_SUCCESS &&
                          ResponseCode(g_exit_context->Run(StartupClear())) == 0
                      ? 0
                      : 3);
      },
      ::testing::ExitedWithCode(0), "");
  ::unsetenv("TPM2EMU_TCTI_EXIT_TEST_DIR");
  // The TPM was saved on the way out.
  EXPECT_TRUE(std::filesystem::exists(dir + "/tcti-volatile.bin"));
}

TEST_F(TctiLibraryTest, EsysThroughTctiLoader) {
  TSS2_TCTI_CONTEXT* tcti = nullptr;
  ASSERT_EQ(Tss2_TctiLdr_Initialize_Ex(TCTI_PATH, dir_.c_str(), &tcti), TSS2_RC_SUCCESS);
  ESYS_CONTEXT* esys = nullptr;
  ASSERT_EQ(Esys_Initialize(&esys, tcti, nullptr), TSS2_RC_SUCCESS);
  EXPECT_EQ(Esys_Startup(esys, TPM2_SU_CLEAR), TSS2_RC_SUCCESS);
  TPM2B_DIGEST* random = nullptr;
  ASSERT_EQ(Esys_GetRandom(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, 16, &random),
            TSS2_RC_SUCCESS);
  ASSERT_NE(random, nullptr);
  EXPECT_EQ(random->size, 16);
  Esys_Free(random);
  Esys_Finalize(&esys);
  Tss2_TctiLdr_Finalize(&tcti);
}

}  // namespace
}  // namespace tpm2emu::tcti
