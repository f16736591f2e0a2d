// NV indices (Part 3 §31): every response code the NV handlers and hooks return, index types,
// locks across Startup, persistence across a new Tpm over the same store, and an ESYS round
// trip (ESYS computes NV Names itself, so it checks ours).

#include "engine/state/nv.h"

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "engine/tpm.h"
#include "engine/wire/nv_types.h"
#include "tests/engine/esys_client.h"
#include "tests/engine/test_util.h"

namespace tpm2emu::engine::test {
namespace {

namespace TpmaNv = wire::TpmaNv;
namespace TpmNt = wire::TpmNt;

constexpr uint32_t kIndex = 0x01500001;
constexpr uint32_t kOther = 0x01500002;
constexpr uint32_t kOwnerRw = TpmaNv::OwnerWrite | TpmaNv::OwnerRead;
constexpr uint32_t kAuthRw = TpmaNv::AuthWrite | TpmaNv::AuthRead;
constexpr uint32_t kPlatformRw = TpmaNv::PpWrite | TpmaNv::PpRead | TpmaNv::PlatformCreate;

uint32_t Typed(uint32_t attrs, uint8_t type) {
  return TpmaNv::WithType(attrs, type);
}

Tpm& Internal(TestTpm& t) {
  return static_cast<Tpm&>(t.tpm());
}

// A marshaled TPMS_NV_PUBLIC.
Bytes NvPublic(uint32_t index, uint32_t attrs, uint16_t size, uint16_t name_alg = TpmAlg::Sha256,
               const Bytes& policy = {}) {
  Bytes b;
  AppendBe32(b, index);
  AppendBe16(b, name_alg);
  AppendBe32(b, attrs);
  AppendBe16(b, static_cast<uint16_t>(policy.size()));
  b.insert(b.end(), policy.begin(), policy.end());
  AppendBe16(b, size);
  return b;
}

struct Def {
  uint32_t index = kIndex;
  uint32_t attrs = kOwnerRw;
  uint16_t size = 32;
  std::string auth{};
  uint32_t hierarchy = TpmRh::Owner;
  Bytes policy{};
  uint16_t name_alg = TpmAlg::Sha256;
};

Bytes Define(TestTpm& t, const Def& d) {
  return t.Run(Command(TpmCc::NvDefineSpace)
                   .Handle(d.hierarchy)
                   .Password()
                   .Sized(d.auth)
                   .Sized(NvPublic(d.index, d.attrs, d.size, d.name_alg, d.policy)));
}

Bytes Undefine(TestTpm& t, uint32_t index, uint32_t hierarchy = TpmRh::Owner) {
  return t.Run(Command(TpmCc::NvUndefineSpace).Handle(hierarchy).Handle(index).Password());
}

Bytes Write(TestTpm& t, uint32_t auth_handle, uint32_t index, const Bytes& data,
            uint16_t offset = 0, std::string_view password = "") {
  return t.Run(Command(TpmCc::NvWrite)
                   .Handle(auth_handle)
                   .Handle(index)
                   .Password(password)
                   .Sized(data)
                   .U16(offset));
}

Bytes Read(TestTpm& t, uint32_t auth_handle, uint32_t index, uint16_t size, uint16_t offset = 0,
           std::string_view password = "") {
  return t.Run(Command(TpmCc::NvRead)
                   .Handle(auth_handle)
                   .Handle(index)
                   .Password(password)
                   .U16(size)
                   .U16(offset));
}

// The data of a successful TPM2_NV_Read response.
Bytes ReadData(const Bytes& rsp) {
  EXPECT_SUCCESS(rsp);
  wire::Reader r = Params(rsp);
  wire::Tpm2bMaxNvBuffer data;
  EXPECT_TRUE(wire::Unmarshal(r, data).ok());
  return data.data;
}

Bytes Simple(TestTpm& t, uint32_t code, uint32_t auth_handle, uint32_t index,
             std::string_view password = "") {
  return t.Run(Command(code).Handle(auth_handle).Handle(index).Password(password));
}

uint64_t ReadU64(TestTpm& t, uint32_t index, uint32_t auth_handle = TpmRh::Owner) {
  Bytes d = ReadData(Read(t, auth_handle, index, 8));
  return d.size() == 8 ? LoadBe64(d.data()) : ~uint64_t{0};
}

struct Public {
  wire::TpmsNvPublic pub;
  Bytes name;
};

Public ReadPublic(TestTpm& t, uint32_t index) {
  Bytes rsp = t.Run(Command(TpmCc::NvReadPublic).Handle(index));
  EXPECT_SUCCESS(rsp);
  wire::Reader r = Params(rsp);
  wire::Tpm2bNvPublic pub;
  wire::Tpm2bName name;
  EXPECT_TRUE(wire::Unmarshal(r, pub).ok());
  EXPECT_TRUE(wire::Unmarshal(r, name).ok());
  return {pub.value, name.data};
}

Bytes SoftwareName(const wire::TpmsNvPublic& pub) {
  Bytes name;
  AppendBe16(name, pub.name_alg);
  Bytes digest = *crypto::Hash(pub.name_alg, wire::MarshalToBytes(pub));
  name.insert(name.end(), digest.begin(), digest.end());
  return name;
}

// An unsalted, unbound policy session: its policyDigest stays the SHA-256 Zero Digest, which
// authorizes an index whose authPolicy is 32 zero octets; its HMAC key is empty.
uint32_t StartPolicySession(TestTpm& t) {
  Bytes rsp = t.Run(Command(TpmCc::StartAuthSession)
                        .Handle(TpmRh::Null)
                        .Handle(TpmRh::Null)
                        .Sized(Bytes(16, 1))
                        .Sized("")
                        .U8(1)
                        .U16(TpmAlg::Null)
                        .U16(TpmAlg::Sha256));
  EXPECT_SUCCESS(rsp);
  return rsp.size() >= 14 ? LoadBe32(rsp.data() + 10) : 0;
}
const Bytes kZeroPolicy(32, 0);

// ADMIN role authorizations need TPM2_PolicyCommandCode in the policy (Part 3 §5.6 item 6):
// the digest H(Zero Digest || TPM_CC_PolicyCommandCode || code), and a session that has it.
Bytes CommandCodePolicy(uint32_t code) {
  Bytes m = kZeroPolicy;
  AppendBe32(m, TpmCc::PolicyCommandCode);
  AppendBe32(m, code);
  return *crypto::Hash(TpmAlg::Sha256, m);
}
uint32_t StartCommandCodeSession(TestTpm& t, uint32_t code) {
  uint32_t session = StartPolicySession(t);
  EXPECT_SUCCESS(t.Run(Command(TpmCc::PolicyCommandCode).Handle(session).U32(code)));
  return session;
}


Bytes Sized(const Bytes& b) {
  Bytes out;
  AppendBe16(out, static_cast<uint16_t>(b.size()));
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

Bytes WriteParams(const Bytes& data, uint16_t offset = 0) {
  Bytes p = Sized(data);
  AppendBe16(p, offset);
  return p;
}

// TPM Restart: Shutdown(STATE), a new process, Startup(CLEAR). Resume: ... Startup(STATE).
// Reset: a new process without Shutdown, Startup(CLEAR).
void Restart(TestTpm& t, uint16_t startup = TpmSu::Clear) {
  ASSERT_SUCCESS(t.Run(Command(TpmCc::Shutdown).U16(TpmSu::State)));
  t.Create();
  t.Startup(startup);
}
void Reset(TestTpm& t) {
  t.Create();
  t.Startup();
}

// --- TPM2_NV_DefineSpace ----------------------------------------------------------------------

TEST(NvDefineSpace, OwnerAndPlatformIndicesAreDefined) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {}));
  ASSERT_SUCCESS(Define(t, {.index = kOther, .attrs = kPlatformRw, .hierarchy = TpmRh::Platform}));
  Public p = ReadPublic(t, kIndex);
  EXPECT_EQ(p.pub.nv_index.value, kIndex);
  EXPECT_EQ(p.pub.attributes.value, kOwnerRw);
  EXPECT_EQ(p.pub.data_size.value, 32);
  EXPECT_EQ(ReadPublic(t, kOther).pub.attributes.value, kPlatformRw);
}

TEST(NvDefineSpace, DefinedIndexGivesNvDefined) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {}));
  EXPECT_RC(Define(t, {}), Rc::NvDefined);
}

TEST(NvDefineSpace, SizesAreChecked) {
  TestTpm t;
  // The auth may be no longer than nameAlg's digest (trailing zeros do not count).
  EXPECT_RC(Define(t, {.auth = std::string(21, 'a'), .name_alg = TpmAlg::Sha1}), Rc::Size.Param(1));
  ASSERT_SUCCESS(
      Define(t, {.auth = std::string(20, 'a') + std::string(4, '\0'), .name_alg = TpmAlg::Sha1}));
  // A zero-sized publicInfo.
  EXPECT_RC(t.Run(Command(TpmCc::NvDefineSpace).Handle(TpmRh::Owner).Password().Sized("").U16(0)),
            Rc::Size.Param(2));
  EXPECT_RC(Define(t, {.index = kOther, .policy = Bytes(20)}), Rc::Size.Param(2));
  EXPECT_RC(Define(t, {.index = kOther, .size = 2049}), Rc::Size.Param(2));
  EXPECT_RC(Define(t, {.index = kOther, .attrs = Typed(kOwnerRw, TpmNt::Counter), .size = 4}),
            Rc::Size.Param(2));
  EXPECT_RC(Define(t, {.index = kOther, .attrs = Typed(kOwnerRw, TpmNt::Bits), .size = 9}),
            Rc::Size.Param(2));
  EXPECT_RC(Define(t, {.index = kOther,
                       .attrs = Typed(kOwnerRw | TpmaNv::NoDa, TpmNt::PinFail),
                       .size = 16}),
            Rc::Size.Param(2));
  EXPECT_RC(Define(t, {.index = kOther, .attrs = Typed(kOwnerRw, TpmNt::Extend), .size = 20}),
            Rc::Size.Param(2));
  EXPECT_RC(Define(t, {.index = kOther, .attrs = kOwnerRw | TpmaNv::WriteAll, .size = 1025}),
            Rc::Size.Param(2));
  EXPECT_SUCCESS(Define(t, {.index = kOther, .attrs = kOwnerRw | TpmaNv::WriteAll, .size = 1024}));
}

TEST(NvDefineSpace, BadAttributesGiveAttributes) {
  TestTpm t;
  auto define = [&](uint32_t attrs, uint32_t hierarchy = TpmRh::Owner) {
    return Define(t, {.attrs = attrs, .size = 8, .hierarchy = hierarchy});
  };
  EXPECT_RC(define(Typed(kOwnerRw, 3)), Rc::Attributes.Param(2));  // a reserved TPM_NT
  EXPECT_RC(define(kOwnerRw | TpmaNv::Written), Rc::Attributes.Param(2));
  EXPECT_RC(define(kOwnerRw | TpmaNv::WriteLocked), Rc::Attributes.Param(2));
  EXPECT_RC(define(kOwnerRw | TpmaNv::ReadLocked), Rc::Attributes.Param(2));
  EXPECT_RC(define(TpmaNv::OwnerWrite), Rc::Attributes.Param(2));  // no way to read
  EXPECT_RC(define(TpmaNv::AuthRead), Rc::Attributes.Param(2));    // no way to write
  EXPECT_RC(define(Typed(kOwnerRw | TpmaNv::ClearStclear, TpmNt::Counter)),
            Rc::Attributes.Param(2));
  EXPECT_RC(define(Typed(kOwnerRw, TpmNt::PinFail)), Rc::Attributes.Param(2));  // no NO_DA
  EXPECT_RC(define(Typed(kOwnerRw | TpmaNv::AuthWrite | TpmaNv::NoDa, TpmNt::PinFail)),
            Rc::Attributes.Param(2));
  EXPECT_RC(define(Typed(kOwnerRw | TpmaNv::AuthWrite, TpmNt::PinPass)), Rc::Attributes.Param(2));
  EXPECT_RC(define(kOwnerRw | TpmaNv::PolicyDelete), Rc::Attributes.Param(2));
  // PLATFORMCREATE must match the hierarchy that authorizes the definition.
  EXPECT_RC(define(kOwnerRw | TpmaNv::PlatformCreate), Rc::Attributes.Handle(1));
  EXPECT_RC(define(kOwnerRw, TpmRh::Platform), Rc::Attributes.Handle(1));
  // Reserved bits are refused by the unmarshaling of TPMA_NV.
  EXPECT_RC(define(kOwnerRw | 0x100), Rc::ReservedBits.Param(2));
  EXPECT_SUCCESS(define(kPlatformRw | TpmaNv::PolicyDelete, TpmRh::Platform));
}

TEST(NvDefineSpace, HandlesAndAlgorithmsAreChecked) {
  TestTpm t;
  EXPECT_RC(Define(t, {.index = 0x81000001}), Rc::Value.Param(2));
  EXPECT_RC(Define(t, {.name_alg = TpmAlg::Null}), Rc::Hash.Param(2));
  EXPECT_RC(Define(t, {.hierarchy = TpmRh::Endorsement}), Rc::Value.Handle(1));
}

TEST(NvDefineSpace, DisabledHierarchyGivesHierarchy) {
  TestTpm t;
  Internal(t).clear_state().ph_enable_nv = false;
  EXPECT_RC(Define(t, {.attrs = kPlatformRw, .hierarchy = TpmRh::Platform}),
            Rc::Hierarchy.Handle(1));
  Internal(t).clear_state().sh_enable = false;
  EXPECT_RC(Define(t, {}), Rc::Hierarchy.Handle(1));  // the dispatcher's handle check
}

TEST(NvDefineSpace, FullNvGivesNvSpace) {
  TestTpm t;
  // By memory: indices of the largest size until the budget is spent.
  size_t fit = kNvMemoryBytes / nv::Cost(wire::kMaxNvIndexSize);
  for (uint32_t i = 0; i < fit; ++i) {
    ASSERT_SUCCESS(Define(t, {.index = kIndex + i, .size = 2048}));
  }
  EXPECT_RC(Define(t, {.index = kIndex + 1000, .size = 2048}), Rc::NvSpace);
  // By count: small indices fill the table.
  TestTpm u;
  for (uint32_t i = 0; i < kMaxNvIndices; ++i) {
    ASSERT_SUCCESS(Define(u, {.index = kIndex + i, .size = 1}));
  }
  EXPECT_RC(Define(u, {.index = kIndex + 1000, .size = 1}), Rc::NvSpace);
}

// --- TPM2_NV_UndefineSpace(Special) -----------------------------------------------------------

TEST(NvUndefineSpace, RemovesTheIndex) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {}));
  ASSERT_SUCCESS(Undefine(t, kIndex));
  EXPECT_RC(t.Run(Command(TpmCc::NvReadPublic).Handle(kIndex)), Rc::Handle.Handle(1));
  EXPECT_RC(Undefine(t, kIndex), Rc::Handle.Handle(2));
}

TEST(NvUndefineSpace, OwnerCannotDeletePlatformIndex) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.attrs = kPlatformRw, .hierarchy = TpmRh::Platform}));
  EXPECT_RC(Undefine(t, kIndex), Rc::NvAuthorization);
  EXPECT_SUCCESS(Undefine(t, kIndex, TpmRh::Platform));
  // The platform may delete an owner index.
  ASSERT_SUCCESS(Define(t, {.index = kOther}));
  EXPECT_SUCCESS(Undefine(t, kOther, TpmRh::Platform));
}

TEST(NvUndefineSpace, PolicyDeleteIndexGivesAttributes) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.attrs = kPlatformRw | TpmaNv::PolicyDelete,
                            .hierarchy = TpmRh::Platform,
                            .policy = kZeroPolicy}));
  EXPECT_RC(Undefine(t, kIndex, TpmRh::Platform), Rc::Attributes.Handle(2));
}

TEST(NvUndefineSpaceSpecial, DeletesWithPolicyAndPlatformAuth) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.attrs = kPlatformRw | TpmaNv::PolicyDelete,
                            .hierarchy = TpmRh::Platform,
                            .policy = CommandCodePolicy(TpmCc::NvUndefineSpaceSpecial)}));
  // ADMIN role on an index requires a policy session.
  EXPECT_RC(
      t.Run(WithSessions(TpmCc::NvUndefineSpaceSpecial, {kIndex, TpmRh::Platform}, {{}, {}}, {})),
      Rc::AuthType);
  uint32_t session = StartCommandCodeSession(t, TpmCc::NvUndefineSpaceSpecial);
  EXPECT_SUCCESS(t.Run(WithSessions(TpmCc::NvUndefineSpaceSpecial, {kIndex, TpmRh::Platform},
                                    {{session, ""}, {}}, {})));
  EXPECT_RC(t.Run(Command(TpmCc::NvReadPublic).Handle(kIndex)), Rc::Handle.Handle(1));
}

TEST(NvUndefineSpaceSpecial, IndexWithoutPolicyDeleteGivesAttributes) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.attrs = kPlatformRw,
                            .hierarchy = TpmRh::Platform,
                            .policy = CommandCodePolicy(TpmCc::NvUndefineSpaceSpecial)}));
  uint32_t session = StartCommandCodeSession(t, TpmCc::NvUndefineSpaceSpecial);
  EXPECT_RC(t.Run(WithSessions(TpmCc::NvUndefineSpaceSpecial, {kIndex, TpmRh::Platform},
                               {{session, ""}, {}}, {})),
            Rc::Attributes.Handle(1));
}

// --- TPM2_NV_ReadPublic and Names ---------------------------------------------------------------

TEST(NvReadPublic, UndefinedOrForeignHandleIsRefused) {
  TestTpm t;
  EXPECT_RC(t.Run(Command(TpmCc::NvReadPublic).Handle(kIndex)), Rc::Handle.Handle(1));
  EXPECT_RC(t.Run(Command(TpmCc::NvReadPublic).Handle(0x81000000)), Rc::Value.Handle(1));
}

TEST(NvName, ChangesWhenWrittenAndMatchesSoftware) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {}));
  Public before = ReadPublic(t, kIndex);
  EXPECT_EQ(before.name, SoftwareName(before.pub));
  EXPECT_EQ(before.name.size(), 34u);
  ASSERT_SUCCESS(Write(t, TpmRh::Owner, kIndex, Bytes(4, 7)));
  Public after = ReadPublic(t, kIndex);
  EXPECT_TRUE(after.pub.Has(TpmaNv::Written));
  EXPECT_EQ(after.name, SoftwareName(after.pub));
  EXPECT_NE(after.name, before.name);
}

// --- TPM2_NV_Write / TPM2_NV_Read ---------------------------------------------------------------

TEST(NvWrite, TwoKilobytesInKilobyteChunks) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.size = 2048}));
  Bytes data(2048);
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<uint8_t>(i * 7 + 3);
  }
  for (uint16_t off = 0; off < 2048; off += 1024) {
    ASSERT_SUCCESS(
        Write(t, TpmRh::Owner, kIndex, Bytes(data.begin() + off, data.begin() + off + 1024), off));
  }
  Bytes back;
  for (uint16_t off = 0; off < 2048; off += 1024) {
    Bytes chunk = ReadData(Read(t, TpmRh::Owner, kIndex, 1024, off));
    back.insert(back.end(), chunk.begin(), chunk.end());
  }
  EXPECT_EQ(back, data);
  // One octet more than TPM_PT_NV_BUFFER_MAX is refused either way.
  EXPECT_RC(Write(t, TpmRh::Owner, kIndex, Bytes(1025)), Rc::Size.Param(1));
  EXPECT_RC(Read(t, TpmRh::Owner, kIndex, 1025), Rc::Value.Param(1));
}

TEST(NvWrite, FirstPartialWriteZeroFills) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.size = 2}));
  ASSERT_SUCCESS(Write(t, TpmRh::Owner, kIndex, Bytes{0x55}));
  EXPECT_EQ(ReadData(Read(t, TpmRh::Owner, kIndex, 2)), (Bytes{0x55, 0x00}));
  ASSERT_SUCCESS(Write(t, TpmRh::Owner, kIndex, Bytes{0x66}, 1));
  EXPECT_EQ(ReadData(Read(t, TpmRh::Owner, kIndex, 2)), (Bytes{0x55, 0x66}));
  ASSERT_SUCCESS(Write(t, TpmRh::Owner, kIndex, Bytes{}, 2));  // empty write at the end
}

TEST(NvWrite, RangeChecks) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.size = 16}));
  EXPECT_RC(Write(t, TpmRh::Owner, kIndex, Bytes(1), 17), Rc::Value.Param(2));
  EXPECT_RC(Write(t, TpmRh::Owner, kIndex, Bytes(2), 15), Rc::NvRange);
  ASSERT_SUCCESS(Define(t, {.index = kOther, .attrs = kOwnerRw | TpmaNv::WriteAll, .size = 16}));
  EXPECT_RC(Write(t, TpmRh::Owner, kOther, Bytes(15)), Rc::NvRange);
  EXPECT_SUCCESS(Write(t, TpmRh::Owner, kOther, Bytes(16)));
}

TEST(NvWrite, OtherTypesGiveAttributes) {
  TestTpm t;
  for (uint8_t type : {TpmNt::Counter, TpmNt::Bits}) {
    ASSERT_SUCCESS(Define(t, {.attrs = Typed(kOwnerRw, type), .size = 8}));
    EXPECT_RC(Write(t, TpmRh::Owner, kIndex, Bytes(8)), Rc::Attributes);
    ASSERT_SUCCESS(Undefine(t, kIndex));
  }
  ASSERT_SUCCESS(Define(t, {.attrs = Typed(kOwnerRw, TpmNt::Extend), .size = 32}));
  EXPECT_RC(Write(t, TpmRh::Owner, kIndex, Bytes(32)), Rc::Attributes);
}

TEST(NvWrite, AuthHandleMustBeAllowed) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.attrs = TpmaNv::OwnerRead | TpmaNv::AuthWrite, .auth = "pw"}));
  ASSERT_SUCCESS(Define(
      t,
      {.index = kOther, .attrs = kPlatformRw | TpmaNv::AuthWrite, .hierarchy = TpmRh::Platform}));
  EXPECT_RC(Write(t, TpmRh::Owner, kIndex, Bytes(1)), Rc::NvAuthorization);     // no OWNERWRITE
  EXPECT_RC(Write(t, TpmRh::Platform, kIndex, Bytes(1)), Rc::NvAuthorization);  // no PPWRITE
  EXPECT_RC(Write(t, kOther, kIndex, Bytes(1)), Rc::NvAuthorization);           // another index
  EXPECT_SUCCESS(Write(t, kIndex, kIndex, Bytes(1), 0, "pw"));
  EXPECT_SUCCESS(Write(t, TpmRh::Platform, kOther, Bytes(1)));
}

TEST(NvWrite, IndexAuthNeedsAuthWriteOrPolicyWrite) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.attrs = kOwnerRw | TpmaNv::AuthRead, .policy = kZeroPolicy}));
  EXPECT_RC(Write(t, kIndex, kIndex, Bytes(1)), Rc::AuthUnavailable);
  uint32_t session = StartPolicySession(t);
  EXPECT_RC(
      t.Run(WithSessions(TpmCc::NvWrite, {kIndex, kIndex}, {{session, ""}}, WriteParams(Bytes(1)))),
      Rc::AuthUnavailable);
  ASSERT_SUCCESS(Define(
      t,
      {.index = kOther, .attrs = TpmaNv::OwnerRead | TpmaNv::PolicyWrite, .policy = kZeroPolicy}));
  EXPECT_SUCCESS(t.Run(
      WithSessions(TpmCc::NvWrite, {kOther, kOther}, {{session, ""}}, WriteParams(Bytes{9}))));
  EXPECT_EQ(ReadData(Read(t, TpmRh::Owner, kOther, 1)), Bytes{9});
}

TEST(NvWrite, WrongIndexPasswordFailsWithDaUnlessNoDa) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.attrs = kAuthRw, .auth = "pw"}));
  ASSERT_SUCCESS(Define(t, {.index = kOther, .attrs = kAuthRw | TpmaNv::NoDa, .auth = "pw"}));
  EXPECT_RC(Write(t, kIndex, kIndex, Bytes(1), 0, "no"), Rc::AuthFail.Session(1));
  EXPECT_RC(Write(t, kOther, kOther, Bytes(1), 0, "no"), Rc::BadAuth.Session(1));
}

TEST(NvWrite, DaProtectedIndexCountsFailuresAndIsRefusedInLockout) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.attrs = kAuthRw | TpmaNv::OwnerWrite, .auth = "pw"}));
  ASSERT_SUCCESS(Define(t, {.index = kOther, .attrs = kAuthRw | TpmaNv::NoDa, .auth = "pw"}));
  PersistentState& p = Internal(t).persistent();
  EXPECT_RC(Write(t, kOther, kOther, Bytes(1), 0, "no"), Rc::BadAuth.Session(1));
  EXPECT_EQ(p.failed_tries, 0u);
  EXPECT_RC(Write(t, kIndex, kIndex, Bytes(1), 0, "no"), Rc::AuthFail.Session(1));
  EXPECT_EQ(p.failed_tries, 1u);
  p.failed_tries = p.max_tries;
  EXPECT_RC(Write(t, kIndex, kIndex, Bytes(1), 0, "pw"), Rc::Lockout);
  EXPECT_SUCCESS(Write(t, kOther, kOther, Bytes(1), 0, "pw"));  // NO_DA: not blocked
  EXPECT_SUCCESS(Write(t, TpmRh::Owner, kIndex, Bytes(0)));     // owner auth is not the index's
}

TEST(NvRead, ChecksInOrder) {
  TestTpm t;
  ASSERT_SUCCESS(Define(
      t, {.attrs = kAuthRw | TpmaNv::OwnerWrite | TpmaNv::ReadStclear, .size = 16, .auth = "pw"}));
  // Unwritten: NV_UNINITIALIZED, for the index's authorization before its password is checked.
  EXPECT_RC(Read(t, kIndex, kIndex, 1, 0, "pw"), Rc::NvUninitialized);
  EXPECT_RC(Read(t, kIndex, kIndex, 1, 0, "wrong"), Rc::NvUninitialized);
  EXPECT_RC(Read(t, TpmRh::Owner, kIndex, 1), Rc::NvAuthorization);  // no OWNERREAD
  EXPECT_RC(Read(t, TpmRh::Platform, kIndex, 1), Rc::NvAuthorization);
  ASSERT_SUCCESS(Write(t, TpmRh::Owner, kIndex, Bytes(16, 1)));
  EXPECT_RC(Read(t, kIndex, kIndex, 1, 17, "pw"), Rc::Value.Param(2));
  EXPECT_RC(Read(t, kIndex, kIndex, 2, 15, "pw"), Rc::NvRange);
  EXPECT_EQ(ReadData(Read(t, kIndex, kIndex, 2, 14, "pw")), Bytes(2, 1));
  EXPECT_EQ(ReadData(Read(t, kIndex, kIndex, 0, 16, "pw")), Bytes{});
  ASSERT_SUCCESS(Simple(t, TpmCc::NvReadLock, kIndex, kIndex, "pw"));
  EXPECT_RC(Read(t, kIndex, kIndex, 1, 0, "pw"), Rc::NvLocked);
}

TEST(NvRead, IndexAuthNeedsAuthReadOrPolicyRead) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.attrs = kOwnerRw | TpmaNv::AuthWrite, .policy = kZeroPolicy}));
  ASSERT_SUCCESS(Write(t, TpmRh::Owner, kIndex, Bytes(1)));
  EXPECT_RC(Read(t, kIndex, kIndex, 1), Rc::AuthUnavailable);
  uint32_t session = StartPolicySession(t);
  Bytes params;
  AppendBe16(params, 1);
  AppendBe16(params, 0);
  EXPECT_RC(t.Run(WithSessions(TpmCc::NvRead, {kIndex, kIndex}, {{session, ""}}, params)),
            Rc::AuthUnavailable);
}

TEST(NvAccess, IndexOfDisabledHierarchyIsNotThere) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {}));
  ASSERT_SUCCESS(Define(t, {.index = kOther, .attrs = kPlatformRw, .hierarchy = TpmRh::Platform}));
  Internal(t).clear_state().sh_enable = false;
  EXPECT_RC(Read(t, TpmRh::Platform, kIndex, 1), Rc::Handle.Handle(2));
  EXPECT_SUCCESS(Write(t, TpmRh::Platform, kOther, Bytes(1)));
  Internal(t).clear_state().ph_enable_nv = false;
  EXPECT_RC(t.Run(Command(TpmCc::NvReadPublic).Handle(kOther)), Rc::Handle.Handle(1));
  EXPECT_EQ(nv::Handles(Internal(t)).size(), 2u);  // still defined
}

// --- Counters, bit fields, extend indices -------------------------------------------------------

TEST(NvIncrement, CountersAreMonotonicAcrossRestartsAndRedefinition) {
  TestTpm t;
  const uint32_t counter = Typed(kOwnerRw, TpmNt::Counter);
  ASSERT_SUCCESS(Define(t, {.attrs = counter, .size = 8}));
  EXPECT_RC(Read(t, TpmRh::Owner, kIndex, 8), Rc::NvUninitialized);
  for (int i = 0; i < 3; ++i) {
    ASSERT_SUCCESS(Simple(t, TpmCc::NvIncrement, TpmRh::Owner, kIndex));
  }
  EXPECT_EQ(ReadU64(t, kIndex), 3u);
  EXPECT_TRUE(ReadPublic(t, kIndex).pub.Has(TpmaNv::Written));
  Reset(t);  // a new process over the same store, without Shutdown
  EXPECT_EQ(ReadU64(t, kIndex), 3u);
  ASSERT_SUCCESS(Simple(t, TpmCc::NvIncrement, TpmRh::Owner, kIndex));
  EXPECT_EQ(ReadU64(t, kIndex), 4u);
  // Deleting and redefining the counter never takes it back.
  ASSERT_SUCCESS(Undefine(t, kIndex));
  Reset(t);
  ASSERT_SUCCESS(Define(t, {.attrs = counter, .size = 8}));
  ASSERT_SUCCESS(Simple(t, TpmCc::NvIncrement, TpmRh::Owner, kIndex));
  EXPECT_EQ(ReadU64(t, kIndex), 5u);
  // Like the reference implementation, a new counter starts above the deleted ones only.
  ASSERT_SUCCESS(Define(t, {.index = kOther, .attrs = counter, .size = 8}));
  ASSERT_SUCCESS(Simple(t, TpmCc::NvIncrement, TpmRh::Owner, kOther));
  EXPECT_EQ(ReadU64(t, kOther), 5u);
  ASSERT_SUCCESS(Undefine(t, kOther));
  ASSERT_SUCCESS(Undefine(t, kIndex));
  ASSERT_SUCCESS(Define(t, {.attrs = counter, .size = 8}));
  ASSERT_SUCCESS(Simple(t, TpmCc::NvIncrement, TpmRh::Owner, kIndex));
  EXPECT_EQ(ReadU64(t, kIndex), 6u);
}

TEST(NvIncrement, OrderlyCounterAdvancesAfterDisorderlyShutdown) {
  TestTpm t;
  ASSERT_SUCCESS(
      Define(t, {.attrs = Typed(kOwnerRw | TpmaNv::Orderly, TpmNt::Counter), .size = 8}));
  ASSERT_SUCCESS(Simple(t, TpmCc::NvIncrement, TpmRh::Owner, kIndex));
  ASSERT_SUCCESS(Simple(t, TpmCc::NvIncrement, TpmRh::Owner, kIndex));
  Restart(t);  // orderly: the count is kept as it is
  EXPECT_EQ(ReadU64(t, kIndex), 2u);
  Reset(t);  // disorderly: MAX_ORDERLY_COUNT is ORed in
  EXPECT_EQ(ReadU64(t, kIndex), 2u | kMaxOrderlyCount);
  EXPECT_TRUE(ReadPublic(t, kIndex).pub.Has(TpmaNv::Written));  // a counter stays written
}

TEST(NvIncrement, ChecksTypeAndAccess) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.attrs = kOwnerRw, .size = 8}));
  EXPECT_RC(Simple(t, TpmCc::NvIncrement, TpmRh::Owner, kIndex), Rc::Attributes.Handle(2));
  ASSERT_SUCCESS(Define(
      t,
      {.index = kOther,
       .attrs = Typed(TpmaNv::OwnerRead | TpmaNv::AuthWrite | TpmaNv::WriteStclear, TpmNt::Counter),
       .size = 8}));
  EXPECT_RC(Simple(t, TpmCc::NvIncrement, TpmRh::Owner, kOther), Rc::NvAuthorization);
  ASSERT_SUCCESS(Simple(t, TpmCc::NvIncrement, kOther, kOther));
  ASSERT_SUCCESS(Simple(t, TpmCc::NvWriteLock, kOther, kOther));
  EXPECT_RC(Simple(t, TpmCc::NvIncrement, kOther, kOther), Rc::NvLocked);
}

TEST(NvExtend, ExtendsWithNameAlg) {
  TestTpm t;
  ASSERT_SUCCESS(
      Define(t, {.attrs = Typed(kOwnerRw, TpmNt::Extend), .size = 20, .name_alg = TpmAlg::Sha1}));
  auto extend = [&](uint32_t index, const Bytes& data) {
    return t.Run(
        Command(TpmCc::NvExtend).Handle(TpmRh::Owner).Handle(index).Password().Sized(data));
  };
  ASSERT_SUCCESS(extend(kIndex, ToBytes("one")));
  ASSERT_SUCCESS(extend(kIndex, ToBytes("two")));
  Bytes expected(20);
  for (const char* s : {"one", "two"}) {
    Bytes m = expected;
    Bytes d = ToBytes(std::string_view(s));
    m.insert(m.end(), d.begin(), d.end());
    expected = *crypto::Hash(TpmAlg::Sha1, m);
  }
  EXPECT_EQ(ReadData(Read(t, TpmRh::Owner, kIndex, 20)), expected);
  ASSERT_SUCCESS(Define(t, {.index = kOther}));
  EXPECT_RC(extend(kOther, Bytes(1)), Rc::Attributes.Handle(2));
}

TEST(NvSetBits, OrsBitsAndWritesEvenWithoutBits) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.attrs = Typed(kOwnerRw, TpmNt::Bits), .size = 8}));
  auto set = [&](uint32_t index, uint64_t bits) {
    return t.Run(Command(TpmCc::NvSetBits).Handle(TpmRh::Owner).Handle(index).Password().U64(bits));
  };
  ASSERT_SUCCESS(set(kIndex, 0));
  EXPECT_EQ(ReadU64(t, kIndex), 0u);
  ASSERT_SUCCESS(set(kIndex, 0x0102));
  ASSERT_SUCCESS(set(kIndex, 0x8000000000000001));
  EXPECT_EQ(ReadU64(t, kIndex), 0x8000000000000103u);
  ASSERT_SUCCESS(Define(t, {.index = kOther, .size = 8}));
  EXPECT_RC(set(kOther, 1), Rc::Attributes.Handle(2));
}

// --- Locks and STCLEAR ------------------------------------------------------------------------

TEST(NvWriteLock, WriteStclearLockLastsUntilStartupClear) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.attrs = kOwnerRw | TpmaNv::WriteStclear}));
  ASSERT_SUCCESS(Write(t, TpmRh::Owner, kIndex, Bytes(1)));
  Bytes name = ReadPublic(t, kIndex).name;
  ASSERT_SUCCESS(Simple(t, TpmCc::NvWriteLock, TpmRh::Owner, kIndex));
  EXPECT_NE(ReadPublic(t, kIndex).name, name);  // WRITELOCKED is part of the Name
  EXPECT_RC(Write(t, TpmRh::Owner, kIndex, Bytes(1)), Rc::NvLocked);
  EXPECT_SUCCESS(Simple(t, TpmCc::NvWriteLock, TpmRh::Owner, kIndex));  // already locked
  Restart(t, TpmSu::State);                                             // TPM Resume keeps the lock
  EXPECT_RC(Write(t, TpmRh::Owner, kIndex, Bytes(1)), Rc::NvLocked);
  Restart(t);  // TPM Restart clears it
  EXPECT_SUCCESS(Write(t, TpmRh::Owner, kIndex, Bytes(1)));
  EXPECT_EQ(ReadPublic(t, kIndex).name, name);
}

TEST(NvWriteLock, WriteDefineLockIsPermanentOnceWritten) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.attrs = kOwnerRw | TpmaNv::WriteDefine}));
  ASSERT_SUCCESS(Define(t, {.index = kOther, .attrs = kOwnerRw | TpmaNv::WriteDefine}));
  ASSERT_SUCCESS(Write(t, TpmRh::Owner, kIndex, Bytes(1)));
  ASSERT_SUCCESS(Simple(t, TpmCc::NvWriteLock, TpmRh::Owner, kIndex));
  ASSERT_SUCCESS(Simple(t, TpmCc::NvWriteLock, TpmRh::Owner, kOther));  // never written
  Reset(t);
  EXPECT_RC(Write(t, TpmRh::Owner, kIndex, Bytes(1)), Rc::NvLocked);
  EXPECT_SUCCESS(Write(t, TpmRh::Owner, kOther, Bytes(1)));  // the unwritten one was unlocked
}

TEST(NvWriteLock, ChecksAttributesAndAuthorization) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {}));
  EXPECT_RC(Simple(t, TpmCc::NvWriteLock, TpmRh::Owner, kIndex), Rc::Attributes.Handle(2));
  ASSERT_SUCCESS(Define(t, {.index = kOther,
                            .attrs = kPlatformRw | TpmaNv::WriteStclear,
                            .hierarchy = TpmRh::Platform}));
  EXPECT_RC(Simple(t, TpmCc::NvWriteLock, TpmRh::Owner, kOther), Rc::NvAuthorization);
  ASSERT_SUCCESS(Simple(t, TpmCc::NvWriteLock, TpmRh::Platform, kOther));
  // Once locked, the lock check comes first: locking again succeeds.
  EXPECT_SUCCESS(Simple(t, TpmCc::NvWriteLock, TpmRh::Owner, kOther));
}

TEST(NvGlobalWriteLock, LocksGlobalLockIndicesDefinedBeforeIt) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.index = kIndex, .attrs = kOwnerRw | TpmaNv::GlobalLock}));
  ASSERT_SUCCESS(Define(t, {.index = kIndex + 1, .attrs = kOwnerRw}));
  ASSERT_SUCCESS(Define(
      t, {.index = kIndex + 2, .attrs = kOwnerRw | TpmaNv::GlobalLock | TpmaNv::WriteDefine}));
  ASSERT_SUCCESS(Write(t, TpmRh::Owner, kIndex + 2, Bytes(1)));
  ASSERT_SUCCESS(t.Run(Command(TpmCc::NvGlobalWriteLock).Handle(TpmRh::Owner).Password()));
  ASSERT_SUCCESS(Define(t, {.index = kIndex + 3, .attrs = kOwnerRw | TpmaNv::GlobalLock}));
  EXPECT_RC(Write(t, TpmRh::Owner, kIndex, Bytes(1)), Rc::NvLocked);
  EXPECT_SUCCESS(Write(t, TpmRh::Owner, kIndex + 1, Bytes(1)));
  EXPECT_RC(Write(t, TpmRh::Owner, kIndex + 2, Bytes(1)), Rc::NvLocked);
  EXPECT_SUCCESS(Write(t, TpmRh::Owner, kIndex + 3, Bytes(1)));
  Reset(t);
  EXPECT_SUCCESS(Write(t, TpmRh::Owner, kIndex, Bytes(1)));
  EXPECT_RC(Write(t, TpmRh::Owner, kIndex + 2, Bytes(1)), Rc::NvLocked);  // WRITEDEFINE
}

TEST(NvReadLock, LocksUntilStartupClear) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.attrs = kOwnerRw | TpmaNv::ReadStclear}));
  // An unwritten index may be read-locked.
  ASSERT_SUCCESS(Simple(t, TpmCc::NvReadLock, TpmRh::Owner, kIndex));
  EXPECT_SUCCESS(Simple(t, TpmCc::NvReadLock, TpmRh::Owner, kIndex));  // already locked
  ASSERT_SUCCESS(Write(t, TpmRh::Owner, kIndex, Bytes(1)));            // writing still works
  EXPECT_RC(Read(t, TpmRh::Owner, kIndex, 1), Rc::NvLocked);
  Restart(t, TpmSu::State);
  EXPECT_RC(Read(t, TpmRh::Owner, kIndex, 1), Rc::NvLocked);
  Restart(t);
  EXPECT_SUCCESS(Read(t, TpmRh::Owner, kIndex, 1));
}

TEST(NvReadLock, ChecksAttributesAndAuthorization) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {}));
  EXPECT_RC(Simple(t, TpmCc::NvReadLock, TpmRh::Owner, kIndex), Rc::Attributes.Handle(2));
  ASSERT_SUCCESS(Define(
      t, {.index = kOther, .attrs = TpmaNv::OwnerWrite | TpmaNv::PpRead | TpmaNv::ReadStclear}));
  EXPECT_RC(Simple(t, TpmCc::NvReadLock, TpmRh::Owner, kOther), Rc::NvAuthorization);
}

TEST(NvClearStclear, WrittenIsClearedByRestartButNotResume) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.attrs = kOwnerRw | TpmaNv::ClearStclear, .size = 4}));
  ASSERT_SUCCESS(Write(t, TpmRh::Owner, kIndex, Bytes(4, 9)));
  Restart(t, TpmSu::State);
  EXPECT_EQ(ReadData(Read(t, TpmRh::Owner, kIndex, 4)), Bytes(4, 9));
  Restart(t);
  EXPECT_RC(Read(t, TpmRh::Owner, kIndex, 4), Rc::NvUninitialized);
  ASSERT_SUCCESS(Write(t, TpmRh::Owner, kIndex, Bytes{1}));
  EXPECT_EQ(ReadData(Read(t, TpmRh::Owner, kIndex, 4)), (Bytes{1, 0, 0, 0}));
}

TEST(NvOrderly, OrdinaryIndexIsUnwrittenAfterReset) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.attrs = kOwnerRw | TpmaNv::Orderly, .size = 4}));
  ASSERT_SUCCESS(Write(t, TpmRh::Owner, kIndex, Bytes(4, 9)));
  Restart(t);  // TPM Restart keeps it
  EXPECT_EQ(ReadData(Read(t, TpmRh::Owner, kIndex, 4)), Bytes(4, 9));
  ASSERT_SUCCESS(t.Run(Command(TpmCc::Shutdown).U16(TpmSu::Clear)));
  t.Create();
  t.Startup();  // TPM Reset
  EXPECT_RC(Read(t, TpmRh::Owner, kIndex, 4), Rc::NvUninitialized);
}

// --- TPM2_NV_ChangeAuth -----------------------------------------------------------------------

TEST(NvChangeAuth, NeedsPolicyAndChangesTheAuthValue) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.attrs = kAuthRw,
                            .auth = "old",
                            .policy = CommandCodePolicy(TpmCc::NvChangeAuth),
                            .name_alg = TpmAlg::Sha256}));
  EXPECT_RC(t.Run(Command(TpmCc::NvChangeAuth).Handle(kIndex).Password("old").Sized("new")),
            Rc::AuthType);
  uint32_t session = StartCommandCodeSession(t, TpmCc::NvChangeAuth);
  EXPECT_RC(
      t.Run(WithSessions(TpmCc::NvChangeAuth, {kIndex}, {{session, ""}}, Sized(Bytes(33, 'x')))),
      Rc::Size.Param(1));
  ASSERT_SUCCESS(
      t.Run(WithSessions(TpmCc::NvChangeAuth, {kIndex}, {{session, ""}}, Sized(ToBytes("new")))));
  EXPECT_RC(Write(t, kIndex, kIndex, Bytes(1), 0, "old"), Rc::AuthFail.Session(1));
  EXPECT_SUCCESS(Write(t, kIndex, kIndex, Bytes(1), 0, "new"));
}

// --- PIN indices ------------------------------------------------------------------------------

Bytes Pin(uint32_t count, uint32_t limit) {
  Bytes b;
  AppendBe32(b, count);
  AppendBe32(b, limit);
  return b;
}

TEST(NvPin, PinPassLimitsSuccessfulUses) {
  TestTpm t;
  ASSERT_SUCCESS(Define(
      t, {.attrs = Typed(kOwnerRw | TpmaNv::AuthRead, TpmNt::PinPass), .size = 8, .auth = "pin"}));
  EXPECT_RC(Read(t, kIndex, kIndex, 8, 0, "pin"), Rc::NvUninitialized);
  ASSERT_SUCCESS(Write(t, TpmRh::Owner, kIndex, Pin(0, 2)));
  // The use is counted as soon as the authorization succeeds, so the read sees it.
  EXPECT_EQ(ReadData(Read(t, kIndex, kIndex, 8, 0, "pin")), Pin(1, 2));
  EXPECT_RC(Read(t, kIndex, kIndex, 8, 0, "bad"), Rc::AuthFail.Session(1));  // not counted
  EXPECT_EQ(ReadData(Read(t, kIndex, kIndex, 8, 0, "pin")), Pin(2, 2));
  EXPECT_RC(Read(t, kIndex, kIndex, 8, 0, "pin"), Rc::AuthUnavailable);
  EXPECT_EQ(ReadData(Read(t, TpmRh::Owner, kIndex, 8)), Pin(2, 2));  // owner reads don't count
  ASSERT_SUCCESS(Write(t, TpmRh::Owner, kIndex, Pin(1, 2)));
  EXPECT_SUCCESS(Read(t, kIndex, kIndex, 8, 0, "pin"));
}

TEST(NvPin, PinFailCountsFailuresDurablyAndResetsOnSuccess) {
  TestTpm t;
  ASSERT_SUCCESS(
      Define(t, {.attrs = Typed(kOwnerRw | TpmaNv::AuthRead | TpmaNv::NoDa, TpmNt::PinFail),
                 .size = 8,
                 .auth = "pin"}));
  ASSERT_SUCCESS(Write(t, TpmRh::Owner, kIndex, Pin(0, 2)));
  EXPECT_RC(Read(t, kIndex, kIndex, 8, 0, "bad"), Rc::BadAuth.Session(1));
  Reset(t);  // the failure was committed although the command failed
  EXPECT_EQ(ReadU64(t, kIndex), 0x0000000100000002u);
  EXPECT_EQ(ReadData(Read(t, kIndex, kIndex, 8, 0, "pin")), Pin(0, 2));  // a success resets it
  EXPECT_RC(Read(t, kIndex, kIndex, 8, 0, "bad"), Rc::BadAuth.Session(1));
  EXPECT_RC(Read(t, kIndex, kIndex, 8, 0, "bad"), Rc::BadAuth.Session(1));
  EXPECT_RC(Read(t, kIndex, kIndex, 8, 0, "pin"), Rc::AuthUnavailable);  // locked out
  EXPECT_EQ(ReadData(Read(t, TpmRh::Owner, kIndex, 8)), Pin(2, 2));
}

TEST(NvPin, UnwrittenPinCannotBeUsedToLock) {
  TestTpm t;
  ASSERT_SUCCESS(
      Define(t, {.attrs = Typed(kOwnerRw | TpmaNv::AuthRead | TpmaNv::ReadStclear, TpmNt::PinPass),
                 .size = 8,
                 .auth = "pin"}));
  EXPECT_RC(Simple(t, TpmCc::NvReadLock, kIndex, kIndex, "pin"), Rc::AuthUnavailable);
  EXPECT_SUCCESS(Simple(t, TpmCc::NvReadLock, TpmRh::Owner, kIndex));
}

// --- Persistence and capabilities -------------------------------------------------------------

TEST(NvPersistence, IndicesSurviveANewInstance) {
  TestTpm t;
  ASSERT_SUCCESS(Define(
      t, {.attrs = kAuthRw | TpmaNv::OwnerRead, .size = 8, .auth = "pw", .policy = kZeroPolicy}));
  ASSERT_SUCCESS(Write(t, kIndex, kIndex, ToBytes("contents"), 0, "pw"));
  Public before = ReadPublic(t, kIndex);
  Reset(t);
  Public after = ReadPublic(t, kIndex);
  EXPECT_EQ(after.pub, before.pub);
  EXPECT_EQ(after.name, before.name);
  EXPECT_EQ(ReadData(Read(t, kIndex, kIndex, 8, 0, "pw")), ToBytes("contents"));
  EXPECT_RC(Read(t, kIndex, kIndex, 8, 0, "wrong"), Rc::AuthFail.Session(1));
  ASSERT_SUCCESS(Undefine(t, kIndex));
  Reset(t);
  EXPECT_RC(t.Run(Command(TpmCc::NvReadPublic).Handle(kIndex)), Rc::Handle.Handle(1));
}

TEST(NvPersistence, MalformedRecordRefusesToLoad) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {}));
  nvstore::Batch batch;
  batch.changes["nv/01500001"] = Bytes{1, 2, 3};
  ASSERT_TRUE(t.store().Commit(batch).ok());
  ManualClock clock;
  FixedEntropy entropy(1);
  auto loaded = CreateTpm(t.store(), clock, entropy);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code(), StatusCode::kCorrupt);
  EXPECT_NE(loaded.error().message().find("nv/01500001"), std::string::npos);
}

TEST(NvClear, ClearCommandRemovesOwnerIndicesOnly) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {}));
  ASSERT_SUCCESS(Define(t, {.index = kOther, .attrs = kPlatformRw, .hierarchy = TpmRh::Platform}));
  ASSERT_SUCCESS(t.Run(Command(TpmCc::Clear).Handle(TpmRh::Platform).Password()));
  EXPECT_RC(t.Run(Command(TpmCc::NvReadPublic).Handle(kIndex)), Rc::Handle.Handle(1));
  EXPECT_SUCCESS(t.Run(Command(TpmCc::NvReadPublic).Handle(kOther)));
}

TEST(NvClear, RemovesOwnerIndicesOnly) {
  TestTpm t;
  ASSERT_SUCCESS(Define(t, {.attrs = Typed(kOwnerRw, TpmNt::Counter), .size = 8}));
  ASSERT_SUCCESS(Define(t, {.index = kOther, .attrs = kPlatformRw, .hierarchy = TpmRh::Platform}));
  ASSERT_SUCCESS(Simple(t, TpmCc::NvIncrement, TpmRh::Owner, kIndex));
  nv::OnClear(Internal(t));
  EXPECT_EQ(nv::Handles(Internal(t)), std::vector<uint32_t>{kOther});
  EXPECT_EQ(Internal(t).nv().max_counter, 1u);
}

uint32_t Property(TestTpm& t, uint32_t property) {
  Bytes rsp = t.Run(Command(TpmCc::GetCapability).U32(TpmCap::TpmProperties).U32(property).U32(1));
  EXPECT_SUCCESS(rsp);
  wire::Reader r = Params(rsp);
  uint8_t more = 0;
  uint32_t cap = 0, count = 0, tag = 0, value = 0;
  EXPECT_TRUE(r.U8(more).ok() && r.U32(cap).ok() && r.U32(count).ok() && r.U32(tag).ok() &&
              r.U32(value).ok());
  EXPECT_EQ(tag, property);
  return value;
}

TEST(NvCapability, ReportsLimitsCountsAndHandles) {
  TestTpm t;
  EXPECT_EQ(Property(t, TpmPt::NvIndexMax), 2048u);
  EXPECT_EQ(Property(t, TpmPt::NvBufferMax), 1024u);
  EXPECT_EQ(Property(t, TpmPt::HrNvIndex), 0u);
  uint32_t available = Property(t, TpmPt::NvCountersAvail);
  EXPECT_GT(available, 0u);
  ASSERT_SUCCESS(Define(t, {.index = kOther, .attrs = Typed(kOwnerRw, TpmNt::Counter), .size = 8}));
  ASSERT_SUCCESS(Define(t, {}));
  EXPECT_EQ(Property(t, TpmPt::HrNvIndex), 2u);
  EXPECT_EQ(Property(t, TpmPt::NvCounters), 1u);
  EXPECT_LT(Property(t, TpmPt::NvCountersAvail), available);
  Bytes rsp =
      t.Run(Command(TpmCc::GetCapability).U32(TpmCap::Handles).U32(TpmHr::NvIndexFirst).U32(10));
  ASSERT_SUCCESS(rsp);
  wire::Reader r = Params(rsp);
  uint8_t more = 0;
  uint32_t cap = 0, count = 0, h1 = 0, h2 = 0;
  ASSERT_TRUE(r.U8(more).ok() && r.U32(cap).ok() && r.U32(count).ok() && r.U32(h1).ok() &&
              r.U32(h2).ok());
  EXPECT_EQ(count, 2u);
  EXPECT_EQ(h1, kIndex);
  EXPECT_EQ(h2, kOther);
}

// --- ESYS ---------------------------------------------------------------------------------------

class NvEsysTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(client_.init_rc(), TSS2_RC_SUCCESS); }
  ESYS_TR HmacSession(ESYS_CONTEXT* ctx) {
    TPMT_SYM_DEF sym{};
    sym.algorithm = TPM2_ALG_AES;
    sym.keyBits.aes = 128;
    sym.mode.aes = TPM2_ALG_CFB;
    ESYS_TR s = ESYS_TR_NONE;
    EXPECT_EQ(Esys_StartAuthSession(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    ESYS_TR_NONE, nullptr, TPM2_SE_HMAC, &sym, TPM2_ALG_SHA256, &s),
              TSS2_RC_SUCCESS);
    EXPECT_EQ(Esys_TRSess_SetAttributes(
                  ctx, s,
                  TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT, 0xFF),
              TSS2_RC_SUCCESS);
    return s;
  }
  TestTpm tpm_;
  EsysClient client_{tpm_.tpm()};
};

TEST_F(NvEsysTest, DefineWriteReadWithHmacSession) {
  ESYS_CONTEXT* ctx = client_.ctx();
  ESYS_TR s = HmacSession(ctx);
  TPM2B_AUTH auth{};
  auth.size = 6;
  std::memcpy(auth.buffer, "nvpass", 6);
  TPM2B_NV_PUBLIC pub{};
  pub.nvPublic.nvIndex = kIndex;
  pub.nvPublic.nameAlg = TPM2_ALG_SHA256;
  pub.nvPublic.attributes = TPMA_NV_AUTHWRITE | TPMA_NV_AUTHREAD | TPMA_NV_OWNERREAD;
  pub.nvPublic.dataSize = 2048;
  ESYS_TR nv = ESYS_TR_NONE;
  ASSERT_EQ(
      Esys_NV_DefineSpace(ctx, ESYS_TR_RH_OWNER, s, ESYS_TR_NONE, ESYS_TR_NONE, &auth, &pub, &nv),
      TSS2_RC_SUCCESS);
  Bytes data(2048);
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<uint8_t>(i ^ (i >> 8));
  }
  // The first write uses the Name without WRITTEN, the second the Name with it: ESYS tracks the
  // change itself, so a wrong Name on our side fails the HMAC check.
  for (uint16_t off = 0; off < 2048; off += 1024) {
    TPM2B_MAX_NV_BUFFER chunk{};
    chunk.size = 1024;
    std::memcpy(chunk.buffer, data.data() + off, 1024);
    ASSERT_EQ(Esys_NV_Write(ctx, nv, nv, s, ESYS_TR_NONE, ESYS_TR_NONE, &chunk, off),
              TSS2_RC_SUCCESS);
  }
  Bytes back;
  for (uint16_t off = 0; off < 2048; off += 1024) {
    TPM2B_MAX_NV_BUFFER* out = nullptr;
    ASSERT_EQ(Esys_NV_Read(ctx, nv, nv, s, ESYS_TR_NONE, ESYS_TR_NONE, 1024, off, &out),
              TSS2_RC_SUCCESS);
    back.insert(back.end(), out->buffer, out->buffer + out->size);
    Esys_Free(out);
  }
  EXPECT_EQ(back, data);

  // A second client learns the index from TPM2_NV_ReadPublic; ESYS checks the Name it is given
  // against the public area, and then uses it in an HMAC.
  EsysClient other(tpm_.tpm());
  ASSERT_EQ(other.init_rc(), TSS2_RC_SUCCESS);
  ESYS_TR nv2 = ESYS_TR_NONE;
  ASSERT_EQ(
      Esys_TR_FromTPMPublic(other.ctx(), kIndex, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv2),
      TSS2_RC_SUCCESS);
  ASSERT_EQ(Esys_TR_SetAuth(other.ctx(), nv2, &auth), TSS2_RC_SUCCESS);
  ESYS_TR s2 = HmacSession(other.ctx());
  TPM2B_MAX_NV_BUFFER* out = nullptr;
  ASSERT_EQ(Esys_NV_Read(other.ctx(), nv2, nv2, s2, ESYS_TR_NONE, ESYS_TR_NONE, 16, 0, &out),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(Bytes(out->buffer, out->buffer + out->size), Bytes(data.begin(), data.begin() + 16));
  Esys_Free(out);
  ASSERT_EQ(Esys_NV_UndefineSpace(ctx, ESYS_TR_RH_OWNER, nv, s, ESYS_TR_NONE, ESYS_TR_NONE),
            TSS2_RC_SUCCESS);
}

TEST_F(NvEsysTest, CounterExtendAndLocksKeepNamesInStep) {
  ESYS_CONTEXT* ctx = client_.ctx();
  ESYS_TR s = HmacSession(ctx);
  TPM2B_AUTH auth{};
  auth.size = 2;
  std::memcpy(auth.buffer, "ab", 2);
  auto define = [&](uint32_t index, TPMA_NV attrs, uint16_t size) {
    TPM2B_NV_PUBLIC pub{};
    pub.nvPublic.nvIndex = index;
    pub.nvPublic.nameAlg = TPM2_ALG_SHA256;
    pub.nvPublic.attributes = attrs;
    pub.nvPublic.dataSize = size;
    ESYS_TR nv = ESYS_TR_NONE;
    EXPECT_EQ(
        Esys_NV_DefineSpace(ctx, ESYS_TR_RH_OWNER, s, ESYS_TR_NONE, ESYS_TR_NONE, &auth, &pub, &nv),
        TSS2_RC_SUCCESS);
    return nv;
  };
  const TPMA_NV rw =
      TPMA_NV_AUTHWRITE | TPMA_NV_AUTHREAD | TPMA_NV_WRITE_STCLEAR | TPMA_NV_READ_STCLEAR;
  ESYS_TR counter = define(kIndex, rw | (TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT), 8);
  ESYS_TR extend = define(kOther, rw | (TPM2_NT_EXTEND << TPMA_NV_TPM2_NT_SHIFT), 32);
  ASSERT_EQ(Esys_NV_Increment(ctx, counter, counter, s, ESYS_TR_NONE, ESYS_TR_NONE),
            TSS2_RC_SUCCESS);
  ASSERT_EQ(Esys_NV_Increment(ctx, counter, counter, s, ESYS_TR_NONE, ESYS_TR_NONE),
            TSS2_RC_SUCCESS);
  TPM2B_MAX_NV_BUFFER data{};
  data.size = 3;
  std::memcpy(data.buffer, "abc", 3);
  ASSERT_EQ(Esys_NV_Extend(ctx, extend, extend, s, ESYS_TR_NONE, ESYS_TR_NONE, &data),
            TSS2_RC_SUCCESS);
  ASSERT_EQ(Esys_NV_WriteLock(ctx, extend, extend, s, ESYS_TR_NONE, ESYS_TR_NONE), TSS2_RC_SUCCESS);
  TPM2B_MAX_NV_BUFFER* out = nullptr;
  ASSERT_EQ(Esys_NV_Read(ctx, counter, counter, s, ESYS_TR_NONE, ESYS_TR_NONE, 8, 0, &out),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(LoadBe64(out->buffer), 2u);
  Esys_Free(out);
  ASSERT_EQ(Esys_NV_Read(ctx, extend, extend, s, ESYS_TR_NONE, ESYS_TR_NONE, 32, 0, &out),
            TSS2_RC_SUCCESS);
  Bytes m(32);
  m.insert(m.end(), {'a', 'b', 'c'});
  EXPECT_EQ(Bytes(out->buffer, out->buffer + out->size), *crypto::Hash(TpmAlg::Sha256, m));
  Esys_Free(out);
  ASSERT_EQ(Esys_NV_ReadLock(ctx, extend, extend, s, ESYS_TR_NONE, ESYS_TR_NONE), TSS2_RC_SUCCESS);
  TPM2B_NV_PUBLIC* pub = nullptr;
  TPM2B_NAME* name = nullptr;
  ASSERT_EQ(Esys_NV_ReadPublic(ctx, extend, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, &name),
            TSS2_RC_SUCCESS);
  EXPECT_TRUE((pub->nvPublic.attributes & TPMA_NV_READLOCKED) != 0);
  EXPECT_TRUE((pub->nvPublic.attributes & TPMA_NV_WRITELOCKED) != 0);
  Esys_Free(pub);
  Esys_Free(name);
}

}  // namespace
}  // namespace tpm2emu::engine::test
