// Session audit (Part 1 §17) and command audit (Part 1 §32) driven through ESYS, which
// verifies every response HMAC (including the auditExclusive bit the TPM reports); the audit
// digests are recomputed here in software from the commands and responses.

#include <gtest/gtest.h>
#include <tss2/tss2_mu.h>

#include <cstring>

#include "crypto/hash.h"
#include "engine/base/endian.h"
#include "tests/engine/esys_keys.h"

namespace tpm2emu::engine::test {
namespace {

Bytes Sha256(ByteSpan data) { return crypto::Hash(TpmAlg::Sha256, data).value(); }

// digest := H(digest || H(cpData) || H(rpData)), cpData and rpData as Part 1 §16.6 builds them.
void Extend(Bytes& digest, ByteSpan cp_data, ByteSpan rp_data) {
  Bytes data = digest;
  for (const Bytes& h : {Sha256(cp_data), Sha256(rp_data)}) {
    data.insert(data.end(), h.begin(), h.end());
  }
  digest = Sha256(data);
}

// GetRandom(8): cpData = commandCode || bytesRequested; rpData = 0 || commandCode || TPM2B.
void ExtendGetRandom(Bytes& digest, const TPM2B_DIGEST& random) {
  Bytes cp;
  AppendBe32(cp, TpmCc::GetRandom);
  AppendBe16(cp, random.size);
  Bytes rp;
  AppendBe32(rp, 0);
  AppendBe32(rp, TpmCc::GetRandom);
  AppendBe16(rp, random.size);
  rp.insert(rp.end(), random.buffer, random.buffer + random.size);
  Extend(digest, cp, rp);
}

TPMS_ATTEST Attest(const TPM2B_ATTEST& blob) {
  TPMS_ATTEST attest{};
  size_t offset = 0;
  EXPECT_EQ(Tss2_MU_TPMS_ATTEST_Unmarshal(blob.attestationData, blob.size, &offset, &attest),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(offset, blob.size);
  EXPECT_EQ(attest.magic, TPM2_GENERATED_VALUE);
  return attest;
}

Bytes Of(const TPM2B_DIGEST& d) { return Bytes(d.buffer, d.buffer + d.size); }

class EsysAuditTest : public EsysKeysTest {
 protected:
  ESYS_TR StartSession(TPM2_SE type = TPM2_SE_HMAC) {
    TPMT_SYM_DEF sym{};
    sym.algorithm = TPM2_ALG_NULL;
    ESYS_TR session = ESYS_TR_NONE;
    EXPECT_EQ(Esys_StartAuthSession(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    ESYS_TR_NONE, ESYS_TR_NONE, nullptr, type, &sym,
                                    TPM2_ALG_SHA256, &session),
              TSS2_RC_SUCCESS);
    return session;
  }
  void SetAttributes(ESYS_TR session, TPMA_SESSION attrs) {
    ASSERT_EQ(Esys_TRSess_SetAttributes(ctx_, session, attrs, 0xFF), TSS2_RC_SUCCESS);
  }
  TSS2_RC GetRandom(ESYS_TR session, TPM2B_DIGEST* out) {
    TPM2B_DIGEST* random = nullptr;
    TSS2_RC rc = Esys_GetRandom(ctx_, session, ESYS_TR_NONE, ESYS_TR_NONE, 8, &random);
    if (rc == TSS2_RC_SUCCESS) {
      *out = *random;
    }
    Esys_Free(random);
    return rc;
  }
  // TPM2_GetSessionAuditDigest, unsigned unless `sign` is a key.
  TPMS_ATTEST SessionAudit(ESYS_TR session, ESYS_TR sign = ESYS_TR_RH_NULL,
                           TPMT_SIGNATURE* signature_out = nullptr) {
    TPM2B_DATA qualifying{};
    qualifying.size = 3;
    std::memcpy(qualifying.buffer, "abc", 3);
    TPMT_SIG_SCHEME scheme{};
    scheme.scheme = TPM2_ALG_NULL;
    TPM2B_ATTEST* info = nullptr;
    TPMT_SIGNATURE* signature = nullptr;
    EXPECT_EQ(Esys_GetSessionAuditDigest(ctx_, ESYS_TR_RH_ENDORSEMENT, sign, session,
                                         ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                         &qualifying, &scheme, &info, &signature),
              TSS2_RC_SUCCESS);
    if (info == nullptr) {
      return {};
    }
    TPMS_ATTEST attest = Attest(*info);
    EXPECT_EQ(attest.type, TPM2_ST_ATTEST_SESSION_AUDIT);
    EXPECT_EQ(Bytes(attest.extraData.buffer, attest.extraData.buffer + attest.extraData.size),
              ToBytes("abc"));
    if (signature_out != nullptr) {
      *signature_out = *signature;
      last_attest_ = *info;
    } else {
      EXPECT_EQ(signature->sigAlg, TPM2_ALG_NULL);
    }
    Esys_Free(info);
    Esys_Free(signature);
    return attest;
  }
  TPMS_ATTEST CommandAudit(ESYS_TR sign = ESYS_TR_RH_NULL) {
    TPM2B_DATA qualifying{};
    TPMT_SIG_SCHEME scheme{};
    scheme.scheme = TPM2_ALG_NULL;
    TPM2B_ATTEST* info = nullptr;
    TPMT_SIGNATURE* signature = nullptr;
    EXPECT_EQ(Esys_GetCommandAuditDigest(ctx_, ESYS_TR_RH_ENDORSEMENT, sign, ESYS_TR_PASSWORD,
                                         ESYS_TR_PASSWORD, ESYS_TR_NONE, &qualifying, &scheme,
                                         &info, &signature),
              TSS2_RC_SUCCESS);
    if (info == nullptr) {
      return {};
    }
    TPMS_ATTEST attest = Attest(*info);
    EXPECT_EQ(attest.type, TPM2_ST_ATTEST_COMMAND_AUDIT);
    EXPECT_EQ(signature->sigAlg, sign == ESYS_TR_RH_NULL ? TPM2_ALG_NULL : TPM2_ALG_ECDSA);
    if (sign != ESYS_TR_RH_NULL) {
      last_attest_ = *info;
      last_signature_ = *signature;
    }
    Esys_Free(info);
    Esys_Free(signature);
    return attest;
  }
  TSS2_RC SetAudit(TPMI_ALG_HASH alg, std::initializer_list<TPM2_CC> set,
                   std::initializer_list<TPM2_CC> clear) {
    TPML_CC set_list{};
    TPML_CC clear_list{};
    for (TPM2_CC cc : set) {
      set_list.commandCodes[set_list.count++] = cc;
    }
    for (TPM2_CC cc : clear) {
      clear_list.commandCodes[clear_list.count++] = cc;
    }
    return Esys_SetCommandCodeAuditStatus(ctx_, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD,
                                          ESYS_TR_NONE, ESYS_TR_NONE, alg, &set_list,
                                          &clear_list);
  }
  // An ECDSA P-256 restricted signing key in the endorsement hierarchy.
  ESYS_TR SigningKey() {
    TPM2B_PUBLIC tmpl = KeyTemplate(
        TPM2_ALG_ECC, TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_USERWITHAUTH |
                          TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN);
    tmpl.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    tmpl.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    return Primary(tmpl, ESYS_TR_RH_ENDORSEMENT);
  }
  // TPM2_GetSessionAuditDigest's response code, for the refusals.
  TSS2_RC SessionAuditRc(ESYS_TR session) {
    TPM2B_DATA none{};
    TPMT_SIG_SCHEME scheme{};
    scheme.scheme = TPM2_ALG_NULL;
    TPM2B_ATTEST* info = nullptr;
    TPMT_SIGNATURE* signature = nullptr;
    TSS2_RC rc = Esys_GetSessionAuditDigest(ctx_, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_RH_NULL,
                                            session, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD,
                                            ESYS_TR_NONE, &none, &scheme, &info, &signature);
    Esys_Free(info);
    Esys_Free(signature);
    return rc;
  }
  // Checks the signature over last_attest_ with the TPM's own TPM2_VerifySignature.
  void VerifyLast(ESYS_TR key, const TPMT_SIGNATURE& signature) {
    Bytes digest = Sha256(ByteSpan(last_attest_.attestationData, last_attest_.size));
    TPM2B_DIGEST d{};
    d.size = static_cast<uint16_t>(digest.size());
    std::copy(digest.begin(), digest.end(), d.buffer);
    TPMT_TK_VERIFIED* ticket = nullptr;
    EXPECT_EQ(Esys_VerifySignature(ctx_, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &d,
                                   &signature, &ticket),
              TSS2_RC_SUCCESS);
    Esys_Free(ticket);
  }

  TPM2B_ATTEST last_attest_{};
  TPMT_SIGNATURE last_signature_{};
};

TEST_F(EsysAuditTest, SessionAuditDigestMatchesSoftwareAndTracksExclusivity) {
  ESYS_TR s = StartSession();
  // Not an audit session yet: TPM_RC_TYPE for the session handle (handle 3).
  EXPECT_EQ(SessionAuditRc(s) & 0xFFF, Rc::Type.Handle(3).value());

  SetAttributes(s, TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_AUDIT);
  Bytes expected(32, 0);
  for (int i = 0; i < 3; ++i) {
    TPM2B_DIGEST random{};
    ASSERT_EQ(GetRandom(s, &random), TSS2_RC_SUCCESS);
    ExtendGetRandom(expected, random);  // ESYS checked the response HMAC, attributes and all
  }
  TPMS_ATTEST attest = SessionAudit(s);
  EXPECT_EQ(Of(attest.attested.sessionAudit.sessionDigest), expected);
  EXPECT_EQ(attest.attested.sessionAudit.exclusiveSession, TPM2_YES);

  // That command did not use the audit session, so it is no longer exclusive; a command
  // that insists on exclusivity is refused and changes nothing.
  attest = SessionAudit(s);
  EXPECT_EQ(attest.attested.sessionAudit.exclusiveSession, TPM2_NO);
  EXPECT_EQ(Of(attest.attested.sessionAudit.sessionDigest), expected);
  SetAttributes(s, TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_AUDIT |
                       TPMA_SESSION_AUDITEXCLUSIVE);
  TPM2B_DIGEST random{};
  EXPECT_EQ(GetRandom(s, &random) & 0xFFF, Rc::Exclusive.value());

  // auditReset starts the digest afresh and makes the session exclusive again.
  SetAttributes(s, TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_AUDIT | TPMA_SESSION_AUDITRESET);
  ASSERT_EQ(GetRandom(s, &random), TSS2_RC_SUCCESS);
  expected.assign(32, 0);
  ExtendGetRandom(expected, random);
  SetAttributes(s, TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_AUDIT |
                       TPMA_SESSION_AUDITEXCLUSIVE);
  ASSERT_EQ(GetRandom(s, &random), TSS2_RC_SUCCESS);
  ExtendGetRandom(expected, random);

  // A signed report verifies, and is over the digest so far.
  ESYS_TR key = SigningKey();
  TPMT_SIGNATURE sig{};
  attest = SessionAudit(s, key, &sig);
  EXPECT_EQ(Of(attest.attested.sessionAudit.sessionDigest), expected);
  EXPECT_EQ(sig.sigAlg, TPM2_ALG_ECDSA);
  VerifyLast(key, sig);
}

TEST_F(EsysAuditTest, AuditSessionMayAlsoAuthorize) {
  // Part 2 §8.4 (audit): an HMAC session that authorizes may audit the same command.
  ESYS_TR s = StartSession();
  SetAttributes(s, TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_AUDIT);
  TPM2B_AUTH auth{};
  ASSERT_EQ(Esys_HierarchyChangeAuth(ctx_, ESYS_TR_RH_OWNER, s, ESYS_TR_NONE, ESYS_TR_NONE,
                                     &auth),
            TSS2_RC_SUCCESS);
  TPMS_ATTEST attest = SessionAudit(s);
  EXPECT_EQ(attest.attested.sessionAudit.sessionDigest.size, 32);
  EXPECT_NE(Of(attest.attested.sessionAudit.sessionDigest), Bytes(32, 0));
}

TEST_F(EsysAuditTest, AuditAttributeRules) {
  TPM2B_DIGEST random{};
  // A session that neither authorizes, encrypts nor audits has no purpose.
  ESYS_TR s = StartSession();
  SetAttributes(s, TPMA_SESSION_CONTINUESESSION);
  EXPECT_EQ(GetRandom(s, &random) & 0xFFF, Rc::Attributes.Session(1).value());
  // auditReset and auditExclusive need audit.
  SetAttributes(s, TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_AUDITRESET);
  EXPECT_EQ(GetRandom(s, &random) & 0xFFF, Rc::Attributes.Session(1).value());
  SetAttributes(s, TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_AUDITEXCLUSIVE);
  EXPECT_EQ(GetRandom(s, &random) & 0xFFF, Rc::Attributes.Session(1).value());
  // A policy session cannot audit.
  ESYS_TR p = StartSession(TPM2_SE_POLICY);
  SetAttributes(p, TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_AUDIT);
  EXPECT_EQ(GetRandom(p, &random) & 0xFFF, Rc::Attributes.Session(1).value());
  // One audit session per command.
  SetAttributes(s, TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_AUDIT);
  ESYS_TR s2 = StartSession();
  SetAttributes(s2, TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_AUDIT);
  TPM2B_DIGEST* out = nullptr;
  EXPECT_EQ(Esys_GetRandom(ctx_, s, s2, ESYS_TR_NONE, 8, &out) & 0xFFF,
            Rc::Attributes.Session(2).value());
  // A failed first use does not make an audit session.
  EXPECT_EQ(SessionAuditRc(s2) & 0xFFF, Rc::Type.Handle(3).value());
}

TEST_F(EsysAuditTest, CommandAuditDigestCounterAndList) {
  // The initial list holds only TPM2_SetCommandCodeAuditStatus, and no log is open.
  TPMS_ATTEST attest = CommandAudit();
  const TPMS_COMMAND_AUDIT_INFO* info = &attest.attested.commandAudit;
  EXPECT_EQ(info->auditCounter, 0u);
  EXPECT_EQ(info->digestAlg, TPM2_ALG_SHA256);
  EXPECT_EQ(info->auditDigest.size, 0);
  Bytes codes;
  AppendBe32(codes, TpmCc::SetCommandCodeAuditStatus);
  EXPECT_EQ(Of(info->commandDigest), Sha256(codes));

  // Adding GetRandom is itself audited, and opens log 1.
  ASSERT_EQ(SetAudit(TPM2_ALG_NULL, {TPM2_CC_GetRandom}, {}), TSS2_RC_SUCCESS);
  Bytes expected(32, 0);
  Bytes cp;
  AppendBe32(cp, TpmCc::SetCommandCodeAuditStatus);
  AppendBe32(cp, TpmRh::Owner);  // the Name of a permanent handle is the handle
  AppendBe16(cp, TpmAlg::Null);
  AppendBe32(cp, 1);
  AppendBe32(cp, TpmCc::GetRandom);
  AppendBe32(cp, 0);
  Bytes rp;
  AppendBe32(rp, 0);
  AppendBe32(rp, TpmCc::SetCommandCodeAuditStatus);
  Extend(expected, cp, rp);
  for (int i = 0; i < 2; ++i) {
    TPM2B_DIGEST random{};
    ASSERT_EQ(GetRandom(ESYS_TR_NONE, &random), TSS2_RC_SUCCESS);
    ExtendGetRandom(expected, random);
  }
  attest = CommandAudit();
  info = &attest.attested.commandAudit;
  EXPECT_EQ(info->auditCounter, 1u);
  EXPECT_EQ(Of(info->auditDigest), expected);
  codes.clear();
  AppendBe32(codes, TpmCc::SetCommandCodeAuditStatus);  // ascending order
  AppendBe32(codes, TpmCc::GetRandom);
  EXPECT_EQ(Of(info->commandDigest), Sha256(codes));

  // The capability lists the audited commands.
  TPMS_CAPABILITY_DATA* cap = nullptr;
  ASSERT_EQ(Esys_GetCapability(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               TPM2_CAP_AUDIT_COMMANDS, 0, 16, nullptr, &cap),
            TSS2_RC_SUCCESS);
  ASSERT_EQ(cap->data.auditCommands.count, 2u);
  EXPECT_EQ(cap->data.auditCommands.commandCodes[0], TPM2_CC_SetCommandCodeAuditStatus);
  EXPECT_EQ(cap->data.auditCommands.commandCodes[1], TPM2_CC_GetRandom);
  Esys_Free(cap);

  // A signed report ends the log; the next audited command opens log 2.
  ESYS_TR key = SigningKey();
  attest = CommandAudit(key);
  EXPECT_EQ(Of(attest.attested.commandAudit.auditDigest), expected);
  VerifyLast(key, last_signature_);
  attest = CommandAudit();
  EXPECT_EQ(attest.attested.commandAudit.auditDigest.size, 0);
  TPM2B_DIGEST random{};
  ASSERT_EQ(GetRandom(ESYS_TR_NONE, &random), TSS2_RC_SUCCESS);
  expected.assign(32, 0);
  ExtendGetRandom(expected, random);
  attest = CommandAudit();
  EXPECT_EQ(attest.attested.commandAudit.auditCounter, 2u);
  EXPECT_EQ(Of(attest.attested.commandAudit.auditDigest), expected);

  // The algorithm and the list never change together; a new algorithm clears the digest and
  // is not audited. Clearing SetCommandCodeAuditStatus is ignored.
  EXPECT_EQ(SetAudit(TPM2_ALG_SHA384, {TPM2_CC_GetRandom}, {}) & 0xFFF,
            Rc::Value.Param(1).value());
  ASSERT_EQ(SetAudit(TPM2_ALG_SHA384, {}, {}), TSS2_RC_SUCCESS);
  attest = CommandAudit();
  EXPECT_EQ(attest.attested.commandAudit.digestAlg, TPM2_ALG_SHA384);
  EXPECT_EQ(attest.attested.commandAudit.auditDigest.size, 0);
  EXPECT_EQ(attest.attested.commandAudit.auditCounter, 2u);
  ASSERT_EQ(SetAudit(TPM2_ALG_NULL, {}, {TPM2_CC_GetRandom, TPM2_CC_SetCommandCodeAuditStatus}),
            TSS2_RC_SUCCESS);
  attest = CommandAudit();
  EXPECT_EQ(attest.attested.commandAudit.auditCounter, 3u);  // that change opened log 3
  EXPECT_EQ(attest.attested.commandAudit.auditDigest.size, 48);
  codes.clear();
  AppendBe32(codes, TpmCc::SetCommandCodeAuditStatus);
  EXPECT_EQ(Of(attest.attested.commandAudit.commandDigest),
            crypto::Hash(TpmAlg::Sha384, codes).value());
}

TEST(CommandAudit, DigestSurvivesOrderlyShutdownNotPowerLossAndClearResetsCounter) {
  TestTpm t;
  auto set_audit = [&] {
    Command c(TpmCc::SetCommandCodeAuditStatus);
    c.Handle(TpmRh::Owner).Password().U16(TpmAlg::Null).U32(1).U32(TpmCc::GetRandom).U32(0);
    return t.Run(c);
  };
  auto audit_info = [&] {
    Command c(TpmCc::GetCommandAuditDigest);
    c.Handle(TpmRh::Endorsement).Handle(TpmRh::Null).Password().Password();
    c.U16(0).U16(TpmAlg::Null);
    Bytes rsp = t.Run(c);
    EXPECT_SUCCESS(rsp);
    wire::Reader r = Params(rsp);
    uint16_t size = 0;
    (void)r.U16(size);
    TPMS_ATTEST attest{};
    size_t offset = 0;
    auto body = r.Take(size);
    EXPECT_TRUE(body.ok());
    EXPECT_EQ(Tss2_MU_TPMS_ATTEST_Unmarshal(body->data(), body->size(), &offset, &attest),
              TSS2_RC_SUCCESS);
    return attest.attested.commandAudit;
  };
  ASSERT_SUCCESS(set_audit());
  EXPECT_EQ(audit_info().auditCounter, 1u);
  // Orderly: the digest stays.
  ASSERT_SUCCESS(t.Run(Command(TpmCc::Shutdown).U16(TpmSu::Clear)));
  t.tpm().PowerOff();
  t.Create();
  t.Startup();
  auto info = audit_info();
  EXPECT_EQ(info.auditCounter, 1u);
  EXPECT_EQ(info.auditDigest.size, 32);
  // Power lost without Shutdown: the log ends, the counter stays.
  t.tpm().PowerOff();
  t.Create();
  t.Startup();
  info = audit_info();
  EXPECT_EQ(info.auditCounter, 1u);
  EXPECT_EQ(info.auditDigest.size, 0);
  ASSERT_SUCCESS(t.Run(Command(TpmCc::GetRandom).U16(4)));  // still audited: log 2
  EXPECT_EQ(audit_info().auditCounter, 2u);
  // TPM2_Clear resets the counter.
  ASSERT_SUCCESS(t.Run(Command(TpmCc::Clear).Handle(TpmRh::Lockout).Password()));
  info = audit_info();
  EXPECT_EQ(info.auditCounter, 0u);
  EXPECT_EQ(info.auditDigest.size, 0);
  // Only the owner or the platform may change the list.
  Command bad(TpmCc::SetCommandCodeAuditStatus);
  bad.Handle(TpmRh::Endorsement).Password().U16(TpmAlg::Null).U32(0).U32(0);
  EXPECT_RC(t.Run(bad), Rc::Value.Handle(1));
}

}  // namespace
}  // namespace tpm2emu::engine::test
