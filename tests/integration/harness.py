"""Shared plumbing for the integration tests: start and stop the tpm2emu daemon, run tpm2-tools
against it or against the in-process TCTI, and talk the mssim protocol over raw sockets.

Standard library only. Each test gets its own temporary state directory and its own ports; the
daemon is awaited through its ready line, never with sleeps.
"""

import argparse
import os
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

# Filled in by main() from the command line (see parse_args).
CONFIG = argparse.Namespace(tpm2emu=None, tcti_dir=None, asan_runtime=None,
                            asan_preload_shim=None, keep=False, verbose_tools=False)

READY_RE = re.compile(
    r"^tpm2emu: ready mssim=(?P<host>[^\s:]+):(?P<port>\d+) "
    r"platform=(?P<phost>[^\s:]+):(?P<pport>\d+)"
    r"(?: swtpm=(?P<shost>[^\s:]+):(?P<sport>\d+) ctrl=(?P<chost>[^\s:]+):(?P<cport>\d+))?"
    r"(?: state=(?P<state>.*))?$")

READY_TIMEOUT_S = 30.0   # generous: the ASan build starts slowly on a busy machine
TOOL_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0


def parse_args(argv):
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--tpm2emu", help="path of the tpm2emu executable")
    parser.add_argument("--tcti-dir", help="directory holding libtss2-tcti-tpm2emu.so")
    parser.add_argument("--asan-runtime",
                        help="libasan.so to preload into tpm2-tools when they load a "
                             "sanitized TCTI (set for TPM2EMU_SANITIZE builds)")
    parser.add_argument("--asan-preload-shim",
                        help="library preloaded after --asan-runtime (asan_preload_shim.cc)")
    parser.add_argument("--keep", action="store_true",
                        help="keep temporary state directories and logs")
    parser.add_argument("--verbose-tools", action="store_true",
                        help="print every tool command and its output")
    known, rest = parser.parse_known_args(argv[1:])
    for key, value in vars(known).items():
        # Tools run in temporary directories: relative paths would point nowhere there.
        if key != "keep" and key != "verbose_tools" and value:
            value = os.path.abspath(value)
        setattr(CONFIG, key.replace("-", "_"), value)
    return [argv[0]] + rest


def main():
    """Entry point for a test file: our options first, the rest goes to unittest."""
    argv = parse_args(sys.argv)
    unittest.main(argv=argv, verbosity=2)


def require_daemon(testcase):
    if not CONFIG.tpm2emu:
        testcase.skipTest("no --tpm2emu given")
    if not os.access(CONFIG.tpm2emu, os.X_OK):
        testcase.fail(f"--tpm2emu {CONFIG.tpm2emu} is not an executable")


def require_tcti(testcase):
    if not CONFIG.tcti_dir:
        testcase.skipTest("no --tcti-dir given")
    names = os.listdir(CONFIG.tcti_dir) if os.path.isdir(CONFIG.tcti_dir) else []
    if not any(n.startswith("libtss2-tcti-tpm2emu.so") for n in names):
        testcase.fail(f"--tcti-dir {CONFIG.tcti_dir} holds no libtss2-tcti-tpm2emu.so")


# ---------------------------------------------------------------------------------------------
# Ports and temporary directories


def _can_bind(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port_pair():
    """A port P such that P and P+1 are both free on 127.0.0.1 right now.

    tpm2-tools' mssim TCTI always uses P+1 for the platform port, so the daemon must be given an
    explicit P rather than port 0. There is a small race with other processes; Daemon.start
    retries with a new pair when the bind fails.
    """
    for _ in range(200):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port < 65535 and _can_bind(port) and _can_bind(port + 1):
            return port
    raise RuntimeError("no free pair of adjacent ports on 127.0.0.1")


class TempDir:
    """A temporary directory removed at close() unless --keep was given."""

    def __init__(self, prefix):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def join(self, *parts):
        return os.path.join(self.path, *parts)

    def close(self):
        if CONFIG.keep:
            print(f"kept {self.path}", file=sys.stderr)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# The daemon


class DaemonError(AssertionError):
    pass


class Daemon:
    """One `tpm2emu serve` process.

    start() returns once the ready line has been read (or raises DaemonError with the daemon's
    stderr). Output after the ready line is drained in a thread so the daemon never blocks on a
    full pipe.
    """

    def __init__(self, state_dir, log_dir, extra_args=(), port=None, name="daemon", cwd=None,
                 swtpm=False):
        self.state_dir = state_dir
        # swtpm=True: also serve the swtpm protocol (--swtpm 127.0.0.1:0); swtpm_port is its
        # data port, swtpm_ctrl_port its control port.
        self.swtpm = swtpm
        self.swtpm_port = None
        self.swtpm_ctrl_port = None
        self.log_dir = log_dir
        self.extra_args = list(extra_args)
        self.requested_port = port
        self.name = name
        self.cwd = cwd
        self.proc = None
        self.port = None
        self.platform_port = None
        self.ready_line = None
        self.stdout_lines = []
        self._stderr_path = None
        self._drain = None

    def argv(self, port):
        argv = [CONFIG.tpm2emu, "serve"]
        if self.state_dir is not None:
            argv += ["--state", self.state_dir]
        argv += ["--mssim", f"127.0.0.1:{port}"]
        if self.swtpm:
            argv += ["--swtpm", "127.0.0.1:0"]
        return argv + self.extra_args

    def start(self, attempts=3):
        last = None
        for attempt in range(attempts):
            port = self.requested_port if self.requested_port is not None else free_port_pair()
            try:
                self._start_once(port, attempt)
                return self
            except DaemonError as e:
                last = e
                # Only a lost race for the port is worth another try.
                if self.requested_port is not None or not _looks_like_bind_failure(str(e)):
                    raise
        raise last

    def _start_once(self, port, attempt):
        self._stderr_path = os.path.join(self.log_dir, f"{self.name}-{port}-{attempt}.stderr")
        stderr = open(self._stderr_path, "wb")
        argv = self.argv(port)
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=stderr, cwd=self.cwd, env=daemon_env())
        finally:
            stderr.close()
        line = self._read_ready_line()
        m = READY_RE.match(line) if line is not None else None
        if m is None:
            self._kill_hard()
            raise DaemonError(
                f"{' '.join(argv)}: expected a ready line "
                f"'tpm2emu: ready mssim=H:P platform=H:P state=DIR', got "
                f"{line!r}; exit code {self.proc.returncode}; stderr:\n{self.stderr()}")
        self.ready_line = line
        self.port = int(m.group("port"))
        self.platform_port = int(m.group("pport"))
        if m.group("sport") is not None:
            self.swtpm_port = int(m.group("sport"))
            self.swtpm_ctrl_port = int(m.group("cport"))
        self.ready_state = m.group("state")
        self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
        self._drain.start()

    def _read_ready_line(self):
        """The first stdout line, or None if the daemon exits or stays silent too long."""
        line, rest = read_first_line(self.proc, READY_TIMEOUT_S)
        if rest:
            self.stdout_lines.extend(rest.decode(errors="replace").splitlines())
        return line

    def _drain_stdout(self):
        for raw in self.proc.stdout:
            self.stdout_lines.append(raw.decode(errors="replace").rstrip("\n"))

    def stderr(self):
        if not self._stderr_path or not os.path.exists(self._stderr_path):
            return ""
        with open(self._stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def terminate(self):
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._kill_hard()
                raise DaemonError(f"{self.name} did not stop within {STOP_TIMEOUT_S}s of "
                                  f"SIGTERM; killed. stderr:\n{self.stderr()}")
        self._join()
        return self.proc.returncode

    def kill9(self):
        self._kill_hard()
        return self.proc.returncode

    def _kill_hard(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._join()

    def _join(self):
        if self._drain is not None:
            self._drain.join(timeout=5)
            self._drain = None
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def stop(self):
        """Best-effort cleanup for tearDown: SIGTERM, then SIGKILL."""
        try:
            self.terminate()
        except DaemonError:
            pass


def read_first_line(proc, timeout):
    """(line, rest): the first line PROC writes on its stdout pipe (text, without the newline)
    and the bytes that came after it. line is None if PROC stays silent for TIMEOUT seconds; if
    PROC closes stdout first, PROC is reaped and line is what it wrote (None if nothing)."""
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    buf = b""
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, b""
            if not sel.select(timeout=left):
                continue
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:
                continue
            if not chunk:
                proc.wait(timeout=STOP_TIMEOUT_S)
                return buf.decode(errors="replace") or None, b""
            buf += chunk
    finally:
        sel.close()
        os.set_blocking(fd, True)
    line, _, rest = buf.partition(b"\n")
    return line.decode(errors="replace").rstrip("\r"), rest


def _looks_like_bind_failure(text):
    text = text.lower()
    return any(k in text for k in ("in use", "bind", "eaddrinuse"))


def daemon_env():
    env = dict(os.environ)
    # Our own binaries keep the sanitizers' defaults (leak checks included).
    return env


def run_cli(args, timeout=STOP_TIMEOUT_S, cwd=None):
    """Runs `tpm2emu ARGS` to completion (for commands expected to exit by themselves)."""
    argv = [CONFIG.tpm2emu] + list(args)
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, cwd=cwd, env=daemon_env())
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{' '.join(argv)}: expected it to exit by itself, still running "
                             f"after {timeout}s (killed); stdout: {_text(e.stdout)!r}; "
                             f"stderr: {_text(e.stderr)!r}") from None


# ---------------------------------------------------------------------------------------------
# tpm2-tools


class Transport:
    """How tpm2-tools reach the TPM. Subclasses set up and tear down the TPM behind it."""

    name = "?"
    # True when restart() power-cycles the TPM (the next Startup is a real TPM Reset).
    restart_power_cycles = False

    def setup(self, tmp):
        raise NotImplementedError

    def tool_env(self):
        raise NotImplementedError

    def restart(self):
        """Stops the TPM cleanly and brings it back on the same state directory."""
        raise NotImplementedError

    def teardown(self):
        pass

    def describe(self):
        return self.name


class MssimTransport(Transport):
    name = "mssim"
    restart_power_cycles = True

    def setup(self, tmp):
        self.tmp = tmp
        self.state_dir = tmp.join("state")
        self.daemon = Daemon(self.state_dir, tmp.path, name="daemon").start()

    def tool_env(self):
        return {"TPM2TOOLS_TCTI": f"mssim:host=127.0.0.1,port={self.daemon.port}"}

    def restart(self):
        rc = self.daemon.terminate()
        if rc != 0:
            raise DaemonError(f"tpm2emu serve exited with {rc} on SIGTERM (expected 0); "
                              f"stderr:\n{self.daemon.stderr()}")
        self.daemon = Daemon(self.state_dir, self.tmp.path, name="daemon-restarted").start()

    def teardown(self):
        if getattr(self, "daemon", None) is not None:
            self.daemon.stop()

    def describe(self):
        d = getattr(self, "daemon", None)
        return f"mssim port {d.port}" if d and d.port else "mssim"


class SwtpmTransport(MssimTransport):
    """The daemon's swtpm data and control ports, through tpm2-tss's swtpm TCTI."""

    name = "swtpm"

    def setup(self, tmp):
        self.tmp = tmp
        self.state_dir = tmp.join("state")
        self.daemon = Daemon(self.state_dir, tmp.path, name="daemon", swtpm=True).start()

    def tool_env(self):
        return {"TPM2TOOLS_TCTI": f"swtpm:host=127.0.0.1,port={self.daemon.swtpm_port}"}

    def restart(self):
        rc = self.daemon.terminate()
        if rc != 0:
            raise DaemonError(f"tpm2emu serve exited with {rc} on SIGTERM (expected 0); "
                              f"stderr:\n{self.daemon.stderr()}")
        self.daemon = Daemon(self.state_dir, self.tmp.path, name="daemon-restarted",
                             swtpm=True).start()

    def describe(self):
        d = getattr(self, "daemon", None)
        return f"swtpm port {d.swtpm_port}" if d and d.swtpm_port else "swtpm"


class TctiTransport(Transport):
    name = "tcti"
    restart_power_cycles = False

    def setup(self, tmp):
        self.tmp = tmp
        self.state_dir = tmp.join("state")
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)

    def tool_env(self):
        env = {"TPM2TOOLS_TCTI": f"tpm2emu:{self.state_dir}"}
        ld = os.environ.get("LD_LIBRARY_PATH")
        env["LD_LIBRARY_PATH"] = CONFIG.tcti_dir + (":" + ld if ld else "")
        if CONFIG.asan_runtime:
            # tpm2-tools are not sanitized, but they dlopen our sanitized TCTI: the ASan runtime
            # must come first, and the tools' own leaks are not ours to report.
            preload = [CONFIG.asan_runtime]
            if CONFIG.asan_preload_shim:
                preload.append(CONFIG.asan_preload_shim)
            env["LD_PRELOAD"] = " ".join(preload)
            env["ASAN_OPTIONS"] = "detect_leaks=0"
        return env

    def restart(self):
        # Every tool process loads the state directory anew; nothing stays running in between.
        pass

    def describe(self):
        return f"tcti {self.state_dir}"


class ToolFailure(AssertionError):
    pass


class Tools:
    """Runs tpm2-tools through a Transport and checks exit codes with readable messages."""

    def __init__(self, transport, workdir):
        self.transport = transport
        self.workdir = workdir
        self.hung = None  # the first command that did not finish; later ones fail at once

    def env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TPM2TOOLS_", "TSS2_", "TPM2_PKCS11"))}
        env.update(self.transport.tool_env())
        return env

    def run(self, *args, ok=True, input=None):
        """Runs one tool. ok=True: must exit 0; ok=False: must exit non-zero; None: either."""
        argv = [str(a) for a in args]
        if self.hung:
            raise ToolFailure(f"[{self.transport.describe()}] {' '.join(argv)}: not run, "
                              f"because an earlier tool hung: {self.hung}")
        try:
            p = subprocess.run(argv, input=input, capture_output=True, timeout=TOOL_TIMEOUT_S,
                               cwd=self.workdir, env=self.env())
        except subprocess.TimeoutExpired as e:
            self.hung = " ".join(argv)
            raise ToolFailure(f"[{self.transport.describe()}] {' '.join(argv)}: did not finish "
                              f"in {TOOL_TIMEOUT_S}s (killed); stdout so far: "
                              f"{_text(e.stdout)}; stderr so far: {_text(e.stderr)}") from None
        out, err = _text(p.stdout), _text(p.stderr)
        if CONFIG.verbose_tools:
            print(f"$ {' '.join(argv)}  -> {p.returncode}\n{out}{err}", file=sys.stderr)
        if ok is True and p.returncode != 0:
            raise ToolFailure(f"[{self.transport.describe()}] {' '.join(argv)}: expected exit 0, "
                              f"got {p.returncode}\nstdout: {out}\nstderr: {err}")
        if ok is False and p.returncode == 0:
            raise ToolFailure(f"[{self.transport.describe()}] {' '.join(argv)}: expected a "
                              f"failure, got exit 0\nstdout: {out}\nstderr: {err}")
        p.out, p.err = out, err
        return p


def _text(b):
    if b is None:
        return ""
    return b.decode(errors="replace") if isinstance(b, bytes) else b


# ---------------------------------------------------------------------------------------------
# Small parsers for tpm2-tools' YAML-ish output (no PyYAML: stdlib only)


def parse_pcrread(text):
    """{'sha256': {16: bytes}, ...} from tpm2_pcrread output."""
    banks, bank = {}, None
    for line in text.splitlines():
        m = re.match(r"^\s*([a-z0-9_]+)\s*:\s*$", line)
        if m:
            bank = m.group(1)
            banks.setdefault(bank, {})
            continue
        m = re.match(r"^\s*(\d+)\s*:\s*0x([0-9A-Fa-f]+)\s*$", line)
        if m and bank is not None:
            banks[bank][int(m.group(1))] = bytes.fromhex(m.group(2))
    return banks


def parse_readclock(text):
    """{'time': int, 'clock': int, 'reset_count': int, 'restart_count': int, 'safe': str}."""
    out = {}
    for key in ("time", "clock", "reset_count", "restart_count"):
        m = re.search(rf"^\s*{key}\s*:\s*(\d+)\s*$", text, re.M)
        if m:
            out[key] = int(m.group(1))
    m = re.search(r"^\s*safe\s*:\s*(\S+)\s*$", text, re.M)
    if m:
        out["safe"] = m.group(1)
    return out


def parse_top_level_keys(text):
    """The set of unindented `key:` names in a YAML document."""
    return {m.group(1) for m in re.finditer(r"^([A-Za-z0-9_]+)\s*:", text, re.M)}


# ---------------------------------------------------------------------------------------------
# TPM commands as bytes and the mssim protocol


TPM_ST_NO_SESSIONS = 0x8001
TPM_ST_SESSIONS = 0x8002
TPM_ST_RSP_COMMAND = 0x00C4  # a TPM 1.2 tag answered by a 2.0 TPM

TPM_CC_STARTUP = 0x144
TPM_CC_GET_RANDOM = 0x17B
TPM_SU_CLEAR = 0x0000

TPM_RC_SUCCESS = 0x000
TPM_RC_BAD_TAG = 0x01E
TPM_RC_INITIALIZE = 0x100
TPM_RC_COMMAND_SIZE = 0x142
TPM_RC_COMMAND_CODE = 0x143

MSSIM_SIGNAL_POWER_ON = 1
MSSIM_SIGNAL_POWER_OFF = 2
MSSIM_SEND_COMMAND = 8
MSSIM_SIGNAL_NV_ON = 11
MSSIM_REMOTE_HANDSHAKE = 15
MSSIM_SESSION_END = 20


def tpm_command(cc, body=b"", tag=TPM_ST_NO_SESSIONS, size=None):
    if size is None:
        size = 10 + len(body)
    return struct.pack(">HII", tag, size, cc) + body


def startup_clear():
    return tpm_command(TPM_CC_STARTUP, struct.pack(">H", TPM_SU_CLEAR))


def get_random(n):
    return tpm_command(TPM_CC_GET_RANDOM, struct.pack(">H", n))


def parse_response(rsp):
    """(tag, size, rc) of a TPM response header; raises AssertionError when malformed."""
    if len(rsp) < 10:
        raise AssertionError(f"TPM response shorter than a header: {rsp.hex()}")
    tag, size, rc = struct.unpack(">HII", rsp[:10])
    if size != len(rsp):
        raise AssertionError(f"TPM response size field {size} != length {len(rsp)}: "
                             f"{rsp[:64].hex()}")
    return tag, size, rc


class ConnectionClosed(Exception):
    pass


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionClosed(f"closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def recv_until_close(sock, limit=1 << 20):
    """Everything the peer sends until it closes (or `limit` bytes)."""
    buf = b""
    while len(buf) < limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        buf += chunk
    return buf


def connect(port, timeout=10.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


class MssimClient:
    """A minimal client of the mssim command and platform ports."""

    def __init__(self, port, platform_port=None):
        self.port = port
        self.platform_port = platform_port if platform_port is not None else port + 1

    def platform(self, code):
        with connect(self.platform_port) as s:
            s.sendall(struct.pack(">I", code))
            (ack,) = struct.unpack(">I", recv_exact(s, 4))
            return ack

    def power_on_and_start(self):
        """Power on, NV on and Startup(CLEAR); returns Startup's response code."""
        assert self.platform(MSSIM_SIGNAL_POWER_ON) == 0
        assert self.platform(MSSIM_SIGNAL_NV_ON) == 0
        _, _, rc = parse_response(self.send_command(startup_clear()))
        return rc

    def send_command(self, cmd, locality=0, sock=None):
        """SEND_COMMAND on a fresh connection (or `sock`); returns the response bytes."""
        own = sock is None
        s = connect(self.port) if own else sock
        try:
            s.sendall(struct.pack(">IBI", MSSIM_SEND_COMMAND, locality, len(cmd)) + cmd)
            (rlen,) = struct.unpack(">I", recv_exact(s, 4))
            rsp = recv_exact(s, rlen)
            (trailer,) = struct.unpack(">I", recv_exact(s, 4))
            if trailer != 0:
                raise AssertionError(f"mssim SEND_COMMAND trailer {trailer:#x}, expected 0")
            if own:
                s.sendall(struct.pack(">I", MSSIM_SESSION_END))
            return rsp
        finally:
            if own:
                s.close()

    def get_random_ok(self, n=8):
        """True when GetRandom(n) answers TPM_RC_SUCCESS with n bytes."""
        rsp = self.send_command(get_random(n))
        tag, _, rc = parse_response(rsp)
        if tag != TPM_ST_NO_SESSIONS or rc != TPM_RC_SUCCESS:
            raise AssertionError(f"GetRandom({n}) answered tag {tag:#x} rc {rc:#x}")
        (count,) = struct.unpack(">H", rsp[10:12])
        if count != n or len(rsp) != 12 + n:
            raise AssertionError(f"GetRandom({n}) returned {count} bytes in {rsp.hex()}")
        return True
