"""A base for tool scenarios: one scenario body (a class of test_NN steps run in name order,
sharing one TPM) run once per transport, the mssim socket of `tpm2emu serve` and the in-process
TCTI. The tools, keys, nv, policy and duplication scenarios build on it.

Also small software models of TPM structures the scenarios check the TPM's output against
(names, TPMS_ATTEST), Python standard library only.
"""

import hashlib
import os
import re
import shutil
import struct
import subprocess
import unittest

import harness

TPM_ALG_SHA256 = 0x000B

# Response codes as tpm2-tools print them (format one codes include the session/handle number).
RC_AUTH_FAIL_S1 = 0x98E       # TPM_RC_AUTH_FAIL, session 1
RC_POLICY_FAIL_S1 = 0x99D     # TPM_RC_POLICY_FAIL, session 1
RC_NV_LOCKED = 0x148          # TPM_RC_NV_LOCKED
RC_LOCKOUT = 0x921            # TPM_RC_LOCKOUT


class ScenarioBody:
    """The shared machinery; a scenario subclasses it and adds test_NN steps.

    Concrete test classes come from transports(): `Mssim, Tcti = scenario.transports(Body)`.
    """

    transport_class = None
    prefix = "tpm2emu-scenario"

    @classmethod
    def setUpClass(cls):
        cls.tmp = harness.TempDir(f"{cls.prefix}-{cls.transport_class.name}-")
        cls.transport = cls.transport_class()
        cls.shared = {}
        cls.setup_error = None
        try:
            cls.check_prerequisites()
            cls.transport.setup(cls.tmp)
        except unittest.SkipTest:
            raise
        except Exception as e:  # reported by every step rather than as a class error
            cls.setup_error = e
        cls.tools = harness.Tools(cls.transport, cls.tmp.path)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.transport.teardown()
        finally:
            cls.tmp.close()

    @classmethod
    def check_prerequisites(cls):
        if shutil.which("openssl") is None:
            raise unittest.SkipTest("no openssl CLI to check the TPM's results with")

    def setUp(self):
        if self.setup_error is not None:
            self.fail(f"setting up the {self.transport.name} transport failed: "
                      f"{self.setup_error}")

    def tearDown(self):
        # Each tool process leaves what it loaded behind; free the slots for the next step.
        if self.setup_error is None and not self.tools.hung:
            for kind in ("-t", "-l", "-s"):
                self.tool("tpm2_flushcontext", kind, ok=None)

    # helpers ---------------------------------------------------------------------------------

    def tool(self, *args, ok=True, input=None):
        return self.tools.run(*args, ok=ok, input=input)

    def p(self, name):
        return self.tmp.join(name)

    def write_file(self, name, data):
        path = self.p(name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def read_file(self, name):
        with open(self.p(name), "rb") as f:
            return f.read()

    def openssl(self, *args, ok=True, input=None):
        argv = ["openssl"] + [str(a) for a in args]
        p = subprocess.run(argv, input=input, capture_output=True, cwd=self.tmp.path,
                           timeout=60)
        if ok and p.returncode != 0:
            self.fail(f"{' '.join(argv)}: exit {p.returncode}\nstdout: "
                      f"{p.stdout.decode(errors='replace')}\nstderr: "
                      f"{p.stderr.decode(errors='replace')}")
        return p

    def openssl_verify(self, pem, sig_name, msg_name, what):
        """openssl dgst -sha256 -verify; fails the test with WHAT when it does not verify."""
        p = self.openssl("dgst", "-sha256", "-verify", pem, "-signature", self.p(sig_name),
                         self.p(msg_name), ok=False)
        self.assertEqual(p.returncode, 0, f"{what}: openssl rejects the TPM's signature: "
                                          f"{p.stdout!r} {p.stderr!r}")

    def flush(self):
        self.tool("tpm2_flushcontext", "-t")

    def primary(self, name, alg="rsa", hierarchy="o", extra=()):
        """tpm2_createprimary into NAME.ctx; returns the context path."""
        self.tool("tpm2_createprimary", "-C", hierarchy, "-G", alg, "-c", self.p(name + ".ctx"),
                  *extra)
        return self.p(name + ".ctx")

    def create_load(self, name, alg, parent, attrs=None, auth=None, sealed=None, policy=None,
                    extra=()):
        """tpm2_create + tpm2_load of NAME under PARENT; returns NAME.ctx."""
        args = ["tpm2_create", "-C", parent, "-u", self.p(name + ".pub"),
                "-r", self.p(name + ".priv")]
        if alg is not None:
            args += ["-G", alg]
        if attrs is not None:
            args += ["-a", attrs]
        if auth is not None:
            args += ["-p", auth]
        if policy is not None:
            args += ["-L", policy]
        if sealed is not None:
            args += ["-i-"]
        self.tool(*args, *extra, input=sealed)
        self.tool("tpm2_load", "-C", parent, "-u", self.p(name + ".pub"),
                  "-r", self.p(name + ".priv"), "-c", self.p(name + ".ctx"))
        return self.p(name + ".ctx")

    def pem_of(self, ctx, name):
        self.tool("tpm2_readpublic", "-c", ctx, "-f", "pem", "-o", self.p(name))
        return self.p(name)

    def name_of(self, ctx, name):
        """The object's Name (bytes) via tpm2_readpublic -n, kept in file NAME."""
        self.tool("tpm2_readpublic", "-c", ctx, "-n", self.p(name))
        return self.read_file(name)

    def reset_count(self):
        return harness.parse_readclock(self.tool("tpm2_readclock").out)["reset_count"]

    def restart(self):
        """An orderly TPM Reset: Shutdown(CLEAR), power cycle, Startup(CLEAR).

        The daemon restarts on the same state directory. The in-process TCTI hands the powered
        TPM from one tool process to the next through tcti-volatile.bin, so a Startup alone
        would find the TPM already started: dropping that file between two tool processes is
        its power cycle (README, "State directory")."""
        before = self.reset_count()
        self.tool("tpm2_shutdown", "-c")
        self.transport.restart()
        self._drop_tcti_volatile()
        self.tool("tpm2_startup", "-c")
        self.assertEqual(self.reset_count(), before + 1, "resetCount after Shutdown(CLEAR), "
                                                         "power cycle, Startup(CLEAR)")

    def power_cycle(self):
        """A power loss without Shutdown, then Startup(CLEAR): through the mssim platform port
        for the daemon, by dropping the volatile hand-off file for the in-process TCTI."""
        daemon = getattr(self.transport, "daemon", None)
        if daemon is not None:
            client = harness.MssimClient(daemon.port, daemon.platform_port)
            self.assertEqual(client.platform(harness.MSSIM_SIGNAL_POWER_OFF), 0, "power off")
            self.assertEqual(client.platform(harness.MSSIM_SIGNAL_POWER_ON), 0, "power on")
            self.assertEqual(client.platform(harness.MSSIM_SIGNAL_NV_ON), 0, "NV on")
        else:
            self._drop_tcti_volatile()
        self.tool("tpm2_startup", "-c")

    def _drop_tcti_volatile(self):
        if isinstance(self.transport, harness.TctiTransport):
            path = os.path.join(self.transport.state_dir, "tcti-volatile.bin")
            if os.path.exists(path):
                os.unlink(path)

    def assert_rc(self, proc, rc, what):
        text = (proc.out + proc.err).lower()
        self.assertIn(f"0x{rc:x}", text, f"{what}: expected TPM rc {rc:#x} in:\n{proc.err}")

    def clear_lockout(self):
        """Forgets earlier wrong passwords (the lockout auth is empty in these scenarios)."""
        self.tool("tpm2_dictionarylockout", "-c")


def transports(body, label, missing=unittest.SkipTest):
    """(LABELMssimScenario, LABELTctiScenario): test classes running BODY over each transport.

    Without --tpm2emu or --tcti-dir the class raises MISSING (a skip by default; a scenario that
    must never skip passes AssertionError)."""

    class Mssim(body, unittest.TestCase):
        transport_class = harness.MssimTransport

        @classmethod
        def check_prerequisites(cls):
            super().check_prerequisites()
            if not harness.CONFIG.tpm2emu:
                raise missing("no --tpm2emu given")

    class Tcti(body, unittest.TestCase):
        transport_class = harness.TctiTransport

        @classmethod
        def check_prerequisites(cls):
            super().check_prerequisites()
            if not harness.CONFIG.tcti_dir:
                raise missing("no --tcti-dir given")
            # The tools run in the temporary directory: a relative --tcti-dir would not resolve.
            d = harness.CONFIG.tcti_dir = os.path.abspath(harness.CONFIG.tcti_dir)
            if not os.path.isdir(d) or not any(n.startswith("libtss2-tcti-tpm2emu.so")
                                               for n in os.listdir(d)):
                raise AssertionError(f"--tcti-dir {d} holds no libtss2-tcti-tpm2emu.so")

    for cls, kind in ((Mssim, "Mssim"), (Tcti, "Tcti")):
        cls.__name__ = cls.__qualname__ = f"{label}{kind}Scenario"
        cls.__module__ = body.__module__
    return Mssim, Tcti


# ---------------------------------------------------------------------------------------------
# Software models of TPM structures


def sha256(*parts):
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.digest()


def tpm2b(data):
    return struct.pack(">H", len(data)) + data


def qualified_name(parent_qn, name):
    """QN = nameAlg || H(QN(parent) || Name) (Part 1 §16); a hierarchy's QN is its handle."""
    return struct.pack(">H", TPM_ALG_SHA256) + sha256(parent_qn, name)


def hierarchy_qn(handle):
    return struct.pack(">I", handle)


TPM_RH_OWNER = 0x40000001
TPM_RH_ENDORSEMENT = 0x4000000B


def nv_name(index, attributes, data_size, auth_policy=b""):
    """Name of an NV index with nameAlg SHA-256: nameAlg || H(TPMS_NV_PUBLIC) (Part 1 §16)."""
    public = struct.pack(">IHI", index, TPM_ALG_SHA256, attributes) + tpm2b(auth_policy) + \
        struct.pack(">H", data_size)
    return struct.pack(">H", TPM_ALG_SHA256) + sha256(public)


class Reader:
    """Big-endian reader over a TPM structure."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise AssertionError(f"structure ends at {len(self.data)}, wanted {n} bytes at "
                                 f"{self.pos}: {self.data.hex()}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def u64(self):
        return struct.unpack(">Q", self.take(8))[0]

    def b(self):
        return self.take(self.u16())

    def done(self):
        return self.pos == len(self.data)


TPM_GENERATED_VALUE = 0xFF544347
TPM_ST_ATTEST_CERTIFY = 0x8017
TPM_ST_ATTEST_CREATION = 0x801A
TPM_ST_ATTEST_NV = 0x8014


def parse_attest(data):
    """The common header of a TPMS_ATTEST (Part 2 §10.12.12) and a Reader at its union."""
    r = Reader(data)
    out = {"magic": r.u32(), "type": r.u16(), "qualified_signer": r.b(), "extra_data": r.b()}
    out["clock"], out["reset_count"], out["restart_count"], out["safe"] = \
        r.u64(), r.u32(), r.u32(), r.u8()
    out["firmware"] = r.u64()
    return out, r


def parse_yaml_field(text, key):
    """The value of the first `key: value` line in tpm2-tools output, or None."""
    m = re.search(rf"^\s*{re.escape(key)}\s*:\s*(\S+)\s*$", text, re.M)
    return m.group(1) if m else None
