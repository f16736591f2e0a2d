#include "ekca/provision.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "engine/base/endian.h"
#include "engine/base/tpm_rc.h"
#include "engine/wire/constants.h"
#include "engine/wire/nv_types.h"
#include "engine/wire/reader.h"

namespace tpm2emu::ekca {
namespace {

using wire::Reader;
using wire::Writer;

constexpr uint32_t kTpmPtNvBufferMax = TpmPt::NvBufferMax;
// Part 2 §6.6: format-one codes carry RC_FMT1 and the error number in bits 5:0.
constexpr uint32_t kTpmRcFmt1 = 0x080;
constexpr uint32_t kTpmRcHandleNumber = 0x00B;  // TPM_RC_HANDLE

// Part 2 §12.2.4: PolicySecret(TPM_RH_ENDORSEMENT) with SHA-256, the EK templates' authPolicy
// (EK Credential Profile §B.3.3).
constexpr uint8_t kEkPolicy[] = {0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC,
                                 0x8D, 0x46, 0xA5, 0xD7, 0x24, 0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52,
                                 0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA};

std::string Hex32(uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08X", v);
  return text;
}

// A command under construction: header, handles, an optional password session, parameters.
class Command {
 public:
  Command(uint32_t code, std::initializer_list<uint32_t> handles, bool password_session)
      : sessions_(password_session) {
    w_.U16(sessions_ ? TpmSt::Sessions : TpmSt::NoSessions);
    size_mark_ = w_.BeginSize32();
    w_.U32(code);
    for (uint32_t h : handles) {
      w_.U32(h);
    }
    if (sessions_) {
      // Part 1 §19.8.4 password session with an empty password.
      size_t auth = w_.BeginSize32();
      w_.U32(TpmRh::Pw);
      w_.U16(0);  // nonceCaller
      w_.U8(0);   // sessionAttributes
      w_.U16(0);  // hmac: the password
      w_.EndSize32(auth);
    }
  }
  Writer& params() { return w_; }

  // Sends it; the response's handles and parameters (parameterSize dropped), or kInternal.
  StatusOr<Bytes> Send(backend::Backend& tpm, const char* name, uint32_t* rc_out = nullptr) {
    w_.EndSize32(size_mark_);
    Bytes cmd = w_.bytes();
    // Our size field counted from after itself; the header's counts the whole command.
    StoreBe32(&cmd[2], static_cast<uint32_t>(cmd.size()));
    Bytes rsp = tpm.Execute(cmd, 0);
    if (rsp.size() < 10) {
      return Status(StatusCode::kInternal, std::string(name) + ": short response");
    }
    uint32_t rc = LoadBe32(&rsp[6]);
    if (rc_out != nullptr) {
      *rc_out = rc;
    }
    if (rc != 0) {
      return Status(StatusCode::kInternal,
                    std::string(name) + " failed: " + RcName(rc) + " (" + Hex32(rc) + ")");
    }
    return Bytes(rsp.begin() + 10, rsp.end());
  }

 private:
  bool sessions_;
  Writer w_;
  size_t size_mark_ = 0;
};

Status Malformed(const char* what) {
  return Status(StatusCode::kInternal, std::string(what) + ": malformed response");
}

// GetCapability(TPM_PROPERTIES) for properties [first, first + count).
StatusOr<std::vector<std::pair<uint32_t, uint32_t>>> Properties(backend::Backend& tpm,
                                                                uint32_t first, uint32_t count) {
  Command cmd(TpmCc::GetCapability, {}, false);
  cmd.params().U32(TpmCap::TpmProperties);
  cmd.params().U32(first);
  cmd.params().U32(count);
  TRY_ASSIGN(auto rsp, cmd.Send(tpm, "TPM2_GetCapability"));
  Reader r(rsp);
  uint8_t more = 0;
  uint32_t cap = 0;
  uint32_t n = 0;
  if (!r.U8(more).ok() || !r.U32(cap).ok() || !r.U32(n).ok() || n > count) {
    return Malformed("TPM2_GetCapability");
  }
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t property = 0;
    uint32_t value = 0;
    if (!r.U32(property).ok() || !r.U32(value).ok()) {
      return Malformed("TPM2_GetCapability");
    }
    out.emplace_back(property, value);
  }
  return out;
}

StatusOr<uint32_t> Property(backend::Backend& tpm, uint32_t property) {
  TRY_ASSIGN(auto props, Properties(tpm, property, 1));
  if (props.empty() || props[0].first != property) {
    return Status(StatusCode::kInternal,
                  "TPM2_GetCapability: the TPM does not report property " + Hex32(property));
  }
  return props[0].second;
}

StatusOr<uint32_t> NvBufferMax(backend::Backend& tpm) {
  TRY_ASSIGN(uint32_t max, Property(tpm, kTpmPtNvBufferMax));
  if (max == 0) {
    return Malformed("TPM_PT_NV_BUFFER_MAX");
  }
  return max;
}

// TPM2_NV_ReadPublic: whether the index exists.
StatusOr<bool> NvIndexExists(backend::Backend& tpm, uint32_t index) {
  Command cmd(TpmCc::NvReadPublic, {index}, false);
  uint32_t rc = 0;
  auto rsp = cmd.Send(tpm, "TPM2_NV_ReadPublic", &rc);
  if (rsp.ok()) {
    return true;
  }
  // TPM_RC_HANDLE on handle 1: no such index.
  if ((rc & kTpmRcFmt1) != 0 && (rc & 0x3F) == kTpmRcHandleNumber) {
    return false;
  }
  return rsp.error();
}

Status NvUndefine(backend::Backend& tpm, uint32_t index) {
  Command cmd(TpmCc::NvUndefineSpace, {TpmRh::Platform, index}, true);
  TRY(cmd.Send(tpm, "TPM2_NV_UndefineSpace"));
  return Status::Ok();
}

// Part 3 §31.3 TPM2_NV_DefineSpace with an empty auth and no policy.
Status NvDefine(backend::Backend& tpm, uint32_t index, uint16_t size) {
  Command cmd(TpmCc::NvDefineSpace, {TpmRh::Platform}, true);
  Writer& w = cmd.params();
  w.U16(0);                       // auth
  size_t mark = w.BeginSize16();  // TPM2B_NV_PUBLIC
  w.U32(index);
  w.U16(TpmAlg::Sha256);
  w.U32(EkCertNvAttributes());
  w.U16(0);  // authPolicy
  w.U16(size);
  w.EndSize16(mark);
  TRY(cmd.Send(tpm, "TPM2_NV_DefineSpace"));
  return Status::Ok();
}

Status NvWriteAll(backend::Backend& tpm, uint32_t index, ByteSpan data, uint32_t chunk) {
  for (size_t offset = 0; offset < data.size(); offset += chunk) {
    size_t n = std::min<size_t>(chunk, data.size() - offset);
    Command cmd(TpmCc::NvWrite, {TpmRh::Platform, index}, true);
    cmd.params().U16(static_cast<uint16_t>(n));
    cmd.params().Raw(data.subspan(offset, n));
    cmd.params().U16(static_cast<uint16_t>(offset));
    TRY(cmd.Send(tpm, "TPM2_NV_Write"));
  }
  return Status::Ok();
}

// TPM2_CreatePrimary under the endorsement hierarchy; the public area, the object flushed.
StatusOr<wire::TpmtPublic> CreateEk(backend::Backend& tpm, const wire::TpmtPublic& tmpl) {
  Command cmd(TpmCc::CreatePrimary, {TpmRh::Endorsement}, true);
  Writer& w = cmd.params();
  size_t sensitive = w.BeginSize16();  // TPM2B_SENSITIVE_CREATE
  w.U16(0);                            // userAuth
  w.U16(0);                            // data
  w.EndSize16(sensitive);
  size_t pub = w.BeginSize16();  // TPM2B_PUBLIC
  wire::Marshal(w, tmpl);
  w.EndSize16(pub);
  w.U16(0);  // outsideInfo
  w.U32(0);  // creationPCR: empty TPML_PCR_SELECTION
  TRY_ASSIGN(auto rsp, cmd.Send(tpm, "TPM2_CreatePrimary"));
  Reader r(rsp);
  uint32_t handle = 0;
  uint32_t param_size = 0;
  uint16_t public_size = 0;
  if (!r.U32(handle).ok() || !r.U32(param_size).ok() || !r.U16(public_size).ok()) {
    return Malformed("TPM2_CreatePrimary");
  }
  auto public_area = r.Take(public_size);
  if (!public_area.ok()) {
    return Malformed("TPM2_CreatePrimary");
  }
  auto parsed = wire::UnmarshalExact<wire::TpmtPublic>(*public_area);
  Command flush(TpmCc::FlushContext, {}, false);
  flush.params().U32(handle);
  TRY(flush.Send(tpm, "TPM2_FlushContext"));
  if (!parsed.ok()) {
    return Malformed("TPM2_CreatePrimary outPublic");
  }
  return std::move(*parsed);
}

std::string VendorString(const std::vector<std::pair<uint32_t, uint32_t>>& props) {
  std::string out;
  for (auto [property, value] : props) {
    if (property < TpmPt::VendorString1 || property > TpmPt::VendorString4) {
      continue;
    }
    for (int shift = 24; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((value >> shift) & 0xFF));
    }
  }
  while (!out.empty() && (out.back() == '\0' || out.back() == ' ')) {
    out.pop_back();
  }
  // The model is a UTF8String: keep printable ASCII only.
  std::erase_if(out, [](char c) { return c < 0x20 || c > 0x7E; });
  return out;
}

}  // namespace

uint32_t EkCertNvAttributes() {
  return wire::TpmaNv::PpWrite | wire::TpmaNv::WriteDefine | wire::TpmaNv::PpRead |
         wire::TpmaNv::OwnerRead | wire::TpmaNv::AuthRead | wire::TpmaNv::NoDa |
         wire::TpmaNv::PlatformCreate;
}

wire::TpmtPublic RsaEkTemplate() {
  wire::TpmtPublic t;
  t.type = TpmAlg::Rsa;
  t.name_alg = TpmAlg::Sha256;
  t.attributes = wire::TpmaObject::FixedTpm | wire::TpmaObject::FixedParent |
                 wire::TpmaObject::SensitiveDataOrigin | wire::TpmaObject::AdminWithPolicy |
                 wire::TpmaObject::Restricted | wire::TpmaObject::Decrypt;
  t.auth_policy.assign(std::begin(kEkPolicy), std::end(kEkPolicy));
  wire::RsaDetail rsa;
  rsa.symmetric = {TpmAlg::Aes, 128, TpmAlg::Cfb};
  rsa.key_bits = 2048;
  rsa.exponent = 0;
  rsa.unique.assign(256, 0);
  t.detail = std::move(rsa);
  return t;
}

wire::TpmtPublic EccEkTemplate() {
  wire::TpmtPublic t = RsaEkTemplate();
  t.type = TpmAlg::Ecc;
  wire::EccDetail ecc;
  ecc.symmetric = {TpmAlg::Aes, 128, TpmAlg::Cfb};
  ecc.curve = TpmEccCurve::NistP256;
  ecc.x.assign(32, 0);
  ecc.y.assign(32, 0);
  t.detail = std::move(ecc);
  return t;
}

Status StartupClear(backend::Backend& tpm) {
  Command cmd(TpmCc::Startup, {}, false);
  cmd.params().U16(TpmSu::Clear);
  TRY(cmd.Send(tpm, "TPM2_Startup(CLEAR)"));
  return Status::Ok();
}

Status ShutdownClear(backend::Backend& tpm) {
  Command cmd(TpmCc::Shutdown, {}, false);
  cmd.params().U16(TpmSu::Clear);
  TRY(cmd.Send(tpm, "TPM2_Shutdown(CLEAR)"));
  return Status::Ok();
}

StatusOr<TpmIdentity> ReadTpmIdentity(backend::Backend& tpm) {
  TRY_ASSIGN(auto props, Properties(tpm, TpmPt::Level, TpmPt::FirmwareVersion1 - TpmPt::Level + 1));
  TpmIdentity id;
  for (auto [property, value] : props) {
    if (property == TpmPt::Level) {
      id.spec_level = value;
    } else if (property == TpmPt::Revision) {
      id.spec_revision = value;
    } else if (property == TpmPt::Manufacturer) {
      id.manufacturer = value;
    } else if (property == TpmPt::FirmwareVersion1) {
      id.firmware_version = value;
    }
  }
  id.model = VendorString(props);
  return id;
}

StatusOr<std::vector<ProvisionedEk>> ProvisionEkCertificates(backend::Backend& tpm,
                                                             const LocalCa& ca, bool force) {
  struct Plan {
    uint32_t index;
    const char* key_type;
    wire::TpmtPublic tmpl;
    bool exists = false;
  };
  std::vector<Plan> plans;
  plans.push_back({kRsaEkCertIndex, "RSA 2048", RsaEkTemplate()});
  plans.push_back({kEccEkCertIndex, "ECC NIST P-256", EccEkTemplate()});

  // Check both before changing anything, so a refusal leaves the TPM as it was.
  for (Plan& plan : plans) {
    TRY_ASSIGN(plan.exists, NvIndexExists(tpm, plan.index));
    if (plan.exists && !force) {
      return Status(StatusCode::kFailedPrecondition,
                    "EK certificate index " + Hex32(plan.index) +
                        " already exists; use --force to replace the EK certificates");
    }
  }
  TRY_ASSIGN(auto identity, ReadTpmIdentity(tpm));
  TRY_ASSIGN(uint32_t chunk, NvBufferMax(tpm));

  std::vector<ProvisionedEk> out;
  for (Plan& plan : plans) {
    ProvisionedEk done;
    done.nv_index = plan.index;
    done.key_type = plan.key_type;
    done.replaced = plan.exists;
    TRY_ASSIGN(done.ek, CreateEk(tpm, plan.tmpl));
    TRY_ASSIGN(done.certificate, ca.IssueEkCertificate(done.ek, identity));
    if (done.certificate.size() > wire::kMaxNvIndexSize) {
      return Status(StatusCode::kInternal, "the EK certificate does not fit an NV index");
    }
    if (plan.exists) {
      TRY(NvUndefine(tpm, plan.index));
    }
    TRY(NvDefine(tpm, plan.index, static_cast<uint16_t>(done.certificate.size())));
    TRY(NvWriteAll(tpm, plan.index, done.certificate, chunk));
    out.push_back(std::move(done));
  }
  return out;
}

}  // namespace tpm2emu::ekca
