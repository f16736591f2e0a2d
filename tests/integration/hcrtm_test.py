#!/usr/bin/env python3
"""The H-CRTM / D-RTM indications over the mssim command port (5 _TPM_Hash_Start, 6
_TPM_Hash_Data, 7 _TPM_Hash_End), checked with tpm2-tools against digests computed here.

Usage: hcrtm_test.py --tpm2emu PATH [--keep] [unittest args]
"""

import hashlib
import struct

import harness
from daemon_test import DaemonTestCase
from harness import MssimClient, connect, recv_exact

MSSIM_HASH_START = 5
MSSIM_HASH_DATA = 6
MSSIM_HASH_END = 7

BANKS = ("sha1", "sha256")  # allocated by default


def measured(bank, initial_last, data):
    """H(0...0x || H(data)): PCR[17] after a D-RTM (0), PCR[0] after an H-CRTM (4)."""
    size = hashlib.new(bank).digest_size
    initial = bytes(size - 1) + bytes([initial_last])
    return hashlib.new(bank, initial + hashlib.new(bank, data).digest()).digest()


class HashIndicationTest(DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.daemon = self.start_daemon()
        self.client = MssimClient(self.daemon.port, self.daemon.platform_port)
        self.tool = self.tools(self.daemon).run

    def hash_sequence(self, chunks):
        """Start, one Data per chunk, End on one command-port connection; each answers u32 0."""
        with connect(self.daemon.port) as s:
            def answer(what):
                (value,) = struct.unpack(">I", recv_exact(s, 4))
                self.assertEqual(value, 0, f"mssim {what} answered {value:#x}")

            s.sendall(struct.pack(">I", MSSIM_HASH_START))
            answer("_TPM_Hash_Start")
            for chunk in chunks:
                s.sendall(struct.pack(">II", MSSIM_HASH_DATA, len(chunk)) + chunk)
                answer("_TPM_Hash_Data")
            s.sendall(struct.pack(">I", MSSIM_HASH_END))
            answer("_TPM_Hash_End")
            s.sendall(struct.pack(">I", harness.MSSIM_SESSION_END))

    def pcrs(self, bank, indices):
        out = self.tool("tpm2_pcrread", f"{bank}:{','.join(map(str, indices))}").out
        return harness.parse_pcrread(out).get(bank, {})

    def test_drtm_after_startup_extends_pcr17(self):
        rc = self.client.power_on_and_start()
        self.assertEqual(rc, harness.TPM_RC_SUCCESS, f"Startup(CLEAR) answered {rc:#x}")
        chunks = [b"dynamic launch ", bytes(range(256)) * 20, b"", b"end"]
        self.hash_sequence(chunks)
        data = b"".join(chunks)
        for bank in BANKS:
            got = self.pcrs(bank, range(16, 24))
            size = hashlib.new(bank).digest_size
            self.assertEqual(got.get(17), measured(bank, 0, data), f"{bank} PCR 17")
            for n in range(18, 23):
                self.assertEqual(got.get(n), bytes(size), f"{bank} PCR {n} reset by the D-RTM")
            self.assertEqual(got.get(16), bytes(size), f"{bank} PCR 16 untouched")
        clock = harness.parse_readclock(self.tool("tpm2_readclock").out)
        self.assertEqual(clock.get("restart_count"), 1, "a D-RTM counts as a restart")

    def test_hcrtm_before_startup_measures_into_pcr0(self):
        self.assertEqual(self.client.platform(harness.MSSIM_SIGNAL_POWER_OFF), 0)
        self.assertEqual(self.client.platform(harness.MSSIM_SIGNAL_POWER_ON), 0)  # _TPM_Init
        self.hash_sequence([b"h-crtm ", b"code"])
        self.tool("tpm2_startup", "-c")
        for bank in BANKS:
            got = self.pcrs(bank, [0, 17])
            size = hashlib.new(bank).digest_size
            self.assertEqual(got.get(0), measured(bank, 4, b"h-crtm code"), f"{bank} PCR 0")
            self.assertEqual(got.get(17), b"\xff" * size, f"{bank} PCR 17: no D-RTM")

    def test_stray_indications_change_nothing(self):
        rc = self.client.power_on_and_start()
        self.assertEqual(rc, harness.TPM_RC_SUCCESS, f"Startup(CLEAR) answered {rc:#x}")
        with connect(self.daemon.port) as s:
            # Data and End without Start, then a Start abandoned by a command.
            s.sendall(struct.pack(">II", MSSIM_HASH_DATA, 3) + b"abc" +
                      struct.pack(">I", MSSIM_HASH_END) + struct.pack(">I", MSSIM_HASH_START))
            self.assertEqual(recv_exact(s, 12), bytes(12))
        self.client.get_random_ok()
        with connect(self.daemon.port) as s:
            s.sendall(struct.pack(">I", MSSIM_HASH_END))
            self.assertEqual(recv_exact(s, 4), bytes(4))
        for bank in BANKS:
            size = hashlib.new(bank).digest_size
            self.assertEqual(self.pcrs(bank, [17]).get(17), b"\xff" * size, f"{bank} PCR 17")


if __name__ == "__main__":
    harness.main()
