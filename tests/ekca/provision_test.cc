#include "ekca/provision.h"

#include <memory>

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include "engine/base/endian.h"
#include "engine/host.h"
#include "engine/tpm_api.h"
#include "engine/wire/constants.h"
#include "engine/wire/nv_types.h"
#include "engine/wire/reader.h"
#include "frontends/backend/engine_backend.h"
#include "nvstore/store.h"
#include "tests/ekca/ossl_test_util.h"

namespace tpm2emu::ekca {
namespace {

using testing::ParseDer;
using testing::TempDir;

// A started TPM in memory behind an EngineBackend.
class ProvisionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = nvstore::NewMemoryStore();
    auto tpm = engine::CreateTpm(*store_, clock_, entropy_);
    ASSERT_TRUE(tpm.ok()) << tpm.error().message();
    backend_ = std::make_unique<backend::EngineBackend>(std::move(*tpm));
    ASSERT_TRUE(backend_->PowerOn().ok());
    ASSERT_TRUE(StartupClear(*backend_).ok());
    auto ca = LocalCa::Open(dir_.path());
    ASSERT_TRUE(ca.ok()) << ca.error().message();
    ca_ = std::make_unique<LocalCa>(std::move(*ca));
  }

  // Sends a command without sessions; the response code and the bytes after the header.
  std::pair<uint32_t, Bytes> Send(uint32_t code, const Bytes& body) {
    wire::Writer w;
    w.U16(TpmSt::NoSessions);
    w.U32(static_cast<uint32_t>(10 + body.size()));
    w.U32(code);
    w.Raw(body);
    Bytes rsp = backend_->Execute(w.bytes(), 0);
    EXPECT_GE(rsp.size(), 10u);
    return {LoadBe32(&rsp[6]), Bytes(rsp.begin() + 10, rsp.end())};
  }

  // TPM2_NV_ReadPublic: attributes and size.
  std::pair<uint32_t, uint16_t> NvPublic(uint32_t index) {
    Bytes body(4);
    StoreBe32(body.data(), index);
    auto [rc, rsp] = Send(TpmCc::NvReadPublic, body);
    EXPECT_EQ(rc, 0u);
    // u16 size, u32 index, u16 nameAlg, u32 attributes, u16 policy size (0), u16 dataSize
    return {LoadBe32(&rsp[8]), LoadBe16(&rsp[14])};
  }

  // Reads the whole index with TPM2_NV_Read under the owner hierarchy (OWNERREAD).
  Bytes NvReadAll(uint32_t index, uint16_t size) {
    Bytes out;
    while (out.size() < size) {
      uint16_t n = static_cast<uint16_t>(std::min<size_t>(512, size - out.size()));
      wire::Writer w;
      w.U16(TpmSt::Sessions);
      size_t mark = w.BeginSize32();
      w.U32(TpmCc::NvRead);
      w.U32(TpmRh::Owner);
      w.U32(index);
      w.U32(9);
      w.U32(TpmRh::Pw);
      w.U16(0);
      w.U8(0);
      w.U16(0);
      w.U16(n);
      w.U16(static_cast<uint16_t>(out.size()));
      w.EndSize32(mark);
      Bytes cmd = w.bytes();
      StoreBe32(&cmd[2], static_cast<uint32_t>(cmd.size()));
      Bytes rsp = backend_->Execute(cmd, 0);
      EXPECT_EQ(LoadBe32(&rsp[6]), 0u);
      if (LoadBe32(&rsp[6]) != 0) {
        return out;
      }
      // parameterSize, TPM2B_MAX_NV_BUFFER
      uint16_t got = LoadBe16(&rsp[14]);
      out.insert(out.end(), rsp.begin() + 16, rsp.begin() + 16 + got);
    }
    return out;
  }

  std::unique_ptr<nvstore::Store> store_;
  engine::ManualClock clock_;
  engine::FixedEntropy entropy_{3};
  std::unique_ptr<backend::EngineBackend> backend_;
  TempDir dir_;
  std::unique_ptr<LocalCa> ca_;
};

TEST_F(ProvisionTest, WritesCertificatesOfTheDefaultEks) {
  auto done = ProvisionEkCertificates(*backend_, *ca_, /*force=*/false);
  ASSERT_TRUE(done.ok()) << done.error().message();
  ASSERT_EQ(done->size(), 2u);
  EXPECT_EQ((*done)[0].nv_index, kRsaEkCertIndex);
  EXPECT_EQ((*done)[1].nv_index, kEccEkCertIndex);
  auto ca_cert = ParseDer(ca_->certificate_der());
  for (const ProvisionedEk& ek : *done) {
    SCOPED_TRACE(ek.key_type);
    EXPECT_FALSE(ek.replaced);
    auto [attributes, size] = NvPublic(ek.nv_index);
    EXPECT_EQ(attributes, EkCertNvAttributes() | wire::TpmaNv::Written);
    EXPECT_EQ(size, ek.certificate.size());
    Bytes stored = NvReadAll(ek.nv_index, size);
    EXPECT_EQ(stored, ek.certificate);
    auto cert = ParseDer(stored);
    ASSERT_TRUE(cert);
    EXPECT_EQ(testing::VerifyAgainst(ca_cert.get(), cert.get()), X509_V_OK);
  }
  // The EKs come from the templates: the same key each time, so the certificates fit them.
  EXPECT_EQ((*done)[0].ek.attributes, 0x000300B2u);
  EXPECT_EQ(std::get<wire::RsaDetail>((*done)[0].ek.detail).unique.size(), 256u);
  EXPECT_EQ(std::get<wire::EccDetail>((*done)[1].ek.detail).x.size(), 32u);
}

TEST_F(ProvisionTest, ExistingIndexNeedsForce) {
  auto first = ProvisionEkCertificates(*backend_, *ca_, false);
  ASSERT_TRUE(first.ok()) << first.error().message();
  auto refused = ProvisionEkCertificates(*backend_, *ca_, false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message().find("0x01C00002"), std::string::npos);
  EXPECT_NE(refused.error().message().find("--force"), std::string::npos);

  auto forced = ProvisionEkCertificates(*backend_, *ca_, true);
  ASSERT_TRUE(forced.ok()) << forced.error().message();
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE((*forced)[i].replaced);
    EXPECT_EQ((*forced)[i].ek, (*first)[i].ek);  // same EK, new certificate
    EXPECT_NE((*forced)[i].certificate, (*first)[i].certificate);
    auto [attributes, size] = NvPublic((*forced)[i].nv_index);
    EXPECT_EQ(NvReadAll((*forced)[i].nv_index, size), (*forced)[i].certificate);
  }
}

TEST_F(ProvisionTest, IdentityComesFromTheTpmProperties) {
  auto id = ReadTpmIdentity(*backend_);
  ASSERT_TRUE(id.ok()) << id.error().message();
  engine::Profile profile;
  EXPECT_EQ(id->manufacturer,
            LoadBe32(reinterpret_cast<const uint8_t*>(profile.manufacturer.data())));
  EXPECT_EQ(id->model, profile.vendor);
  EXPECT_EQ(id->firmware_version, profile.firmware_version_1);
  EXPECT_GT(id->spec_revision, 100u);
}

TEST_F(ProvisionTest, ShutdownClearAfterStartup) {
  EXPECT_TRUE(ShutdownClear(*backend_).ok());
}

}  // namespace
}  // namespace tpm2emu::ekca
