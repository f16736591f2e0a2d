// Policy sessions (Part 3 §23, §11.2): trial digests against software computations, every
// response code of the policy handlers with its position, and the deferred assertions checked
// when a policy session authorizes a command (Part 3 §5.6).

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "engine/commands/commands.h"
#include "engine/tpm.h"
#include "engine/wire/nv_types.h"
#include "tests/engine/test_util.h"

namespace tpm2emu::engine::test {
namespace {

namespace TpmaNv = wire::TpmaNv;
namespace TpmEo = policy::TpmEo;

constexpr uint32_t kIndex = 0x01500010;

Tpm& Internal(TestTpm& t) {
  return static_cast<Tpm&>(t.tpm());
}

Bytes Sized(ByteSpan b) {
  Bytes out;
  AppendBe16(out, static_cast<uint16_t>(b.size()));
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

Bytes Be32(uint32_t v) {
  Bytes b;
  AppendBe32(b, v);
  return b;
}

Bytes Cat(std::initializer_list<ByteSpan> parts) {
  Bytes out;
  for (ByteSpan p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

Bytes H(ByteSpan data, uint16_t alg = TpmAlg::Sha256) {
  return *crypto::Hash(alg, data);
}

// The policy digest computed in software (Part 3 §23).
struct Digest {
  explicit Digest(uint16_t hash = TpmAlg::Sha256) : alg(hash), value(crypto::DigestSize(hash)) {}
  Digest& Extend(uint32_t cc, ByteSpan args = {}) {
    value = H(Cat({value, Be32(cc), args}), alg);
    return *this;
  }
  // Part 3 §23.2.3 PolicyUpdate
  Digest& Update(uint32_t cc, ByteSpan name, ByteSpan ref) {
    Extend(cc, name);
    value = H(Cat({value, ref}), alg);
    return *this;
  }
  Digest& Reset() {
    value.assign(value.size(), 0);
    return *this;
  }
  uint16_t alg;
  Bytes value;
};

uint32_t Start(TestTpm& t, uint8_t type, uint16_t hash = TpmAlg::Sha256) {
  Bytes rsp = t.Run(Command(TpmCc::StartAuthSession)
                        .Handle(TpmRh::Null)
                        .Handle(TpmRh::Null)
                        .Sized(Bytes(16, 7))
                        .Sized("")
                        .U8(type)
                        .U16(TpmAlg::Null)
                        .U16(hash));
  EXPECT_SUCCESS(rsp);
  return rsp.size() >= 14 ? LoadBe32(rsp.data() + 10) : 0;
}
uint32_t Trial(TestTpm& t, uint16_t hash = TpmAlg::Sha256) {
  return Start(t, TpmSe::Trial, hash);
}
uint32_t Policy(TestTpm& t, uint16_t hash = TpmAlg::Sha256) {
  return Start(t, TpmSe::Policy, hash);
}

Bytes NonceTpm(TestTpm& t, uint32_t session) {
  return Internal(t).reset_state().sessions.at(session).nonce_tpm;
}

Bytes GetDigest(TestTpm& t, uint32_t session) {
  Bytes rsp = t.Run(Command(TpmCc::PolicyGetDigest).Handle(session));
  EXPECT_SUCCESS(rsp);
  wire::Reader r = Params(rsp);
  wire::Tpm2bDigest d;
  EXPECT_TRUE(wire::Unmarshal(r, d).ok());
  return d.data;
}

// A policy command on `session` with these parameters and no authorization.
Bytes Exec(TestTpm& t, uint32_t code, uint32_t session, ByteSpan params = {}, uint8_t loc = 0) {
  return t.Run(Command(code).Handle(session).Raw(params), loc);
}

Bytes PcrSelection(uint16_t alg, uint32_t pcr) {
  Bytes b;
  AppendBe32(b, 1);
  AppendBe16(b, alg);
  b.push_back(3);
  Bytes bits(3);
  bits[pcr / 8] = static_cast<uint8_t>(1u << (pcr % 8));
  b.insert(b.end(), bits.begin(), bits.end());
  return b;
}

Bytes PcrValue(TestTpm& t, uint16_t alg, uint32_t pcr) {
  auto bank = Internal(t).BankIndex(alg);
  return Internal(t).pcr_values()[*bank][pcr];
}

Bytes OperandParams(ByteSpan operand, uint16_t offset, uint16_t op) {
  Bytes p = Sized(operand);
  AppendBe16(p, offset);
  AppendBe16(p, op);
  return p;
}

Bytes OperandArgs(ByteSpan operand, uint16_t offset, uint16_t op) {
  Bytes p(operand.begin(), operand.end());
  AppendBe16(p, offset);
  AppendBe16(p, op);
  return H(p);
}

Bytes Name(uint32_t handle) {
  return Be32(handle);
}


void SetPolicy(TestTpm& t, uint32_t hierarchy, ByteSpan digest) {
  ASSERT_SUCCESS(t.Run(Command(TpmCc::SetPrimaryPolicy)
                           .Handle(hierarchy)
                           .Password()
                           .Sized(digest)
                           .U16(TpmAlg::Sha256)));
}

// TPM2_ClockRateAdjust(auth, no change) authorized by `session`: a harmless command to
// authorize with a hierarchy's policy.
Bytes UseForRateAdjust(TestTpm& t, uint32_t session, uint32_t hierarchy = TpmRh::Owner,
                       uint8_t locality = 0, const std::string& hmac = "") {
  const uint8_t no_change = 0;
  return t.Run(
      WithSessions(TpmCc::ClockRateAdjust, {hierarchy}, {{session, hmac}}, ByteSpan(&no_change, 1)),
      locality);
}

// PolicySecret / PolicySigned parameters: nonceTPM, cpHashA, policyRef, expiration.
Bytes AuthParams(ByteSpan nonce, ByteSpan cp_hash, ByteSpan ref, int32_t expiration) {
  Bytes p = Cat({Sized(nonce), Sized(cp_hash), Sized(ref)});
  AppendBe32(p, static_cast<uint32_t>(expiration));
  return p;
}

Bytes PolicySecret(TestTpm& t, uint32_t session, ByteSpan params, uint32_t auth = TpmRh::Owner,
                   std::string_view password = "") {
  return t.Run(
      Command(TpmCc::PolicySecret).Handle(auth).Handle(session).Password(password).Raw(params));
}

Bytes NvPublic(uint32_t attrs, uint16_t size, ByteSpan policy = {}) {
  Bytes b = Be32(kIndex);
  AppendBe16(b, TpmAlg::Sha256);
  AppendBe32(b, attrs);
  b = Cat({b, Sized(policy)});
  AppendBe16(b, size);
  return b;
}

void DefineIndex(TestTpm& t, uint32_t attrs, uint16_t size, ByteSpan policy = {},
                 uint32_t hierarchy = TpmRh::Owner) {
  ASSERT_SUCCESS(t.Run(Command(TpmCc::NvDefineSpace)
                           .Handle(hierarchy)
                           .Password()
                           .Sized("")
                           .Sized(NvPublic(attrs, size, policy))));
}

void WriteIndex(TestTpm& t, ByteSpan data, uint32_t auth = TpmRh::Owner) {
  ASSERT_SUCCESS(
      t.Run(Command(TpmCc::NvWrite).Handle(auth).Handle(kIndex).Password().Sized(data).U16(0)));
}

Bytes IndexName(TestTpm& t) {
  return *Internal(t).EntityName(kIndex);
}

// --- Trial sessions compute what software computes -------------------------------------------

TEST(PolicyTrial, SimpleAssertionsMatchSoftware) {
  TestTpm t;
  uint32_t s = Trial(t);
  Digest want;
  EXPECT_EQ(GetDigest(t, s), want.value);  // a Zero Digest to start with

  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyAuthValue, s));
  want.Extend(TpmCc::PolicyAuthValue);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyPassword, s));
  want.Extend(TpmCc::PolicyAuthValue);  // the same extend as TPM2_PolicyAuthValue
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyCommandCode, s, Be32(TpmCc::Unseal)));
  want.Extend(TpmCc::PolicyCommandCode, Be32(TpmCc::Unseal));
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyPhysicalPresence, s));
  want.Extend(TpmCc::PolicyPhysicalPresence);
  const uint8_t locality = 0x03;
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyLocality, s, ByteSpan(&locality, 1)));
  want.Extend(TpmCc::PolicyLocality, ByteSpan(&locality, 1));
  const uint8_t yes = 1;
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyNvWritten, s, ByteSpan(&yes, 1)));
  want.Extend(TpmCc::PolicyNvWritten, ByteSpan(&yes, 1));
  Bytes cp(32, 0xC0);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyCpHash, s, Sized(cp)));
  want.Extend(TpmCc::PolicyCpHash, cp);
  Bytes names(32, 0x0A);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyNameHash, s, Sized(names)));
  want.Extend(TpmCc::PolicyNameHash, names);
  Bytes templ(32, 0x7E);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyTemplate, s, Sized(templ)));
  want.Extend(TpmCc::PolicyTemplate, templ);
  Bytes operand = {0, 0, 0, 0, 0, 0, 0xEA, 0x60};
  ASSERT_SUCCESS(
      Exec(t, TpmCc::PolicyCounterTimer, s, OperandParams(operand, 0, TpmEo::UnsignedLt)));
  want.Extend(TpmCc::PolicyCounterTimer, OperandArgs(operand, 0, TpmEo::UnsignedLt));
  EXPECT_EQ(GetDigest(t, s), want.value);

  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyRestart, s));
  EXPECT_EQ(GetDigest(t, s), Digest().value);
}

TEST(PolicyTrial, Sha1SessionUsesSha1) {
  TestTpm t;
  uint32_t s = Trial(t, TpmAlg::Sha1);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyCommandCode, s, Be32(TpmCc::NvRead)));
  EXPECT_EQ(GetDigest(t, s),
            Digest(TpmAlg::Sha1).Extend(TpmCc::PolicyCommandCode, Be32(TpmCc::NvRead)).value);
}

TEST(PolicyTrial, PcrWithAndWithoutDigest) {
  TestTpm t;
  uint32_t s = Trial(t);
  Bytes sel = PcrSelection(TpmAlg::Sha256, 7);
  Bytes given(32, 0x55);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyPCR, s, Cat({Sized(given), sel})));
  EXPECT_EQ(GetDigest(t, s), Digest().Extend(TpmCc::PolicyPCR, Cat({sel, given})).value);
  // Without a digest the TPM uses the current values: H(PCR[7]).
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyRestart, s));
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyPCR, s, Cat({Sized(Bytes{}), sel})));
  Bytes current = H(PcrValue(t, TpmAlg::Sha256, 7));
  EXPECT_EQ(GetDigest(t, s), Digest().Extend(TpmCc::PolicyPCR, Cat({sel, current})).value);
}

TEST(PolicyTrial, OrResetsAndExtendsTheList) {
  TestTpm t;
  uint32_t s = Trial(t);
  Bytes a(32, 1), b(32, 2);
  Bytes list = Cat({Be32(2), Sized(a), Sized(b)});
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyAuthValue, s));  // a trial does not need a match
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyOr, s, list));
  EXPECT_EQ(GetDigest(t, s), Digest().Extend(TpmCc::PolicyOr, Cat({a, b})).value);
}

TEST(PolicyTrial, SecretSignedTicketAuthorizeUseTheirNames) {
  TestTpm t;
  uint32_t s = Trial(t);
  Bytes ref = ToBytes("ref");
  ASSERT_SUCCESS(PolicySecret(t, s, AuthParams({}, {}, ref, 0)));
  Digest want;
  want.Update(TpmCc::PolicySecret, Name(TpmRh::Owner), ref);
  EXPECT_EQ(GetDigest(t, s), want.value);

  // TPM2_PolicyTicket in a trial session: the tag picks the command code.
  Bytes auth_name = Cat({Bytes{0, 0x0B}, Bytes(32, 9)});
  Bytes ticket = {0x80, 0x25, 0x40, 0x00,
                  0x00, 0x07, 0x00, 0x00};  // AUTH_SIGNED, TPM_RH_NULL, empty
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyTicket, s,
                      Cat({Sized(Bytes{}), Sized(Bytes{}), Sized(ref), Sized(auth_name), ticket})));
  want.Update(TpmCc::PolicySigned, auth_name, ref);
  EXPECT_EQ(GetDigest(t, s), want.value);

  // TPM2_PolicyAuthorize with a NULL Ticket: resets, then PolicyUpdate with keySign.
  Bytes null_verified = {0x80, 0x22, 0x40, 0x00, 0x00, 0x07, 0x00, 0x00};
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyAuthorize, s,
                      Cat({Sized(Bytes(32, 3)), Sized(ref), Sized(auth_name), null_verified})));
  want.Reset().Update(TpmCc::PolicyAuthorize, auth_name, ref);
  EXPECT_EQ(GetDigest(t, s), want.value);
}

TEST(PolicyTrial, DuplicationSelectWithAndWithoutObject) {
  TestTpm t;
  uint32_t s = Trial(t);
  Bytes object = Cat({Bytes{0, 0x0B}, Bytes(32, 1)});
  Bytes parent = Cat({Bytes{0, 0x0B}, Bytes(32, 2)});
  const uint8_t yes = 1, no = 0;
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyDuplicationSelect, s,
                      Cat({Sized(object), Sized(parent), ByteSpan(&yes, 1)})));
  Digest want;
  want.Extend(TpmCc::PolicyDuplicationSelect, Cat({object, parent, ByteSpan(&yes, 1)}));
  EXPECT_EQ(GetDigest(t, s), want.value);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyRestart, s));
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyDuplicationSelect, s,
                      Cat({Sized(object), Sized(parent), ByteSpan(&no, 1)})));
  EXPECT_EQ(GetDigest(t, s),
            Digest().Extend(TpmCc::PolicyDuplicationSelect, Cat({parent, ByteSpan(&no, 1)})).value);
}

TEST(PolicyTrial, NvAndAuthorizeNvUseTheIndexName) {
  TestTpm t;
  DefineIndex(t, TpmaNv::OwnerWrite | TpmaNv::OwnerRead | TpmaNv::AuthRead | TpmaNv::AuthWrite, 34);
  WriteIndex(t, Bytes(34, 0));
  Bytes name = IndexName(t);
  uint32_t s = Trial(t);
  Bytes operand = {1, 2};
  ASSERT_SUCCESS(t.Run(Command(TpmCc::PolicyNV)
                           .Handle(kIndex)
                           .Handle(kIndex)
                           .Handle(s)
                           .Password()
                           .Raw(OperandParams(operand, 4, TpmEo::Eq))));
  Digest want;
  want.Extend(TpmCc::PolicyNV, Cat({OperandArgs(operand, 4, TpmEo::Eq), name}));
  EXPECT_EQ(GetDigest(t, s), want.value);
  ASSERT_SUCCESS(t.Run(
      Command(TpmCc::PolicyAuthorizeNV).Handle(TpmRh::Owner).Handle(kIndex).Handle(s).Password()));
  EXPECT_EQ(GetDigest(t, s), Digest().Extend(TpmCc::PolicyAuthorizeNV, name).value);
}

TEST(PolicyTrial, TrialSessionCannotAuthorize) {
  TestTpm t;
  uint32_t s = Trial(t);
  EXPECT_RC(UseForRateAdjust(t, s), Rc::Attributes.Session(1));
}

// --- Handles ---------------------------------------------------------------------------------

TEST(PolicyHandles, OnlyLoadedPolicySessions) {
  TestTpm t;
  Bytes rsp = t.Run(Command(TpmCc::StartAuthSession)
                        .Handle(TpmRh::Null)
                        .Handle(TpmRh::Null)
                        .Sized(Bytes(16, 7))
                        .Sized("")
                        .U8(TpmSe::Hmac)
                        .U16(TpmAlg::Null)
                        .U16(TpmAlg::Sha256));
  uint32_t hmac = LoadBe32(rsp.data() + 10);
  EXPECT_RC(Exec(t, TpmCc::PolicyRestart, hmac), Rc::Value.Handle(1));
  EXPECT_RC(Exec(t, TpmCc::PolicyGetDigest, hmac), Rc::Value.Handle(1));
  EXPECT_RC(Exec(t, TpmCc::PolicyAuthValue, 0x03000033), Rc::ReferenceH(0));
  EXPECT_RC(PolicySecret(t, 0x03000033, AuthParams({}, {}, {}, 0)), Rc::ReferenceH(1));
  EXPECT_RC(PolicySecret(t, hmac, AuthParams({}, {}, {}, 0)), Rc::Value.Handle(2));
  EXPECT_RC(PolicySecret(t, Policy(t), AuthParams({}, {}, {}, 0), TpmRh::Null),
            Rc::Value.Handle(1));
}

// --- PolicySecret and PolicyTicket -------------------------------------------------------------

TEST(PolicySecret, ChecksNonceCpHashAndExpiration) {
  TestTpm t;
  uint32_t s = Policy(t);
  Bytes nonce = NonceTpm(t, s);
  EXPECT_RC(PolicySecret(t, s, AuthParams(Bytes(16, 0xEE), {}, {}, 0)), Rc::Value.Param(1));
  EXPECT_RC(PolicySecret(t, s, AuthParams(nonce, Bytes(20, 1), {}, 0)), Rc::Size.Param(2));
  EXPECT_RC(PolicySecret(t, s, {}, TpmRh::Owner, "wrong"), Rc::BadAuth.Session(1));
  // Without nonceTPM, expiration is a value of Time: 1 s has passed after 2 s.
  t.clock().Advance(2000);
  EXPECT_RC(PolicySecret(t, s, AuthParams({}, {}, {}, 1)), Rc::Expired.Param(4));
  ASSERT_SUCCESS(PolicySecret(t, s, AuthParams(nonce, Bytes(32, 1), ToBytes("r"), 10)));
  EXPECT_EQ(GetDigest(t, s),
            Digest().Update(TpmCc::PolicySecret, Name(TpmRh::Owner), ToBytes("r")).value);
  // Another cpHash conflicts with the recorded one.
  EXPECT_RC(PolicySecret(t, s, AuthParams(nonce, Bytes(32, 2), {}, 0)), Rc::CpHash);
  EXPECT_RC(Exec(t, TpmCc::PolicyCpHash, s, Sized(Bytes(32, 2))), Rc::CpHash);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyCpHash, s, Sized(Bytes(32, 1))));
}

struct TicketOut {
  Bytes timeout;
  Bytes ticket;  // marshaled TPMT_TK_AUTH
};
TicketOut ReadTicket(const Bytes& rsp) {
  wire::Reader r = Params(rsp);
  policy::Tpm2bTimeout timeout;
  wire::TpmtTicket ticket;
  EXPECT_TRUE(wire::Unmarshal(r, timeout).ok());
  EXPECT_TRUE(wire::Unmarshal(r, ticket).ok());
  return {timeout.data, wire::MarshalToBytes(ticket)};
}

TEST(PolicyTicket, SecretTicketReplaysUntilItExpires) {
  TestTpm t;
  uint32_t s = Policy(t);
  Bytes ref = ToBytes("ticket");
  Bytes rsp = PolicySecret(t, s, AuthParams(NonceTpm(t, s), {}, ref, -60));
  ASSERT_SUCCESS(rsp);
  TicketOut out = ReadTicket(rsp);
  ASSERT_EQ(out.timeout.size(), 8u);
  EXPECT_EQ(LoadBe16(out.ticket.data()), TpmSt::AuthSecret);
  EXPECT_EQ(LoadBe32(out.ticket.data() + 2), TpmRh::Owner);
  Bytes secret_digest = GetDigest(t, s);

  // A positive expiration gives a NULL Ticket.
  rsp = PolicySecret(t, Policy(t), AuthParams({}, {}, ref, 60));
  ASSERT_SUCCESS(rsp);
  TicketOut null_out = ReadTicket(rsp);
  EXPECT_TRUE(null_out.timeout.empty());
  EXPECT_EQ(null_out.ticket, (Bytes{0x80, 0x23, 0x40, 0x00, 0x00, 0x07, 0x00, 0x00}));

  auto ticket_params = [&](ByteSpan ticket, ByteSpan cp = {}) {
    return Cat({Sized(out.timeout), Sized(cp), Sized(ref), Sized(Name(TpmRh::Owner)), ticket});
  };
  uint32_t s2 = Policy(t);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyTicket, s2, ticket_params(out.ticket)));
  EXPECT_EQ(GetDigest(t, s2), secret_digest);

  Bytes tampered = out.ticket;
  tampered.back() ^= 1;
  EXPECT_RC(Exec(t, TpmCc::PolicyTicket, Policy(t), ticket_params(tampered)), Rc::Ticket.Param(5));
  EXPECT_RC(Exec(t, TpmCc::PolicyTicket, Policy(t), ticket_params(out.ticket, Bytes(32, 4))),
            Rc::Ticket.Param(5));
  EXPECT_RC(Exec(t, TpmCc::PolicyTicket, Policy(t), ticket_params(out.ticket, Bytes(20, 4))),
            Rc::Size.Param(2));
  Bytes wrong_tag = out.ticket;
  wrong_tag[1] = 0x22;  // TPM_ST_VERIFIED
  EXPECT_RC(Exec(t, TpmCc::PolicyTicket, Policy(t), ticket_params(wrong_tag)), Rc::Tag.Param(5));

  t.clock().Advance(61 * 1000);
  EXPECT_RC(Exec(t, TpmCc::PolicyTicket, Policy(t), ticket_params(out.ticket)),
            Rc::Expired.Param(1));
}

TEST(PolicyTicket, TicketDiesWithTpmReset) {
  TestTpm t;
  uint32_t s = Policy(t);
  Bytes rsp = PolicySecret(t, s, AuthParams({}, {}, {}, -3600));
  ASSERT_SUCCESS(rsp);
  TicketOut out = ReadTicket(rsp);
  t.Create();  // no Shutdown: the next Startup is a TPM Reset
  t.Startup();
  Bytes params = Cat(
      {Sized(out.timeout), Sized(Bytes{}), Sized(Bytes{}), Sized(Name(TpmRh::Owner)), out.ticket});
  EXPECT_RC(Exec(t, TpmCc::PolicyTicket, Policy(t), params), Rc::Ticket.Param(5));
}

TEST(PolicySecret, PinPassIndexGivesNoTicket) {
  TestTpm t;
  uint32_t attrs =
      TpmaNv::WithType(TpmaNv::OwnerWrite | TpmaNv::OwnerRead | TpmaNv::AuthRead | TpmaNv::NoDa,
                       wire::TpmNt::PinPass);
  DefineIndex(t, attrs, 8);
  WriteIndex(t, Bytes{0, 0, 0, 0, 0, 0, 0, 5});
  Bytes rsp = PolicySecret(t, Policy(t), AuthParams({}, {}, {}, -60), kIndex);
  ASSERT_SUCCESS(rsp);
  EXPECT_TRUE(ReadTicket(rsp).timeout.empty());
}

// --- The other assertions' response codes ------------------------------------------------------

TEST(PolicyOr, NeedsTwoEntriesAndAMatch) {
  TestTpm t;
  uint32_t s = Policy(t);
  Bytes zero(32, 0), other(32, 1);
  EXPECT_RC(Exec(t, TpmCc::PolicyOr, s, Cat({Be32(1), Sized(zero)})), Rc::Size.Param(1));
  EXPECT_RC(Exec(t, TpmCc::PolicyOr, s, Cat({Be32(9)})), Rc::Size.Param(1));
  EXPECT_RC(Exec(t, TpmCc::PolicyOr, s, Cat({Be32(2), Sized(other), Sized(Bytes(20, 0))})),
            Rc::Value.Param(1));
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyOr, s, Cat({Be32(2), Sized(other), Sized(zero)})));
  EXPECT_EQ(GetDigest(t, s), Digest().Extend(TpmCc::PolicyOr, Cat({other, zero})).value);
}

TEST(PolicyPcr, ChecksTheValuesAndTheUpdateCounter) {
  TestTpm t;
  uint32_t s = Policy(t);
  Bytes sel = PcrSelection(TpmAlg::Sha256, 16);
  Bytes current = H(PcrValue(t, TpmAlg::Sha256, 16));
  EXPECT_RC(Exec(t, TpmCc::PolicyPCR, s, Cat({Sized(Bytes(32, 1)), sel})), Rc::Value.Param(1));
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyPCR, s, Cat({Sized(current), sel})));
  EXPECT_EQ(GetDigest(t, s), Digest().Extend(TpmCc::PolicyPCR, Cat({sel, current})).value);
  Bytes digests = Cat({Be32(1), Bytes{0, 0x0B}, Bytes(32, 3)});
  ASSERT_SUCCESS(t.Run(Command(TpmCc::PcrExtend).Handle(10).Password().Raw(digests)));
  EXPECT_RC(Exec(t, TpmCc::PolicyPCR, s, Cat({Sized(Bytes{}), sel})), Rc::PcrChanged);
}

TEST(PolicyPcr, UnallocatedPcrAreDroppedFromTheSelection) {
  TestTpm t;
  uint32_t s = Policy(t);
  Bytes sel = PcrSelection(TpmAlg::Sha384, 3);  // no SHA-384 bank by default
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyPCR, s, Cat({Sized(Bytes{}), sel})));
  Bytes filtered = PcrSelection(TpmAlg::Sha384, 0);
  filtered[filtered.size() - 3] = 0;
  EXPECT_EQ(GetDigest(t, s), Digest().Extend(TpmCc::PolicyPCR, Cat({filtered, H({})})).value);
}

TEST(PolicyLocality, KeepsOnlyLocalitiesAllowedByEveryAssertion) {
  TestTpm t;
  uint32_t s = Policy(t);
  auto loc = [&](uint8_t l) { return Exec(t, TpmCc::PolicyLocality, s, ByteSpan(&l, 1)); };
  EXPECT_RC(loc(0), Rc::Range.Param(1));
  ASSERT_SUCCESS(loc(0x03));
  EXPECT_RC(loc(0x04), Rc::Range.Param(1));  // nothing left of 0 and 1
  EXPECT_RC(loc(0x40), Rc::Range.Param(1));  // extended after normal
  ASSERT_SUCCESS(loc(0x02));
  EXPECT_EQ(Internal(t).reset_state().sessions.at(s).command_locality, 0x02);
  uint32_t e = Policy(t);
  const uint8_t ext = 0x40, other = 0x41, normal = 1;
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyLocality, e, ByteSpan(&ext, 1)));
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyLocality, e, ByteSpan(&ext, 1)));
  EXPECT_RC(Exec(t, TpmCc::PolicyLocality, e, ByteSpan(&other, 1)), Rc::Range.Param(1));
  EXPECT_RC(Exec(t, TpmCc::PolicyLocality, e, ByteSpan(&normal, 1)), Rc::Range.Param(1));
}

TEST(PolicyNv, ComparesTheIndexData) {
  TestTpm t;
  DefineIndex(t, TpmaNv::OwnerWrite | TpmaNv::OwnerRead | TpmaNv::AuthRead | TpmaNv::ReadStclear,
              8);
  auto nv = [&](uint32_t auth, ByteSpan operand, uint16_t offset, uint16_t op, uint32_t session) {
    return t.Run(Command(TpmCc::PolicyNV)
                     .Handle(auth)
                     .Handle(kIndex)
                     .Handle(session)
                     .Password()
                     .Raw(OperandParams(operand, offset, op)));
  };
  uint32_t s = Policy(t);
  Bytes five = {0, 5};
  EXPECT_RC(nv(TpmRh::Owner, five, 0, TpmEo::Eq, s), Rc::NvUninitialized);
  EXPECT_RC(nv(kIndex, five, 0, TpmEo::Eq, s), Rc::NvUninitialized);  // from the dispatcher
  WriteIndex(t, Bytes{0, 5, 0xFF, 0x80, 0, 0, 0, 0});
  EXPECT_RC(nv(TpmRh::Platform, five, 0, TpmEo::Eq, s), Rc::NvAuthorization);
  EXPECT_RC(nv(TpmRh::Owner, five, 9, TpmEo::Eq, s), Rc::Value.Param(2));
  EXPECT_RC(nv(TpmRh::Owner, five, 7, TpmEo::Eq, s), Rc::NvRange);
  EXPECT_RC(nv(TpmRh::Owner, five, 0, TpmEo::Neq, s), Rc::Policy);
  EXPECT_RC(nv(TpmRh::Owner, five, 0, 0x0C, s), Rc::Value.Param(3));
  // 0x0005 vs 0xFF80: unsigned greater, signed smaller (two's complement).
  Bytes neg = {0xFF, 0x80};
  EXPECT_RC(nv(TpmRh::Owner, neg, 0, TpmEo::SignedLt, s), Rc::Policy);
  ASSERT_SUCCESS(nv(TpmRh::Owner, neg, 0, TpmEo::UnsignedLt, s));
  ASSERT_SUCCESS(nv(TpmRh::Owner, neg, 0, TpmEo::SignedGt, s));
  ASSERT_SUCCESS(nv(TpmRh::Owner, Bytes{0xFF, 0x80}, 2, TpmEo::Eq, s));
  ASSERT_SUCCESS(nv(kIndex, Bytes{0x80}, 3, TpmEo::Bitset, s));
  ASSERT_SUCCESS(nv(kIndex, Bytes{0x7F}, 3, TpmEo::Bitclear, s));
  EXPECT_RC(nv(kIndex, Bytes{0x81}, 3, TpmEo::Bitset, s), Rc::Policy);
  ASSERT_SUCCESS(t.Run(Command(TpmCc::NvReadLock).Handle(TpmRh::Owner).Handle(kIndex).Password()));
  EXPECT_RC(nv(TpmRh::Owner, five, 0, TpmEo::Eq, s), Rc::NvLocked);
}

TEST(PolicyAuthorizeNv, ComparesTheStoredPolicy) {
  TestTpm t;
  DefineIndex(t, TpmaNv::OwnerWrite | TpmaNv::OwnerRead, 34);
  auto authorize = [&](uint32_t session) {
    return t.Run(Command(TpmCc::PolicyAuthorizeNV)
                     .Handle(TpmRh::Owner)
                     .Handle(kIndex)
                     .Handle(session)
                     .Password());
  };
  uint32_t s = Policy(t);
  EXPECT_RC(authorize(s), Rc::NvUninitialized);
  WriteIndex(t, Cat({Bytes{0, 0x04}, Bytes(32, 0)}));
  EXPECT_RC(authorize(s), Rc::Hash);  // SHA-1 in the index, SHA-256 in the session
  WriteIndex(t, Cat({Bytes{0, 0x0B}, Bytes(32, 1)}));
  EXPECT_RC(authorize(s), Rc::Value);
  WriteIndex(t, Cat({Bytes{0, 0x0B}, Bytes(32, 0)}));
  ASSERT_SUCCESS(authorize(s));
  EXPECT_EQ(GetDigest(t, s), Digest().Extend(TpmCc::PolicyAuthorizeNV, IndexName(t)).value);
}

TEST(PolicyAuthorizeNv, ReadAccessThroughOwnerOrPlatform) {
  TestTpm t;
  DefineIndex(t, TpmaNv::OwnerWrite | TpmaNv::OwnerRead | TpmaNv::ReadStclear, 34);
  WriteIndex(t, Cat({Bytes{0, 0x0B}, Bytes(32, 0)}));
  auto authorize = [&](uint32_t auth) {
    return t.Run(
        Command(TpmCc::PolicyAuthorizeNV).Handle(auth).Handle(kIndex).Handle(Policy(t)).Password());
  };
  EXPECT_RC(authorize(TpmRh::Platform), Rc::NvAuthorization);
  ASSERT_SUCCESS(authorize(TpmRh::Owner));
  ASSERT_SUCCESS(t.Run(Command(TpmCc::NvReadLock).Handle(TpmRh::Owner).Handle(kIndex).Password()));
  EXPECT_RC(authorize(TpmRh::Owner), Rc::NvLocked);
}

TEST(PolicyAuthorizeNv, ShortIndexIsInsufficient) {
  TestTpm t;
  DefineIndex(t, TpmaNv::OwnerWrite | TpmaNv::OwnerRead, 20);
  WriteIndex(t, Cat({Bytes{0, 0x0B}, Bytes(18, 0)}));
  EXPECT_RC(t.Run(Command(TpmCc::PolicyAuthorizeNV)
                      .Handle(TpmRh::Owner)
                      .Handle(kIndex)
                      .Handle(Policy(t))
                      .Password()),
            Rc::Insufficient);
}

TEST(PolicyCounterTimer, ComparesTimeInfo) {
  TestTpm t;
  uint32_t s = Policy(t);
  auto ct = [&](ByteSpan operand, uint16_t offset, uint16_t op) {
    return Exec(t, TpmCc::PolicyCounterTimer, s, OperandParams(operand, offset, op));
  };
  Bytes eight(8, 0);
  EXPECT_RC(ct(eight, 26, TpmEo::Eq), Rc::Value.Param(2));
  EXPECT_RC(ct(eight, 20, TpmEo::Eq), Rc::Range.Param(1));
  EXPECT_RC(ct(eight, 0, 0x0C), Rc::Value.Param(3));
  // resetCount at offset 16; safe (offset 24) is YES.
  Bytes reset_count = Be32(Internal(t).persistent().reset_count);
  ASSERT_SUCCESS(ct(reset_count, 16, TpmEo::Eq));
  EXPECT_RC(ct(reset_count, 16, TpmEo::Neq), Rc::Policy);
  ASSERT_SUCCESS(ct(Bytes{1}, 24, TpmEo::Eq));
  // Clock (offset 8) is larger than zero after time passes.
  t.clock().Advance(5000);
  ASSERT_SUCCESS(ct(eight, 8, TpmEo::UnsignedGt));
  EXPECT_RC(ct(eight, 8, TpmEo::UnsignedLe), Rc::Policy);
}

TEST(PolicyCounterTimer, TimeLessThanIsAnExpiration) {
  TestTpm t;
  uint32_t s = Policy(t);
  Bytes five = {0, 0, 0, 0, 0, 0, 0, 5};
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyCounterTimer, s, OperandParams(five, 0, TpmEo::UnsignedLt)));
  EXPECT_EQ(Internal(t).reset_state().sessions.at(s).timeout_ms,
            Internal(t).reset_state().sessions.at(s).start_time_ms + 5000);
  EXPECT_RC(Exec(t, TpmCc::PolicyCounterTimer, s,
                 OperandParams(Bytes{0, 0, 0, 0, 0x80, 0, 0, 0}, 0, TpmEo::UnsignedLt)),
            Rc::Value.Param(1));
  t.clock().Advance(6000);
  EXPECT_RC(Exec(t, TpmCc::PolicyCounterTimer, s, OperandParams(five, 0, TpmEo::UnsignedLt)),
            Rc::Expired.Param(1));
}

TEST(PolicyCommandCode, OneImplementedCommand) {
  TestTpm t;
  uint32_t s = Policy(t);
  EXPECT_RC(Exec(t, TpmCc::PolicyCommandCode, s, Be32(0x1FF)), Rc::PolicyCc.Param(1));
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyCommandCode, s, Be32(TpmCc::NvRead)));
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyCommandCode, s, Be32(TpmCc::NvRead)));
  EXPECT_RC(Exec(t, TpmCc::PolicyCommandCode, s, Be32(TpmCc::NvWrite)), Rc::Value.Param(1));
  const uint8_t yes = 1;
  Bytes name = Cat({Bytes{0, 0x0B}, Bytes(32, 1)});
  EXPECT_RC(Exec(t, TpmCc::PolicyDuplicationSelect, s,
                 Cat({Sized(name), Sized(name), ByteSpan(&yes, 1)})),
            Rc::PolicyCc);
}

TEST(PolicyCpHash, SizeAndConflicts) {
  TestTpm t;
  uint32_t s = Policy(t);
  EXPECT_RC(Exec(t, TpmCc::PolicyCpHash, s, Sized(Bytes(20, 1))), Rc::Size.Param(1));
  EXPECT_RC(Exec(t, TpmCc::PolicyNameHash, s, Sized(Bytes(20, 1))), Rc::Size.Param(1));
  EXPECT_RC(Exec(t, TpmCc::PolicyTemplate, s, Sized(Bytes(20, 1))), Rc::Size.Param(1));
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyNameHash, s, Sized(Bytes(32, 1))));
  EXPECT_RC(Exec(t, TpmCc::PolicyNameHash, s, Sized(Bytes(32, 1))), Rc::CpHash);
  EXPECT_RC(Exec(t, TpmCc::PolicyCpHash, s, Sized(Bytes(32, 1))), Rc::CpHash);
  EXPECT_RC(Exec(t, TpmCc::PolicyTemplate, s, Sized(Bytes(32, 1))), Rc::CpHash);
  const uint8_t yes = 1;
  Bytes name = Cat({Bytes{0, 0x0B}, Bytes(32, 1)});
  EXPECT_RC(Exec(t, TpmCc::PolicyDuplicationSelect, s,
                 Cat({Sized(name), Sized(name), ByteSpan(&yes, 1)})),
            Rc::CpHash);
  const uint8_t two = 2;
  EXPECT_RC(Exec(t, TpmCc::PolicyDuplicationSelect, Policy(t),
                 Cat({Sized(name), Sized(name), ByteSpan(&two, 1)})),
            Rc::Value.Param(3));

  uint32_t p = Policy(t);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyTemplate, p, Sized(Bytes(32, 1))));
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyTemplate, p, Sized(Bytes(32, 1))));
  EXPECT_RC(Exec(t, TpmCc::PolicyTemplate, p, Sized(Bytes(32, 2))), Rc::Value.Param(1));
}

TEST(PolicyNvWritten, OneStatePerPolicy) {
  TestTpm t;
  uint32_t s = Policy(t);
  const uint8_t yes = 1, no = 0, two = 2;
  EXPECT_RC(Exec(t, TpmCc::PolicyNvWritten, s, ByteSpan(&two, 1)), Rc::Value.Param(1));
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyNvWritten, s, ByteSpan(&yes, 1)));
  EXPECT_RC(Exec(t, TpmCc::PolicyNvWritten, s, ByteSpan(&no, 1)), Rc::Value.Param(1));
}

TEST(PolicyAuthorize, ChecksKeySignDigestAndTicket) {
  TestTpm t;
  uint32_t s = Policy(t);
  Bytes key_sign = Cat({Bytes{0, 0x0B}, Bytes(32, 3)});
  Bytes null_verified = {0x80, 0x22, 0x40, 0x00, 0x00, 0x07, 0x00, 0x00};
  auto authorize = [&](ByteSpan approved, ByteSpan key, ByteSpan ticket) {
    return Exec(t, TpmCc::PolicyAuthorize, s,
                Cat({Sized(approved), Sized(Bytes{}), Sized(key), ticket}));
  };
  Bytes zero(32, 0);
  EXPECT_RC(authorize(zero, Bytes{0, 0x10}, null_verified), Rc::Hash.Param(3));
  EXPECT_RC(authorize(zero, Bytes{0}, null_verified), Rc::Hash.Param(3));
  EXPECT_RC(authorize(zero, Bytes{0, 0x0B, 1}, null_verified), Rc::Size.Param(3));
  EXPECT_RC(authorize(Bytes(32, 1), key_sign, null_verified), Rc::Value.Param(1));
  EXPECT_RC(authorize(zero, key_sign, null_verified), Rc::Policy);
  Bytes auth_ticket = null_verified;
  auth_ticket[1] = 0x25;
  EXPECT_RC(authorize(zero, key_sign, auth_ticket), Rc::Tag.Param(4));
  // A ticket the TPM made (as TPM2_VerifySignature would) for aHash and keySign.
  Bytes a_hash = H(zero);  // approvedPolicy || empty policyRef
  Bytes digest = Internal(t).Ticket(TpmRh::Owner, TpmSt::Verified, Cat({a_hash, key_sign}));
  Bytes good = Cat({Bytes{0x80, 0x22}, Be32(TpmRh::Owner), Sized(digest)});
  ASSERT_SUCCESS(authorize(zero, key_sign, good));
  EXPECT_EQ(GetDigest(t, s), Digest().Update(TpmCc::PolicyAuthorize, key_sign, {}).value);
}

// --- Deferred assertions when the session authorizes a command --------------------------------

TEST(PolicyUse, DigestMustMatchAndResetsAfterUse) {
  TestTpm t;
  Digest want;
  want.Extend(TpmCc::PolicyCommandCode, Be32(TpmCc::ClockRateAdjust));
  SetPolicy(t, TpmRh::Owner, want.value);
  uint32_t s = Policy(t);
  EXPECT_RC(UseForRateAdjust(t, s), Rc::PolicyFail.Session(1));
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyCommandCode, s, Be32(TpmCc::ClockRateAdjust)));
  Bytes nonce = NonceTpm(t, s);
  ASSERT_SUCCESS(UseForRateAdjust(t, s));
  // Part 1 §16.7.1: a new nonceTPM and the initial policy context.
  EXPECT_NE(NonceTpm(t, s), nonce);
  EXPECT_EQ(GetDigest(t, s), Digest().value);
  EXPECT_EQ(Internal(t).reset_state().sessions.at(s).command_code, 0u);
  EXPECT_RC(UseForRateAdjust(t, s), Rc::PolicyFail.Session(1));
}

TEST(PolicyUse, CommandCodeMustMatch) {
  TestTpm t;
  SetPolicy(t, TpmRh::Owner,
            Digest().Extend(TpmCc::PolicyCommandCode, Be32(TpmCc::ClockSet)).value);
  uint32_t s = Policy(t);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyCommandCode, s, Be32(TpmCc::ClockSet)));
  EXPECT_RC(UseForRateAdjust(t, s), Rc::PolicyCc.Session(1));
}

TEST(PolicyUse, LocalityMustBeAllowed) {
  TestTpm t;
  const uint8_t three = 0x08;
  SetPolicy(t, TpmRh::Owner, Digest().Extend(TpmCc::PolicyLocality, ByteSpan(&three, 1)).value);
  uint32_t s = Policy(t);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyLocality, s, ByteSpan(&three, 1)));
  EXPECT_RC(UseForRateAdjust(t, s, TpmRh::Owner, 0), Rc::Locality);
  ASSERT_SUCCESS(UseForRateAdjust(t, s, TpmRh::Owner, 3));
}

TEST(PolicyUse, PhysicalPresenceMustBeAsserted) {
  TestTpm t;
  SetPolicy(t, TpmRh::Owner, Digest().Extend(TpmCc::PolicyPhysicalPresence).value);
  uint32_t s = Policy(t);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyPhysicalPresence, s));
  EXPECT_RC(UseForRateAdjust(t, s), Rc::Pp.Session(1));
  t.tpm().SetPhysicalPresence(true);
  ASSERT_SUCCESS(UseForRateAdjust(t, s));
}

TEST(PolicyUse, PcrChangeAfterPolicyPcrFailsUntilRestart) {
  TestTpm t;
  Bytes sel = PcrSelection(TpmAlg::Sha256, 16);
  uint32_t s = Policy(t);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyPCR, s, Cat({Sized(Bytes{}), sel})));
  SetPolicy(t, TpmRh::Owner, GetDigest(t, s));
  Bytes digests = Cat({Be32(1), Bytes{0, 0x04}, Bytes(20, 3)});
  ASSERT_SUCCESS(t.Run(Command(TpmCc::PcrExtend).Handle(10).Password().Raw(digests)));
  EXPECT_RC(UseForRateAdjust(t, s), Rc::PcrChanged);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyRestart, s));
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyPCR, s, Cat({Sized(Bytes{}), sel})));
  ASSERT_SUCCESS(UseForRateAdjust(t, s));
}

TEST(PolicyUse, ExpiredSessionCannotAuthorize) {
  TestTpm t;
  SetPolicy(t, TpmRh::Owner, Digest().Update(TpmCc::PolicySecret, Name(TpmRh::Owner), {}).value);
  uint32_t s = Policy(t);
  ASSERT_SUCCESS(PolicySecret(t, s, AuthParams(NonceTpm(t, s), {}, {}, 10)));
  t.clock().Advance(11000);
  EXPECT_RC(UseForRateAdjust(t, s), Rc::Expired.Session(1));
}

TEST(PolicyUse, CpHashNameHashAndTemplateBindTheCommand) {
  TestTpm t;
  const uint8_t no_change = 0;
  Bytes cp_hash =
      H(Cat({Be32(TpmCc::ClockRateAdjust), Name(TpmRh::Owner), ByteSpan(&no_change, 1)}));
  SetPolicy(t, TpmRh::Owner, Digest().Extend(TpmCc::PolicyCpHash, cp_hash).value);
  uint32_t s = Policy(t);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyCpHash, s, Sized(cp_hash)));
  const uint8_t faster = 1;
  EXPECT_RC(
      t.Run(WithSessions(TpmCc::ClockRateAdjust, {TpmRh::Owner}, {{s, ""}}, ByteSpan(&faster, 1))),
      Rc::PolicyFail.Session(1));
  ASSERT_SUCCESS(UseForRateAdjust(t, s));

  Bytes name_hash = H(Name(TpmRh::Owner));
  Bytes by_name = Digest().Extend(TpmCc::PolicyNameHash, name_hash).value;
  SetPolicy(t, TpmRh::Owner, by_name);
  SetPolicy(t, TpmRh::Platform, by_name);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyNameHash, s, Sized(name_hash)));
  EXPECT_RC(UseForRateAdjust(t, s, TpmRh::Platform), Rc::PolicyFail.Session(1));
  ASSERT_SUCCESS(UseForRateAdjust(t, s, TpmRh::Owner));

  // A template binds creation commands to inPublic and allows no other command.
  Bytes templ = {0, 0x08, 0, 0x0B, 0, 0x04, 0, 0x72, 0, 0, 0, 0x05, 0, 0x0B, 0, 0};
  Bytes template_hash = H(templ);
  SetPolicy(t, TpmRh::Owner, Digest().Extend(TpmCc::PolicyTemplate, template_hash).value);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyTemplate, s, Sized(template_hash)));
  EXPECT_RC(UseForRateAdjust(t, s), Rc::PolicyFail.Session(1));
  auto create_primary = [&](ByteSpan in_public) {
    Bytes params = Cat({Sized(Bytes(4, 0)), Sized(in_public), Sized(Bytes{}), Be32(0)});
    return t.Run(WithSessions(TpmCc::CreatePrimary, {TpmRh::Owner}, {{s, ""}}, params));
  };
  Bytes other = templ;
  other[13] = 0x04;  // HMAC with SHA-1
  EXPECT_RC(create_primary(other), Rc::PolicyFail.Session(1));
  ASSERT_SUCCESS(create_primary(templ));
}

TEST(PolicyUse, NvWrittenStateIsCheckedForTheIndex) {
  TestTpm t;
  const uint8_t no = 0;
  Bytes first_write = Digest().Extend(TpmCc::PolicyNvWritten, ByteSpan(&no, 1)).value;
  DefineIndex(t, TpmaNv::OwnerRead | TpmaNv::PolicyWrite, 4, first_write);
  uint32_t s = Policy(t);
  auto write = [&]() {
    EXPECT_SUCCESS(Exec(t, TpmCc::PolicyNvWritten, s, ByteSpan(&no, 1)));
    Bytes params = Cat({Sized(Bytes{1, 2, 3, 4}), Bytes{0, 0}});
    return t.Run(WithSessions(TpmCc::NvWrite, {kIndex, kIndex}, {{s, ""}}, params));
  };
  ASSERT_SUCCESS(write());
  EXPECT_RC(write(), Rc::PolicyFail.Session(1));
}

TEST(PolicyUse, AdminRoleNeedsPolicyCommandCode) {
  TestTpm t;
  Bytes cc = Digest().Extend(TpmCc::PolicyCommandCode, Be32(TpmCc::NvChangeAuth)).value;
  Bytes empty_policy(32, 0);
  DefineIndex(t, TpmaNv::OwnerWrite | TpmaNv::OwnerRead, 4, empty_policy);
  uint32_t s = Policy(t);
  EXPECT_RC(t.Run(WithSessions(TpmCc::NvChangeAuth, {kIndex}, {{s, ""}}, Sized(Bytes{}))),
            Rc::PolicyFail.Session(1));
  ASSERT_SUCCESS(
      t.Run(Command(TpmCc::NvUndefineSpace).Handle(TpmRh::Owner).Handle(kIndex).Password()));
  DefineIndex(t, TpmaNv::OwnerWrite | TpmaNv::OwnerRead, 4, cc);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyCommandCode, s, Be32(TpmCc::NvChangeAuth)));
  ASSERT_SUCCESS(t.Run(WithSessions(TpmCc::NvChangeAuth, {kIndex}, {{s, ""}}, Sized(Bytes{}))));
}

TEST(PolicyUse, PasswordAndAuthValue) {
  TestTpm t;
  ASSERT_SUCCESS(
      t.Run(Command(TpmCc::HierarchyChangeAuth).Handle(TpmRh::Owner).Password().Sized("pw")));
  uint32_t s = Policy(t);
  ASSERT_SUCCESS(t.Run(Command(TpmCc::SetPrimaryPolicy)
                           .Handle(TpmRh::Owner)
                           .Password("pw")
                           .Sized(Digest().Extend(TpmCc::PolicyAuthValue).value)
                           .U16(TpmAlg::Sha256)));
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyPassword, s));
  EXPECT_RC(UseForRateAdjust(t, s, TpmRh::Owner, 0, "xx"), Rc::BadAuth.Session(1));
  ASSERT_SUCCESS(UseForRateAdjust(t, s, TpmRh::Owner, 0, "pw"));
  // TPM2_PolicyAuthValue needs an HMAC with the authValue; an empty hmac does not do.
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyAuthValue, s));
  EXPECT_RC(UseForRateAdjust(t, s, TpmRh::Owner, 0, ""), Rc::BadAuth.Session(1));
}

TEST(PolicyUse, PolicySecretAuthorizedByPolicyNeedsAuthValue) {
  TestTpm t;
  SetPolicy(t, TpmRh::Owner, Bytes(32, 0));
  uint32_t auth = Policy(t);
  uint32_t s = Policy(t);
  Bytes params = AuthParams({}, {}, {}, 0);
  EXPECT_RC(t.Run(WithSessions(TpmCc::PolicySecret, {TpmRh::Owner, s}, {{auth, ""}}, params)),
            Rc::Mode.Session(1));
  SetPolicy(t, TpmRh::Owner, Digest().Extend(TpmCc::PolicyAuthValue).value);
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyPassword, auth));
  ASSERT_SUCCESS(t.Run(WithSessions(TpmCc::PolicySecret, {TpmRh::Owner, s}, {{auth, ""}}, params)));
  EXPECT_EQ(GetDigest(t, s), Digest().Update(TpmCc::PolicySecret, Name(TpmRh::Owner), {}).value);
}

TEST(PolicyUse, PolicyStateSurvivesSaveAndRestoreOfVolatileState) {
  TestTpm t;
  uint32_t s = Policy(t);
  const uint8_t loc = 0x05;
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyLocality, s, ByteSpan(&loc, 1)));
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyCpHash, s, Sized(Bytes(32, 6))));
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyCommandCode, s, Be32(TpmCc::Unseal)));
  ASSERT_SUCCESS(Exec(t, TpmCc::PolicyPhysicalPresence, s));
  ASSERT_SUCCESS(
      Exec(t, TpmCc::PolicyPCR, s, Cat({Sized(Bytes{}), PcrSelection(TpmAlg::Sha1, 1)})));
  Session before = Internal(t).reset_state().sessions.at(s);
  auto blob = t.tpm().SaveVolatile();
  ASSERT_TRUE(blob.ok());
  t.Create();
  ASSERT_TRUE(t.tpm().RestoreVolatile(*blob).ok());
  const Session& after = Internal(t).reset_state().sessions.at(s);
  EXPECT_EQ(after.policy_digest, before.policy_digest);
  EXPECT_EQ(after.cp_hash, before.cp_hash);
  EXPECT_EQ(after.cp_hash_kind, PolicyHashKind::kCpHash);
  EXPECT_EQ(after.command_code, TpmCc::Unseal);
  EXPECT_EQ(after.command_locality, loc);
  EXPECT_TRUE(after.pp_required);
  EXPECT_TRUE(after.has_pcr_update_counter);
  EXPECT_EQ(after.start_time_ms, before.start_time_ms);
  EXPECT_EQ(after.timeout_ms, kNoPolicyTimeout);
}

}  // namespace
}  // namespace tpm2emu::engine::test
