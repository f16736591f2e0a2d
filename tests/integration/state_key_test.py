#!/usr/bin/env python3
"""Encryption at rest through the daemon: `tpm2emu serve --state-key FILE`.

An NV value written over mssim never appears in the state directory in plaintext; the state
opens only with its key, and a missing or wrong key, a plain state opened with a key, a tampered
file or a key file that others may read is refused with a message naming the file, leaving the
state as it was. The key never shows in the daemon's output.

Usage: state_key_test.py --tpm2emu PATH [--keep] [unittest args]
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


if __name__ == "__main__":
    harness.main()
