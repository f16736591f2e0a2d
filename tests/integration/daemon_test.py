#!/usr/bin/env python3
"""The `tpm2emu serve` daemon as a process and as an mssim server: command line, ready line,
SIGTERM, the state directory lock, busy ports, and hostile input on both mssim ports.

Usage: daemon_test.py --tpm2emu PATH [--keep] [unittest args]
"""

import os
import random
import signal
import socket
import struct
import unittest

import harness
from harness import (CONFIG, ConnectionClosed, Daemon, MssimClient, connect, parse_response,
                     recv_exact, recv_until_close, tpm_command)


class DaemonTestCase(unittest.TestCase):
    def setUp(self):
        harness.require_daemon(self)
        self.tmp = harness.TempDir("tpm2emu-it-daemon-")
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.stop()
        self.tmp.close()

    def start_daemon(self, state="state", extra_args=(), port=None, name=None, cwd=None):
        state_dir = self.tmp.join(state) if state is not None else None
        d = Daemon(state_dir, self.tmp.path, extra_args=extra_args, port=port,
                   name=name or f"daemon{len(self.daemons)}", cwd=cwd)
        self.daemons.append(d)
        return d.start()

    def tools(self, daemon):
        class _T(harness.Transport):
            name = "mssim"

            def tool_env(self):
                return {"TPM2TOOLS_TCTI": f"mssim:host=127.0.0.1,port={daemon.port}"}

            def describe(self):
                return f"mssim port {daemon.port}"

        return harness.Tools(_T(), self.tmp.path)


class CommandLineTest(DaemonTestCase):
    def test_ready_line_names_ports_and_state(self):
        port = harness.free_port_pair()
        d = self.start_daemon(port=port)
        self.assertEqual(d.port, port, f"ready line: {d.ready_line}")
        self.assertEqual(d.platform_port, port + 1, f"ready line: {d.ready_line}")
        self.assertEqual(os.path.realpath(d.ready_state), os.path.realpath(self.tmp.join("state")),
                         f"ready line: {d.ready_line}")
        self.assertTrue(os.path.isdir(self.tmp.join("state")), "state directory not created")

    def test_port_zero_reports_bound_ports(self):
        d = self.start_daemon(port=0)
        self.assertGreater(d.port, 0, f"ready line: {d.ready_line}")
        self.assertGreater(d.platform_port, 0, f"ready line: {d.ready_line}")
        self.assertNotEqual(d.port, d.platform_port)
        client = MssimClient(d.port, d.platform_port)
        self.assertIn(client.power_on_and_start(),
                      (harness.TPM_RC_SUCCESS, harness.TPM_RC_INITIALIZE))
        client.get_random_ok()

    def test_sigterm_exits_zero(self):
        d = self.start_daemon()
        MssimClient(d.port, d.platform_port).power_on_and_start()
        rc = d.terminate()
        self.assertEqual(rc, 0, f"exit code after SIGTERM; stderr:\n{d.stderr()}")

    def test_unknown_option_fails(self):
        p = harness.run_cli(["serve", "--bogus"])
        self.assertNotEqual(p.returncode, 0, "tpm2emu serve --bogus must fail")
        self.assertTrue(p.stderr.strip(), "tpm2emu serve --bogus must say why on stderr")

    def test_unknown_subcommand_fails(self):
        p = harness.run_cli(["frobnicate"])
        self.assertNotEqual(p.returncode, 0, "tpm2emu frobnicate must fail")

    def test_bad_port_fails(self):
        p = harness.run_cli(["serve", "--state", self.tmp.join("s"), "--mssim", "127.0.0.1:99999"])
        self.assertNotEqual(p.returncode, 0, "--mssim 127.0.0.1:99999 must fail")
        self.assertTrue(p.stderr.strip(), "a bad --mssim must say why on stderr")

    def test_state_path_that_is_a_file_fails_naming_it(self):
        path = self.tmp.join("not-a-dir")
        with open(path, "w") as f:
            f.write("x")
        p = harness.run_cli(["serve", "--state", path, "--mssim", "127.0.0.1:0"])
        self.assertNotEqual(p.returncode, 0, "--state naming a regular file must fail")
        self.assertIn(path, p.stderr.decode(errors="replace"),
                      "the error must name the state directory")

    def test_second_daemon_on_same_state_dir_is_refused(self):
        first = self.start_daemon()
        port = harness.free_port_pair()
        p = harness.run_cli(["serve", "--state", self.tmp.join("state"),
                             "--mssim", f"127.0.0.1:{port}"])
        self.assertNotEqual(p.returncode, 0,
                            "a second daemon on a state directory in use must exit non-zero; "
                            f"stdout: {p.stdout!r}")
        self.assertTrue(p.stderr.strip(), "the refusal must say why on stderr")
        self.assertTrue(first.running(), "the first daemon must keep running")
        client = MssimClient(first.port, first.platform_port)
        client.power_on_and_start()
        client.get_random_ok()

    def _busy(self, offset):
        port = harness.free_port_pair()
        blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        blocker.bind(("127.0.0.1", port + offset))
        blocker.listen(1)
        try:
            p = harness.run_cli(["serve", "--state", self.tmp.join("state"),
                                 "--mssim", f"127.0.0.1:{port}"])
        finally:
            blocker.close()
        err = p.stderr.decode(errors="replace")
        self.assertNotEqual(p.returncode, 0,
                            f"port {port + offset} busy: expected a non-zero exit, stdout "
                            f"{p.stdout!r}")
        self.assertTrue(str(port + offset) in err or "in use" in err.lower(),
                        f"the message must name the busy port {port + offset}: {err!r}")

    def test_busy_command_port_fails(self):
        self._busy(0)

    def test_busy_platform_port_fails(self):
        self._busy(1)

    def test_state_survives_sigterm_and_kill9(self):
        d = self.start_daemon()
        tools = self.tools(d)
        tools.run("tpm2_startup", "-c")
        tools.run("tpm2_changeauth", "-c", "owner", "first")
        self.assertEqual(d.terminate(), 0, f"SIGTERM exit code; stderr:\n{d.stderr()}")
        d = self.start_daemon(name="after-sigterm")
        tools = self.tools(d)
        tools.run("tpm2_startup", "-c")
        tools.run("tpm2_changeauth", "-c", "owner", "-p", "first", "second")
        # An answered write survives kill -9.
        d.kill9()
        d = self.start_daemon(name="after-kill9")
        tools = self.tools(d)
        tools.run("tpm2_startup", "-c")
        tools.run("tpm2_changeauth", "-c", "owner", "-p", "first", "x", ok=False)
        tools.run("tpm2_changeauth", "-c", "owner", "-p", "second", "")

    def test_kill9_during_auth_change_keeps_old_or_new(self):
        # Crash safety: kill -9 right after sending HierarchyChangeAuth(owner) or right after its
        # answer. The restarted TPM must have the old auth or the new one, and the new one if
        # the change was answered.
        current = b""
        for i in range(6):
            d = self.start_daemon(name=f"kill9-{i}")
            client = MssimClient(d.port, d.platform_port)
            client.power_on_and_start()
            new = f"auth{i}".encode()
            with connect(d.port) as s:
                cmd = change_owner_auth(current, new)
                s.sendall(struct.pack(">IBI", harness.MSSIM_SEND_COMMAND, 0, len(cmd)) + cmd)
                answered = False
                if i % 2:
                    (rlen,) = struct.unpack(">I", recv_exact(s, 4))
                    rsp = recv_exact(s, rlen)
                    self.assertEqual(parse_response(rsp)[2], 0,
                                     f"HierarchyChangeAuth {current!r} -> {new!r}: {rsp.hex()}")
                    answered = True
                d.kill9()
            d = self.start_daemon(name=f"kill9-{i}-after")
            client = MssimClient(d.port, d.platform_port)
            client.power_on_and_start()
            # Probe with a change to the same value: succeeds only with the right auth.
            rc_new = parse_response(client.send_command(change_owner_auth(new, new)))[2]
            if rc_new != 0:
                self.assertFalse(answered, f"iteration {i}: an answered auth change was lost")
                rc_old = parse_response(client.send_command(change_owner_auth(current,
                                                                              current)))[2]
                self.assertEqual(rc_old, 0, f"iteration {i}: neither the old auth {current!r} "
                                            f"nor the new {new!r} works after kill -9")
            else:
                current = new
            d.kill9()

    def test_ephemeral_keeps_nothing(self):
        cwd = self.tmp.join("cwd")
        os.mkdir(cwd)
        d = self.start_daemon(state=None, extra_args=["--ephemeral"], cwd=cwd)
        tools = self.tools(d)
        tools.run("tpm2_startup", "-c")
        tools.run("tpm2_changeauth", "-c", "owner", "ephemeral")
        self.assertEqual(d.terminate(), 0, f"SIGTERM exit code; stderr:\n{d.stderr()}")
        self.assertEqual(os.listdir(cwd), [], "--ephemeral must not write a state directory")
        d = self.start_daemon(state=None, extra_args=["--ephemeral"], cwd=cwd, name="eph2")
        tools = self.tools(d)
        tools.run("tpm2_startup", "-c")
        # A new ephemeral TPM starts with an empty owner auth.
        tools.run("tpm2_changeauth", "-c", "owner", "x")


def change_owner_auth(old, new):
    """TPM2_HierarchyChangeAuth(TPM_RH_OWNER) with a password session holding `old`."""
    session = struct.pack(">IHBH", 0x40000009, 0, 1, len(old)) + old
    body = (struct.pack(">I", 0x40000001) + struct.pack(">I", len(session)) + session +
            struct.pack(">H", len(new)) + new)
    return tpm_command(0x129, body, tag=harness.TPM_ST_SESSIONS)


class MssimProtocolTest(DaemonTestCase):
    """Well-formed and hostile traffic on the mssim ports; the daemon must keep answering."""

    def setUp(self):
        super().setUp()
        self.daemon = self.start_daemon()
        self.client = MssimClient(self.daemon.port, self.daemon.platform_port)
        rc = self.client.power_on_and_start()
        self.assertIn(rc, (harness.TPM_RC_SUCCESS, harness.TPM_RC_INITIALIZE),
                      f"Startup(CLEAR) answered {rc:#x}")

    def assert_alive(self, after):
        self.assertTrue(self.daemon.running(),
                        f"daemon died after {after}; stderr:\n{self.daemon.stderr()}")
        try:
            self.client.get_random_ok()
        except (OSError, ConnectionClosed, AssertionError) as e:
            self.fail(f"GetRandom after {after} failed: {e}; stderr:\n{self.daemon.stderr()}")

    def send_raw(self, port, data, half_close=True):
        """Sends bytes on a fresh connection; returns what comes back until the peer closes."""
        with connect(port, timeout=15) as s:
            try:
                s.sendall(data)
                if half_close:
                    s.shutdown(socket.SHUT_WR)
                return recv_until_close(s)
            except (ConnectionResetError, BrokenPipeError):
                return b""
            except socket.timeout:
                self.fail(f"port {port}: no answer and no close within 15s after "
                          f"{data[:32].hex()}... and EOF")

    def send_command_frame(self, cmd, declared_len=None, locality=0):
        """SEND_COMMAND with an arbitrary declared length; returns the TPM response or None
        when the daemon closes the connection instead of answering."""
        n = len(cmd) if declared_len is None else declared_len
        data = struct.pack(">IBI", harness.MSSIM_SEND_COMMAND, locality, n) + cmd
        back = self.send_raw(self.daemon.port, data)
        if not back:
            return None
        self.assertGreaterEqual(len(back), 4, f"partial mssim answer {back.hex()}")
        (rlen,) = struct.unpack(">I", back[:4])
        self.assertGreaterEqual(len(back), 8 + rlen, f"truncated mssim answer {back.hex()}")
        rsp = back[4:4 + rlen]
        self.assertEqual(back[4 + rlen:8 + rlen], b"\0\0\0\0", "mssim trailer")
        return rsp

    def assert_error_response_or_close(self, rsp, what):
        if rsp is None:
            return
        tag, size, rc = parse_response(rsp)
        self.assertNotEqual(rc, 0, f"{what}: answered success {rsp.hex()}")
        self.assertEqual(size, 10, f"{what}: an error response is a bare header, got "
                                   f"{rsp.hex()}")
        self.assertIn(tag, (harness.TPM_ST_NO_SESSIONS, harness.TPM_ST_RSP_COMMAND),
                      f"{what}: response tag")

    # well-formed -----------------------------------------------------------------------------

    def test_handshake(self):
        with connect(self.daemon.port) as s:
            s.sendall(struct.pack(">II", harness.MSSIM_REMOTE_HANDSHAKE, 1))
            version, flags, trailer = struct.unpack(">III", recv_exact(s, 12))
        self.assertEqual(version, 1, "mssim server version")
        self.assertEqual(trailer, 0, "mssim handshake trailer")
        self.assertTrue(flags & 1, f"handshake flags {flags:#x}: platform available")

    def test_several_commands_on_one_connection(self):
        with connect(self.daemon.port) as s:
            for n in (1, 8, 32):
                rsp = self.client.send_command(harness.get_random(n), sock=s)
                tag, _, rc = parse_response(rsp)
                self.assertEqual((tag, rc), (harness.TPM_ST_NO_SESSIONS, 0))
                self.assertEqual(len(rsp), 12 + n)
            s.sendall(struct.pack(">I", harness.MSSIM_SESSION_END))
            self.assertEqual(recv_until_close(s), b"", "SESSION_END gets no answer")

    def test_raw_tpm_command_on_command_port(self):
        with connect(self.daemon.port) as s:
            s.sendall(harness.get_random(8))
            try:
                header = recv_exact(s, 10)
                tag, size, rc = struct.unpack(">HII", header)
                rsp = header + recv_exact(s, size - 10)
            except (socket.timeout, ConnectionClosed) as e:
                self.fail(f"a bare GetRandom(8) on the command port got no bare response: {e}")
        self.assertEqual((tag, rc), (harness.TPM_ST_NO_SESSIONS, 0),
                         f"raw GetRandom: {rsp.hex()}")
        self.assertEqual(len(rsp), 20, f"raw GetRandom(8): {rsp.hex()}")

    def test_power_off_answers_empty_response(self):
        self.assertEqual(self.client.platform(harness.MSSIM_SIGNAL_POWER_OFF), 0)
        rsp = self.client.send_command(harness.get_random(8))
        self.assertEqual(rsp, b"", "SEND_COMMAND while powered off answers a zero-length response")
        self.assertEqual(self.client.power_on_and_start(), 0,
                         "Startup(CLEAR) after power off/on")
        self.assert_alive("power off/on")

    def test_power_on_twice_is_a_no_op(self):
        self.assertEqual(self.client.platform(harness.MSSIM_SIGNAL_POWER_ON), 0)
        rsp = self.client.send_command(harness.startup_clear())
        self.assertEqual(parse_response(rsp)[2], harness.TPM_RC_INITIALIZE,
                         "Startup after a redundant power-on must answer TPM_RC_INITIALIZE")

    # hostile ---------------------------------------------------------------------------------

    def test_unknown_command_code(self):
        rsp = self.client.send_command(tpm_command(0x000001FF))
        tag, size, rc = parse_response(rsp)
        self.assertEqual((tag, size, rc),
                         (harness.TPM_ST_NO_SESSIONS, 10, harness.TPM_RC_COMMAND_CODE),
                         f"unknown command code: {rsp.hex()}")
        rsp = self.client.send_command(tpm_command(0x20000000))  # vendor-specific, none defined
        self.assertEqual(parse_response(rsp)[2], harness.TPM_RC_COMMAND_CODE, rsp.hex())
        self.assert_alive("unknown command codes")

    def test_bad_tag(self):
        rsp = self.client.send_command(tpm_command(harness.TPM_CC_GET_RANDOM, b"\0\x08",
                                                   tag=0x8003))
        tag, size, rc = parse_response(rsp)
        self.assertEqual((tag, size, rc), (harness.TPM_ST_NO_SESSIONS, 10, harness.TPM_RC_BAD_TAG),
                         f"bad tag: {rsp.hex()}")
        rsp = self.client.send_command(tpm_command(harness.TPM_CC_GET_RANDOM, b"\0\x08",
                                                   tag=0x00C1))
        self.assert_error_response_or_close(rsp, "TPM 1.2 tag")
        self.assert_alive("bad tags")

    def test_header_size_mismatch(self):
        cases = {
            "size field larger than the frame": tpm_command(harness.TPM_CC_GET_RANDOM, b"\0\x08",
                                                            size=0x100),
            "size field smaller than the frame": tpm_command(harness.TPM_CC_GET_RANDOM,
                                                             b"\0\x08\0\0", size=12),
            "size field 0xFFFFFFFF": tpm_command(harness.TPM_CC_GET_RANDOM, b"\0\x08",
                                                 size=0xFFFFFFFF),
            "size field 0": tpm_command(harness.TPM_CC_GET_RANDOM, b"\0\x08", size=0),
        }
        for what, cmd in cases.items():
            with self.subTest(what):
                rsp = self.client.send_command(cmd)
                tag, size, rc = parse_response(rsp)
                self.assertEqual((size, rc), (10, harness.TPM_RC_COMMAND_SIZE),
                                 f"{what}: {rsp.hex()}")
        self.assert_alive("header size mismatches")

    def test_truncated_commands(self):
        for n in (0, 1, 5, 9, 11):
            with self.subTest(length=n):
                cmd = harness.get_random(8)[:n]
                rsp = self.send_command_frame(cmd)
                self.assert_error_response_or_close(rsp, f"{n}-byte command")
        self.assert_alive("truncated commands")

    def test_declared_length_longer_than_data(self):
        # The mssim length promises more than arrives before EOF.
        rsp = self.send_command_frame(harness.get_random(8), declared_len=100)
        self.assert_error_response_or_close(rsp, "short frame")
        self.assert_alive("a frame cut short by EOF")

    def test_oversized_length_fields(self):
        for n in (0xFFFFFFFF, 0x80000000, 0x01000000, 64 * 1024):
            with self.subTest(length=hex(n)):
                rsp = self.send_command_frame(harness.get_random(8), declared_len=n)
                self.assert_error_response_or_close(rsp, f"declared length {n:#x}")
        self.assert_alive("oversized length fields")

    def test_large_body_is_rejected_or_answered(self):
        cmd = tpm_command(harness.TPM_CC_GET_RANDOM, b"\0\x08" + bytes(8000))
        rsp = self.send_command_frame(cmd)
        self.assert_error_response_or_close(rsp, "8 KiB command")
        self.assert_alive("an 8 KiB command")

    def test_bad_locality(self):
        rsp = self.send_command_frame(harness.get_random(8), locality=0xFF)
        if rsp is not None:
            parse_response(rsp)
        self.assert_alive("locality 255")

    def test_unknown_mssim_codes_on_command_port(self):
        for code in (0, 3, 0x42, 0x7FFFFFFF, 0xFFFFFFFF):
            with self.subTest(code=hex(code)):
                self.send_raw(self.daemon.port, struct.pack(">I", code))
        self.assert_alive("unknown mssim codes")

    def test_unknown_platform_code_answers_one_and_closes(self):
        with connect(self.daemon.platform_port) as s:
            s.sendall(struct.pack(">I", 0x99))
            self.assertEqual(recv_exact(s, 4), b"\0\0\0\1", "unknown platform code answer")
            self.assertEqual(recv_until_close(s), b"", "connection closed after unknown code")
        self.assert_alive("an unknown platform code")

    def test_garbage_on_both_ports(self):
        rng = random.Random(2321)
        for i in range(20):
            # A first byte in 1..0x7F keeps the first word clear of every defined mssim code
            # (STOP would end the daemon) and of the raw-command tags 0x8001/0x8002.
            n = rng.choice((1, 3, 4, 7, 64, 600))
            data = bytes([rng.randrange(1, 0x80)]) + bytes(rng.getrandbits(8) for _ in range(n))
            for port in (self.daemon.port, self.daemon.platform_port):
                self.send_raw(port, data)
        # A partial word, then the connection just closes; and connect-and-close.
        for port in (self.daemon.port, self.daemon.platform_port):
            self.send_raw(port, b"\0\0")
            with connect(port):
                pass
        self.assert_alive("garbage on both ports")

    def test_abrupt_disconnect_mid_command(self):
        with connect(self.daemon.port) as s:
            s.sendall(struct.pack(">IBI", harness.MSSIM_SEND_COMMAND, 0, 12) + b"\x80\x01")
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.assert_alive("a reset connection mid-command")

    def test_many_connections(self):
        socks = [connect(self.daemon.port) for _ in range(50)]
        try:
            self.assert_alive("50 idle connections")
        finally:
            for s in socks:
                s.close()
        self.assert_alive("50 connections closing")


if __name__ == "__main__":
    harness.main()
