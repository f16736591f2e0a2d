#!/usr/bin/env python3
"""NV indices and persistent objects with tpm2-tools against tpm2emu: one scenario body, run once
per transport (the mssim socket of `tpm2emu serve`, and the in-process TCTI).

Ordinary, counter, extend and bits indices; read/write locks (per index, --global, and the
write-define lock that outlives a reset); policy delete through NV_UndefineSpaceSpecial; a 2 KiB
index that tpm2-tools move in TPM_PT_NV_BUFFER_MAX chunks; tpm2_nvcertify checked with openssl
over the attestation structure; persistent keys. Everything written is read again after an
orderly restart and (daemon only) after a power loss through the mssim platform port, and
counters never go backwards. Names, extend digests and attestation contents are computed in
software and compared.

Usage: nv_scenario_test.py --tpm2emu PATH [--tcti-dir DIR] [--asan-runtime LIB]
                           [--keep] [--verbose-tools] [unittest args, e.g. NvMssimScenario]
"""

import os
import re
import struct

import harness
import scenario
from scenario import sha256

ORDINARY = 0x01500001
LARGE = 0x01500002
COUNTER = 0x01500003
EXTEND = 0x01500004
BITS = 0x01500005
STCLEAR = 0x01500006
GLOBAL = 0x01500007
WRITEDEFINE = 0x01500008
CERTIFIED = 0x01500009
POLICY_DELETE = 0x0150000A
ORDERLY_COUNTER = 0x0150000B
WRITEALL = 0x0150000C
CHANGEAUTH = 0x0150000D
PERSISTENT_KEY = 0x81000020
PERSISTENT_PUBLIC = 0x81000021
PLATFORM_KEY = 0x81800020
PLATFORM_INDEX = 0x01400020

LARGE_SIZE = 2048
NV_PASS = "nvpass"
TPMA_NV_WRITTEN = 0x20000000


def h(index):
    return f"{index:#010x}"


class NvScenarioBody(scenario.ScenarioBody):
    prefix = "tpm2emu-nv"

    # helpers ---------------------------------------------------------------------------------

    def nv_read(self, index, size=None, offset=None, auth=None, hierarchy=None, ok=True):
        """tpm2_nvread into a file; returns the bytes (or the failed process when ok=False)."""
        out = self.p(f"read-{index:x}.bin")
        if os.path.exists(out):
            os.unlink(out)
        args = ["tpm2_nvread", h(index), "-o", out]
        if hierarchy is not None:
            args += ["-C", hierarchy]
        if auth is not None:
            args += ["-P", auth]
        if size is not None:
            args += ["-s", size]
        if offset is not None:
            args += ["--offset", offset]
        p = self.tool(*args, ok=ok)
        if not ok:
            return p
        with open(out, "rb") as f:
            return f.read()

    def nv_write(self, index, data, offset=None, auth=None, hierarchy=None, ok=True):
        path = self.write_file(f"write-{index:x}.bin", data)
        args = ["tpm2_nvwrite", h(index), "-i", path]
        if hierarchy is not None:
            args += ["-C", hierarchy]
        if auth is not None:
            args += ["-P", auth]
        if offset is not None:
            args += ["--offset", offset]
        return self.tool(*args, ok=ok)

    def counter(self):
        return struct.unpack(">Q", self.nv_read(COUNTER, hierarchy="o"))[0]

    def nv_public(self, index):
        """(name bytes, attributes int, size int) from tpm2_nvreadpublic."""
        out = self.tool("tpm2_nvreadpublic", h(index)).out
        name = scenario.parse_yaml_field(out, "name")
        attrs = re.search(r"attributes:\s*\n\s*friendly:.*\n\s*value:\s*(0x[0-9A-Fa-f]+)", out)
        size = scenario.parse_yaml_field(out, "size")
        self.assertTrue(name and attrs and size, f"tpm2_nvreadpublic {h(index)} output:\n{out}")
        return bytes.fromhex(name), int(attrs.group(1), 16), int(size)

    def nv_handles(self):
        out = self.tool("tpm2_getcap", "handles-nv-index").out
        return {int(x, 16) for x in re.findall(r"0x[0-9A-Fa-f]+", out)}

    def persistent_handles(self):
        out = self.tool("tpm2_getcap", "handles-persistent").out
        return {int(x, 16) for x in re.findall(r"0x[0-9A-Fa-f]+", out)}

    def define(self, index, size, attrs, auth=None, policy=None, hierarchy="o"):
        args = ["tpm2_nvdefine", h(index), "-C", hierarchy, "-s", size, "-a", attrs]
        if auth is not None:
            args += ["-p", auth]
        if policy is not None:
            args += ["-L", policy]
        self.tool(*args)
        self.assertIn(index, self.nv_handles(), f"tpm2_getcap handles-nv-index after defining "
                                                f"{h(index)}")

    def check_everything_kept(self, when):
        """Every value the earlier steps left behind, read back (after a restart or power loss)."""
        self.assertEqual(self.nv_read(ORDINARY, auth=NV_PASS), self.shared["ordinary"],
                         f"ordinary index contents {when}")
        self.assertEqual(self.nv_read(LARGE, hierarchy="o"), self.shared["large"],
                         f"2 KiB index contents {when}")
        self.assertEqual(self.nv_read(EXTEND, hierarchy="o"), self.shared["extend"],
                         f"extend index {when}")
        self.assertEqual(self.nv_read(BITS, hierarchy="o"), self.shared["bits"],
                         f"bits index {when}")
        value = self.counter()
        self.assertGreaterEqual(value, self.shared["counter"],
                                f"the counter went backwards {when}")
        self.shared["counter"] = value
        self.tool("tpm2_nvincrement", h(COUNTER), "-C", "o")
        after = self.counter()
        self.assertEqual(after, value + 1, f"tpm2_nvincrement {when}")
        self.shared["counter"] = after
        orderly = struct.unpack(">Q", self.nv_read(ORDERLY_COUNTER, hierarchy="o"))[0]
        self.assertGreaterEqual(orderly, self.shared["orderly"],
                                f"the orderly counter went backwards {when}")
        self.tool("tpm2_nvincrement", h(ORDERLY_COUNTER), "-C", "o")
        self.shared["orderly"] = struct.unpack(">Q", self.nv_read(ORDERLY_COUNTER,
                                                                  hierarchy="o"))[0]
        self.assertGreater(self.shared["orderly"], orderly, f"orderly counter increment {when}")
        self.assertIn(PERSISTENT_KEY, self.persistent_handles(),
                      f"persistent key {h(PERSISTENT_KEY)} {when}")
        msg = self.write_file("persist-msg.txt", f"signed by the persistent key {when}".encode())
        self.tool("tpm2_sign", "-c", h(PERSISTENT_KEY), "-g", "sha256", "-f", "plain",
                  "-o", self.p("persist.sig"), msg)
        self.openssl_verify(self.shared["persistent_pem"], "persist.sig", "persist-msg.txt",
                            f"signature of the persistent key {when}")

    # the scenario ----------------------------------------------------------------------------

    def test_01_startup(self):
        self.tool("tpm2_startup", "-c")

    def test_02_ordinary_index(self):
        self.define(ORDINARY, 64, "authread|authwrite|ownerread|ownerwrite", auth=NV_PASS)
        name, attrs, size = self.nv_public(ORDINARY)
        self.assertEqual(size, 64, "tpm2_nvreadpublic size")
        self.assertFalse(attrs & TPMA_NV_WRITTEN, "TPMA_NV_WRITTEN set before any write")
        self.assertEqual(name.hex(), scenario.nv_name(ORDINARY, attrs, 64).hex(),
                         "NV name (nameAlg || SHA-256(TPMS_NV_PUBLIC)) vs tpm2_nvreadpublic")
        p = self.nv_read(ORDINARY, auth=NV_PASS, size=8, ok=False)
        self.assert_rc(p, 0x14A, "reading an index never written (TPM_RC_NV_UNINITIALIZED)")

        first, second = bytes(range(32)), b"second half, written at offset 32"[:32]
        self.nv_write(ORDINARY, first, auth=NV_PASS)
        self.nv_write(ORDINARY, second, offset=32, auth=NV_PASS)
        self.shared["ordinary"] = first + second
        self.assertEqual(self.nv_read(ORDINARY, auth=NV_PASS), first + second,
                         "tpm2_nvread with the index password")
        self.assertEqual(self.nv_read(ORDINARY, hierarchy="o"), first + second,
                         "tpm2_nvread -C o (ownerread)")
        self.assertEqual(self.nv_read(ORDINARY, auth=NV_PASS, size=10, offset=28),
                         (first + second)[28:38], "tpm2_nvread -s 10 --offset 28")

        name2, attrs2, _ = self.nv_public(ORDINARY)
        self.assertTrue(attrs2 & TPMA_NV_WRITTEN, "TPMA_NV_WRITTEN clear after a write")
        self.assertEqual(name2.hex(), scenario.nv_name(ORDINARY, attrs2, 64).hex(),
                         "the NV name after the first write (TPMA_NV_WRITTEN is in the name)")
        self.assertNotEqual(name, name2, "the NV name did not change with TPMA_NV_WRITTEN")

        p = self.nv_read(ORDINARY, auth="wrong", ok=False)
        self.assert_rc(p, scenario.RC_AUTH_FAIL_S1, "tpm2_nvread with the wrong password")
        p = self.nv_write(ORDINARY, b"x" * 4, auth="wrong", ok=False)
        self.assert_rc(p, scenario.RC_AUTH_FAIL_S1, "tpm2_nvwrite with the wrong password")
        self.clear_lockout()
        self.assertEqual(self.nv_read(ORDINARY, auth=NV_PASS), first + second,
                         "the failed write changed the index")
        # Writing past the end: tpm2_nvwrite refuses before asking the TPM, so this only
        # checks that nothing reached the index.
        self.nv_write(ORDINARY, b"y" * 40, offset=32, auth=NV_PASS, ok=False)
        self.assertEqual(self.nv_read(ORDINARY, auth=NV_PASS), first + second,
                         "an out-of-range write changed the index")

    def test_03_large_index_in_chunks(self):
        out = self.tool("tpm2_getcap", "properties-fixed").out
        m = re.search(r"TPM2_PT_NV_BUFFER_MAX:\s*\n\s*raw:\s*(0x[0-9A-Fa-f]+)", out)
        self.assertIsNotNone(m, f"TPM2_PT_NV_BUFFER_MAX in tpm2_getcap properties-fixed:\n{out}")
        buffer_max = int(m.group(1), 16)
        self.assertLess(buffer_max, LARGE_SIZE, "a 2 KiB index would not need chunks")
        self.define(LARGE, LARGE_SIZE, "ownerread|ownerwrite")
        data = os.urandom(LARGE_SIZE)
        self.nv_write(LARGE, data, hierarchy="o")
        self.shared["large"] = data
        got = self.nv_read(LARGE, hierarchy="o")
        self.assertEqual(len(got), LARGE_SIZE, "tpm2_nvread of the whole 2 KiB index")
        self.assertEqual(got, data, "2 KiB index read back")
        # A read that straddles the first chunk boundary, and a rewrite of the middle.
        start = buffer_max - 100
        self.assertEqual(self.nv_read(LARGE, hierarchy="o", size=200, offset=start),
                         data[start:start + 200], "tpm2_nvread across the chunk boundary")
        patch = os.urandom(buffer_max + 10)
        self.nv_write(LARGE, patch, offset=500, hierarchy="o")
        data = data[:500] + patch + data[500 + len(patch):]
        self.shared["large"] = data
        self.assertEqual(self.nv_read(LARGE, hierarchy="o"), data,
                         "2 KiB index after an offset write longer than one chunk")

    def test_04_counter(self):
        self.define(COUNTER, 8, "ownerread|ownerwrite|nt=counter")
        p = self.nv_read(COUNTER, hierarchy="o", ok=False)
        self.assert_rc(p, 0x14A, "a counter never incremented (TPM_RC_NV_UNINITIALIZED)")
        self.tool("tpm2_nvincrement", h(COUNTER), "-C", "o")
        first = self.counter()
        self.assertGreaterEqual(first, 1, "first counter value")
        for i in range(3):
            self.tool("tpm2_nvincrement", h(COUNTER), "-C", "o")
            self.assertEqual(self.counter(), first + i + 1, f"counter after {i + 2} increments")
        self.shared["counter"] = first + 3
        # An orderly counter lives in RAM between NV updates; after a power loss it must come
        # back at least as high as any value it reported (Part 1 §37.6, "NV counters").
        self.define(ORDERLY_COUNTER, 8, "ownerread|ownerwrite|nt=counter|orderly")
        for _ in range(5):
            self.tool("tpm2_nvincrement", h(ORDERLY_COUNTER), "-C", "o")
        self.shared["orderly"] = struct.unpack(">Q", self.nv_read(ORDERLY_COUNTER,
                                                                  hierarchy="o"))[0]
        self.nv_write(COUNTER, bytes(8), hierarchy="o", ok=False)
        self.assertEqual(self.counter(), first + 3, "tpm2_nvwrite to a counter index (refused)")

    def test_05_extend(self):
        self.define(EXTEND, 32, "ownerread|ownerwrite|nt=extend")
        value = bytes(32)
        for i, data in enumerate((b"first measurement\n", b"second one", b"x" * 100)):
            self.tool("tpm2_nvextend", h(EXTEND), "-C", "o", "-i", self.write_file("ext.bin", data))
            value = sha256(value, data)  # Part 3 NV_Extend: H(old || data), old zero at first
            self.assertEqual(self.nv_read(EXTEND, hierarchy="o").hex(), value.hex(),
                             f"extend index after extend #{i + 1}")
        self.shared["extend"] = value

    def test_06_bits(self):
        self.define(BITS, 8, "ownerread|ownerwrite|nt=bits")
        self.tool("tpm2_nvsetbits", h(BITS), "-C", "o", "-i", "0x5")
        self.assertEqual(self.nv_read(BITS, hierarchy="o"), struct.pack(">Q", 0x5),
                         "bits index after setbits 0x5")
        self.tool("tpm2_nvsetbits", h(BITS), "-C", "o", "-i", "0x8000000000000100")
        self.tool("tpm2_nvsetbits", h(BITS), "-C", "o", "-i", "0x4")
        value = struct.pack(">Q", 0x8000000000000105)
        self.assertEqual(self.nv_read(BITS, hierarchy="o"), value,
                         "bits index ORs the bits in, never clears them")
        self.shared["bits"] = value

    def test_07_locks(self):
        self.define(STCLEAR, 16, "ownerread|ownerwrite|read_stclear|write_stclear")
        self.define(GLOBAL, 16, "ownerread|ownerwrite|globallock")
        self.define(WRITEDEFINE, 16, "ownerread|ownerwrite|writedefine")
        for index in (STCLEAR, GLOBAL, WRITEDEFINE):
            self.nv_write(index, b"before the lock!", hierarchy="o")

        self.tool("tpm2_nvreadlock", h(STCLEAR), "-C", "o")
        p = self.nv_read(STCLEAR, hierarchy="o", ok=False)
        self.assert_rc(p, scenario.RC_NV_LOCKED, "tpm2_nvread after tpm2_nvreadlock")
        self.nv_write(STCLEAR, b"still writable  ", hierarchy="o")
        self.tool("tpm2_nvwritelock", h(STCLEAR), "-C", "o")
        p = self.nv_write(STCLEAR, b"locked for write", hierarchy="o", ok=False)
        self.assert_rc(p, scenario.RC_NV_LOCKED, "tpm2_nvwrite after tpm2_nvwritelock")

        self.tool("tpm2_nvwritelock", "--global", "-C", "o")
        p = self.nv_write(GLOBAL, b"global locked   ", hierarchy="o", ok=False)
        self.assert_rc(p, scenario.RC_NV_LOCKED, "tpm2_nvwrite after tpm2_nvwritelock --global")
        self.assertEqual(self.nv_read(GLOBAL, hierarchy="o"), b"before the lock!",
                         "a globally write-locked index stays readable")
        # Indices without TPMA_NV_GLOBALLOCK are not affected by the global lock.
        self.nv_write(ORDINARY, self.shared["ordinary"][:8], auth=NV_PASS)

        self.tool("tpm2_nvwritelock", h(WRITEDEFINE), "-C", "o")
        p = self.nv_write(WRITEDEFINE, b"write-define    ", hierarchy="o", ok=False)
        self.assert_rc(p, scenario.RC_NV_LOCKED, "tpm2_nvwrite after locking a writedefine index")

        # TPM Reset: the STCLEAR and global locks go, the write-define lock stays
        # (Part 3 NV_WriteLock, NV_ReadLock, NV_GlobalWriteLock).
        self.restart()
        self.assertEqual(self.nv_read(STCLEAR, hierarchy="o"), b"still writable  ",
                         "read_stclear index readable again after a reset")
        self.nv_write(STCLEAR, b"after the reset ", hierarchy="o")
        self.nv_write(GLOBAL, b"after the reset ", hierarchy="o")
        self.assertEqual(self.nv_read(GLOBAL, hierarchy="o"), b"after the reset ",
                         "globallock index after a reset")
        p = self.nv_write(WRITEDEFINE, b"still locked    ", hierarchy="o", ok=False)
        self.assert_rc(p, scenario.RC_NV_LOCKED, "a writedefine lock must survive a reset")
        self.assertEqual(self.nv_read(WRITEDEFINE, hierarchy="o"), b"before the lock!",
                         "writedefine index contents")

    def test_07b_attribute_rules(self):
        # NV_ReadLock needs TPMA_NV_READ_STCLEAR, NV_WriteLock WRITE_STCLEAR or WRITEDEFINE.
        p = self.tool("tpm2_nvreadlock", h(LARGE), "-C", "o", ok=False)
        self.assert_rc(p, 0x282, "tpm2_nvreadlock without read_stclear (TPM_RC_ATTRIBUTES, "
                                 "handle 2)")
        p = self.tool("tpm2_nvwritelock", h(LARGE), "-C", "o", ok=False)
        self.assert_rc(p, 0x282, "tpm2_nvwritelock without write_stclear/writedefine")
        self.assertEqual(self.nv_read(LARGE, hierarchy="o"), self.shared["large"],
                         "the refused locks changed nothing")
        # TPMA_NV_WRITEALL: a partial write is refused (TPM_RC_NV_RANGE).
        self.define(WRITEALL, 16, "ownerread|ownerwrite|writeall")
        p = self.nv_write(WRITEALL, b"half", hierarchy="o", ok=False)
        self.assert_rc(p, 0x146, "partial write to a writeall index (TPM_RC_NV_RANGE)")
        self.nv_write(WRITEALL, b"all sixteen byte", hierarchy="o")
        self.assertEqual(self.nv_read(WRITEALL, hierarchy="o"), b"all sixteen byte", "writeall")
        self.tool("tpm2_nvundefine", h(WRITEALL), "-C", "o")

    def test_07c_change_auth_by_policy(self):
        # NV_ChangeAuth has the ADMIN role: only a policy session (PolicyCommandCode) works.
        s = self.p("ca-session.ctx")
        self.tool("tpm2_startauthsession", "-S", s)
        self.tool("tpm2_policycommandcode", "-S", s, "-L", self.p("ca.policy"),
                  "TPM2_CC_NV_ChangeAuth")
        self.tool("tpm2_flushcontext", s)
        self.define(CHANGEAUTH, 8, "authread|authwrite|ownerread", auth="oldpw",
                    policy=self.p("ca.policy"))
        self.nv_write(CHANGEAUTH, b"12345678", auth="oldpw")
        p = self.tool("tpm2_changeauth", "-c", h(CHANGEAUTH), "-p", "oldpw", "newpw", ok=False)
        self.assert_rc(p, 0x124, "NV_ChangeAuth with the index password: the ADMIN role of an "
                                 "NV index needs a policy session (TPM_RC_AUTH_TYPE)")
        self.tool("tpm2_startauthsession", "--policy-session", "-S", s)
        self.tool("tpm2_policycommandcode", "-S", s, "TPM2_CC_NV_ChangeAuth")
        self.tool("tpm2_changeauth", "-c", h(CHANGEAUTH), "-p", f"session:{s}", "newpw")
        self.tool("tpm2_flushcontext", s)
        self.assertEqual(self.nv_read(CHANGEAUTH, auth="newpw"), b"12345678",
                         "tpm2_nvread with the new password")
        p = self.nv_read(CHANGEAUTH, auth="oldpw", ok=False)
        self.assert_rc(p, scenario.RC_AUTH_FAIL_S1, "tpm2_nvread with the old password")
        self.clear_lockout()
        self.tool("tpm2_nvundefine", h(CHANGEAUTH), "-C", "o")

    def test_08_policy_delete(self):
        # The man page's recipe: PolicyAuthValue + PolicyCommandCode(NV_UndefineSpaceSpecial),
        # on a platform index with TPMA_NV_POLICY_DELETE. tpm2_nvundefine -S has no way to pass
        # the index's own auth value, so the index has an empty one (as in the man page).
        s = self.p("pd-session.ctx")
        self.tool("tpm2_startauthsession", "-S", s)
        self.tool("tpm2_policyauthvalue", "-S", s)
        self.tool("tpm2_policycommandcode", "-S", s, "-L", self.p("pd-policy.bin"),
                  "TPM2_CC_NV_UndefineSpaceSpecial")
        self.tool("tpm2_flushcontext", s)
        want = sha256(sha256(bytes(32), struct.pack(">I", 0x16B)),
                      struct.pack(">II", 0x16C, 0x11F))
        self.assertEqual(self.read_file("pd-policy.bin").hex(), want.hex(),
                         "PolicyAuthValue + PolicyCommandCode(NV_UndefineSpaceSpecial) digest")
        self.define(POLICY_DELETE, 32, "ppread|ppwrite|authread|authwrite|platformcreate|"
                                       "policydelete", policy=self.p("pd-policy.bin"),
                    hierarchy="p")
        self.nv_write(POLICY_DELETE, b"platform data", hierarchy="p")
        p = self.tool("tpm2_nvundefine", h(POLICY_DELETE), "-C", "p", ok=False)
        self.assertIn(POLICY_DELETE, self.nv_handles(),
                      "a policy-delete index went away without its policy")
        # Only half the policy: the TPM must refuse.
        self.tool("tpm2_startauthsession", "--policy-session", "-S", s)
        self.tool("tpm2_policycommandcode", "-S", s, "TPM2_CC_NV_UndefineSpaceSpecial")
        p = self.tool("tpm2_nvundefine", "-S", s, h(POLICY_DELETE), ok=False)
        self.assert_rc(p, scenario.RC_POLICY_FAIL_S1, "NV_UndefineSpaceSpecial, partial policy")
        self.tool("tpm2_flushcontext", s, ok=None)
        self.assertIn(POLICY_DELETE, self.nv_handles(), "index deleted with the wrong policy")
        # The full policy.
        self.tool("tpm2_startauthsession", "--policy-session", "-S", s)
        self.tool("tpm2_policyauthvalue", "-S", s)
        self.tool("tpm2_policycommandcode", "-S", s, "TPM2_CC_NV_UndefineSpaceSpecial")
        self.tool("tpm2_nvundefine", "-S", s, h(POLICY_DELETE))
        self.tool("tpm2_flushcontext", s, ok=None)
        self.assertNotIn(POLICY_DELETE, self.nv_handles(),
                         "tpm2_nvundefine -S (policy delete) left the index")

    def test_09_nvcertify(self):
        srk = self.primary("srk")
        key = self.create_load("certkey", "rsa:rsassa-sha256:null", srk,
                               attrs="fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign")
        pem = self.pem_of(key, "certkey.pem")
        key_name = self.name_of(key, "certkey.name")
        srk_qn = scenario.qualified_name(scenario.hierarchy_qn(scenario.TPM_RH_OWNER),
                                         self.name_of(srk, "srk.name"))
        key_qn = scenario.qualified_name(srk_qn, key_name)
        self.tool("tpm2_readpublic", "-c", key, "-q", self.p("certkey.qn"))
        self.assertEqual(self.read_file("certkey.qn").hex(), key_qn.hex(),
                         "qualified name from tpm2_readpublic -q vs software")
        data = b"certified NV contents 0123456789"
        self.define(CERTIFIED, len(data), "ownerread|ownerwrite|authread|authwrite")
        self.nv_write(CERTIFIED, data, hierarchy="o")
        nv_name, attrs, _ = self.nv_public(CERTIFIED)
        self.assertEqual(nv_name, scenario.nv_name(CERTIFIED, attrs, len(data)), "NV name")
        self.tool("tpm2_nvcertify", "-C", key, "-c", "o", "-g", "sha256", "-f", "plain",
                  "-s", "rsassa", "-q", "feedc0de", "-o", self.p("nvcert.sig"),
                  "--attestation", self.p("nvcert.att"), "--size", 16, "--offset", 8,
                  h(CERTIFIED))
        self.openssl_verify(pem, "nvcert.sig", "nvcert.att", "tpm2_nvcertify")
        att, r = scenario.parse_attest(self.read_file("nvcert.att"))
        self.assertEqual(att["magic"], scenario.TPM_GENERATED_VALUE, "TPMS_ATTEST magic")
        self.assertEqual(att["type"], scenario.TPM_ST_ATTEST_NV, "TPMS_ATTEST type")
        self.assertEqual(att["qualified_signer"].hex(), key_qn.hex(),
                         "qualifiedSigner is the signing key's qualified name")
        self.assertEqual(att["extra_data"].hex(), "feedc0de", "extraData is -q")
        self.assertEqual(r.b().hex(), nv_name.hex(), "TPMS_NV_CERTIFY_INFO.indexName")
        self.assertEqual(r.u16(), 8, "TPMS_NV_CERTIFY_INFO.offset")
        self.assertEqual(r.b(), data[8:24], "TPMS_NV_CERTIFY_INFO.nvContents")
        self.assertTrue(r.done(), "bytes after TPMS_NV_CERTIFY_INFO")
        # A tampered attestation must not verify.
        tampered = bytearray(self.read_file("nvcert.att"))
        tampered[-1] ^= 1
        self.write_file("nvcert-bad.att", bytes(tampered))
        p = self.openssl("dgst", "-sha256", "-verify", pem, "-signature", self.p("nvcert.sig"),
                         self.p("nvcert-bad.att"), ok=False)
        self.assertNotEqual(p.returncode, 0, "openssl accepted a tampered NV attestation")

    def test_10_evictcontrol(self):
        srk = self.primary("srk")
        key = self.create_load("pkey", "ecc:ecdsa-sha256", srk,
                               attrs="fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign")
        self.shared["persistent_pem"] = self.pem_of(key, "pkey.pem")
        self.tool("tpm2_evictcontrol", "-C", "o", "-c", key, h(PERSISTENT_KEY))
        self.assertIn(PERSISTENT_KEY, self.persistent_handles(), "after tpm2_evictcontrol")
        p = self.tool("tpm2_evictcontrol", "-C", "o", "-c", key, h(PERSISTENT_KEY), ok=False)
        self.assert_rc(p, 0x14C, "persisting onto a taken handle (TPM_RC_NV_DEFINED)")
        self.flush()
        self.check_everything_kept("in a new tool process")

    def test_11_survives_restart(self):
        self.restart()
        self.check_everything_kept("after an orderly restart")

    def test_12_survives_power_loss(self):
        self.power_cycle()
        self.check_everything_kept("after a power loss (no Shutdown)")

    def test_13_undefine_and_evict(self):
        indices = {ORDINARY, LARGE, COUNTER, ORDERLY_COUNTER, EXTEND, BITS, STCLEAR, GLOBAL,
                   WRITEDEFINE, CERTIFIED}
        for index in sorted(indices):
            self.tool("tpm2_nvundefine", h(index), "-C", "o")
        left = self.nv_handles() & indices
        self.assertEqual(left, set(), "indices left after tpm2_nvundefine")
        self.tool("tpm2_evictcontrol", "-C", "o", "-c", h(PERSISTENT_KEY))
        self.assertNotIn(PERSISTENT_KEY, self.persistent_handles(), "after evicting the key")
        self.restart()
        self.assertEqual(self.nv_handles() & {ORDINARY, COUNTER}, set(),
                         "undefined indices came back after a restart")
        self.assertNotIn(PERSISTENT_KEY, self.persistent_handles(),
                         "the evicted key came back after a restart")

    def test_14_public_only_and_clear(self):
        # A public key loaded with tpm2_loadexternal can be persisted (Part 3 §28.5, v1.85)
        # and verifies openssl signatures after a restart.
        self.openssl("genrsa", "-out", self.p("ext.pem"), "2048")
        self.openssl("rsa", "-in", self.p("ext.pem"), "-pubout", "-out", self.p("ext-pub.pem"))
        self.tool("tpm2_loadexternal", "-C", "o", "-G", "rsa", "-u", self.p("ext-pub.pem"),
                  "-c", self.p("ext.ctx"), "-n", self.p("ext.name"))
        self.tool("tpm2_evictcontrol", "-C", "o", "-c", self.p("ext.ctx"), h(PERSISTENT_PUBLIC))
        # From the NULL hierarchy it may not (TPM_RC_ATTRIBUTES, handle 2).
        self.tool("tpm2_loadexternal", "-C", "n", "-G", "rsa", "-u", self.p("ext-pub.pem"),
                  "-c", self.p("ext-null.ctx"))
        p = self.tool("tpm2_evictcontrol", "-C", "o", "-c", self.p("ext-null.ctx"),
                      h(PERSISTENT_PUBLIC + 1), ok=False)
        self.assert_rc(p, 0x282, "persisting a NULL-hierarchy object")
        self.flush()
        self.restart()
        self.tool("tpm2_readpublic", "-c", h(PERSISTENT_PUBLIC), "-n", self.p("ext2.name"))
        self.assertEqual(self.read_file("ext2.name"), self.read_file("ext.name"),
                         "Name of the persisted public key after a restart")
        msg = self.write_file("ext-msg.txt", b"signed by openssl, verified by the TPM")
        self.openssl("dgst", "-sha256", "-sign", self.p("ext.pem"), "-out", self.p("ext.sig"), msg)
        self.tool("tpm2_verifysignature", "-c", h(PERSISTENT_PUBLIC), "-g", "sha256", "-m", msg,
                  "-s", self.p("ext.sig"), "-f", "rsassa")

        # Platform objects and indices survive TPM2_Clear; the owner's go (Part 3 §24.6).
        self.primary("plat", "ecc", hierarchy="p")
        self.tool("tpm2_evictcontrol", "-C", "p", "-c", self.p("plat.ctx"), h(PLATFORM_KEY))
        p = self.tool("tpm2_evictcontrol", "-C", "o", "-c", h(PLATFORM_KEY), ok=False)
        self.assert_rc(p, 0x28D, "owner evicting from the platform range (TPM_RC_RANGE, "
                                 "handle 2)")
        self.define(PLATFORM_INDEX, 8, "ppread|ppwrite|platformcreate", hierarchy="p")
        self.define(ORDINARY, 8, "ownerread|ownerwrite")
        self.tool("tpm2_clear", "-c", "p")
        self.assertEqual(self.persistent_handles() & {PERSISTENT_PUBLIC, PLATFORM_KEY},
                         {PLATFORM_KEY}, "persistent objects after tpm2_clear")
        self.assertEqual(self.nv_handles() & {PLATFORM_INDEX, ORDINARY}, {PLATFORM_INDEX},
                         "NV indices after tpm2_clear")
        self.tool("tpm2_evictcontrol", "-C", "p", "-c", h(PLATFORM_KEY))
        self.tool("tpm2_nvundefine", h(PLATFORM_INDEX), "-C", "p")
        self.assertNotIn(PLATFORM_KEY, self.persistent_handles(), "after the platform evict")


NvMssimScenario, NvTctiScenario = scenario.transports(NvScenarioBody, "Nv")

if __name__ == "__main__":
    harness.main()
