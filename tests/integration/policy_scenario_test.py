#!/usr/bin/env python3
"""Enhanced authorization with tpm2-tools against tpm2emu: one scenario body, run once per
transport (the mssim socket of `tpm2emu serve`, and the in-process TCTI).

For every policy command the tools offer (PCR, OR, Secret, Signed, Authorize, CommandCode,
Password, AuthValue, CpHash, NameHash, CounterTimer, DuplicationSelect, Template, Locality, and
also NV, NvWritten, Ticket and AuthorizeNV) the
digest a trial session yields is compared with a computation in Python that follows the digest
update of the command in Part 3 §23 (and, for PCR, with tpm2_createpolicy). Most of them then
authorize something real through a policy session: unsealing, signing, an NV write, creating a
primary key. Each also fails when the policy is not met.

Usage: policy_scenario_test.py --tpm2emu PATH [--tcti-dir DIR] [--asan-runtime LIB]
                               [--keep] [--verbose-tools] [unittest args]
"""

import struct

import harness
import scenario
from scenario import sha256

ZERO = bytes(32)
SEAL_ATTRS = "fixedtpm|fixedparent"   # no userwithauth: only a policy can unseal
SIGN_ATTRS = "fixedtpm|fixedparent|sensitivedataorigin|sign"

CC = {
    "NV_UndefineSpaceSpecial": 0x11F, "NV_SetBits": 0x135, "Duplicate": 0x14B,
    "PolicySecret": 0x151, "Unseal": 0x15E, "PolicySigned": 0x160, "PolicyAuthorize": 0x16A,
    "PolicyAuthValue": 0x16B, "PolicyCommandCode": 0x16C, "PolicyCounterTimer": 0x16D,
    "PolicyCpHash": 0x16E, "PolicyLocality": 0x16F, "PolicyNameHash": 0x170, "PolicyOR": 0x171,
    "PolicyPCR": 0x17F, "PolicyDuplicationSelect": 0x188, "PolicyTemplate": 0x190,
    "Sign": 0x15D, "CreatePrimary": 0x131, "PolicyNV": 0x149, "PolicyNvWritten": 0x18F,
    "PolicyAuthorizeNV": 0x192,
}
RC_POLICY_CC_S1 = 0x9A4      # TPM_RC_POLICY_CC, session 1
RC_POLICY = 0x126            # TPM_RC_POLICY
RC_LOCALITY = 0x907          # TPM_RC_LOCALITY (format one, session 1)
RC_VALUE_P1 = 0x1C4          # TPM_RC_VALUE, parameter 1


# Software models of the policy digest updates (Part 3 §23). -----------------------------------

def extend(old, cc_name, *parts):
    """policyDigest_new = H(policyDigest_old || commandCode || parts)."""
    return sha256(old, struct.pack(">I", CC[cc_name]), *parts)


def policy_update(old, cc_name, name, policy_ref=b""):
    """PolicyUpdate() (Part 3 §23.2.3): H(H(old || commandCode || name) || policyRef)."""
    return sha256(extend(old, cc_name, name), policy_ref)


def pcr_selection(bank_alg, pcrs):
    """A TPML_PCR_SELECTION with one bank and a 3-byte pcrSelect."""
    bitmap = bytearray(3)
    for pcr in pcrs:
        bitmap[pcr // 8] |= 1 << (pcr % 8)
    return struct.pack(">IHB", 1, bank_alg, 3) + bytes(bitmap)


def counter_timer_args(operand_b, offset, operation):
    """args of PolicyCounterTimer (Part 3 §23.10): H(operandB || offset || operation)."""
    return sha256(operand_b, struct.pack(">HH", offset, operation))


class PolicyScenarioBody(scenario.ScenarioBody):
    prefix = "tpm2emu-policy"

    # helpers ---------------------------------------------------------------------------------

    def _run_steps(self, session, steps, policy_out=None):
        for i, step in enumerate(steps):
            args = list(step) + ["-S", session]
            if policy_out is not None and i == len(steps) - 1:
                args += ["-L", policy_out]
            self.tool(*args)

    def trial(self, label, *steps):
        """Runs STEPS (tool argv lists, -S added) in a trial session; returns its digest."""
        s = self.p(f"{label}-trial.ctx")
        self.tool("tpm2_startauthsession", "-S", s)
        self._run_steps(s, steps, self.p(f"{label}.policy"))
        self.tool("tpm2_flushcontext", s)
        return self.read_file(f"{label}.policy")

    def policy_session(self, label, *steps):
        """Starts a policy session, runs STEPS in it; returns the session file."""
        s = self.p(f"{label}-session.ctx")
        self.tool("tpm2_startauthsession", "--policy-session", "-S", s)
        self._run_steps(s, steps)
        return s

    def srk(self):
        return self.primary("srk")

    def seal(self, label, policy_path, secret, auth=None, attrs=SEAL_ATTRS):
        return self.create_load(label, None, self.srk(), attrs=attrs, policy=policy_path,
                                sealed=secret, auth=auth)

    def unseal(self, ctx, session, label, ok=True, password=None):
        auth = f"session:{session}" + (f"+{password}" if password is not None else "")
        out = self.p(f"{label}.unsealed")
        p = self.tool("tpm2_unseal", "-c", ctx, "-p", auth, "-o", out, ok=ok)
        self.tool("tpm2_flushcontext", session, ok=None)
        if ok:
            with open(out, "rb") as f:
                return f.read()
        return p

    def assert_digest(self, got, want, what):
        self.assertEqual(got.hex(), want.hex(), f"{what}: trial-session digest vs Part 3 model")

    def pcr_values(self, pcrs):
        out = self.tool("tpm2_pcrread", f"sha256:{','.join(map(str, pcrs))}").out
        banks = harness.parse_pcrread(out)
        return [banks["sha256"][i] for i in pcrs]

    def openssl_key(self, label):
        """An RSA key made by openssl, loaded as an external public key; returns (ctx, name)."""
        self.openssl("genrsa", "-out", self.p(f"{label}.pem"), "2048")
        self.openssl("rsa", "-in", self.p(f"{label}.pem"), "-pubout",
                     "-out", self.p(f"{label}-pub.pem"))
        ctx = self.p(f"{label}.ctx")
        self.tool("tpm2_loadexternal", "-C", "o", "-G", "rsa", "-u", self.p(f"{label}-pub.pem"),
                  "-c", ctx, "-n", self.p(f"{label}.name"))
        return ctx, self.read_file(f"{label}.name")

    def openssl_sign(self, label, data_name, sig_name):
        self.openssl("dgst", "-sha256", "-sign", self.p(f"{label}.pem"), "-out", self.p(sig_name),
                     self.p(data_name))
        return self.p(sig_name)

    # the scenario ----------------------------------------------------------------------------

    def test_01_startup(self):
        self.tool("tpm2_startup", "-c")
        self.tool("tpm2_pcrreset", "16")

    def test_02_policypcr(self):
        pcrs = [0, 16]
        values = self.pcr_values(pcrs)
        want = extend(ZERO, "PolicyPCR", pcr_selection(scenario.TPM_ALG_SHA256, pcrs),
                      sha256(*values))
        got = self.trial("pcr", ["tpm2_policypcr", "-l", "sha256:0,16"])
        self.assert_digest(got, want, "PolicyPCR sha256:0,16")
        self.tool("tpm2_createpolicy", "--policy-pcr", "-l", "sha256:0,16",
                  "-L", self.p("pcr-createpolicy.policy"))
        self.assertEqual(self.read_file("pcr-createpolicy.policy").hex(), want.hex(),
                         "tpm2_createpolicy --policy-pcr vs the trial session")
        # With the PCR values given as a file (the digest of expected values, not current ones).
        self.write_file("pcr-expected.bin", b"\x11" * 32 + b"\x22" * 32)
        got = self.trial("pcr-file", ["tpm2_policypcr", "-l", "sha256:0,16",
                                      "-f", self.p("pcr-expected.bin")])
        self.assert_digest(got, extend(ZERO, "PolicyPCR", pcr_selection(0x000B, pcrs),
                                       sha256(b"\x11" * 32, b"\x22" * 32)),
                           "PolicyPCR with expected values from a file")

        secret = b"sealed to PCR 0 and 16"
        sealed = self.seal("pcrseal", self.p("pcr.policy"), secret)
        s = self.policy_session("pcr-ok", ["tpm2_policypcr", "-l", "sha256:0,16"])
        self.assertEqual(self.unseal(sealed, s, "pcr-ok"), secret, "unseal, PCRs unchanged")
        self.assertEqual(self.tool("tpm2_unseal", "-c", sealed, "-p", f"pcr:sha256:0,16").out
                         .encode(), secret, "tpm2_unseal -p pcr:sha256:0,16")
        self.tool("tpm2_pcrextend", "16:sha256=" + "ab" * 32)
        s = self.policy_session("pcr-bad", ["tpm2_policypcr", "-l", "sha256:0,16"])
        p = self.unseal(sealed, s, "pcr-bad", ok=False)
        self.assert_rc(p, scenario.RC_POLICY_FAIL_S1, "unseal after extending PCR 16")
        self.tool("tpm2_pcrreset", "16")
        s = self.policy_session("pcr-again", ["tpm2_policypcr", "-l", "sha256:0,16"])
        self.assertEqual(self.unseal(sealed, s, "pcr-again"), secret, "unseal after pcrreset")
        self.shared["pcr-policy"] = want

    def test_03_policypassword_and_authvalue(self):
        want = extend(ZERO, "PolicyAuthValue")
        self.assert_digest(self.trial("password", ["tpm2_policypassword"]), want,
                           "PolicyPassword (shares PolicyAuthValue's digest)")
        self.assert_digest(self.trial("authvalue", ["tpm2_policyauthvalue"]), want,
                           "PolicyAuthValue")
        secret = b"needs the password through the policy"
        sealed = self.seal("pwseal", self.p("password.policy"), secret, auth="sealpw")
        for kind in ("password", "authvalue"):
            s = self.policy_session(f"{kind}-ok", [f"tpm2_policy{kind}"])
            self.assertEqual(self.unseal(sealed, s, f"{kind}-ok", password="sealpw"), secret,
                             f"unseal through tpm2_policy{kind} with the right password")
            s = self.policy_session(f"{kind}-bad", [f"tpm2_policy{kind}"])
            p = self.unseal(sealed, s, f"{kind}-bad", ok=False, password="wrong")
            self.assert_rc(p, scenario.RC_AUTH_FAIL_S1,
                           f"unseal through tpm2_policy{kind} with the wrong password")
            self.clear_lockout()
        self.shared["password-policy"] = want

    def test_04_policyor(self):
        a, b = self.shared["pcr-policy"], self.shared["password-policy"]
        want = extend(ZERO, "PolicyOR", a, b)
        got = self.trial("or", ["tpm2_policyor",
                                f"sha256:{self.p('pcr.policy')},{self.p('password.policy')}"])
        self.assert_digest(got, want, "PolicyOR of the PCR and password policies")
        secret = b"either branch opens it"
        sealed = self.seal("orseal", self.p("or.policy"), secret, auth="orpw")
        branches = f"sha256:{self.p('pcr.policy')},{self.p('password.policy')}"
        s = self.policy_session("or-pcr", ["tpm2_policypcr", "-l", "sha256:0,16"],
                                ["tpm2_policyor", branches])
        self.assertEqual(self.unseal(sealed, s, "or-pcr"), secret, "PolicyOR, PCR branch")
        s = self.policy_session("or-pw", ["tpm2_policypassword"], ["tpm2_policyor", branches])
        self.assertEqual(self.unseal(sealed, s, "or-pw", password="orpw"), secret,
                         "PolicyOR, password branch")
        # A branch that is not in the list: PolicyOR itself refuses (TPM_RC_VALUE).
        s = self.policy_session("or-bad", ["tpm2_policycommandcode", "TPM2_CC_Unseal"])
        p = self.tool("tpm2_policyor", "-S", s, branches, ok=False)
        self.assert_rc(p, RC_VALUE_P1, "PolicyOR from a digest in none of the branches")

    def test_05_policysecret(self):
        owner = struct.pack(">I", 0x40000001)  # a permanent handle's Name is the handle
        self.assert_digest(self.trial("secret-o", ["tpm2_policysecret", "-c", "o"]),
                           policy_update(ZERO, "PolicySecret", owner), "PolicySecret(owner)")
        # Against an object with a password, and a policyRef.
        key = self.create_load("secretkey", "ecc", self.srk(), auth="objpw")
        key_name = self.name_of(key, "secretkey.name")
        got = self.trial("secret-key", ["tpm2_policysecret", "-c", key, "-q", "c0ffee", "objpw"])
        self.assert_digest(got, policy_update(ZERO, "PolicySecret", key_name,
                                              bytes.fromhex("c0ffee")),
                           "PolicySecret(object) with policyRef")
        secret = b"opens with the owner's authorization"
        sealed = self.seal("secretseal", self.p("secret-o.policy"), secret)
        s = self.policy_session("secret-ok", ["tpm2_policysecret", "-c", "o"])
        self.assertEqual(self.unseal(sealed, s, "secret-ok"), secret, "PolicySecret(owner)")
        s = self.policy_session("secret-bad")
        p = self.tool("tpm2_policysecret", "-S", s, "-c", key, "wrongpw", ok=False)
        self.assert_rc(p, scenario.RC_AUTH_FAIL_S1, "PolicySecret with the wrong object password")
        self.clear_lockout()

    def test_06_policysigned(self):
        ctx, name = self.openssl_key("signer")
        ref = bytes.fromhex("5eed")
        # aHash = H(nonceTPM || expiration || cpHashA || policyRef) (Part 3 §23.3): no nonce,
        # expiration 0, no cpHash.
        self.write_file("signed-ahash.bin", struct.pack(">i", 0) + ref)
        sig = self.openssl_sign("signer", "signed-ahash.bin", "signed.sig")
        step = ["tpm2_policysigned", "-c", ctx, "-g", "sha256", "-s", sig, "-f", "rsassa",
                "-q", ref.hex()]
        self.assert_digest(self.trial("signed", step),
                           policy_update(ZERO, "PolicySigned", name, ref),
                           "PolicySigned with policyRef")
        secret = b"opens with a signature from an openssl key"
        sealed = self.seal("signedseal", self.p("signed.policy"), secret)
        s = self.policy_session("signed-ok", step)
        self.assertEqual(self.unseal(sealed, s, "signed-ok"), secret, "PolicySigned unseal")
        # A signature over another policyRef does not verify.
        self.write_file("signed-other.bin", struct.pack(">i", 0) + b"other")
        bad = self.openssl_sign("signer", "signed-other.bin", "signed-bad.sig")
        s = self.policy_session("signed-bad")
        p = self.tool("tpm2_policysigned", "-S", s, "-c", ctx, "-g", "sha256", "-s", bad,
                      "-f", "rsassa", "-q", ref.hex(), ok=False)
        self.assert_rc(p, 0x5DD, "PolicySigned with a signature over other data "
                                 "(TPM_RC_POLICY_FAIL, parameter 5: auth)")

    def test_07_policyauthorize(self):
        ctx, name = self.openssl_key("authority")
        got = self.trial("authorize", ["tpm2_policyauthorize", "-n", self.p("authority.name")])
        self.assert_digest(got, policy_update(ZERO, "PolicyAuthorize", name),
                           "PolicyAuthorize (empty policyRef)")
        secret = b"opens with any policy the authority signs"
        sealed = self.seal("authseal", self.p("authorize.policy"), secret)
        # The authority approves the PCR policy of test_02.
        self.trial("approved", ["tpm2_policypcr", "-l", "sha256:0,16"])
        sig = self.openssl_sign("authority", "approved.policy", "approved.sig")
        self.tool("tpm2_verifysignature", "-c", ctx, "-g", "sha256",
                  "-m", self.p("approved.policy"), "-s", sig, "-f", "rsassa",
                  "-t", self.p("approved.tkt"))
        authorize = ["tpm2_policyauthorize", "-i", self.p("approved.policy"),
                     "-n", self.p("authority.name"), "-t", self.p("approved.tkt")]
        s = self.policy_session("auth-ok", ["tpm2_policypcr", "-l", "sha256:0,16"], authorize)
        self.assertEqual(self.unseal(sealed, s, "auth-ok"), secret, "authorized PCR policy")
        # Once PCR 16 moves, the approved policy no longer matches the session.
        self.tool("tpm2_pcrextend", "16:sha256=" + "cd" * 32)
        s = self.policy_session("auth-bad", ["tpm2_policypcr", "-l", "sha256:0,16"])
        p = self.tool(*authorize, "-S", s, ok=False)
        self.assert_rc(p, 0x1C4, "PolicyAuthorize when the session digest is not the approved "
                                 "policy (TPM_RC_VALUE)")
        self.tool("tpm2_pcrreset", "16")

    def test_08_policycommandcode(self):
        self.assert_digest(self.trial("cc-unseal", ["tpm2_policycommandcode", "TPM2_CC_Unseal"]),
                           extend(ZERO, "PolicyCommandCode", struct.pack(">I", CC["Unseal"])),
                           "PolicyCommandCode(Unseal)")
        got = self.trial("cc-sign", ["tpm2_policycommandcode", "TPM2_CC_Sign"])
        self.assert_digest(got, extend(ZERO, "PolicyCommandCode", struct.pack(">I", CC["Sign"])),
                           "PolicyCommandCode(Sign)")
        key = self.create_load("cckey", "rsa:rsassa-sha256:null", self.srk(), attrs=SIGN_ATTRS,
                               policy=self.p("cc-sign.policy"))
        pem = self.pem_of(key, "cckey.pem")
        msg = self.write_file("cc-msg.txt", b"signed under PolicyCommandCode(Sign)")
        s = self.policy_session("cc-ok", ["tpm2_policycommandcode", "TPM2_CC_Sign"])
        self.tool("tpm2_sign", "-c", key, "-p", f"session:{s}", "-g", "sha256", "-f", "plain",
                  "-o", self.p("cc.sig"), msg)
        self.openssl_verify(pem, "cc.sig", "cc-msg.txt", "signature under a policy")
        # The same key cannot be used by a session that allowed another command.
        secret = b"unseal-only"
        sealed = self.seal("ccseal", self.p("cc-unseal.policy"), secret)
        s = self.policy_session("cc-wrong", ["tpm2_policycommandcode", "TPM2_CC_Sign"])
        p = self.unseal(sealed, s, "cc-wrong", ok=False)
        self.assert_rc(p, RC_POLICY_CC_S1, "unseal with a session bound to TPM2_Sign")
        s = self.policy_session("cc-right", ["tpm2_policycommandcode", "TPM2_CC_Unseal"])
        self.assertEqual(self.unseal(sealed, s, "cc-right"), secret, "PolicyCommandCode(Unseal)")

    def test_09_policycphash(self):
        # The man page's pattern: an NV bits index whose write policy is authorized by a key,
        # the authority signs a PolicyCpHash that allows exactly one NV_SetBits.
        ctx, _ = self.openssl_key("cpauth")
        self.trial("cp-authorize", ["tpm2_policyauthorize", "-n", self.p("cpauth.name")])
        index = 0x01500100
        self.tool("tpm2_nvdefine", f"{index:#x}", "-C", "o", "-s", 8,
                  "-a", "policywrite|authwrite|ownerread|nt=bits",
                  "-L", self.p("cp-authorize.policy"))
        self.tool("tpm2_nvsetbits", f"{index:#x}", "-i", "0x10", "--cphash", self.p("cp.hash"))
        nv_name = bytes.fromhex(scenario.parse_yaml_field(
            self.tool("tpm2_nvreadpublic", f"{index:#x}").out, "name"))
        # cpHash = H(commandCode || Name(authHandle) || Name(nvIndex) || parameters).
        cp_hash = sha256(struct.pack(">I", CC["NV_SetBits"]), nv_name, nv_name,
                         struct.pack(">Q", 0x10))
        raw = self.read_file("cp.hash")
        self.assertEqual(raw[-32:].hex(), cp_hash.hex(), "tpm2_nvsetbits --cphash vs software")
        got = self.trial("cphash", ["tpm2_policycphash", "--cphash", self.p("cp.hash")])
        self.assert_digest(got, extend(ZERO, "PolicyCpHash", cp_hash), "PolicyCpHash")
        sig = self.openssl_sign("cpauth", "cphash.policy", "cphash.sig")
        self.tool("tpm2_verifysignature", "-c", ctx, "-g", "sha256", "-m", self.p("cphash.policy"),
                  "-s", sig, "-f", "rsassa", "-t", self.p("cphash.tkt"))
        steps = [["tpm2_policycphash", "--cphash", self.p("cp.hash")],
                 ["tpm2_policyauthorize", "-i", self.p("cphash.policy"),
                  "-n", self.p("cpauth.name"), "-t", self.p("cphash.tkt")]]
        s = self.policy_session("cp-ok", *steps)
        self.tool("tpm2_nvsetbits", f"{index:#x}", "-i", "0x10", "-P", f"session:{s}")
        self.tool("tpm2_flushcontext", s)
        self.tool("tpm2_nvread", f"{index:#x}", "-C", "o", "-o", self.p("cp.read"))
        self.assertEqual(self.read_file("cp.read"), struct.pack(">Q", 0x10),
                         "the NV_SetBits the policy allowed")
        s = self.policy_session("cp-bad", *steps)
        p = self.tool("tpm2_nvsetbits", f"{index:#x}", "-i", "0x20", "-P", f"session:{s}",
                      ok=False)
        self.assert_rc(p, scenario.RC_POLICY_FAIL_S1, "NV_SetBits with other bits than the "
                                                      "cpHash allows")
        self.tool("tpm2_flushcontext", s, ok=None)
        self.tool("tpm2_nvundefine", f"{index:#x}", "-C", "o")

    def test_10_policynamehash(self):
        srk = self.srk()
        key = self.create_load("nhkey", "ecc", srk)
        names = self.name_of(key, "nhkey.name") + self.name_of(srk, "srk.name")
        name_hash = sha256(names)
        self.write_file("name.hash", name_hash)
        got = self.trial("namehash", ["tpm2_policynamehash", "-n", self.p("name.hash")])
        self.assert_digest(got, extend(ZERO, "PolicyNameHash", name_hash), "PolicyNameHash")
        # Real use with duplication: duplication_scenario_test.py.

    def test_11_policycountertimer(self):
        clock = harness.parse_readclock(self.tool("tpm2_readclock").out)
        resets = clock["reset_count"]
        # TPMS_TIME_INFO: time at offset 0 (8 bytes), resetCount at 16 (4 bytes);
        # TPM_EO_EQ 0, TPM_EO_NEQ 1, TPM_EO_UNSIGNED_LT 5.
        got = self.trial("ct-resets", ["tpm2_policycountertimer", f"resets={resets}"])
        self.assert_digest(got, extend(ZERO, "PolicyCounterTimer",
                                       counter_timer_args(struct.pack(">I", resets), 16, 0)),
                           "PolicyCounterTimer resets==N")
        # An unsigned "less than" against Time is an expiration in seconds after the session's
        # nonceTPM (Part 3 §23.10.1, since v1.83); values past 2^31 - 1 may be refused.
        limit = 3600
        got = self.trial("ct-time", ["tpm2_policycountertimer", "--ult", f"time={limit}"])
        self.assert_digest(got, extend(ZERO, "PolicyCounterTimer",
                                       counter_timer_args(struct.pack(">Q", limit), 0, 5)),
                           "PolicyCounterTimer time < N (an expiration)")
        secret = b"only during this reset cycle"
        sealed = self.seal("ctseal", self.p("ct-resets.policy"), secret)
        s = self.policy_session("ct-ok", ["tpm2_policycountertimer", f"resets={resets}"])
        self.assertEqual(self.unseal(sealed, s, "ct-ok"), secret, "PolicyCounterTimer unseal")
        s = self.policy_session("ct-bad")
        p = self.tool("tpm2_policycountertimer", "-S", s, f"resets={resets + 1}", ok=False)
        self.assert_rc(p, RC_POLICY, "PolicyCounterTimer resets==N+1")
        s = self.policy_session("ct-time", ["tpm2_policycountertimer", "--ult",
                                            f"time={limit}"])
        self.tool("tpm2_flushcontext", s)
        s = self.policy_session("ct-time-bad")
        p = self.tool("tpm2_policycountertimer", "-S", s, "--ult", "time=0", ok=False)
        self.assert_rc(p, 0x1E3, "PolicyCounterTimer expiring 0 s after the session started "
                                 "(TPM_RC_EXPIRED, parameter 1)")
        p = self.tool("tpm2_policycountertimer", "-S", s, "--ult", f"time={2 ** 40}", ok=False)
        self.assert_rc(p, RC_VALUE_P1, "PolicyCounterTimer expiration beyond 2^31 - 1 s")

    def test_12_policyduplicationselect(self):
        srk = self.srk()
        key = self.create_load("dskey", "ecc", srk)
        self.name_of(key, "dskey.name")
        new_parent = self.name_of(srk, "ds-parent.name")
        got = self.trial("dupsel", ["tpm2_policyduplicationselect", "-N", self.p("ds-parent.name"),
                                    "-n", self.p("dskey.name")])
        self.assert_digest(got, extend(ZERO, "PolicyDuplicationSelect", new_parent, b"\x00"),
                           "PolicyDuplicationSelect without the object")
        # tpm2-tools 5.4 sends includeObject NO even with --include-object (the digest is the
        # same with and without it), so the YES form (objectName in the digest) is left to
        # tests/engine/commands/policy_test.cc (DuplicationSelectWithAndWithoutObject).
        # Real use: duplication_scenario_test.py.

    def test_13_policytemplate(self):
        self.tool("tpm2_createprimary", "-C", "o", "-G", "ecc", "-c", self.p("tmpl.ctx"),
                  "--template-data", self.p("template.data"))
        template_hash = sha256(self.read_file("template.data"))
        self.write_file("template.hash", template_hash)
        got = self.trial("template", ["tpm2_policytemplate", "--template-hash",
                                      self.p("template.hash")])
        self.assert_digest(got, extend(ZERO, "PolicyTemplate", template_hash), "PolicyTemplate")
        self.flush()
        # The owner hierarchy's policy allows creating exactly this primary.
        self.tool("tpm2_setprimarypolicy", "-C", "o", "-g", "sha256",
                  "-L", self.p("template.policy"))
        try:
            s = self.policy_session("tmpl-ok", ["tpm2_policytemplate", "--template-hash",
                                                self.p("template.hash")])
            self.tool("tpm2_createprimary", "-C", "o", "-G", "ecc", "-c", self.p("tmpl2.ctx"),
                      "-P", f"session:{s}")
            self.tool("tpm2_flushcontext", s)
            self.pem_of(self.p("tmpl.ctx"), "tmpl.pem")
            self.pem_of(self.p("tmpl2.ctx"), "tmpl2.pem")
            self.assertEqual(self.read_file("tmpl2.pem"), self.read_file("tmpl.pem"),
                             "the primary created under PolicyTemplate")
            self.flush()
            s = self.policy_session("tmpl-bad", ["tpm2_policytemplate", "--template-hash",
                                                 self.p("template.hash")])
            p = self.tool("tpm2_createprimary", "-C", "o", "-G", "rsa", "-c", self.p("tmpl3.ctx"),
                          "-P", f"session:{s}", ok=False)
            self.assert_rc(p, scenario.RC_POLICY_FAIL_S1, "another template under PolicyTemplate")
            self.tool("tpm2_flushcontext", s, ok=None)
        finally:
            self.tool("tpm2_setprimarypolicy", "-C", "o", "-g", "null", ok=None)

    def test_14_policylocality(self):
        for label, arg, mask in (("loc0", "zero", 0x01), ("loc3", "three", 0x08)):
            got = self.trial(label, ["tpm2_policylocality", arg])
            self.assert_digest(got, extend(ZERO, "PolicyLocality", bytes([mask])),
                               f"PolicyLocality({arg})")
        secret = b"locality zero only"
        sealed = self.seal("locseal", self.p("loc0.policy"), secret)
        s = self.policy_session("loc-ok", ["tpm2_policylocality", "zero"])
        self.assertEqual(self.unseal(sealed, s, "loc-ok"), secret,
                         "PolicyLocality(zero) from locality 0")
        # tpm2-tools send everything from locality 0: an object bound to locality 3 stays shut.
        sealed3 = self.seal("locseal3", self.p("loc3.policy"), secret)
        s = self.policy_session("loc-bad", ["tpm2_policylocality", "three"])
        p = self.unseal(sealed3, s, "loc-bad", ok=False)
        self.assert_rc(p, RC_LOCALITY, "PolicyLocality(three) used from locality 0")

    def test_15_policysecret_ticket(self):
        # A negative expiration asks PolicySecret for a ticket; PolicyTicket replays it in
        # another session and gives the same digest (Part 3 §23.4, §23.5).
        owner = struct.pack(">I", 0x40000001)
        self.write_file("owner.name", owner)
        s = self.policy_session("tk-secret", ["tpm2_policysecret", "-c", "o", "-t", "-300",
                                              "--ticket", self.p("secret.tkt"),
                                              "--timeout", self.p("secret.timeout"),
                                              "-L", self.p("tk-secret.policy")])
        self.tool("tpm2_flushcontext", s)
        want = policy_update(ZERO, "PolicySecret", owner)
        self.assert_digest(self.read_file("tk-secret.policy"), want, "PolicySecret -t -300")
        self.assertEqual(len(self.read_file("secret.timeout")), 8, "PolicySecret timeout")
        s = self.policy_session("tk-ticket", ["tpm2_policyticket", "-n", self.p("owner.name"),
                                              "--ticket", self.p("secret.tkt"),
                                              "--timeout", self.p("secret.timeout"),
                                              "-L", self.p("tk-ticket.policy")])
        self.tool("tpm2_flushcontext", s)
        self.assert_digest(self.read_file("tk-ticket.policy"), want, "PolicyTicket")
        # The ticket names the owner; presented for another authorizer it does not check.
        self.write_file("endorsement.name", struct.pack(">I", 0x4000000B))
        s = self.policy_session("tk-bad")
        p = self.tool("tpm2_policyticket", "-S", s, "-n", self.p("endorsement.name"),
                      "--ticket", self.p("secret.tkt"), "--timeout", self.p("secret.timeout"),
                      ok=False)
        self.assert_rc(p, 0x5E0, "PolicyTicket for another authorizer (TPM_RC_TICKET, "
                                 "parameter 5)")

    def test_16_policynv_and_nvwritten(self):
        index = 0x01500101
        self.tool("tpm2_nvdefine", f"{index:#x}", "-C", "o", "-s", 8,
                  "-a", "ownerread|ownerwrite|authread|authwrite")
        self.write_file("nv-value.bin", b"ABCDEFGH")
        self.tool("tpm2_nvwrite", f"{index:#x}", "-C", "o", "-i", self.p("nv-value.bin"))
        nv_name = bytes.fromhex(scenario.parse_yaml_field(
            self.tool("tpm2_nvreadpublic", f"{index:#x}").out, "name"))
        self.write_file("operand.bin", b"CDE")
        # PolicyNV (Part 3 §23.9): H(old || CC || H(operandB || offset || operation) || Name).
        step = ["tpm2_policynv", "-C", "o", "-i", self.p("operand.bin"), "--offset", "2",
                f"{index:#x}", "eq"]
        got = self.trial("nv-eq", step)
        self.assert_digest(got, extend(ZERO, "PolicyNV", counter_timer_args(b"CDE", 2, 0),
                                       nv_name), "PolicyNV offset 2 == CDE")
        s = self.policy_session("nv-ok", step)
        self.tool("tpm2_flushcontext", s)
        s = self.policy_session("nv-bad")
        p = self.tool("tpm2_policynv", "-S", s, "-C", "o", "-i", self.p("operand.bin"),
                      f"{index:#x}", "eq", ok=False)
        self.assert_rc(p, RC_POLICY, "PolicyNV offset 0 == CDE")
        for label, arg, byte in (("nvw-set", "s", 1), ("nvw-clear", "c", 0)):
            self.assert_digest(self.trial(label, ["tpm2_policynvwritten", arg]),
                               extend(ZERO, "PolicyNvWritten", bytes([byte])),
                               f"PolicyNvWritten {arg}")
        self.tool("tpm2_nvundefine", f"{index:#x}", "-C", "o")

    def test_17_policyauthorizenv(self):
        # The policy to satisfy lives in an NV index (TPMT_HA: hashAlg || digest).
        self.trial("anv-approved", ["tpm2_policycommandcode", "TPM2_CC_Unseal"])
        index = 0x01500102
        self.tool("tpm2_nvdefine", f"{index:#x}", "-C", "o", "-s", 34,
                  "-a", "ownerread|ownerwrite|authread|authwrite")
        self.write_file("anv.bin", struct.pack(">H", 0x000B) + self.read_file(
            "anv-approved.policy"))
        self.tool("tpm2_nvwrite", f"{index:#x}", "-C", "o", "-i", self.p("anv.bin"))
        nv_name = bytes.fromhex(scenario.parse_yaml_field(
            self.tool("tpm2_nvreadpublic", f"{index:#x}").out, "name"))
        got = self.trial("anv", ["tpm2_policyauthorizenv", "-C", "o", f"{index:#x}"])
        self.assert_digest(got, extend(ZERO, "PolicyAuthorizeNV", nv_name), "PolicyAuthorizeNV")
        secret = b"the policy is in NV"
        sealed = self.seal("anvseal", self.p("anv.policy"), secret)
        s = self.policy_session("anv-ok", ["tpm2_policycommandcode", "TPM2_CC_Unseal"],
                                ["tpm2_policyauthorizenv", "-C", "o", f"{index:#x}"])
        self.assertEqual(self.unseal(sealed, s, "anv-ok"), secret, "PolicyAuthorizeNV unseal")
        s = self.policy_session("anv-bad", ["tpm2_policycommandcode", "TPM2_CC_Sign"])
        p = self.tool("tpm2_policyauthorizenv", "-S", s, "-C", "o", f"{index:#x}", ok=False)
        self.assert_rc(p, 0x084, "PolicyAuthorizeNV when the session digest is not the NV's "
                                 "policy (TPM_RC_VALUE, no parameter number in §23.22)")
        self.tool("tpm2_flushcontext", s, ok=None)
        self.tool("tpm2_nvundefine", f"{index:#x}", "-C", "o")


PolicyMssimScenario, PolicyTctiScenario = scenario.transports(PolicyScenarioBody, "Policy")

if __name__ == "__main__":
    harness.main()
