#!/usr/bin/env python3
"""Key duplication between two tpm2emu TPMs with tpm2-tools, and attestation signatures checked
with openssl: one scenario body, run once per transport (two `tpm2emu serve` daemons, or two
state directories of the in-process TCTI).

A signing key created on TPM A under a duplication policy (PolicyCommandCode(Duplicate) or
PolicyDuplicationSelect naming B's parent) is duplicated by tpm2_duplicate to B's storage key,
with and without an inner wrapper, imported there by tpm2_import, and signs on B; openssl
verifies those signatures with the public key read on A. Refusals: the wrong new parent under
PolicyDuplicationSelect, encryptedDuplication without an inner wrapper, a wrong inner key on
import. Then tpm2_certifycreation and tpm2_certify attestations are verified with openssl and
their TPMS_ATTEST contents compared with the Names the tools report.

Usage: duplication_scenario_test.py --tpm2emu PATH [--tcti-dir DIR] [--asan-runtime LIB]
                                    [--keep] [--verbose-tools] [unittest args]
"""

import struct

import harness
import scenario
from scenario import sha256

DUP_ATTRS = "sensitivedataorigin|userwithauth|sign"   # fixedtpm and fixedparent clear
AK_ATTRS = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign"
KEY_PASS = "dupkeypw"
CC_POLICY_COMMAND_CODE = 0x16C
CC_POLICY_DUPLICATION_SELECT = 0x188
CC_DUPLICATE = 0x14B
CC_REWRAP = 0x152
REWRAP_OLD, REWRAP_NEW = "0x81010050", "0x81010051"
WRONG_OLD_PARENT_RC = 0x3C4  # TPM_RC_VALUE, parameter 3 (inSymSeed): OAEP cannot decrypt


class DuplicationScenarioBody(scenario.ScenarioBody):
    prefix = "tpm2emu-dup"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # TPM B: a second daemon, or a second in-process state directory; the tools of both
        # TPMs share one working directory, so files move between them as they would by copy.
        cls.tmp_b = harness.TempDir(f"{cls.prefix}-b-{cls.transport_class.name}-")
        cls.transport_b = cls.transport_class()
        if cls.setup_error is None:
            try:
                cls.transport_b.setup(cls.tmp_b)
            except Exception as e:  # reported by every step
                cls.setup_error = e
        cls.tools_b = harness.Tools(cls.transport_b, cls.tmp.path)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.transport_b.teardown()
        finally:
            cls.tmp_b.close()
            super().tearDownClass()

    def tearDown(self):
        super().tearDown()
        if self.setup_error is None and not self.tools_b.hung:
            for kind in ("-t", "-l", "-s"):
                self.tool_b("tpm2_flushcontext", kind, ok=None)

    def tool_b(self, *args, ok=True, input=None):
        return self.tools_b.run(*args, ok=ok, input=input)

    # helpers ---------------------------------------------------------------------------------

    def b_parent(self, alg="ecc"):
        """B's storage primary (B.ctx on B) and its public area loaded on A (B-on-A.ctx).

        An RSA parent gets an OAEP-encrypted seed, an ECC parent an ECDH one (Part 1 §24)."""
        self.tool_b("tpm2_createprimary", "-C", "o", "-G", alg, "-c", self.p("B.ctx"))
        self.tool_b("tpm2_readpublic", "-c", self.p("B.ctx"), "-o", self.p("B.pub"),
                    "-n", self.p("B.name"))
        self.tool("tpm2_loadexternal", "-C", "o", "-u", self.p("B.pub"),
                  "-c", self.p("B-on-A.ctx"), "-n", self.p("B-on-A.name"))
        self.assertEqual(self.read_file("B-on-A.name"), self.read_file("B.name"),
                         "Name of B's parent loaded on A vs read on B")
        return self.p("B-on-A.ctx")

    def dup_key(self, label, policy, alg="rsa", attrs=DUP_ATTRS):
        """A duplicable signing key on A; returns (ctx, pem path)."""
        srk = self.primary("A-srk", "ecc")
        key = self.create_load(label, alg, srk, attrs=attrs, auth=KEY_PASS, policy=policy)
        return key, self.pem_of(key, f"{label}.pem")

    def trial(self, label, *args):
        s = self.p(f"{label}-trial.ctx")
        self.tool("tpm2_startauthsession", "-S", s)
        self.tool(*args, "-S", s, "-L", self.p(f"{label}.policy"))
        self.tool("tpm2_flushcontext", s)
        return self.read_file(f"{label}.policy")

    def policy_session(self, label, *args):
        s = self.p(f"{label}-session.ctx")
        self.tool("tpm2_startauthsession", "--policy-session", "-S", s)
        self.tool(*args, "-S", s)
        return s

    def import_and_sign(self, label, pem, wrapper_key=None):
        """tpm2_import on B of LABEL.dpriv/.seed, load, sign; openssl checks with PEM (from A)."""
        self.tool_b("tpm2_flushcontext", "-t")
        args = ["tpm2_import", "-C", self.p("B.ctx"), "-u", self.p(f"{label}.pub"),
                "-i", self.p(f"{label}.dpriv"), "-s", self.p(f"{label}.seed"),
                "-r", self.p(f"{label}-B.priv")]
        if wrapper_key is not None:
            args += ["-k", wrapper_key]
        self.tool_b(*args)
        self.tool_b("tpm2_load", "-C", self.p("B.ctx"), "-u", self.p(f"{label}.pub"),
                    "-r", self.p(f"{label}-B.priv"), "-c", self.p(f"{label}-B.ctx"))
        msg = self.write_file(f"{label}-msg.txt", f"signed on TPM B by {label}".encode())
        self.tool_b("tpm2_sign", "-c", self.p(f"{label}-B.ctx"), "-p", KEY_PASS, "-g", "sha256",
                    "-f", "plain", "-o", self.p(f"{label}-B.sig"), msg)
        self.openssl_verify(pem, f"{label}-B.sig", f"{label}-msg.txt",
                            f"{label}: the imported key's signature with A's public key")

    def duplicate(self, label, key, new_parent, session, wrapper="null", ok=True, extra=()):
        # Every tool that names a context file loads another copy of it: start from empty
        # object slots (the saved contexts stay loadable).
        self.flush()
        self.tool("tpm2_readpublic", "-c", key, "-o", self.p(f"{label}.pub"))
        return self.tool("tpm2_duplicate", "-C", new_parent, "-c", key, "-G", wrapper,
                         "-p", f"session:{session}", "-r", self.p(f"{label}.dpriv"),
                         "-s", self.p(f"{label}.seed"), *extra, ok=ok)

    # the scenario ----------------------------------------------------------------------------

    def test_01_startup(self):
        self.tool("tpm2_startup", "-c")
        self.tool_b("tpm2_startup", "-c")
        # Two TPMs, two sets of seeds: the same template gives different primaries.
        self.primary("A-prim")
        self.tool_b("tpm2_createprimary", "-C", "o", "-G", "rsa", "-c", self.p("B-prim.ctx"))
        self.tool_b("tpm2_readpublic", "-c", self.p("B-prim.ctx"), "-n", self.p("B-prim.name"))
        self.assertNotEqual(self.name_of(self.p("A-prim.ctx"), "A-prim.name"),
                            self.read_file("B-prim.name"), "TPM A and TPM B share their seeds")

    def test_02_commandcode_policy_no_inner_wrapper(self):
        got = self.trial("cc-dup", "tpm2_policycommandcode", "TPM2_CC_Duplicate")
        self.assertEqual(got.hex(), sha256(bytes(32), struct.pack(">II", CC_POLICY_COMMAND_CODE,
                                                                  CC_DUPLICATE)).hex(),
                         "PolicyCommandCode(Duplicate) digest")
        new_parent = self.b_parent("rsa")
        key, pem = self.dup_key("k1", self.p("cc-dup.policy"))
        # Without the policy (a password alone cannot take the DUP role) duplication fails.
        self.tool("tpm2_readpublic", "-c", key, "-o", self.p("k1.pub"))
        self.tool("tpm2_duplicate", "-C", new_parent, "-c", key, "-G", "null", "-p", KEY_PASS,
                  "-r", self.p("k1-nopol.dpriv"), "-s", self.p("k1-nopol.seed"), ok=False)
        s = self.policy_session("k1", "tpm2_policycommandcode", "TPM2_CC_Duplicate")
        self.duplicate("k1", key, new_parent, s)
        self.import_and_sign("k1", pem)

    def test_03_inner_wrapper(self):
        self.trial("cc-dup", "tpm2_policycommandcode", "TPM2_CC_Duplicate")
        new_parent = self.b_parent()
        key, pem = self.dup_key("k2", self.p("cc-dup.policy"), alg="ecc")
        s = self.policy_session("k2", "tpm2_policycommandcode", "TPM2_CC_Duplicate")
        self.duplicate("k2", key, new_parent, s, wrapper="aes",
                       extra=["-o", self.p("k2-inner.key")])
        inner = self.read_file("k2-inner.key")
        self.assertEqual(len(inner), 16, "tpm2_duplicate -G aes -o: a 128-bit inner key")
        # The wrong inner key: the inner integrity check fails on import.
        self.write_file("k2-wrong.key", bytes(b ^ 0x5A for b in inner))
        p = self.tool_b("tpm2_import", "-C", self.p("B.ctx"), "-u", self.p("k2.pub"),
                        "-i", self.p("k2.dpriv"), "-s", self.p("k2.seed"),
                        "-k", self.p("k2-wrong.key"), "-r", self.p("k2-wrong.priv"), ok=False)
        self.assert_rc(p, 0x3DF, "import with the wrong inner key (TPM_RC_INTEGRITY, "
                                 "parameter 3: duplicate)")
        self.import_and_sign("k2", pem, wrapper_key=self.p("k2-inner.key"))

    def test_04_caller_chosen_inner_key(self):
        self.trial("cc-dup", "tpm2_policycommandcode", "TPM2_CC_Duplicate")
        new_parent = self.b_parent()
        key, pem = self.dup_key("k3", self.p("cc-dup.policy"), alg="ecc")
        inner = self.write_file("k3-inner.key", bytes(range(16)))
        s = self.policy_session("k3", "tpm2_policycommandcode", "TPM2_CC_Duplicate")
        self.duplicate("k3", key, new_parent, s, wrapper="aes", extra=["-i", inner])
        self.import_and_sign("k3", pem, wrapper_key=inner)

    def test_05_encrypted_duplication_needs_inner_wrapper(self):
        self.trial("cc-dup", "tpm2_policycommandcode", "TPM2_CC_Duplicate")
        new_parent = self.b_parent()
        key, pem = self.dup_key("k4", self.p("cc-dup.policy"),
                                attrs=DUP_ATTRS + "|encryptedduplication")
        s = self.policy_session("k4-null", "tpm2_policycommandcode", "TPM2_CC_Duplicate")
        p = self.duplicate("k4", key, new_parent, s, wrapper="null", ok=False)
        self.assert_rc(p, 0x2D6, "encryptedDuplication without an inner wrapper "
                                 "(TPM_RC_SYMMETRIC, parameter 2)")
        self.tool("tpm2_flushcontext", s, ok=None)
        s = self.policy_session("k4", "tpm2_policycommandcode", "TPM2_CC_Duplicate")
        self.duplicate("k4", key, new_parent, s, wrapper="aes",
                       extra=["-o", self.p("k4-inner.key")])
        self.import_and_sign("k4", pem, wrapper_key=self.p("k4-inner.key"))

    def test_06_duplication_select_policy(self):
        new_parent = self.b_parent()
        parent_name = self.read_file("B.name")
        got = self.trial("dupsel", "tpm2_policyduplicationselect", "-N", self.p("B.name"),
                         "-n", self.p("B.name"))
        self.assertEqual(got.hex(), sha256(bytes(32), struct.pack(">I",
                                                                  CC_POLICY_DUPLICATION_SELECT),
                                           parent_name, b"\x00").hex(),
                         "PolicyDuplicationSelect(newParent) digest")
        key, pem = self.dup_key("k5", self.p("dupsel.policy"), alg="ecc")
        key_name = self.name_of(key, "k5.name")
        # A different new parent (A's own primary, loaded as a public key): refused.
        self.tool("tpm2_readpublic", "-c", self.p("A-srk.ctx"), "-o", self.p("A-srk.pub"),
                  "-n", self.p("A-srk.name"))
        self.tool("tpm2_loadexternal", "-C", "o", "-u", self.p("A-srk.pub"),
                  "-c", self.p("A-ext.ctx"))
        s = self.policy_session("k5-other", "tpm2_policyduplicationselect",
                                "-N", self.p("A-srk.name"), "-n", self.p("k5.name"))
        p = self.duplicate("k5-other", key, self.p("A-ext.ctx"), s, ok=False)
        self.assert_rc(p, 0x99D, "Duplicate to a parent the policy does not select "
                                 "(TPM_RC_POLICY_FAIL, session 1)")
        self.tool("tpm2_flushcontext", s, ok=None)
        # The session's nameHash pins (object, new parent): B's parent is refused when the
        # session named the other one, even though the policy digest matches...
        s = self.policy_session("k5-mismatch", "tpm2_policyduplicationselect",
                                "-N", self.p("B.name"), "-n", self.p("A-srk.name"))
        p = self.duplicate("k5-mismatch", key, new_parent, s, ok=False)
        self.assert_rc(p, 0x99D, "Duplicate with a nameHash for another object "
                                 "(TPM_RC_POLICY_FAIL, session 1)")
        self.tool("tpm2_flushcontext", s, ok=None)
        # ...and accepted for the pair it names.
        self.assertEqual(len(key_name), 34, "object Name")
        s = self.policy_session("k5", "tpm2_policyduplicationselect", "-N", self.p("B.name"),
                                "-n", self.p("k5.name"))
        self.duplicate("k5", key, new_parent, s)
        self.import_and_sign("k5", pem)

    def test_07_certifycreation(self):
        signer_parent = self.primary("A-srk", "ecc")
        signer = self.create_load("ak", "rsa:rsassa-sha256:null", signer_parent, attrs=AK_ATTRS)
        signer_pem = self.pem_of(signer, "ak.pem")
        self.tool("tpm2_createprimary", "-C", "o", "-G", "ecc", "-c", self.p("cc-prim.ctx"),
                  "--creation-data", self.p("cc.data"), "-d", self.p("cc.hash"),
                  "-t", self.p("cc.ticket"))
        # Both files hold TPM2Bs: creationHash = H(TPMS_CREATION_DATA) (Part 3 §12.1).
        creation_hash = self.read_file("cc.hash")[2:]
        self.assertEqual(creation_hash.hex(), sha256(self.read_file("cc.data")[2:]).hex(),
                         "tpm2_createprimary -d vs SHA-256 of its --creation-data")
        self.tool("tpm2_certifycreation", "-C", signer, "-c", self.p("cc-prim.ctx"),
                  "-d", self.p("cc.hash"), "-t", self.p("cc.ticket"), "-g", "sha256",
                  "-f", "plain", "-s", "rsassa", "-q", "0badcafe",
                  "-o", self.p("cc.sig"), "--attestation", self.p("cc.att"))
        self.openssl_verify(signer_pem, "cc.sig", "cc.att", "tpm2_certifycreation")
        att, r = scenario.parse_attest(self.read_file("cc.att"))
        self.assertEqual(att["magic"], scenario.TPM_GENERATED_VALUE, "TPMS_ATTEST magic")
        self.assertEqual(att["type"], scenario.TPM_ST_ATTEST_CREATION, "TPMS_ATTEST type")
        self.assertEqual(att["extra_data"].hex(), "0badcafe", "extraData")
        srk_qn = scenario.qualified_name(scenario.hierarchy_qn(scenario.TPM_RH_OWNER),
                                         self.name_of(signer_parent, "A-srk.name"))
        self.assertEqual(att["qualified_signer"].hex(),
                         scenario.qualified_name(srk_qn, self.name_of(signer, "ak.name")).hex(),
                         "qualifiedSigner")
        self.assertEqual(r.b().hex(), self.name_of(self.p("cc-prim.ctx"), "cc-prim.name").hex(),
                         "TPMS_CREATION_INFO.objectName")
        self.assertEqual(r.b().hex(), creation_hash.hex(), "TPMS_CREATION_INFO.creationHash")
        self.assertTrue(r.done(), "bytes after TPMS_CREATION_INFO")
        # A ticket for another creation hash is refused.
        self.write_file("cc-other.hash", scenario.tpm2b(creation_hash[:-1] +
                                                         bytes([creation_hash[-1] ^ 1])))
        self.tool("tpm2_certifycreation", "-C", signer, "-c", self.p("cc-prim.ctx"),
                  "-d", self.p("cc-other.hash"), "-t", self.p("cc.ticket"), "-g", "sha256",
                  "-f", "plain", "-s", "rsassa", "-o", self.p("cc-bad.sig"),
                  "--attestation", self.p("cc-bad.att"), ok=False)

    def test_08_certify_checked_with_openssl(self):
        srk = self.primary("A-srk", "ecc")
        signer = self.create_load("ak", "rsa:rsassa-sha256:null", srk, attrs=AK_ATTRS)
        signer_pem = self.pem_of(signer, "ak.pem")
        self.tool("tpm2_certify", "-c", srk, "-C", signer, "-g", "sha256", "-f", "plain",
                  "-o", self.p("certify.att"), "-s", self.p("certify.sig"))
        self.openssl_verify(signer_pem, "certify.sig", "certify.att", "tpm2_certify")
        att, r = scenario.parse_attest(self.read_file("certify.att"))
        self.assertEqual(att["type"], scenario.TPM_ST_ATTEST_CERTIFY, "TPMS_ATTEST type")
        # tpm2_certify 5.4 has no -q; it always sends qualifyingData 00ff55aa.
        self.assertEqual(att["extra_data"].hex(), "00ff55aa", "extraData")
        srk_name = self.name_of(srk, "A-srk.name")
        self.assertEqual(r.b().hex(), srk_name.hex(), "TPMS_CERTIFY_INFO.name")
        self.assertEqual(r.b().hex(), scenario.qualified_name(
            scenario.hierarchy_qn(scenario.TPM_RH_OWNER), srk_name).hex(),
            "TPMS_CERTIFY_INFO.qualifiedName")
        self.assertTrue(r.done(), "bytes after TPMS_CERTIFY_INFO")

    def test_09_rewrap_on_b(self):
        """TPM2_Rewrap on B (sent with tpm2_send: no tool sends it in tpm2-tools 5.4) moves a
        duplicate from B's storage parent to a second one; tpm2_import under the second and a
        signature openssl checks with A's public key. The wrong old parent is refused."""
        self.trial("cc-dup", "tpm2_policycommandcode", "TPM2_CC_Duplicate")
        new_parent = self.b_parent("ecc")
        key, pem = self.dup_key("k6", self.p("cc-dup.policy"), alg="ecc")
        s = self.policy_session("k6", "tpm2_policycommandcode", "TPM2_CC_Duplicate")
        self.duplicate("k6", key, new_parent, s)
        self.tool("tpm2_readpublic", "-c", key, "-n", self.p("k6.name"))
        self.tool_b("tpm2_createprimary", "-C", "o", "-G", "rsa", "-c", self.p("B2.ctx"))
        self.tool_b("tpm2_evictcontrol", "-C", "o", "-c", self.p("B.ctx"), REWRAP_OLD)
        self.tool_b("tpm2_evictcontrol", "-C", "o", "-c", self.p("B2.ctx"), REWRAP_NEW)
        try:
            # The old parent must be the one the duplicate was made for.
            self.rewrap("k6", REWRAP_NEW, REWRAP_NEW, expect_rc=WRONG_OLD_PARENT_RC)
            rsp = self.rewrap("k6", REWRAP_OLD, REWRAP_NEW)
            out_dup, out_seed = rsp.b(), rsp.b()
            self.assertTrue(rsp.done(), "bytes after TPM2_Rewrap's outSymSeed")
            self.write_file("k6-rw.dpriv", scenario.tpm2b(out_dup))
            self.write_file("k6-rw.seed", scenario.tpm2b(out_seed))
            self.tool_b("tpm2_import", "-C", REWRAP_NEW, "-u", self.p("k6.pub"),
                        "-i", self.p("k6-rw.dpriv"), "-s", self.p("k6-rw.seed"),
                        "-r", self.p("k6-rw.priv"))
            self.tool_b("tpm2_load", "-C", REWRAP_NEW, "-u", self.p("k6.pub"),
                        "-r", self.p("k6-rw.priv"), "-c", self.p("k6-rw.ctx"))
            msg = self.write_file("k6-msg.txt", b"signed on TPM B after a rewrap")
            self.tool_b("tpm2_sign", "-c", self.p("k6-rw.ctx"), "-p", KEY_PASS, "-g", "sha256",
                        "-f", "plain", "-o", self.p("k6-rw.sig"), msg)
            self.openssl_verify(pem, "k6-rw.sig", "k6-msg.txt",
                                "the rewrapped key's signature with A's public key")
        finally:
            self.tool_b("tpm2_evictcontrol", "-C", "o", "-c", REWRAP_OLD)
            self.tool_b("tpm2_evictcontrol", "-C", "o", "-c", REWRAP_NEW)

    def rewrap(self, label, old_parent, new_parent, expect_rc=0):
        """TPM2_Rewrap of LABEL.dpriv/.seed (as tpm2_duplicate wrote them) on B; returns a
        Reader over the response parameters (None for an error response)."""
        password = struct.pack(">IHBH", 0x40000009, 0, 0, 0)  # TPM_RS_PW, empty auth
        params = (self.read_file(f"{label}.dpriv")                # TPM2B_PRIVATE
                  + scenario.tpm2b(self.read_file(f"{label}.name"))
                  + self.read_file(f"{label}.seed"))              # TPM2B_ENCRYPTED_SECRET
        body = (struct.pack(">II", int(old_parent, 16), int(new_parent, 16))
                + struct.pack(">I", len(password)) + password + params)
        self.write_file(f"{label}-rewrap.cmd",
                        struct.pack(">HII", 0x8002, 10 + len(body), CC_REWRAP) + body)
        self.tool_b("tpm2_send", "-o", self.p(f"{label}-rewrap.rsp"),
                    self.p(f"{label}-rewrap.cmd"))
        rsp = scenario.Reader(self.read_file(f"{label}-rewrap.rsp"))
        rsp.u16()
        rsp.u32()
        rc = rsp.u32()
        self.assertEqual(rc, expect_rc, f"TPM2_Rewrap {old_parent} -> {new_parent}: {rc:#x}")
        if rc != 0:
            return None
        return scenario.Reader(rsp.take(rsp.u32()))  # the parameters, not the session area

DuplicationMssimScenario, DuplicationTctiScenario = scenario.transports(
    DuplicationScenarioBody, "Duplication")

if __name__ == "__main__":
    harness.main()
