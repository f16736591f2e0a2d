#!/usr/bin/env python3
"""tpm2-tools through tpm2-abrmd (the TPM2 access broker and resource manager) in front of
`tpm2emu serve`.

A resource manager saves the context of every transient object and session a client loaded
after each command, flushes it, and loads it again for the next one (Part 1 §27): so every
sequence object is context-saved between SequenceUpdates (Part 3 §28.2), and each tool
invocation is a new connection. The test starts its own private D-Bus session bus, tpm2-abrmd
on it (with the mssim TCTI to a tpm2emu daemon on free ports), and runs the tools with the
tabrmd TCTI: tpm2_hash and tpm2_pcrevent of files larger than TPM2_Hash takes (hash and event
sequences), tpm2_hmac of a large file with an imported HMAC key (an HMAC sequence), keys created,
loaded, used and verified across separate invocations, and HMAC and policy sessions kept across
invocations. Between commands the TPM itself holds no transient object. Every result is checked
in software (hashlib, sha256sum, openssl).

Nothing is skipped: a missing tpm2-abrmd, dbus-daemon, gdbus or tabrmd TCTI, or an abrmd that
does not come up, fails every step with the reason. Every process started (dbus-daemon,
tpm2-abrmd, tpm2emu) is stopped in tearDownClass, also after a failure.

Usage: abrmd_scenario_test.py --tpm2emu PATH [--keep] [--verbose-tools] [AbrmdScenario]
"""

import ctypes.util
import hashlib
import hmac
import os
import re
import shutil
import signal
import subprocess
import time
import unittest

import harness
import scenario

BUS_NAME = "com.intel.tss2.Tabrmd"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

TPM_ST_HASHCHECK = 0x8024
TPM_RH_OWNER = 0x40000001
TPM2_TRANSIENT_FIRST = 0x80000000


def stop_process(proc):
    """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; always reaps PROC."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def log_text(path):
    if not os.path.exists(path):
        return ""
    with open(path, "rb") as f:
        return f.read().decode(errors="replace")


class AbrmdTransport(harness.Transport):
    """tpm2emu serve <- mssim TCTI <- tpm2-abrmd on a private session bus <- tabrmd TCTI."""

    name = "abrmd"

    def __init__(self):
        self.daemon = None
        self.bus = None
        self.bus_address = None
        self.abrmd = None
        self.abrmd_log = None

    def setup(self, tmp):
        self.tmp = tmp
        for tool in ("tpm2-abrmd", "dbus-daemon", "gdbus"):
            if shutil.which(tool) is None:
                raise AssertionError(f"{tool} is not installed (scripts/install-deps.sh installs "
                                     f"tpm2-abrmd, dbus and libglib2.0-bin)")
        if ctypes.util.find_library("tss2-tcti-tabrmd") is None:
            raise AssertionError("the tabrmd TCTI (libtss2-tcti-tabrmd.so) is not installed "
                                 "(scripts/install-deps.sh installs libtss2-tcti-tabrmd0)")
        # The TPM: the mssim TCTI always uses PORT+1 for the platform port, which the harness's
        # port pair provides (and retries if another test took it first).
        self.daemon = harness.Daemon(tmp.join("state"), tmp.path, name="daemon").start()
        # A private session bus: its socket in our temporary directory, so parallel tests each
        # have their own and the bus name below cannot collide.
        bus_dir = tmp.join("bus")
        os.makedirs(bus_dir, mode=0o700)
        with open(tmp.join("dbus-daemon.stderr"), "wb") as err:
            self.bus = subprocess.Popen(
                ["dbus-daemon", "--session", "--nofork", "--print-address=1",
                 f"--address=unix:path={os.path.join(bus_dir, 'socket')}"],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        self.bus_address, _ = harness.read_first_line(self.bus, START_TIMEOUT_S)
        if not self.bus_address:
            raise AssertionError(f"dbus-daemon printed no bus address (exit code "
                                 f"{self.bus.poll()}): {log_text(tmp.join('dbus-daemon.stderr'))}")
        # tpm2-abrmd refuses to run as root without --allow-root; it needs no system bus.
        self.abrmd_log = tmp.join("tpm2-abrmd.log")
        with open(self.abrmd_log, "wb") as log:
            self.abrmd = subprocess.Popen(
                ["tpm2-abrmd", "--session", "--allow-root", "--logger=stdout",
                 f"--tcti=mssim:host=127.0.0.1,port={self.daemon.port}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self.bus_env())
        self._wait_for_bus_name()

    def _wait_for_bus_name(self):
        """Until abrmd owns its bus name (gdbus wait blocks on the bus, no polling), failing at
        once with abrmd's log if abrmd exits first."""
        waiter = subprocess.Popen(
            ["gdbus", "wait", "--session", "--timeout", str(int(START_TIMEOUT_S)), BUS_NAME],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=self.bus_env())
        try:
            deadline = time.monotonic() + START_TIMEOUT_S + 5
            while True:
                try:
                    rc = waiter.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if self.abrmd.poll() is not None:
                    raise AssertionError(
                        f"tpm2-abrmd exited with {self.abrmd.returncode} before it owned "
                        f"{BUS_NAME}; its log:\n{log_text(self.abrmd_log)}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"gdbus wait for {BUS_NAME} did not return")
            if rc != 0:
                raise AssertionError(
                    f"tpm2-abrmd did not own {BUS_NAME} on the private bus within "
                    f"{START_TIMEOUT_S}s (gdbus wait: {rc} "
                    f"{waiter.stdout.read().decode(errors='replace')}); abrmd log:\n"
                    f"{log_text(self.abrmd_log)}")
        finally:
            stop_process(waiter)

    def bus_env(self):
        env = dict(os.environ)
        env["DBUS_SESSION_BUS_ADDRESS"] = self.bus_address
        return env

    def tool_env(self):
        return {"DBUS_SESSION_BUS_ADDRESS": self.bus_address,
                "TPM2TOOLS_TCTI": "tabrmd:bus_type=session"}

    def mssim_env(self):
        """Straight to the TPM, past abrmd: to see what it really holds."""
        return {"TPM2TOOLS_TCTI": f"mssim:host=127.0.0.1,port={self.daemon.port}"}

    def teardown(self):
        # Clients first: abrmd, then its bus, then the TPM.
        try:
            stop_process(self.abrmd)
            if self.abrmd is not None and self.abrmd.returncode not in (0, -signal.SIGTERM):
                print(f"tpm2-abrmd exited with {self.abrmd.returncode}; log:\n"
                      f"{log_text(self.abrmd_log)}")
        finally:
            try:
                stop_process(self.bus)
            finally:
                if self.daemon is not None:
                    self.daemon.stop()

    def describe(self):
        return f"tabrmd -> mssim port {self.daemon.port if self.daemon else '?'}"


class AbrmdScenario(scenario.ScenarioBody, unittest.TestCase):
    transport_class = AbrmdTransport
    prefix = "tpm2emu-abrmd"

    @classmethod
    def check_prerequisites(cls):
        super().check_prerequisites()
        if not harness.CONFIG.tpm2emu:
            raise AssertionError("no --tpm2emu given")

    def tearDown(self):
        # The base class flushes what the step left loaded; with abrmd each tool's objects and
        # unsaved sessions go when its connection closes, so there is nothing to flush.
        pass

    # helpers ---------------------------------------------------------------------------------

    def direct(self, *args):
        """A tool straight to the TPM over mssim (not through abrmd)."""
        env = self.tools.env()
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        env.update(self.transport.mssim_env())
        argv = [str(a) for a in args]
        p = subprocess.run(argv, capture_output=True, timeout=harness.TOOL_TIMEOUT_S,
                           cwd=self.tmp.path, env=env)
        self.assertEqual(p.returncode, 0, f"{' '.join(argv)} (direct mssim): "
                                          f"{p.stdout!r} {p.stderr!r}")
        return p.stdout.decode(errors="replace")

    def assert_no_transients(self, what):
        via_abrmd = self.tool("tpm2_getcap", "handles-transient").out
        self.assertEqual(re.findall(r"0x8[0-9a-fA-F]{7}", via_abrmd), [],
                         f"{what}: tpm2_getcap handles-transient through abrmd")
        in_tpm = self.direct("tpm2_getcap", "handles-transient")
        self.assertEqual(re.findall(r"0x8[0-9a-fA-F]{7}", in_tpm), [],
                         f"{what}: transient objects loaded in the TPM itself")

    def hash_file(self, data, name, alg):
        path = self.write_file(name, data)
        self.tool("tpm2_hash", "-g", alg, "-C", "o", "-o", path + ".digest",
                  "-t", path + ".ticket", path)
        with open(path + ".ticket", "rb") as f:
            ticket = scenario.Reader(f.read())
        tag, hierarchy, digest = ticket.u16(), ticket.u32(), ticket.b()
        self.assertTrue(ticket.done(), "TPMT_TK_HASHCHECK has trailing bytes")
        return self.read_file(name + ".digest"), (tag, hierarchy, digest)

    # steps -----------------------------------------------------------------------------------

    def test_01_startup(self):
        # Whether or not abrmd started the TPM itself, tpm2_startup -c succeeds (tpm2-tools take
        # TPM_RC_INITIALIZE, "already started", as success).
        self.tool("tpm2_startup", "-c")
        out = self.tool("tpm2_getrandom", "8", "--hex").out.strip()
        self.assertRegex(out, r"^[0-9a-fA-F]{16}$", "tpm2_getrandom through abrmd")

    def test_02_hash_of_large_files_matches_sha256sum(self):
        # 5 KiB: tpm2_hash uses HashSequenceStart/SequenceUpdate/SequenceComplete, and abrmd
        # context-saves the sequence after each of them.
        data = bytes((i * 7 + 3) % 256 for i in range(5 * 1024))
        digest, (tag, hierarchy, ticket) = self.hash_file(data, "five-kib.bin", "sha256")
        p = subprocess.run(["sha256sum", self.p("five-kib.bin")], capture_output=True, check=True)
        self.assertEqual(digest.hex(), p.stdout.decode().split()[0], "tpm2_hash vs sha256sum")
        self.assertEqual((tag, hierarchy), (TPM_ST_HASHCHECK, TPM_RH_OWNER), "hashcheck ticket")
        self.assertEqual(len(ticket), 32, "the sequence's hashcheck ticket must not be NULL")
        data = os.urandom(3000) + bytes(3000)
        for alg in ("sha1", "sha384", "sha512"):
            digest, _ = self.hash_file(data, f"large-{alg}.bin", alg)
            self.assertEqual(digest.hex(), hashlib.new(alg, data).hexdigest(), f"tpm2_hash {alg}")
        self.assert_no_transients("after tpm2_hash")

    def test_03_pcrevent_of_large_file(self):
        # More than 1024 bytes: an event sequence (HashSequenceStart(NULL)), extended into PCR 16.
        self.tool("tpm2_pcrreset", "16")
        data = bytes(range(256)) * 11
        out = self.tool("tpm2_pcrevent", self.write_file("event.bin", data), "16").out
        for alg in ("sha1", "sha256", "sha384", "sha512"):
            m = re.search(rf"^\s*{alg}\s*:\s*(?:0x)?([0-9A-Fa-f]+)\s*$", out, re.M)
            self.assertIsNotNone(m, f"tpm2_pcrevent printed no {alg} digest:\n{out}")
            self.assertEqual(m.group(1).lower(), hashlib.new(alg, data).hexdigest(),
                             f"tpm2_pcrevent {alg}")
        pcr = harness.parse_pcrread(self.tool("tpm2_pcrread", "sha256:16").out)["sha256"][16]
        self.assertEqual(pcr, scenario.sha256(bytes(32), hashlib.sha256(data).digest()),
                         "sha256 PCR 16 after the event sequence")

    def test_04_hmac_of_large_file_matches_openssl(self):
        key = bytes(range(40, 72))
        self.primary("hmac-parent")
        self.tool("tpm2_import", "-C", self.p("hmac-parent.ctx"), "-G", "hmac",
                  "-i", self.write_file("hmac.key", key), "-u", self.p("hmac.pub"),
                  "-r", self.p("hmac.priv"))
        self.tool("tpm2_load", "-C", self.p("hmac-parent.ctx"), "-u", self.p("hmac.pub"),
                  "-r", self.p("hmac.priv"), "-c", self.p("hmac.ctx"))
        data = bytes((i * 13) % 251 for i in range(20000))
        path = self.write_file("hmac-data.bin", data)
        self.tool("tpm2_hmac", "-c", self.p("hmac.ctx"), "-g", "sha256", "-o", self.p("mac.bin"),
                  path)
        mac = self.read_file("mac.bin")
        self.assertEqual(mac, hmac.new(key, data, "sha256").digest(), "tpm2_hmac vs hmac")
        p = self.openssl("dgst", "-sha256", "-mac", "HMAC", "-macopt", f"hexkey:{key.hex()}",
                         path)
        self.assertIn(mac.hex(), p.stdout.decode().lower(), "tpm2_hmac vs openssl dgst -mac")
        self.assert_no_transients("after tpm2_hmac")

    def test_05_keys_across_invocations(self):
        parent = self.primary("srk")
        key = self.create_load("signer", "rsa2048", parent, auth="keypass")
        msg = self.write_file("msg.txt", b"signed through tpm2-abrmd\n")
        self.tool("tpm2_sign", "-c", key, "-p", "keypass", "-g", "sha256", "-o",
                  self.p("sig.tss"), msg)
        self.tool("tpm2_verifysignature", "-c", key, "-g", "sha256", "-m", msg,
                  "-s", self.p("sig.tss"))
        self.tool("tpm2_sign", "-c", key, "-p", "keypass", "-g", "sha256", "-f", "plain",
                  "-o", self.p("sig.plain"), msg)
        self.openssl_verify(self.pem_of(key, "signer.pem"), "sig.plain", "msg.txt",
                            "RSA key created and loaded in separate tool runs")
        ecc = self.create_load("ecc-signer", "ecc256", parent)
        self.tool("tpm2_sign", "-c", ecc, "-g", "sha256", "-f", "plain", "-o",
                  self.p("ecc.plain"), msg)
        self.openssl_verify(self.pem_of(ecc, "ecc.pem"), "ecc.plain", "msg.txt",
                            "ECC key created and loaded in separate tool runs")
        self.assert_no_transients("after the key steps")

    def test_06_hmac_session_across_invocations(self):
        # abrmd keeps a session the client saved when its connection closes, for the next one.
        key = self.create_load("session-signer", "rsa2048", self.p("srk.ctx"), auth="sesspass")
        msg = self.write_file("session-msg.txt", b"authorized by an HMAC session\n")
        self.tool("tpm2_startauthsession", "--hmac-session", "-c", self.p("srk.ctx"),
                  "-S", self.p("hmac.session"))
        for i in range(2):
            self.tool("tpm2_sign", "-c", key, "-p", f"session:{self.p('hmac.session')}+sesspass",
                      "-g", "sha256", "-f", "plain", "-o", self.p(f"session-sig{i}.plain"), msg)
            self.openssl_verify(self.pem_of(key, "session-signer.pem"), f"session-sig{i}.plain",
                                "session-msg.txt", f"signature {i} with the saved HMAC session")
        p = self.tool("tpm2_sign", "-c", key, "-p", f"session:{self.p('hmac.session')}+wrong",
                      "-g", "sha256", "-o", self.p("never.sig"), msg, ok=False)
        self.assert_rc(p, scenario.RC_AUTH_FAIL_S1, "a wrong password through the HMAC session")
        self.clear_lockout()
        self.tool("tpm2_flushcontext", self.p("hmac.session"))
        self.assert_no_transients("after the HMAC session")

    def test_07_policy_session_across_invocations(self):
        self.tool("tpm2_startauthsession", "-S", self.p("trial.session"))
        self.tool("tpm2_policypassword", "-S", self.p("trial.session"), "-L", self.p("pol.bin"))
        self.tool("tpm2_flushcontext", self.p("trial.session"))
        # PolicyPassword alone: H(0^32 || TPM_CC_PolicyAuthValue) (Part 3 §23.18).
        self.assertEqual(self.read_file("pol.bin"),
                         scenario.sha256(bytes(32), bytes.fromhex("0000016b")),
                         "trial policy digest of PolicyPassword")
        sealed = self.create_load("sealed", None, self.p("srk.ctx"), auth="sealpass",
                                  sealed=b"the sealed secret", policy=self.p("pol.bin"))
        session = self.p("policy.session")
        self.tool("tpm2_startauthsession", "--policy-session", "-S", session)
        self.tool("tpm2_policypassword", "-S", session)
        out = self.tool("tpm2_unseal", "-c", sealed, "-p", f"session:{session}+sealpass")
        self.assertEqual(out.stdout, b"the sealed secret", "unsealed through the policy session")
        self.tool("tpm2_flushcontext", session)
        self.assert_no_transients("after the policy session")


if __name__ == "__main__":
    harness.main()
