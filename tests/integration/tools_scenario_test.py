#!/usr/bin/env python3
"""tpm2-tools against tpm2emu: one scenario body, run once per transport.

Transports: the mssim socket of `tpm2emu serve`, and the in-process TCTI
(libtss2-tcti-tpm2emu.so, `-T tpm2emu:<state dir>`). Every value the TPM computes is checked
against the same value computed here in software (hashlib).

The steps share one TPM per transport and run in name order (test_01..., test_02...), like one
session at a real TPM; a step only relies on what earlier steps leave behind where its name says
so (the owner password from test_11 onwards, the restart in test_13).

Usage: tools_scenario_test.py --tpm2emu PATH [--tcti-dir DIR] [--asan-runtime LIB]
                              [--keep] [--verbose-tools] [unittest args, e.g. MssimScenario]
"""

import hashlib
import os
import re
import struct

import harness
import scenario
from harness import parse_pcrread, parse_readclock

SHA1_ZERO = bytes(20)
SHA256_ZERO = bytes(32)

TPM_ST_HASHCHECK = 0x8024
TPM_RH_OWNER = 0x40000001
TPM_RH_NULL = 0x40000007

OWNER_PASS_1 = "newpass"
OWNER_PASS_2 = "newpass2"


def extend(old, digest, alg):
    return hashlib.new(alg, old + digest).digest()


class ToolsScenarioBody(scenario.ScenarioBody):
    """The scenario; scenario.transports() makes the test classes."""

    prefix = "tpm2emu-it"
    # State the steps hand on (class attributes: one TPM per transport for the whole class).
    clock_before_restart = None

    # helpers ---------------------------------------------------------------------------------

    def pcr(self, bank, index):
        out = self.tool("tpm2_pcrread", f"{bank}:{index}").out
        banks = parse_pcrread(out)
        self.assertIn(bank, banks, f"tpm2_pcrread {bank}:{index} printed no {bank} bank:\n{out}")
        self.assertIn(index, banks[bank],
                      f"tpm2_pcrread {bank}:{index} printed no PCR {index}:\n{out}")
        return banks[bank][index]

    def readclock(self):
        out = self.tool("tpm2_readclock").out
        info = parse_readclock(out)
        for key in ("time", "clock", "reset_count", "restart_count", "safe"):
            self.assertIn(key, info, f"tpm2_readclock printed no {key}:\n{out}")
        return info

    def getcap(self, what):
        return self.tool("tpm2_getcap", what).out

    # the scenario ----------------------------------------------------------------------------

    def test_01_startup(self):
        self.tool("tpm2_startup", "-c")

    def test_02_getrandom(self):
        out = self.tool("tpm2_getrandom", "32", "--hex").out.strip()
        self.assertRegex(out, r"^[0-9a-fA-F]{64}$", "tpm2_getrandom 32 --hex")
        again = self.tool("tpm2_getrandom", "32", "--hex").out.strip()
        self.assertNotEqual(out, again, "two GetRandom(32) calls returned the same bytes")
        raw_path = self.tmp.join("random.bin")
        self.tool("tpm2_getrandom", "-o", raw_path, "16")
        self.assertEqual(len(self.read_file("random.bin")), 16, "tpm2_getrandom -o FILE 16")

    def test_03_pcrextend(self):
        self.assertEqual(self.pcr("sha256", 16), SHA256_ZERO, "PCR 16 of a fresh TPM")
        d256 = hashlib.sha256(b"tpm2emu integration").digest()
        d1 = hashlib.sha1(b"tpm2emu integration").digest()
        self.tool("tpm2_pcrextend", f"16:sha256={d256.hex()}")
        expected = extend(SHA256_ZERO, d256, "sha256")
        self.assertEqual(self.pcr("sha256", 16).hex(), expected.hex(),
                         "PCR 16 after tpm2_pcrextend 16:sha256=D must be sha256(0^32 || D)")
        # Both banks at once, and extending chains.
        self.tool("tpm2_pcrextend", f"16:sha1={d1.hex()},sha256={d256.hex()}")
        self.assertEqual(self.pcr("sha256", 16).hex(), extend(expected, d256, "sha256").hex(),
                         "second extend of sha256 PCR 16")
        self.assertEqual(self.pcr("sha1", 16).hex(), extend(SHA1_ZERO, d1, "sha1").hex(),
                         "sha1 PCR 16 after one extend")

    def test_04_pcrreset(self):
        self.tool("tpm2_pcrreset", "16")
        self.assertEqual(self.pcr("sha256", 16), SHA256_ZERO, "sha256 PCR 16 after reset")
        self.assertEqual(self.pcr("sha1", 16), SHA1_ZERO, "sha1 PCR 16 after reset")
        # PCR 0 is not resettable at locality 0.
        self.tool("tpm2_pcrreset", "0", ok=False)

    def test_05_pcrevent(self):
        self.tool("tpm2_pcrreset", "16")
        data = b"an event for PCR 16\n" * 10
        path = self.write_file("event.bin", data)
        out = self.tool("tpm2_pcrevent", path, "16").out
        for alg in ("sha1", "sha256"):
            m = re.search(rf"^\s*{alg}\s*:\s*(?:0x)?([0-9A-Fa-f]+)\s*$", out, re.M)
            self.assertIsNotNone(m, f"tpm2_pcrevent printed no {alg} digest:\n{out}")
            self.assertEqual(m.group(1).lower(), hashlib.new(alg, data).hexdigest(),
                             f"tpm2_pcrevent {alg} digest")
        self.assertEqual(self.pcr("sha256", 16).hex(),
                         extend(SHA256_ZERO, hashlib.sha256(data).digest(), "sha256").hex(),
                         "sha256 PCR 16 after tpm2_pcrevent")
        self.assertEqual(self.pcr("sha1", 16).hex(),
                         extend(SHA1_ZERO, hashlib.sha1(data).digest(), "sha1").hex(),
                         "sha1 PCR 16 after tpm2_pcrevent")

    def test_05b_pcrevent_large_file_uses_event_sequence(self):
        # More than 1024 bytes: tpm2_pcrevent uses HashSequenceStart(NULL) + EventSequenceComplete.
        self.tool("tpm2_pcrreset", "16")
        data = bytes(range(256)) * 9
        path = self.write_file("event-large.bin", data)
        self.tool("tpm2_pcrevent", path, "16")
        self.assertEqual(self.pcr("sha256", 16).hex(),
                         extend(SHA256_ZERO, hashlib.sha256(data).digest(), "sha256").hex(),
                         "sha256 PCR 16 after tpm2_pcrevent of a 2304-byte file")

    def _check_hash(self, data, name, hierarchy=None):
        path = self.write_file(name, data)
        out_path, ticket_path = path + ".digest", path + ".ticket"
        args = ["tpm2_hash", "-g", "sha256", "-o", out_path, "-t", ticket_path]
        if hierarchy:
            args += ["-C", hierarchy]
        self.tool(*args, path)
        with open(out_path, "rb") as f:
            digest = f.read()
        self.assertEqual(digest.hex(), hashlib.sha256(data).hexdigest(),
                         f"tpm2_hash -g sha256 of {len(data)} bytes")
        with open(ticket_path, "rb") as f:
            return parse_hashcheck_ticket(self, f.read())

    def test_06_hash(self):
        data = b"The quick brown fox jumps over the lazy dog"
        tag, hierarchy, ticket = self._check_hash(data, "small.txt")
        self.assertEqual((tag, hierarchy), (TPM_ST_HASHCHECK, TPM_RH_OWNER),
                         "tpm2_hash ticket tag/hierarchy (default -C o)")
        self.assertGreater(len(ticket), 0, "owner-hierarchy hash ticket must not be empty")
        # Same data, same ticket (an HMAC over the digest with the owner proof).
        _, _, again = self._check_hash(data, "small2.txt")
        self.assertEqual(ticket, again, "hash tickets of the same data differ")
        out = self.tool("tpm2_hash", "-g", "sha256", "--hex",
                        self.write_file("hex.txt", data)).out
        self.assertIn(hashlib.sha256(data).hexdigest(), out.lower(), "tpm2_hash --hex")
        # NULL hierarchy: a NULL ticket.
        tag, hierarchy, ticket = self._check_hash(data, "null.txt", hierarchy="n")
        self.assertEqual((tag, hierarchy, ticket), (TPM_ST_HASHCHECK, TPM_RH_NULL, b""),
                         "tpm2_hash -C n must give a NULL ticket")

    def test_07_hash_sequence_for_large_input(self):
        # More than 1024 bytes: tpm2_hash uses HashSequenceStart/SequenceUpdate/SequenceComplete.
        data = os.urandom(1500) + bytes(range(256)) * 10
        tag, hierarchy, ticket = self._check_hash(data, "large.bin")
        self.assertEqual((tag, hierarchy), (TPM_ST_HASHCHECK, TPM_RH_OWNER),
                         "sequence hash ticket tag/hierarchy")
        self.assertGreater(len(ticket), 0, "sequence hash ticket must not be empty")
        data = bytes(4096)
        self._check_hash(data, "large-zero.bin")

    def test_08_getcap(self):
        fixed = self.getcap("properties-fixed")
        m = re.search(r"(?m)^TPM2_PT_FAMILY_INDICATOR:\s*\n((?:[ \t]+.*\n?)*)", fixed)
        self.assertIsNotNone(m, f"properties-fixed lacks TPM2_PT_FAMILY_INDICATOR:\n{fixed}")
        self.assertRegex(m.group(1), r'value:\s*"2\.0"', "TPM2_PT_FAMILY_INDICATOR value")
        self.assertRegex(m.group(1).lower(), r"raw:\s*0x(08)?322e3000",
                         "TPM2_PT_FAMILY_INDICATOR raw")
        for key in ("TPM2_PT_MANUFACTURER", "TPM2_PT_PCR_COUNT", "TPM2_PT_MAX_DIGEST"):
            self.assertIn(key, fixed, f"properties-fixed lacks {key}")
        m = re.search(r"TPM2_PT_PCR_COUNT:\s*\n\s*(?:raw|value):\s*0x([0-9A-Fa-f]+)", fixed)
        if m:
            self.assertGreaterEqual(int(m.group(1), 16), 24, "TPM2_PT_PCR_COUNT")
        variable = self.getcap("properties-variable")
        self.assertIn("TPM2_PT_PERMANENT", variable, "properties-variable")
        self.assertIn("TPM2_PT_STARTUP_CLEAR", variable, "properties-variable")
        algs = self.getcap("algorithms")
        for alg in ("sha1", "sha256"):
            self.assertRegex(algs, rf"(?m)^{alg}:", f"algorithms lacks {alg}")
        cmds = self.getcap("commands")
        for cc in ("TPM2_CC_Startup", "TPM2_CC_GetRandom", "TPM2_CC_PCR_Extend",
                   "TPM2_CC_Hash", "TPM2_CC_GetCapability", "TPM2_CC_HashSequenceStart"):
            self.assertRegex(cmds, rf"(?m)^{cc}:", f"commands lacks {cc}")
        pcrs = self.getcap("pcrs")
        full = ", ".join(str(i) for i in range(24))
        for bank in ("sha1", "sha256"):
            m = re.search(rf"-\s*{bank}\s*:\s*\[\s*([0-9,\s]*)\]", pcrs)
            self.assertIsNotNone(m, f"pcrs: no {bank} bank allocated:\n{pcrs}")
            got = ", ".join(x.strip() for x in m.group(1).split(",") if x.strip())
            self.assertEqual(got, full, f"pcrs: {bank} bank must select PCRs 0-23")
        curves = self.getcap("ecc-curves")
        if re.search(r"(?m)^ecc:", algs):
            self.assertIn("TPM2_ECC_NIST_P256", curves,
                          "algorithms lists ecc, but ecc-curves lacks NIST P-256")
        self.getcap("handles-transient")

    def test_09_selftest_and_testresult(self):
        self.tool("tpm2_selftest")
        self.tool("tpm2_selftest", "-f")
        out = self.tool("tpm2_gettestresult").out
        self.assertRegex(out.lower(), r"status:\s*success", "tpm2_gettestresult")

    def test_10_readclock(self):
        first = self.readclock()
        self.tool("tpm2_getrandom", "8")
        self.tool("tpm2_getrandom", "8")
        second = self.readclock()
        self.assertGreaterEqual(second["clock"], first["clock"], "Clock went backwards")
        self.assertGreaterEqual(second["time"], first["time"],
                                f"Time went backwards: {first} then {second}")
        # No _TPM_Init in between (the TPM stays powered across tool processes), so Time is not
        # reset (Part 1 §33.2) and Clock advances at the rate Time does (§33.3.1; the rate is
        # never adjusted here, and ClockRateAdjust could change it by 15% at most).
        clock_delta = second["clock"] - first["clock"]
        time_delta = second["time"] - first["time"]
        self.assertGreaterEqual(time_delta, int(clock_delta * 0.85) - 2,
                                f"Clock advanced {clock_delta} ms but Time {time_delta} ms "
                                f"between {first} and {second}")
        self.assertEqual(first["safe"], "yes", "a fresh clock is safe")

    def test_10b_testparms(self):
        # What the TPM lists in its algorithms capability must pass TestParms.
        algs = self.getcap("algorithms")
        listed = lambda alg: re.search(rf"(?m)^{alg}:", algs) is not None  # noqa: E731
        supported = [spec for spec, alg in (("ecc256", "ecc"), ("rsa2048", "rsa"),
                                            ("aes128cfb", "aes"), ("hmac", "hmac"))
                     if listed(alg)]
        self.assertTrue(supported, f"the TPM lists none of ecc, rsa, aes, hmac:\n{algs}")
        for spec in supported:
            self.tool("tpm2_testparms", spec)
        # Something the TPM does not support must fail in the TPM, not in the tool's parser.
        curves = self.getcap("ecc-curves")
        candidates = [spec for spec, name in (("ecc192", "TPM2_ECC_NIST_P192"),
                                              ("ecc224", "TPM2_ECC_NIST_P224"),
                                              ("ecc521", "TPM2_ECC_NIST_P521"))
                      if name not in curves]
        if not listed("camellia"):
            candidates.append("camellia128cfb")
        self.assertTrue(candidates, "no unsupported algorithm left to test against")
        p = self.tool("tpm2_testparms", candidates[0], ok=False)
        self.assertNotIn("by the tool", p.err,
                         f"tpm2_testparms {candidates[0]} failed in the tool, not the TPM")

    def test_11_changeauth_owner(self):
        self.tool("tpm2_changeauth", "-c", "owner", OWNER_PASS_1)
        # The old (empty) auth no longer works, the new one does.
        self.tool("tpm2_changeauth", "-c", "owner", "willnotwork", ok=False)
        self.tool("tpm2_changeauth", "-c", "owner", "-p", "wrongpass", "willnotwork", ok=False)
        self.tool("tpm2_changeauth", "-c", "owner", "-p", OWNER_PASS_1, OWNER_PASS_2)
        self.tool("tpm2_changeauth", "-c", "owner", "-p", OWNER_PASS_1, "x", ok=False)

    def test_12_setclock_with_owner_auth(self):
        now = self.readclock()["clock"]
        target = now + 3_600_000
        self.tool("tpm2_setclock", "-c", "o", str(target + 1000), ok=False)
        self.tool("tpm2_setclock", "-c", "o", "-p", "wrongpass", str(target + 1000), ok=False)
        self.tool("tpm2_setclock", "-c", "o", "-p", OWNER_PASS_2, str(target))
        after = self.readclock()
        self.assertGreaterEqual(after["clock"], target, "Clock after tpm2_setclock")
        self.assertLess(after["clock"], target + 600_000, "Clock after tpm2_setclock")
        # The clock only moves forward: setting it back fails.
        self.tool("tpm2_setclock", "-c", "o", "-p", OWNER_PASS_2, str(now), ok=False)

    def test_13_shutdown_restart_keeps_state(self):
        before = self.readclock()
        self.tool("tpm2_shutdown", "-c")
        self.transport.restart()
        self.tool("tpm2_startup", "-c")
        after = self.readclock()
        self.assertGreaterEqual(after["clock"], before["clock"],
                                "Clock after shutdown/restart must not be smaller than before")
        if self.transport.restart_power_cycles:
            # Shutdown(CLEAR), power cycle, Startup(CLEAR) is a TPM Reset (Part 1 §33.4):
            # resetCount goes up by one, restartCount back to 0, PCR 16 back to zeros.
            self.assertEqual(after["reset_count"], before["reset_count"] + 1,
                             "resetCount after Shutdown(CLEAR) + restart + Startup(CLEAR)")
            self.assertEqual(after["restart_count"], 0, "restartCount after a TPM Reset")
        # The owner password survived.
        self.tool("tpm2_setclock", "-c", "o", str(after["clock"] + 10_000), ok=False)
        self.tool("tpm2_setclock", "-c", "o", "-p", OWNER_PASS_2, str(after["clock"] + 10_000))
        self.tool("tpm2_changeauth", "-c", "owner", "-p", OWNER_PASS_2, "")
        self.tool("tpm2_changeauth", "-c", "owner", "-p", OWNER_PASS_2, "x", ok=False)
        self.tool("tpm2_getrandom", "8", "--hex")

    def test_14_pcr_survives_across_tool_processes(self):
        self.tool("tpm2_pcrreset", "16")
        d = hashlib.sha256(b"kept").digest()
        self.tool("tpm2_pcrextend", f"16:sha256={d.hex()}")
        # A new tool process (and, for the TCTI, a new TPM instance loaded from the directory)
        # sees the extended PCR: the TPM stayed powered in between.
        self.assertEqual(self.pcr("sha256", 16), extend(SHA256_ZERO, d, "sha256"))


def parse_hashcheck_ticket(testcase, blob):
    """(tag, hierarchy, digest) of a TPMT_TK_HASHCHECK file written by tpm2-tools."""
    testcase.assertGreaterEqual(len(blob), 8, f"ticket file too short: {blob.hex()}")
    tag, hierarchy, size = struct.unpack(">HIH", blob[:8])
    testcase.assertEqual(len(blob), 8 + size, f"ticket file is not a TPMT_TK_HASHCHECK: "
                                              f"{blob.hex()}")
    return tag, hierarchy, blob[8:]


MssimScenario, TctiScenario = scenario.transports(ToolsScenarioBody, "")

if __name__ == "__main__":
    harness.main()
