#!/usr/bin/env python3
"""EK certificates: `tpm2emu ek-cert --state DIR --ca-dir DIR [--force]`, then tpm2-tools over
mssim.

ek-cert creates the default EKs, has the local CA certify them and writes the certificates to
the platform NV indices 0x01C00002 (RSA 2048) and 0x01C0000A (ECC NIST P-256). The daemon then
serves them: tpm2_nvreadpublic shows the indices with the EK Credential Profile's attributes,
tpm2_nvread and tpm2_getekcertificate give DER that openssl parses and verifies against the CA,
and the certified keys are the ones tpm2_createek makes. The indices survive tpm2_clear; a
second ek-cert is refused without --force and replaces the certificates with it; ek-cert is
refused while a daemon holds the state and when the CA key is not private.

Usage: ekcert_test.py --tpm2emu PATH [--keep] [unittest args]
"""

import os
import re
import subprocess
import unittest

import harness
from harness import Daemon, MssimTransport, Tools

RSA_INDEX = 0x01C00002
ECC_INDEX = 0x01C0000A
# TPMA_NV: PPWRITE | WRITEDEFINE | PPREAD | OWNERREAD | AUTHREAD | NO_DA | PLATFORMCREATE,
# plus WRITTEN once the certificate is in.
ATTRIBUTES = 0x42072001
WRITTEN = 0x20000000
FRIENDLY = ["ppwrite", "writedefine", "ppread", "ownerread", "authread", "no_da", "written",
            "platformcreate"]


def openssl(*args, input=None):
    p = subprocess.run(["openssl"] + [str(a) for a in args], input=input, capture_output=True,
                       timeout=harness.TOOL_TIMEOUT_S)
    if p.returncode != 0:
        raise AssertionError(f"openssl {' '.join(map(str, args))}: exit {p.returncode}\n"
                             f"{p.stderr.decode(errors='replace')}")
    return p.stdout.decode(errors="replace")


def parse_nvreadpublic(text):
    """{index: (attributes, size)} from tpm2_nvreadpublic's output."""
    out = {}
    index = None
    attrs = None
    for line in text.splitlines():
        m = re.match(r"^0x([0-9a-fA-F]+):$", line)
        if m:
            index = int(m.group(1), 16)
            continue
        m = re.match(r"^\s+value: (0x[0-9a-fA-F]+)$", line)
        if m and index is not None:
            attrs = int(m.group(1), 16)  # the last "value:" before size is the attributes
            continue
        m = re.match(r"^\s+friendly: (.*)$", line)
        if m and index is not None and "|" in m.group(1):
            out.setdefault(index, {})["friendly"] = m.group(1).split("|")
            continue
        m = re.match(r"^\s+size: (\d+)$", line)
        if m and index is not None:
            out.setdefault(index, {})["attributes"] = attrs
            out[index]["size"] = int(m.group(1))
    return out


class EkCertTest(unittest.TestCase):
    def setUp(self):
        harness.require_daemon(self)
        self.tmp = harness.TempDir("tpm2emu-it-ekcert-")
        self.state_dir = self.tmp.join("state")
        self.ca_dir = self.tmp.join("ca")
        self.ca_cert = os.path.join(self.ca_dir, "ca-cert.pem")
        self.transport = None
        self.daemons = []

    def tearDown(self):
        if self.transport is not None:
            self.transport.teardown()
        for d in self.daemons:
            d.stop()
        self.tmp.close()

    def ek_cert(self, *extra, ok=True):
        args = ["ek-cert", "--state", self.state_dir, "--ca-dir", self.ca_dir] + list(extra)
        p = harness.run_cli(args)
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        if ok:
            self.assertEqual(p.returncode, 0, f"tpm2emu {' '.join(args)}: {out}{err}")
        else:
            self.assertNotEqual(p.returncode, 0, f"tpm2emu {' '.join(args)} must be refused: "
                                                 f"{out}{err}")
        return out, err

    def start(self):
        """The daemon on the state, tpm2_startup -c; the Tools for it."""
        self.transport = MssimTransport()
        self.transport.setup(self.tmp)
        tools = Tools(self.transport, self.tmp.path)
        tools.run("tpm2_startup", "-c")
        return tools

    def stop(self):
        self.assertEqual(self.transport.daemon.terminate(), 0, self.transport.daemon.stderr())
        self.transport = None

    def read_cert(self, tools, index, name):
        der = self.tmp.join(name + ".der")
        tools.run("tpm2_nvread", f"{index:#010x}", "-C", "o", "-o", der)
        with open(der, "rb") as f:
            return f.read()

    def check_cert(self, der, name):
        """Parses and verifies `der` against the CA; returns its text and public key PEM."""
        pem = openssl("x509", "-inform", "DER", input=der)
        path = self.tmp.join(name + ".pem")
        with open(path, "w") as f:
            f.write(pem)
        self.assertIn(": OK", openssl("verify", "-CAfile", self.ca_cert, path))
        text = openssl("x509", "-in", path, "-noout", "-text")
        for needle in ("Version: 3 (0x2)", "Not After : Dec 31 23:59:59 9999 GMT",
                       "X509v3 Subject Alternative Name: critical",
                       "DirName:/2.23.133.2.1=id:", "/2.23.133.2.2=", "/2.23.133.2.3=id:",
                       "X509v3 Extended Key Usage: \n                2.23.133.8.1",
                       "X509v3 Basic Constraints: critical\n                CA:FALSE",
                       "X509v3 Authority Key Identifier", "X509v3 Subject Directory Attributes"):
            self.assertIn(needle, text, name)
        self.assertRegex(text, r"Subject: *\n", "the subject is empty")
        pub = openssl("x509", "-in", path, "-noout", "-pubkey")
        return text, pub

    def createek_public(self, tools, alg):
        pem = self.tmp.join(f"ek-{alg}.pem")
        ctx = self.tmp.join(f"ek-{alg}.ctx")
        tools.run("tpm2_createek", "-G", alg, "-c", ctx, "-u", pem, "-f", "pem")
        tools.run("tpm2_flushcontext", "-t")
        return openssl("pkey", "-pubin", "-in", pem)

    def nv_public(self, tools):
        return parse_nvreadpublic(tools.run("tpm2_nvreadpublic").out)

    def check_indices(self, tools, sizes):
        nv = self.nv_public(tools)
        for index, size in sizes.items():
            self.assertIn(index, nv, f"{index:#x} in tpm2_nvreadpublic")
            self.assertEqual(nv[index]["attributes"], ATTRIBUTES | WRITTEN, f"{index:#x}")
            self.assertEqual(sorted(nv[index]["friendly"]), sorted(FRIENDLY), f"{index:#x}")
            self.assertEqual(nv[index]["size"], size, f"{index:#x}")

    # -----------------------------------------------------------------------------------------

    def test_certificates_reach_tpm2_tools_and_survive_clear(self):
        out, _ = self.ek_cert()
        self.assertIn("written to NV index 0x01C00002", out)
        self.assertIn("written to NV index 0x01C0000A", out)
        self.assertEqual(os.stat(self.ca_dir).st_mode & 0o777, 0o700)
        self.assertEqual(os.stat(os.path.join(self.ca_dir, "ca-key.pem")).st_mode & 0o777, 0o600)

        tools = self.start()
        rsa = self.read_cert(tools, RSA_INDEX, "rsa")
        ecc = self.read_cert(tools, ECC_INDEX, "ecc")
        self.check_indices(tools, {RSA_INDEX: len(rsa), ECC_INDEX: len(ecc)})
        rsa_text, rsa_pub = self.check_cert(rsa, "rsa")
        ecc_text, ecc_pub = self.check_cert(ecc, "ecc")
        self.assertIn("Key Encipherment", rsa_text)
        self.assertIn("rsaEncryption", rsa_text)
        self.assertIn("Key Agreement", ecc_text)
        self.assertIn("NIST CURVE: P-256", ecc_text)

        # The manufacturer in the SAN is the TPM's TPM_PT_MANUFACTURER.
        caps = tools.run("tpm2_getcap", "properties-fixed").out
        m = re.search(r"TPM2_PT_MANUFACTURER:\s*\n\s*raw: (0x[0-9A-Fa-f]+)", caps)
        self.assertIsNotNone(m, caps)
        self.assertIn(f"2.23.133.2.1=id:{int(m.group(1), 16):08X}", rsa_text)

        # The certified keys are the EKs tpm2_createek makes from the default templates.
        self.assertEqual(self.createek_public(tools, "rsa"), rsa_pub)
        self.assertEqual(self.createek_public(tools, "ecc"), ecc_pub)

        # tpm2_getekcertificate reads both from NV (RSA first, then ECC).
        got_rsa, got_ecc = self.tmp.join("get-rsa.der"), self.tmp.join("get-ecc.der")
        tools.run("tpm2_getekcertificate", "-o", got_rsa, "-o", got_ecc)
        with open(got_rsa, "rb") as f:
            self.assertEqual(f.read(), rsa)
        with open(got_ecc, "rb") as f:
            self.assertEqual(f.read(), ecc)

        # Platform indices survive TPM2_Clear.
        tools.run("tpm2_clear", "-c", "p")
        self.check_indices(tools, {RSA_INDEX: len(rsa), ECC_INDEX: len(ecc)})
        self.assertEqual(self.read_cert(tools, RSA_INDEX, "rsa-after-clear"), rsa)
        self.assertEqual(self.read_cert(tools, ECC_INDEX, "ecc-after-clear"), ecc)
        self.stop()

        # Again without --force: refused, nothing changed.
        _, err = self.ek_cert(ok=False)
        self.assertIn("0x01C00002 already exists", err)
        self.assertIn("--force", err)
        tools = self.start()
        self.assertEqual(self.read_cert(tools, RSA_INDEX, "rsa-refused"), rsa)
        self.assertEqual(self.read_cert(tools, ECC_INDEX, "ecc-refused"), ecc)
        self.stop()

        # With --force: new certificates for the same EKs, from the same CA.
        out, _ = self.ek_cert("--force")
        self.assertIn("replaced in NV index 0x01C00002", out)
        self.assertIn("replaced in NV index 0x01C0000A", out)
        tools = self.start()
        new_rsa = self.read_cert(tools, RSA_INDEX, "rsa-forced")
        new_ecc = self.read_cert(tools, ECC_INDEX, "ecc-forced")
        self.assertNotEqual(new_rsa, rsa)
        self.assertNotEqual(new_ecc, ecc)
        self.check_indices(tools, {RSA_INDEX: len(new_rsa), ECC_INDEX: len(new_ecc)})
        self.assertEqual(self.check_cert(new_rsa, "rsa-forced")[1], rsa_pub)
        self.assertEqual(self.check_cert(new_ecc, "ecc-forced")[1], ecc_pub)
        self.stop()

    def test_refused_while_a_daemon_holds_the_state(self):
        d = Daemon(self.state_dir, self.tmp.path, name="holder").start()
        self.daemons.append(d)
        _, err = self.ek_cert(ok=False)
        self.assertIn(self.state_dir, err)
        self.assertEqual(d.terminate(), 0, d.stderr())
        self.ek_cert()

    def test_ca_key_readable_by_others_is_refused(self):
        self.ek_cert()
        key = os.path.join(self.ca_dir, "ca-key.pem")
        os.chmod(key, 0o644)
        _, err = self.ek_cert("--force", ok=False)
        self.assertIn(key, err)
        self.assertIn("chmod 600", err)

    def test_bad_command_lines(self):
        p = harness.run_cli(["ek-cert", "--state", self.state_dir])
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"needs --ca-dir DIR", p.stderr)
        p = harness.run_cli(["ek-cert", "--help"])
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"0x01C0000A", p.stdout)


if __name__ == "__main__":
    harness.main()
