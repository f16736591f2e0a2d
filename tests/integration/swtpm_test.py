#!/usr/bin/env python3
"""`tpm2emu serve --swtpm`: tpm2-tools through tpm2-tss's swtpm TCTI, and the control channel
(DESIGN.md, "swtpm-compatible control channel") spoken from Python.

Usage: swtpm_test.py --tpm2emu PATH [--keep] [--verbose-tools] [unittest args, e.g.
       SwtpmToolsTest SwtpmControlTest ToolsSwtpmScenario]
"""

import hashlib
import shutil
import socket
import struct
import subprocess
import unittest

import harness
from harness import connect, parse_response, recv_exact, recv_until_close, tpm_command
from tools_scenario_test import ToolsScenarioBody

CTRL_GET_CAPABILITY = 1
CTRL_INIT = 2
CTRL_SHUTDOWN = 3
CTRL_GET_TPMESTABLISHED = 4
CTRL_SET_LOCALITY = 5
CTRL_STOP = 14
CTRL_SET_DATAFD = 16
CTRL_SET_BUFFERSIZE = 17
# Every code but SET_DATAFD (unix sockets only), GET_INFO, send-command-header, LOCK_STORAGE.
EXPECTED_CAPS = 0x2FFF

RES_OK = 0
RES_BAD_ORDINAL = 10
RES_BAD_LOCALITY = 0x3D

TPM_CC_PCR_RESET = 0x13D
TPM_CC_PCR_READ = 0x17E
TPM_RC_LOCALITY = 0x907
TPM_RC_FAILURE = 0x101
TPM_RS_PW = 0x40000009
TPM_ALG_SHA256 = 0x000B


def pcr_reset(pcr):
    """TPM2_PCR_Reset(pcr) with an empty password session."""
    auth = struct.pack(">IHBH", TPM_RS_PW, 0, 0, 0)
    return tpm_command(TPM_CC_PCR_RESET, struct.pack(">II", pcr, len(auth)) + auth,
                       tag=harness.TPM_ST_SESSIONS)


def pcr_read_sha256(pcr):
    select = bytearray(3)
    select[pcr // 8] |= 1 << (pcr % 8)
    return tpm_command(TPM_CC_PCR_READ, struct.pack(">IHB", 1, TPM_ALG_SHA256, 3) + select)


def pcr_value(rsp):
    """The one digest in a TPM2_PCR_Read response."""
    _, _, rc = parse_response(rsp)
    if rc != 0:
        raise AssertionError(f"PCR_Read failed: rc {rc:#x}")
    # header, u32 updateCounter, TPML_PCR_SELECTION (count, hash, size, 3 bytes), TPML_DIGEST
    offset = 10 + 4 + 4 + 2 + 1 + 3
    count, size = struct.unpack(">IH", rsp[offset:offset + 6])
    if count != 1:
        raise AssertionError(f"PCR_Read returned {count} digests")
    return rsp[offset + 6:offset + 6 + size]


class SwtpmTestCase(unittest.TestCase):
    def setUp(self):
        harness.require_daemon(self)
        self.tmp = harness.TempDir("tpm2emu-it-swtpm-")
        self.daemon = harness.Daemon(self.tmp.join("state"), self.tmp.path, swtpm=True).start()
        self.assertIsNotNone(self.daemon.swtpm_port, f"ready line: {self.daemon.ready_line}")
        self.assertEqual(self.daemon.swtpm_ctrl_port, self.daemon.swtpm_port + 1,
                         f"the swtpm TCTI needs control = data + 1: {self.daemon.ready_line}")

    def tearDown(self):
        self.daemon.stop()
        self.tmp.close()

    def control(self, code, body=b"", answer_size=4, sock=None):
        own = sock is None
        s = sock or connect(self.daemon.swtpm_ctrl_port)
        try:
            s.sendall(struct.pack(">I", code) + body)
            return recv_exact(s, answer_size)
        finally:
            if own:
                s.close()

    def execute(self, command):
        with connect(self.daemon.swtpm_port) as s:
            s.sendall(command)
            head = recv_exact(s, 6)
            size = struct.unpack(">I", head[2:6])[0]
            return head + recv_exact(s, size - 6)


class SwtpmToolsTest(SwtpmTestCase):
    def tools(self):
        transport = harness.SwtpmTransport()
        transport.daemon = self.daemon  # only its environment and name are used
        return harness.Tools(transport, self.tmp.path)

    def test_tools_over_swtpm(self):
        if shutil.which("openssl") is None:
            self.skipTest("no openssl CLI")
        t = self.tools()
        # The swtpm TCTI sets the locality on the control port but sends no TPM2_Startup.
        t.run("tpm2_startup", "-c")
        out = t.run("tpm2_getrandom", "8", "--hex").out.strip()
        self.assertEqual(len(bytes.fromhex(out)), 8, out)

        digest = hashlib.sha256(b"swtpm").digest()
        t.run("tpm2_pcrextend", f"16:sha256={digest.hex()}")
        read = harness.parse_pcrread(t.run("tpm2_pcrread", "sha256:16").out)
        self.assertEqual(read["sha256"][16], hashlib.sha256(bytes(32) + digest).digest())

        ctx, pem = self.tmp.join("key.ctx"), self.tmp.join("key.pem")
        msg, sig = self.tmp.join("msg"), self.tmp.join("sig")
        with open(msg, "wb") as f:
            f.write(b"signed over the swtpm data port")
        t.run("tpm2_createprimary", "-C", "o", "-G", "ecc256:ecdsa-sha256", "-c", ctx, "-a",
              "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign")
        t.run("tpm2_readpublic", "-c", ctx, "-f", "pem", "-o", pem)
        t.run("tpm2_sign", "-c", ctx, "-g", "sha256", "-f", "plain", "-o", sig, msg)
        p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pem, "-signature", sig, msg],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, f"openssl rejects the signature: {p.stdout!r} "
                                          f"{p.stderr!r}")


class SwtpmControlTest(SwtpmTestCase):
    def test_capabilities_and_established_flag(self):
        self.assertEqual(self.control(CTRL_GET_CAPABILITY, answer_size=8),
                         struct.pack(">II", RES_OK, EXPECTED_CAPS))
        res, flag = struct.unpack(">IB3x", self.control(CTRL_GET_TPMESTABLISHED, answer_size=8))
        self.assertEqual(res, RES_OK)
        self.assertIn(flag, (0, 1))
        # SET_DATAFD passes a descriptor: not over TCP.
        self.assertEqual(self.control(CTRL_SET_DATAFD), struct.pack(">I", RES_BAD_ORDINAL))
        self.assertEqual(self.control(CTRL_SET_BUFFERSIZE, struct.pack(">I", 0), 16),
                         struct.pack(">IIII", RES_OK, 4096, 4096, 8192))

    def test_locality_gates_pcr_reset(self):
        _, _, rc = parse_response(self.execute(harness.startup_clear()))
        self.assertEqual(rc, 0)
        # PC Client: PCR 20 starts as all ones and may be reset from locality 2 or 4 only.
        self.assertEqual(pcr_value(self.execute(pcr_read_sha256(20))), b"\xff" * 32)
        _, _, rc = parse_response(self.execute(pcr_reset(20)))
        self.assertEqual(rc, TPM_RC_LOCALITY, f"PCR_Reset(20) at locality 0: {rc:#x}")
        self.assertEqual(self.control(CTRL_SET_LOCALITY, bytes([5])),
                         struct.pack(">I", RES_BAD_LOCALITY))
        self.assertEqual(self.control(CTRL_SET_LOCALITY, bytes([2])), struct.pack(">I", RES_OK))
        _, _, rc = parse_response(self.execute(pcr_reset(20)))
        self.assertEqual(rc, 0, f"PCR_Reset(20) at locality 2: {rc:#x}")
        self.assertEqual(pcr_value(self.execute(pcr_read_sha256(20))), bytes(32))

    def test_stop_init_and_shutdown(self):
        with connect(self.daemon.swtpm_ctrl_port) as s:
            self.assertEqual(self.control(CTRL_STOP, sock=s), struct.pack(">I", RES_OK))
            # Stopped: commands fail, the daemon keeps running.
            _, _, rc = parse_response(self.execute(harness.get_random(8)))
            self.assertEqual(rc, TPM_RC_FAILURE)
            self.assertTrue(self.daemon.running())
            self.assertEqual(self.control(CTRL_INIT, struct.pack(">I", 1), sock=s),
                             struct.pack(">I", RES_OK))
            _, _, rc = parse_response(self.execute(harness.startup_clear()))
            self.assertEqual(rc, 0)
            _, _, rc = parse_response(self.execute(harness.get_random(8)))
            self.assertEqual(rc, 0)
            # SHUTDOWN answers, then the daemon saves its state and exits 0.
            self.assertEqual(self.control(CTRL_SHUTDOWN, sock=s), struct.pack(">I", RES_OK))
            recv_until_close(s)
        self.daemon.proc.wait(timeout=harness.STOP_TIMEOUT_S)
        self.assertEqual(self.daemon.proc.returncode, 0, self.daemon.stderr())

    def test_garbage_keeps_the_daemon_alive(self):
        for port in (self.daemon.swtpm_port, self.daemon.swtpm_ctrl_port):
            for data in (b"\0\0", b"\x80\x01\0\0\0\x03", b"\xff" * 64,
                         struct.pack(">IIII", 13, 0, 2, 0xFFFFFFFF)):
                with connect(port) as s:
                    try:
                        s.sendall(data)
                        s.shutdown(socket.SHUT_WR)
                        recv_until_close(s)
                    except OSError:
                        pass
        self.assertEqual(self.control(CTRL_GET_CAPABILITY, answer_size=8),
                         struct.pack(">II", RES_OK, EXPECTED_CAPS))


class ToolsSwtpmScenario(ToolsScenarioBody, unittest.TestCase):
    """The tpm2-tools scenario of tools_scenario_test.py, over the swtpm ports."""

    transport_class = harness.SwtpmTransport

    @classmethod
    def check_prerequisites(cls):
        super().check_prerequisites()
        if not harness.CONFIG.tpm2emu:
            raise unittest.SkipTest("no --tpm2emu given")


if __name__ == "__main__":
    harness.main()
