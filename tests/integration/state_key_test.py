#!/usr/bin/env python3
"""Encryption at rest: `tpm2emu serve --state-key FILE`, and the in-process TCTI's
`tpm2emu:dir=DIR,state-key=FILE[,state-backup]`.

An NV value written over mssim never appears in the state directory in plaintext; the state
opens only with its key, and a missing or wrong key, a plain state opened with a key, a tampered
file or a key file that others may read is refused with a message naming the file, leaving the
state as it was. The key never shows in the daemon's output.

With the TCTI, the volatile hand-off between tool processes (tcti-volatile.bin: PCRs, sessions,
loaded objects with their sensitive areas) is encrypted with the same key.

Usage: state_key_test.py --tpm2emu PATH [--tcti-dir DIR] [--keep] [unittest args]
"""

import os
import unittest

import harness
from harness import Daemon, MssimClient
from crash_test import (NT_ORDINARY, Connection, nv_define, nv_read, nv_read_data, nv_write,
                        response_code)

INDEX = 0x01500000
STATE_FILE = "tpm2emu-state.bin"
ENCRYPTED_MAGIC = b"T2EMUEN\0"
PLAIN_MAGIC = b"T2EMUST\0"


class StateKeyTest(unittest.TestCase):
    def setUp(self):
        harness.require_daemon(self)
        self.tmp = harness.TempDir("tpm2emu-it-statekey-")
        self.state_dir = self.tmp.join("state")
        self.state_file = os.path.join(self.state_dir, STATE_FILE)
        self.daemons = []
        # Printable, so that it would be found in any encoding the state might use.
        self.canary = b"tpm2emu-canary-" + os.urandom(8).hex().encode() + b"-end"

    def tearDown(self):
        for d in self.daemons:
            d.stop()
        self.tmp.close()

    def key_file(self, name, contents, mode=0o600):
        path = self.tmp.join(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        os.write(fd, contents)
        os.close(fd)
        os.chmod(path, mode)
        return path

    def start(self, key=None, extra=()):
        args = list(extra) + (["--state-key", key] if key else [])
        d = Daemon(self.state_dir, self.tmp.path, extra_args=args,
                   name=f"daemon{len(self.daemons)}")
        self.daemons.append(d)
        d.start()
        self.assertEqual(MssimClient(d.port, d.platform_port).power_on_and_start(), 0)
        return d

    def stop(self, daemon):
        self.assertEqual(daemon.terminate(), 0, f"SIGTERM exit code; stderr:\n{daemon.stderr()}")

    def write_canary(self, daemon):
        conn = Connection(daemon.port)
        try:
            rc = response_code(conn.send(nv_define(INDEX, NT_ORDINARY, len(self.canary))))
            self.assertEqual(rc, 0, f"NV_DefineSpace: {rc:#x}")
            rc = response_code(conn.send(nv_write(INDEX, self.canary, 0)))
            self.assertEqual(rc, 0, f"NV_Write: {rc:#x}")
        finally:
            conn.close()

    def read_canary(self, daemon):
        conn = Connection(daemon.port)
        try:
            rsp = conn.send(nv_read(INDEX, len(self.canary)))
            self.assertEqual(response_code(rsp), 0, f"NV_Read: {rsp.hex()}")
            return nv_read_data(rsp)
        finally:
            conn.close()

    def state_bytes(self):
        with open(self.state_file, "rb") as f:
            return f.read()

    def directory_bytes(self):
        """Every file in the state directory, concatenated."""
        out = b""
        for name in sorted(os.listdir(self.state_dir)):
            path = os.path.join(self.state_dir, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    out += f.read()
        return out

    def refused(self, key=None, extra=()):
        """Runs `serve` expecting a refusal; returns its stderr."""
        args = ["serve", "--state", self.state_dir, "--mssim", "127.0.0.1:0"] + list(extra)
        if key:
            args += ["--state-key", key]
        p = harness.run_cli(args)
        err = p.stderr.decode(errors="replace")
        self.assertNotEqual(p.returncode, 0, f"tpm2emu {' '.join(args)} must be refused; "
                                             f"stdout {p.stdout!r}, stderr {err!r}")
        self.assertNotIn(b"ready", p.stdout, "a refused daemon must not print the ready line")
        return err

    def make_encrypted_state(self):
        key = self.key_file("key", os.urandom(32))
        d = self.start(key)
        self.write_canary(d)
        self.stop(d)
        return key

    # -----------------------------------------------------------------------------------------

    def test_encrypted_state_holds_no_plaintext_and_reopens_with_its_key(self):
        key = self.key_file("key", os.urandom(32))
        d = self.start(key, extra=["--state-backup"])
        self.write_canary(d)
        self.assertEqual(self.read_canary(d), self.canary)
        # A second write, so that a backup generation exists too.
        conn = Connection(d.port)
        self.assertEqual(response_code(conn.send(nv_write(INDEX, self.canary[::-1], 0))), 0)
        conn.close()
        d.kill9()
        self.assertTrue(self.state_bytes().startswith(ENCRYPTED_MAGIC),
                        f"state file starts {self.state_bytes()[:16]!r}")
        everything = self.directory_bytes()
        for value in (self.canary, self.canary[::-1]):
            self.assertNotIn(value, everything, "an NV value is in the state directory in "
                                                "plaintext")
            self.assertNotIn(value.hex().encode(), everything)
        d = self.start(key, extra=["--state-backup"])
        self.assertEqual(self.read_canary(d), self.canary[::-1])

    def test_plain_state_holds_the_value_in_plaintext(self):
        # The premise of the test above: without a key, the value is in the file as written.
        d = self.start()
        self.write_canary(d)
        self.stop(d)
        self.assertTrue(self.state_bytes().startswith(PLAIN_MAGIC))
        self.assertIn(self.canary, self.state_bytes())

    def test_missing_or_wrong_key_is_refused_and_the_state_left_alone(self):
        key = self.make_encrypted_state()
        before = self.state_bytes()
        err = self.refused()
        self.assertIn(self.state_file, err)
        self.assertIn("is encrypted, but no state key was given", err)
        self.assertIn("--state-key", err)
        wrong = self.key_file("wrong", os.urandom(32))
        err = self.refused(wrong, extra=["--state-backup"])
        self.assertIn(self.state_file, err)
        self.assertIn("was encrypted with a different state key", err)
        self.assertEqual(self.state_bytes(), before, "a refused start changed the state file")
        d = self.start(key)
        self.assertEqual(self.read_canary(d), self.canary)

    def test_plain_state_opened_with_a_key_is_refused(self):
        d = self.start()
        self.write_canary(d)
        self.stop(d)
        before = self.state_bytes()
        err = self.refused(self.key_file("key", os.urandom(32)))
        self.assertIn(self.state_file, err)
        self.assertIn("is not encrypted, but a state key was given", err)
        self.assertEqual(self.state_bytes(), before)

    def test_tampered_state_is_refused_naming_the_file(self):
        key = self.make_encrypted_state()
        image = bytearray(self.state_bytes())
        image[len(image) // 2] ^= 0x01
        with open(self.state_file, "wb") as f:
            f.write(image)
        err = self.refused(key)
        self.assertIn(self.state_file, err)
        self.assertIn("fails its authentication tag", err)
        self.assertEqual(self.state_bytes(), bytes(image), "a refused start changed the file")

    def test_key_file_that_others_may_read_is_refused(self):
        key = self.key_file("key", os.urandom(32), mode=0o644)
        err = self.refused(key)
        self.assertIn(key, err)
        self.assertIn("mode 0644", err)
        self.assertIn("chmod 600", err)
        self.assertFalse(os.path.exists(self.state_dir), "nothing is created before the key "
                                                          "is accepted")

    def test_key_file_of_the_wrong_size_is_refused(self):
        # 32 bytes are a raw key whatever they hold; 33 are neither form.
        for i, contents in enumerate((os.urandom(31), os.urandom(33),
                                      os.urandom(16).hex().encode() + b"\n",
                                      os.urandom(32).hex()[:63].encode())):
            key = self.key_file(f"key{i}", contents)
            err = self.refused(key)
            self.assertIn(key, err)
            self.assertIn("must hold exactly 32 bytes, or 64 hex digits", err)

    def test_hex_and_raw_forms_of_one_key_are_the_same_key(self):
        raw = os.urandom(32)
        d = self.start(self.key_file("hex", raw.hex().encode() + b"\n"))
        self.write_canary(d)
        self.stop(d)
        d = self.start(self.key_file("raw", raw))
        self.assertEqual(self.read_canary(d), self.canary)

    def test_key_is_never_logged(self):
        raw = os.urandom(32)
        key = self.key_file("key", raw.hex().encode())
        d = self.start(key, extra=["--log-level", "debug"])
        self.write_canary(d)
        self.stop(d)
        output = (d.stderr() + "\n".join(d.stdout_lines + [d.ready_line])).encode()
        self.assertNotIn(raw.hex().encode(), output)
        self.assertNotIn(raw.hex().upper().encode(), output)
        self.assertNotIn(raw, output)
        wrong = self.key_file("wrong", os.urandom(32).hex().encode())
        err = self.refused(wrong).encode()
        with open(wrong, "rb") as f:
            self.assertNotIn(f.read(), err)
        self.assertNotIn(raw.hex().encode(), err)



class KeyedTctiTransport(harness.TctiTransport):
    """The in-process TCTI over dir=DIR plus `options` (",state-key=FILE" and so on), or over
    `options` alone."""

    def __init__(self, options="", with_dir=True):
        self.options = options
        self.with_dir = with_dir

    def tool_env(self):
        env = super().tool_env()
        where = f"dir={self.state_dir}" if self.with_dir else ""
        env["TPM2TOOLS_TCTI"] = f"tpm2emu:{where}{self.options}"
        return env


class TctiStateKeyTest(unittest.TestCase):
    def setUp(self):
        harness.require_tcti(self)
        self.tmp = harness.TempDir("tpm2emu-it-tctikey-")
        self.canary = b"tpm2emu-canary-" + os.urandom(8).hex().encode() + b"-end"
        with open(self.tmp.join("canary"), "wb") as f:
            f.write(self.canary)

    def tearDown(self):
        self.tmp.close()

    def tools(self, options, with_dir=True):
        transport = KeyedTctiTransport(options, with_dir)
        transport.setup(self.tmp)
        return harness.Tools(transport, self.tmp.path), transport.state_dir

    def key_file(self, name):
        path = self.tmp.join(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, os.urandom(32).hex().encode())
        os.close(fd)
        return path

    def seal_and_leave_loaded(self, tools):
        """A sealed canary, loaded (so the volatile hand-off holds it) and in NV."""
        tools.run("tpm2_startup", "-c")
        tools.run("tpm2_createprimary", "-C", "o", "-c", "primary.ctx")
        tools.run("tpm2_create", "-C", "primary.ctx", "-i", "canary", "-u", "seal.pub",
                  "-r", "seal.priv")
        tools.run("tpm2_load", "-C", "primary.ctx", "-u", "seal.pub", "-r", "seal.priv",
                  "-c", "seal.ctx")
        tools.run("tpm2_nvdefine", "0x01500000", "-C", "o", "-s", str(len(self.canary)),
                  "-a", "ownerread|ownerwrite")
        tools.run("tpm2_nvwrite", "0x01500000", "-C", "o", "-i", "canary")

    def directory_bytes(self, state_dir):
        out = b""
        for name in sorted(os.listdir(state_dir)):
            path = os.path.join(state_dir, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    out += f.read()
        return out

    def test_plain_tcti_state_holds_the_canary(self):
        # The control for the test below: without a key the canary is in the directory.
        tools, state_dir = self.tools("")
        self.seal_and_leave_loaded(tools)
        everything = self.directory_bytes(state_dir)
        self.assertIn(self.canary, everything)
        with open(os.path.join(state_dir, "tcti-volatile.bin"), "rb") as f:
            self.assertIn(self.canary, f.read(), "the loaded sealed object is in the hand-off")

    def test_keyed_tcti_encrypts_state_and_hand_off(self):
        key = self.key_file("key")
        tools, state_dir = self.tools(f",state-key={key},state-backup")
        self.seal_and_leave_loaded(tools)
        everything = self.directory_bytes(state_dir)
        self.assertNotIn(self.canary, everything, "a secret is in the state directory in "
                                                  "plaintext")
        with open(os.path.join(state_dir, STATE_FILE), "rb") as f:
            self.assertTrue(f.read().startswith(ENCRYPTED_MAGIC))
        self.assertTrue(os.path.exists(os.path.join(state_dir, STATE_FILE + ".bak")))
        # The next processes resume the encrypted hand-off and read the state.
        p = tools.run("tpm2_unseal", "-c", "seal.ctx")
        self.assertEqual(p.stdout, self.canary)
        p = tools.run("tpm2_nvread", "0x01500000", "-C", "o")
        self.assertEqual(p.stdout, self.canary)

        # Another key, or none, is refused naming the state file; the state is left alone.
        before = self.directory_bytes(state_dir)
        wrong = self.key_file("wrong")
        other, _ = self.tools(f",state-key={wrong}")
        p = other.run("tpm2_getrandom", "8", ok=False)
        self.assertIn(STATE_FILE, p.err)
        plain, _ = self.tools("")
        p = plain.run("tpm2_getrandom", "8", ok=False)
        self.assertIn("no state key was given", p.err)
        self.assertEqual(self.directory_bytes(state_dir), before)

    def test_bad_config_is_refused_with_a_clear_message(self):
        for options, message in ((",bogus=1", 'unknown option "bogus"'),
                                 (",state-key=", 'option "state-key" needs a value'),
                                 (",state-backup=yes", 'option "state-backup" takes no value'),
                                 (",state-backup,state-backup", "is given twice")):
            tools, _ = self.tools(options)
            p = tools.run("tpm2_getrandom", "8", ok=False)
            self.assertIn(message, p.err, options)
        key = self.key_file("key")
        tools, _ = self.tools(f"state-key={key}", with_dir=False)
        p = tools.run("tpm2_getrandom", "8", ok=False)
        self.assertIn("need dir=DIR", p.err)

if __name__ == "__main__":
    harness.main()
