#!/usr/bin/env python3
"""Crash test (STYLE §6, §10): an answered write is never lost, and a crash never leaves a state
that fails to load.

Many times over: start `tpm2emu serve` on one state directory, drive a stream of raw TPM commands
over the mssim socket (NV_DefineSpace, NV_Write, NV_Increment, NV_UndefineSpace, CreatePrimary +
EvictControl in and out of persistent handles), record every command whose success response
arrived, and SIGKILL the daemon from a timer thread at a random moment, so that kills land
mid-stream and mid-commit. Restart it on the same directory and check that it becomes ready and
that the TPM holds exactly what was acknowledged. The one command that was sent but not answered
when the kill landed may or may not have taken effect; both are fine, anything else is a failure:

  lost     an acknowledged effect is missing (an older value, a missing index or handle, an
           acknowledged undefine or evict undone, a counter below its acknowledged value or
           lower than it was seen before)
  corrupt  the state does not load, or holds something that was never written

Prints `crash test: N kills, W acknowledged writes checked, L lost, C corrupt` last and exits
non-zero on any loss or corruption.

Usage: crash_test.py --tpm2emu PATH [--seed N] [--kills N] [--max-delay-ms MS]
                     [--state-backup] [--state-key] [--stop-on-failure] [--log-kills] [--keep]
The default (25 kills) is the short form run by ctest; --kills 200 or more is the long form.
"""

import argparse
import copy
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

import harness
from harness import CONFIG, ConnectionClosed, Daemon, DaemonError, MssimClient, recv_exact

# TPM constants (Part 2)
ST_NO_SESSIONS = 0x8001
ST_SESSIONS = 0x8002
RS_PW = 0x40000009
RH_OWNER = 0x40000001

CC_NV_UNDEFINE_SPACE = 0x122
CC_EVICT_CONTROL = 0x120
CC_NV_DEFINE_SPACE = 0x12A
CC_CREATE_PRIMARY = 0x131
CC_NV_INCREMENT = 0x134
CC_NV_WRITE = 0x137
CC_NV_READ = 0x14E
CC_FLUSH_CONTEXT = 0x165
CC_NV_READ_PUBLIC = 0x169
CC_GET_CAPABILITY = 0x17A

CAP_HANDLES = 0x00000001
RC_NV_UNINITIALIZED = 0x14A

ALG_SHA256 = 0x000B
ALG_AES = 0x0006
ALG_CFB = 0x0043
ALG_SYMCIPHER = 0x0025

NV_OWNERWRITE = 1 << 1
NV_AUTHWRITE = 1 << 2
NV_TYPE_SHIFT = 4
NV_OWNERREAD = 1 << 17
NV_AUTHREAD = 1 << 18
NV_NO_DA = 1 << 25
NV_WRITTEN = 1 << 29
NT_ORDINARY = 0
NT_COUNTER = 1
NV_ATTRS = NV_OWNERWRITE | NV_AUTHWRITE | NV_OWNERREAD | NV_AUTHREAD | NV_NO_DA

# The entities the stream works on. Every one of them is checked after every restart.
ORD_POOL = [0x01500000 + i for i in range(8)]
CTR_POOL = [0x01510000 + i for i in range(6)]
PERSISTENT_POOL = [0x81000100 + i for i in range(6)]
ORD_SIZES = (8, 32, 100, 512)

MSSIM_SEND_COMMAND = 8


class Unacknowledged(Exception):
    """The connection ended before the response arrived (the daemon was killed)."""


class UnexpectedResponse(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Command frames


def command(cc, handles=(), params=b"", auth=False):
    body = b"".join(struct.pack(">I", h) for h in handles)
    tag = ST_NO_SESSIONS
    if auth:
        # One password session with an empty password (owner auth of a fresh TPM).
        session = struct.pack(">IHBH", RS_PW, 0, 0, 0)
        body += struct.pack(">I", len(session)) + session
        tag = ST_SESSIONS
    body += params
    return struct.pack(">HII", tag, 10 + len(body), cc) + body


def tpm2b(data):
    return struct.pack(">H", len(data)) + data


def nv_define(index, kind, size):
    nv_public = struct.pack(">IHIHH", index, ALG_SHA256,
                            NV_ATTRS | (kind << NV_TYPE_SHIFT), 0, size)
    return command(CC_NV_DEFINE_SPACE, (RH_OWNER,), tpm2b(b"") + tpm2b(nv_public), auth=True)


def nv_undefine(index):
    return command(CC_NV_UNDEFINE_SPACE, (RH_OWNER, index), auth=True)


def nv_write(index, data, offset):
    return command(CC_NV_WRITE, (RH_OWNER, index), tpm2b(data) + struct.pack(">H", offset),
                   auth=True)


def nv_increment(index):
    return command(CC_NV_INCREMENT, (RH_OWNER, index), auth=True)


def nv_read(index, size):
    return command(CC_NV_READ, (RH_OWNER, index), struct.pack(">HH", size, 0), auth=True)


def nv_read_public(index):
    return command(CC_NV_READ_PUBLIC, (index,))


def create_primary(unique):
    # A restricted AES-128-CFB storage key: derived with KDFa only, so it is cheap to create.
    attrs = ((1 << 1) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 16) | (1 << 17))
    public = (struct.pack(">HHI", ALG_SYMCIPHER, ALG_SHA256, attrs) + tpm2b(b"") +
              struct.pack(">HHH", ALG_AES, 128, ALG_CFB) + tpm2b(unique))
    sensitive = tpm2b(tpm2b(b"") + tpm2b(b""))
    params = sensitive + tpm2b(public) + tpm2b(b"") + struct.pack(">I", 0)
    return command(CC_CREATE_PRIMARY, (RH_OWNER,), params, auth=True)


def evict_control(object_handle, persistent_handle):
    return command(CC_EVICT_CONTROL, (RH_OWNER, object_handle),
                   struct.pack(">I", persistent_handle), auth=True)


def flush_context(handle):
    return command(CC_FLUSH_CONTEXT, params=struct.pack(">I", handle))


def get_capability_handles(first, count=64):
    return command(CC_GET_CAPABILITY, params=struct.pack(">III", CAP_HANDLES, first, count))


def response_code(rsp):
    if len(rsp) < 10:
        raise UnexpectedResponse(f"response shorter than a header: {rsp.hex()}")
    tag, size, rc = struct.unpack(">HII", rsp[:10])
    if size != len(rsp):
        raise UnexpectedResponse(f"size field {size} != length {len(rsp)}: {rsp[:32].hex()}")
    return rc


# ---------------------------------------------------------------------------------------------
# One connection to the mssim command port


class Connection:
    def __init__(self, port, timeout=20.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(timeout)

    def close(self):
        self.sock.close()

    def send(self, cmd):
        """The response bytes; Unacknowledged when the connection ends before all of them."""
        try:
            self.sock.sendall(struct.pack(">IBI", MSSIM_SEND_COMMAND, 0, len(cmd)) + cmd)
            (rlen,) = struct.unpack(">I", recv_exact(self.sock, 4))
            rsp = recv_exact(self.sock, rlen)
            recv_exact(self.sock, 4)
        except (ConnectionClosed, OSError) as e:
            raise Unacknowledged(str(e)) from None
        return rsp

    def expect_ok(self, cmd, what):
        rsp = self.send(cmd)
        rc = response_code(rsp)
        if rc != 0:
            raise UnexpectedResponse(f"{what}: TPM_RC {rc:#x}")
        return rsp


def parse_capability_handles(conn, first, last):
    handles = []
    start = first
    while True:
        rsp = conn.expect_ok(get_capability_handles(start), f"GetCapability(HANDLES, {start:#x})")
        more, cap, count = struct.unpack(">BII", rsp[10:19])
        batch = list(struct.unpack(f">{count}I", rsp[19:19 + 4 * count]))
        handles += [h for h in batch if first <= h <= last]
        if not more or not batch:
            return handles
        start = batch[-1] + 1


# ---------------------------------------------------------------------------------------------
# What the TPM must hold
#
# nv:         index -> {"kind": NT_ORDINARY, "size", "data": bytes or None (not written)}
#                   or {"kind": NT_COUNTER, "value": int or None (not written), "exact": bool}
#                   (a counter's first value is chosen by the TPM; until it is read, "value" is
#                   a lower bound and "exact" is False)
# persistent: the set of persistent handles


class Model:
    def __init__(self):
        self.nv = {}
        self.persistent = set()
        # The highest value any undefined counter may have had: a new counter starts above it
        # (Part 1 §34.2.6.3), so its first value is at least this plus one.
        self.deleted_counter_floor = 0

    def copy(self):
        return copy.deepcopy(self)


class Stats:
    def __init__(self):
        self.kills = 0
        self.acked = 0            # acknowledged writes since the last check
        self.checked = 0          # acknowledged writes checked after a restart
        self.commands = 0
        self.in_flight = 0        # kills that landed with a write unanswered
        self.in_flight_applied = 0
        self.lost = 0
        self.corrupt = 0
        self.died = 0             # the daemon exited by itself
        self.failures = []
        self.elapsed = 0.0

    def fail(self, kind, message):
        if kind == "lost":
            self.lost += 1
        else:
            self.corrupt += 1
        self.failures.append(f"{kind}: {message}")
        print(f"crash test: FAILURE ({kind}): {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The stream of writes


class Stream:
    """Picks and runs writes against the model. A write's effect is applied to the model when
    its success response arrives; while it is unanswered, `pending` holds the model as it
    would be with the write applied."""

    def __init__(self, rng, model, stats, history, seen_counters):
        self.rng = rng
        self.model = model
        self.stats = stats
        self.history = history        # ordinary index -> every value ever sent to it
        self.seen_counters = seen_counters  # counter index -> highest value ever observed
        self.pending = None           # (description, model with the write applied)
        self.write_seq = 0

    def run(self, conn):
        """Runs writes until the connection ends (Unacknowledged)."""
        while True:
            self.step(conn)

    def step(self, conn):
        m = self.model
        choices = []
        free_ord = [i for i in ORD_POOL if i not in m.nv]
        free_ctr = [i for i in CTR_POOL if i not in m.nv]
        ords = [i for i in ORD_POOL if i in m.nv]
        ctrs = [i for i in CTR_POOL if i in m.nv]
        free_persistent = [h for h in PERSISTENT_POOL if h not in m.persistent]
        if free_ord:
            choices.append((2, lambda: self.define(conn, self.rng.choice(free_ord), NT_ORDINARY)))
        if free_ctr:
            choices.append((1, lambda: self.define(conn, self.rng.choice(free_ctr), NT_COUNTER)))
        if ords:
            choices.append((10, lambda: self.write(conn, self.rng.choice(ords))))
        if ctrs:
            choices.append((8, lambda: self.increment(conn, self.rng.choice(ctrs))))
        if ords or ctrs:
            choices.append((2, lambda: self.read(conn, self.rng.choice(ords + ctrs))))
            choices.append((1, lambda: self.undefine(conn, self.rng.choice(ords + ctrs))))
        if free_persistent:
            choices.append((1, lambda: self.persist(conn, self.rng.choice(free_persistent))))
        if m.persistent:
            choices.append((1, lambda: self.evict(conn, self.rng.choice(sorted(m.persistent)))))
        total = sum(w for w, _ in choices)
        pick = self.rng.uniform(0, total)
        for weight, action in choices:
            pick -= weight
            if pick <= 0:
                return action()
        return choices[-1][1]()

    def mutate(self, conn, cmd, what, apply):
        """Sends a write; applies it to the model once it is acknowledged."""
        after = self.model.copy()
        apply(after)
        self.pending = (what, after)
        self.stats.commands += 1
        conn.expect_ok(cmd, what)
        self.model.__dict__.update(after.__dict__)
        self.pending = None
        self.stats.acked += 1

    def define(self, conn, index, kind):
        size = self.rng.choice(ORD_SIZES) if kind == NT_ORDINARY else 8

        def apply(m):
            if kind == NT_ORDINARY:
                m.nv[index] = {"kind": kind, "size": size, "data": None}
            else:
                m.nv[index] = {"kind": kind, "value": None, "exact": False}

        self.mutate(conn, nv_define(index, kind, size), f"NV_DefineSpace({index:#x})", apply)
        if kind == NT_ORDINARY:
            self.history[index] = []

    def write(self, conn, index):
        entry = self.model.nv[index]
        size = entry["size"]
        self.write_seq += 1
        # Distinct values: a sequence number, the index, then random bytes.
        value = struct.pack(">QI", self.write_seq, index) + self.rng.randbytes(size)
        if self.rng.random() < 0.8:
            offset, data = 0, value[:size]
        else:
            offset = self.rng.randrange(size)
            data = value[:self.rng.randrange(1, size - offset + 1)]
        old = entry["data"] if entry["data"] is not None else bytes(size)
        new = old[:offset] + data + old[offset + len(data):]
        self.history[index].append(new)

        def apply(m):
            m.nv[index]["data"] = new

        self.mutate(conn, nv_write(index, data, offset), f"NV_Write({index:#x}, {len(data)} bytes "
                    f"at {offset})", apply)

    def increment(self, conn, index):
        def apply(m):
            e = m.nv[index]
            if e["value"] is None:
                e["value"] = m.deleted_counter_floor + 1
                e["exact"] = False
            else:
                e["value"] += 1

        self.mutate(conn, nv_increment(index), f"NV_Increment({index:#x})", apply)

    def undefine(self, conn, index):
        def apply(m):
            e = m.nv.pop(index)
            if e["kind"] == NT_COUNTER and e["value"] is not None:
                m.deleted_counter_floor = max(m.deleted_counter_floor, e["value"])

        self.mutate(conn, nv_undefine(index), f"NV_UndefineSpace({index:#x})", apply)
        self.seen_counters.pop(index, None)

    def persist(self, conn, handle):
        unique = struct.pack(">I", handle)
        rsp = conn.expect_ok(create_primary(unique), "CreatePrimary")
        self.stats.commands += 1
        (transient,) = struct.unpack(">I", rsp[10:14])
        self.mutate(conn, evict_control(transient, handle),
                    f"EvictControl({transient:#x} -> {handle:#x})",
                    lambda m: m.persistent.add(handle))
        conn.expect_ok(flush_context(transient), f"FlushContext({transient:#x})")
        self.stats.commands += 1

    def evict(self, conn, handle):
        self.mutate(conn, evict_control(handle, handle), f"EvictControl({handle:#x} out)",
                    lambda m: m.persistent.discard(handle))

    def read(self, conn, index):
        """Reads an index while the TPM runs; a counter's value becomes exact."""
        e = self.model.nv[index]
        size = e["size"] if e["kind"] == NT_ORDINARY else 8
        self.stats.commands += 1
        rsp = conn.send(nv_read(index, size))
        rc = response_code(rsp)
        written = e["data"] is not None if e["kind"] == NT_ORDINARY else e["value"] is not None
        if rc == RC_NV_UNINITIALIZED and not written:
            return
        if rc != 0:
            raise UnexpectedResponse(f"NV_Read({index:#x}): TPM_RC {rc:#x} (written: {written})")
        data = nv_read_data(rsp)
        if e["kind"] == NT_ORDINARY:
            if data != e["data"]:
                raise UnexpectedResponse(f"NV_Read({index:#x}) while running: {data.hex()}, "
                                         f"expected {e['data'].hex() if e['data'] else None}")
        else:
            (value,) = struct.unpack(">Q", data)
            if not written or value < e["value"] or (e["exact"] and value != e["value"]):
                raise UnexpectedResponse(f"NV_Read({index:#x}) counter while running: {value}, "
                                         f"expected {'' if e['exact'] else '>= '}{e['value']}")
            e["value"], e["exact"] = value, True
            self.seen_counters[index] = max(self.seen_counters.get(index, 0), value)


def nv_read_data(rsp):
    # header | parameterSize | TPM2B_MAX_NV_BUFFER | session
    (n,) = struct.unpack(">H", rsp[14:16])
    return rsp[16:16 + n]


# ---------------------------------------------------------------------------------------------
# Checking a restarted TPM


def observe(conn):
    """What the TPM holds: ({index: observation}, set of persistent handles)."""
    nv = {}
    indices = parse_capability_handles(conn, 0x01000000, 0x01FFFFFF)
    for index in indices:
        if index not in ORD_POOL and index not in CTR_POOL:
            continue
        rsp = conn.expect_ok(nv_read_public(index), f"NV_ReadPublic({index:#x})")
        # header | TPM2B_NV_PUBLIC (u16, index u32, nameAlg u16, attrs u32, policy, size u16)
        (pub_size,) = struct.unpack(">H", rsp[10:12])
        pub = rsp[12:12 + pub_size]
        got_index, _, attrs, policy_size = struct.unpack(">IHIH", pub[:12])
        (size,) = struct.unpack(">H", pub[12 + policy_size:14 + policy_size])
        kind = (attrs >> NV_TYPE_SHIFT) & 0xF
        obs = {"kind": kind, "size": size, "attrs": attrs, "data": None}
        if attrs & NV_WRITTEN:
            rsp = conn.send(nv_read(index, size))
            rc = response_code(rsp)
            if rc != 0:
                obs["read_rc"] = rc
            else:
                obs["data"] = nv_read_data(rsp)
        nv[index] = obs
    persistent = set(h for h in parse_capability_handles(conn, 0x81000000, 0x81FFFFFF)
                     if h in PERSISTENT_POOL)
    return nv, persistent


def describe_nv(e):
    if e is None:
        return "undefined"
    if e["kind"] == NT_ORDINARY:
        return f"ordinary, {e['size']} bytes, " + (
            "not written" if e["data"] is None else f"data {e['data'][:16].hex()}...")
    if e["value"] is None:
        return "counter, not written"
    return f"counter {'=' if e['exact'] else '>='} {e['value']}"


def nv_matches(expected, obs):
    """True when the observation is the expected entity."""
    if expected is None:
        return obs is None
    if obs is None or obs["kind"] != expected["kind"] or "read_rc" in obs:
        return False
    if expected["kind"] == NT_ORDINARY:
        return obs["size"] == expected["size"] and obs["data"] == expected["data"]
    if obs["size"] != 8:
        return False
    if expected["value"] is None:
        return obs["data"] is None
    if obs["data"] is None:
        return False
    (value,) = struct.unpack(">Q", obs["data"])
    return value == expected["value"] if expected["exact"] else value >= expected["value"]


def check_restarted(conn, stream, stats, label):
    """Compares the TPM with the model (and the unanswered write, if any), then makes the
    model what the TPM holds."""
    model = stream.model
    candidates = [model]
    if stream.pending is not None:
        candidates.append(stream.pending[1])
    pending_what = stream.pending[0] if stream.pending else None
    nv, persistent = observe(conn)
    applied = False
    where = f"after {label}"

    for index in ORD_POOL + CTR_POOL:
        obs = nv.get(index)
        expected = [c.nv.get(index) for c in candidates]
        matched = [nv_matches(e, obs) for e in expected]
        if not any(matched):
            kind = classify_nv(index, expected[0], obs, stream)
            want = " or ".join(dict.fromkeys(describe_nv(e) for e in expected))
            got = "undefined" if obs is None else describe_observation(obs)
            stats.fail(kind, f"{where}: index {index:#x} holds {got}; acknowledged: {want}"
                             + (f" (unanswered: {pending_what})" if pending_what else ""))
        elif len(matched) == 2 and matched[1] and not matched[0]:
            applied = True
        if obs is not None and obs["kind"] == NT_COUNTER and obs["data"] is not None:
            (value,) = struct.unpack(">Q", obs["data"])
            seen = stream.seen_counters.get(index)
            if seen is not None and value < seen:
                stats.fail("lost", f"{where}: counter {index:#x} went backwards from {seen} to "
                                   f"{value}")
            stream.seen_counters[index] = max(seen or 0, value)

    for handle in PERSISTENT_POOL:
        present = handle in persistent
        expected = [handle in c.persistent for c in candidates]
        if present not in expected:
            stats.fail("lost", f"{where}: persistent handle {handle:#x} is "
                               f"{'present' if present else 'missing'}, acknowledged "
                               f"{'present' if expected[0] else 'absent'}"
                               + (f" (unanswered: {pending_what})" if pending_what else ""))
        elif len(expected) == 2 and present == expected[1] != expected[0]:
            applied = True

    if stream.pending is not None:
        stats.in_flight += 1
        stats.in_flight_applied += int(applied)
    stats.checked += stats.acked
    stats.acked = 0
    adopt(stream, nv, persistent)


def describe_observation(obs):
    if "read_rc" in obs:
        return f"an index whose NV_Read fails with TPM_RC {obs['read_rc']:#x}"
    if obs["kind"] == NT_ORDINARY:
        return f"ordinary, {obs['size']} bytes, " + (
            "not written" if obs["data"] is None else f"data {obs['data'][:16].hex()}...")
    if obs["kind"] == NT_COUNTER:
        if obs["data"] is None:
            return "counter, not written"
        return f"counter = {struct.unpack('>Q', obs['data'])[0]}"
    return f"an index of type {obs['kind']}"


def classify_nv(index, expected, obs, stream):
    """'lost' when the TPM holds an older acknowledged state, else 'corrupt'."""
    if obs is None or expected is None:
        return "lost"  # an acknowledged define or undefine was undone
    if "read_rc" in obs or obs["kind"] != expected["kind"]:
        return "corrupt"
    if expected["kind"] == NT_ORDINARY:
        if obs["data"] is None or obs["data"] in stream.history.get(index, []):
            return "lost"
        return "corrupt"
    if obs["data"] is None:
        return "lost"
    if expected["value"] is None:
        return "corrupt"  # written, though no increment was ever sent
    (value,) = struct.unpack(">Q", obs["data"])
    return "lost" if value < expected["value"] else "corrupt"


def adopt(stream, nv, persistent):
    m = stream.model
    for index in ORD_POOL + CTR_POOL:
        obs = nv.get(index)
        old = m.nv.get(index)
        if obs is None:
            if old is not None and old["kind"] == NT_COUNTER and old["value"] is not None:
                m.deleted_counter_floor = max(m.deleted_counter_floor, old["value"])
            m.nv.pop(index, None)
            stream.seen_counters.pop(index, None)
            continue
        if obs["kind"] == NT_ORDINARY:
            m.nv[index] = {"kind": NT_ORDINARY, "size": obs["size"], "data": obs["data"]}
            if old is None:
                stream.history[index] = []  # the unanswered define took effect
        else:
            value = struct.unpack(">Q", obs["data"])[0] if obs["data"] is not None else None
            m.nv[index] = {"kind": NT_COUNTER, "value": value, "exact": value is not None}
    m.persistent = set(persistent)
    stream.pending = None


# ---------------------------------------------------------------------------------------------
# The loop


def start_daemon(state_dir, log_dir, extra_args, name, stats):
    try:
        return Daemon(state_dir, log_dir, extra_args=extra_args, name=name).start()
    except DaemonError as e:
        stats.fail("corrupt", f"{name}: the state did not load: {e}")
        return None


def startup(daemon):
    client = MssimClient(daemon.port, daemon.platform_port)
    rc = client.power_on_and_start()
    if rc != 0:
        raise UnexpectedResponse(f"Startup(CLEAR) after restart: TPM_RC {rc:#x}")


def run(args):
    rng = random.Random(args.seed)
    stats = Stats()
    model = Model()
    stream = Stream(rng, model, stats, history={}, seen_counters={})
    tmp = harness.TempDir("tpm2emu-crash-")
    extra = []
    if args.state_backup:
        extra.append("--state-backup")
    if args.state_key:
        key_path = tmp.join("state.key")
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, rng.randbytes(32))
        os.close(fd)
        extra += ["--state-key", key_path]
    state_dir = tmp.join("state")
    started = time.monotonic()
    try:
        daemon = start_daemon(state_dir, tmp.path, extra, "start", stats)
        if daemon is None or not check(daemon, stream, stats, "the first start"):
            return stats
        for kill in range(1, args.kills + 1):
            conn = Connection(daemon.port)
            delay = rng.uniform(0, args.max_delay_ms / 1000.0)
            fired = threading.Event()
            cancel = threading.Event()
            pid = daemon.proc.pid

            def killer():
                if not cancel.wait(delay):
                    fired.set()
                    os.kill(pid, signal.SIGKILL)

            timer = threading.Thread(target=killer, daemon=True)
            timer.start()
            unexpected = False
            try:
                stream.run(conn)
            except Unacknowledged:
                pass
            except UnexpectedResponse as e:
                unexpected = True
                stats.fail("corrupt", f"round {kill}: {e}")
                cancel.set()
            finally:
                timer.join()
                conn.close()
            rc = daemon.kill9()
            if not unexpected and (rc != -signal.SIGKILL or not fired.is_set()):
                stats.died += 1
                stats.fail("corrupt", f"round {kill}: the daemon ended by itself (exit {rc}) "
                                      f"before the kill; stderr:\n{daemon.stderr()}")
            stats.kills += 1
            if args.log_kills:
                print(f"kill {kill}: after {delay * 1000:.0f} ms, "
                      f"{'a write unanswered' if stream.pending else 'between writes'}",
                      file=sys.stderr)
            daemon = start_daemon(state_dir, tmp.path, extra, f"restart-{kill}", stats)
            if daemon is None or not check(daemon, stream, stats, f"kill {kill}"):
                return stats
            if stats.failures and args.stop_on_failure:
                break
        # A clean stop keeps everything too.
        rc = daemon.terminate()
        if rc != 0:
            stats.fail("corrupt", f"SIGTERM: exit code {rc}; stderr:\n{daemon.stderr()}")
        daemon = start_daemon(state_dir, tmp.path, extra, "after-sigterm", stats)
        if daemon is not None and check(daemon, stream, stats, "a SIGTERM stop"):
            daemon.terminate()
    finally:
        stats.elapsed = time.monotonic() - started
        if stats.failures or args.keep:
            CONFIG.keep = True
        tmp.close()
    return stats


def check(daemon, stream, stats, label):
    """Starts the restarted TPM and checks it; False (a failure recorded) when it cannot."""
    try:
        startup(daemon)
        conn = Connection(daemon.port)
        try:
            check_restarted(conn, stream, stats, label)
        finally:
            conn.close()
        return True
    except (UnexpectedResponse, Unacknowledged, OSError) as e:
        stats.fail("corrupt", f"after {label}: the restarted TPM does not answer its "
                              f"checks: {e}; stderr:\n{daemon.stderr()}")
        daemon.stop()
        return False


def main():
    argv = harness.parse_args(sys.argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2321, help="random seed (default 2321)")
    parser.add_argument("--kills", type=int, default=25,
                        help="how many times to kill the daemon (default 25; 200+ is the long "
                             "form)")
    parser.add_argument("--max-delay-ms", type=float, default=250.0,
                        help="each kill lands uniformly within this long after the stream "
                             "starts (default 250)")
    parser.add_argument("--state-backup", action="store_true",
                        help="run the daemon with --state-backup")
    parser.add_argument("--state-key", action="store_true",
                        help="run the daemon with --state-key (a fresh random key)")
    parser.add_argument("--stop-on-failure", action="store_true",
                        help="stop at the first restart that finds a failure")
    parser.add_argument("--log-kills", action="store_true", help="describe every kill on stderr")
    args = parser.parse_args(argv[1:])
    args.keep = CONFIG.keep
    if not CONFIG.tpm2emu or not os.access(CONFIG.tpm2emu, os.X_OK):
        print(f"crash test: --tpm2emu {CONFIG.tpm2emu!r} is not an executable", file=sys.stderr)
        return 2
    stats = run(args)
    print(f"crash test: seed {args.seed}, {stats.commands} commands, {stats.in_flight} kills "
          f"with a write unanswered ({stats.in_flight_applied} of them applied), "
          f"{stats.elapsed:.1f} s")
    print(f"crash test: {stats.kills} kills, {stats.checked} acknowledged writes checked, "
          f"{stats.lost} lost, {stats.corrupt} corrupt", flush=True)
    return 1 if stats.lost or stats.corrupt or stats.kills < args.kills else 0


if __name__ == "__main__":
    sys.exit(main())
