#include "frontends/backend/serialized_backend.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/frontends/fake_backend.h"

namespace tpm2emu::backend {
namespace {

TEST(SerializedBackendTest, ForwardsEveryCall) {
  testing::FakeBackend fake;
  SerializedBackend backend(fake);
  Bytes command = {0x80, 0x01, 0, 0, 0, 10, 0, 0, 1, 0x7B};
  EXPECT_EQ(backend.Execute(command, 2), testing::FakeBackend::ResponseFor(command, 2));
  EXPECT_TRUE(backend.PowerOff().ok());
  EXPECT_FALSE(backend.IsPoweredOn());
  EXPECT_TRUE(backend.PowerOn().ok());
  EXPECT_TRUE(backend.IsPoweredOn());
  EXPECT_TRUE(backend.Reset().ok());
  EXPECT_EQ(fake.reset_calls(), 1);
  EXPECT_TRUE(backend.SetNvAvailable(true).ok());
  EXPECT_TRUE(fake.nv_on());
  EXPECT_TRUE(backend.SetPhysicalPresence(true).ok());
  EXPECT_TRUE(fake.pp_on());
  backend.SetCancel(true);
  EXPECT_TRUE(fake.cancel_on());
  EXPECT_TRUE(backend.RestoreState(StateBlob::kVolatile, Bytes{1, 2, 3}).ok());
  auto saved = backend.SaveState(StateBlob::kVolatile);
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ(*saved, (Bytes{1, 2, 3}));
  EXPECT_FALSE(backend.SaveState(StateBlob::kPermanent).ok());
  EXPECT_TRUE(backend.Flush().ok());
  EXPECT_EQ(fake.flush_calls(), 1);
}

TEST(SerializedBackendTest, ConcurrentCallersAllGetAnswers) {
  auto owned = std::make_unique<testing::FakeBackend>();
  testing::FakeBackend* fake = owned.get();
  SerializedBackend backend(std::move(owned));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&backend, t] {
      for (int i = 0; i < 200; ++i) {
        Bytes command = {static_cast<uint8_t>(t), static_cast<uint8_t>(i)};
        EXPECT_EQ(backend.Execute(command, 0), testing::FakeBackend::ResponseFor(command, 0));
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(fake->commands().size(), 800u);
}

}  // namespace
}  // namespace tpm2emu::backend
