#!/usr/bin/env python3
"""tpm2-tss's Feature API (FAPI) against tpm2emu, through the tss2_* command-line tools of
tpm2-tools: one scenario body, run once per transport (the mssim socket of `tpm2emu serve`, and
the in-process TCTI).

FAPI is configured from scratch in the test's temporary directory (TSS2_FAPICONF): the shipped
cryptographic profiles are copied there, and the user and system keystores, the event log
directory and HOME are all inside it, so nothing outside it is read as a keystore or written
(the last step checks Debian's default FAPI directories were left alone). EK certificates are
not provisioned by tpm2emu yet, so the configuration says `ek_cert_less`.

The workflow: provisioning (EK and persistent SRK of the RSA and the ECC profile), random
numbers, RSA and ECC signing keys with and without a password (signatures also checked with
openssl against the key exported by tss2_exportkey; a FAPI key handed to tpm2_sign through
tss2_gettpm2object), RSA-OAEP encryption (also of an openssl ciphertext), sealed data, NV
indices of the four types, PCR extension, quotes (the signature is also checked with openssl
over a TPMS_ATTEST rebuilt from FAPI's JSON), policies imported with tss2_import (PCR,
password, PolicyAuthorize with tss2_authorizepolicy, PolicySecret, PolicyNV,
PolicyCounterTimer, PolicyAuthorizeNV with tss2_writeauthorizenv, PolicyOR branches to change
an NV index's password and to duplicate a key with tss2_exportkey and import it again),
changing a key's password, descriptions, listing and deleting, and a TPM restart (daemon
restart / power cycle of the in-process TPM) after which the keystore's objects still work
under the persistent SRK. Policy digests that FAPI computes in software and the TPM enforces
are also computed here and compared with the objects' authPolicy; Names, qualified names, PCR
and NV extend values likewise. Wrong passwords must give the exact TPM response code.

Set TSS2_LOG (e.g. fapi+trace,esys+debug) in the environment to pass it on to the tools.

Usage: fapi_scenario_test.py --tpm2emu PATH [--tcti-dir DIR] [--asan-runtime LIB]
                             [--keep] [--verbose-tools] [unittest args, e.g. FapiMssimScenario]
"""

import hashlib
import json
import os
import re
import shutil
import struct

import harness
import scenario
from policy_scenario_test import CC, counter_timer_args, extend, pcr_selection, policy_update
from scenario import sha256

SHIPPED_PROFILE_DIR = "/etc/tpm2-tss/fapi-profiles"  # Debian 12, package libtss2-fapi1
RSA_PROFILE = "P_RSA2048SHA256"  # the default profile: paths like HS/SRK/key
ECC_PROFILE = "P_ECCP256SHA256"  # reached with /P_ECCP256SHA256/HS/SRK/key
RSA_SRK = 0x81000001
# Both shipped profiles put their SRK at 0x81000001, and provisioning a profile refuses a handle
# that is in use, so two profiles cannot share one TPM as shipped; the test's copy of the ECC
# profile moves its SRK to this handle (a configuration choice, nothing is relaxed).
ECC_SRK = 0x81000002
PERSISTENT_KEY = 0x81000010
# Debian's default FAPI locations; the scenario must not touch them.
DEFAULT_FAPI_DIRS = ("/var/lib/tpm2-tss", "/run/tpm2-tss", "/etc/tpm2-tss")

FAPI_TOOLS = ("tss2_provision", "tss2_getrandom", "tss2_createkey", "tss2_sign",
              "tss2_verifysignature", "tss2_exportkey", "tss2_encrypt", "tss2_decrypt",
              "tss2_createseal", "tss2_unseal", "tss2_createnv", "tss2_nvwrite", "tss2_nvread",
              "tss2_nvincrement", "tss2_nvsetbits", "tss2_nvextend", "tss2_pcrextend",
              "tss2_pcrread", "tss2_quote", "tss2_verifyquote", "tss2_import",
              "tss2_authorizepolicy", "tss2_exportpolicy", "tss2_gettpmblobs",
              "tss2_changeauth", "tss2_setdescription", "tss2_getdescription", "tss2_list",
              "tss2_delete", "tss2_getinfo")

TPM_ALG_SHA1 = 0x0004
TPM_ALG_SHA256 = 0x000B
TPM_ST_ATTEST_QUOTE = 0x8018
RC_AUTH_FAIL_S1 = scenario.RC_AUTH_FAIL_S1  # wrong password, DA-protected object
RC_BAD_AUTH_S1 = 0x9A2                 # wrong password, noDA object (no DA implications)
RC_POLICY_CC_S1 = 0x9A4                # TPM_RC_POLICY_CC, session 1
RC_POLICY = 0x126                      # TPM_RC_POLICY (PolicyNV's comparison is false)
RC_VALUE_P1 = 0x1C4                    # TPM_RC_VALUE, parameter 1 (PolicyPCR's pcrDigest)
TPM_EO_EQ = 0x0000
TPM_EO_UNSIGNED_GE = 0x0007
HASH_ALG = {"SHA1": TPM_ALG_SHA1, "SHA256": TPM_ALG_SHA256}
ZERO = bytes(32)

MESSAGE = b"a message signed through FAPI\n"
PCR = 16


# Software models ----------------------------------------------------------------------------

def policy_pcr(pcr_values):
    """PolicyPCR over SHA-256 PCRs {index: value} (Part 3 §23.7), from an empty policy."""
    pcrs = sorted(pcr_values)
    return extend(ZERO, "PolicyPCR", pcr_selection(TPM_ALG_SHA256, pcrs),
                  sha256(*(pcr_values[i] for i in pcrs)))


def policy_command_code(cc_name):
    return extend(ZERO, "PolicyCommandCode", struct.pack(">I", CC[cc_name]))


def policy_or(*branches):
    return extend(ZERO, "PolicyOR", *branches)


def parse_public(tpm2b):
    """(name, authPolicy) of a TPM2B_PUBLIC with nameAlg SHA-256 (Part 2 §12.2.4)."""
    r = scenario.Reader(tpm2b)
    area = r.b()
    if not r.done():
        raise AssertionError(f"trailing bytes after TPM2B_PUBLIC: {tpm2b.hex()}")
    a = scenario.Reader(area)
    a.u16()                                    # type
    name_alg = a.u16()
    if name_alg != TPM_ALG_SHA256:
        raise AssertionError(f"nameAlg {name_alg:#x}, expected SHA-256")
    a.u32()                                    # objectAttributes
    auth_policy = a.b()
    return struct.pack(">H", TPM_ALG_SHA256) + sha256(area), auth_policy


def attest_from_quote_info(info):
    """The TPMS_ATTEST bytes (Part 2 §10.12.12) that FAPI's JSON quote info describes."""
    a = info["attest"]
    clock = a["clockInfo"]
    selection = a["attested"]["pcrSelect"]
    pcrs = struct.pack(">I", len(selection))
    for bank in selection:
        bitmap = bytearray(3)
        for pcr in bank["pcrSelect"]:
            bitmap[pcr // 8] |= 1 << (pcr % 8)
        pcrs += struct.pack(">HB", HASH_ALG[bank["hash"]], 3) + bytes(bitmap)
    high, low = a["firmwareVersion"]
    return (struct.pack(">IH", scenario.TPM_GENERATED_VALUE, TPM_ST_ATTEST_QUOTE)
            + scenario.tpm2b(bytes.fromhex(a["qualifiedSigner"]))
            + scenario.tpm2b(bytes.fromhex(a["extraData"]))
            + struct.pack(">QIIB", clock["clock"], clock["resetCount"], clock["restartCount"],
                          1 if clock["safe"] == "YES" else 0)
            + struct.pack(">II", high, low)
            + pcrs + scenario.tpm2b(bytes.fromhex(a["attested"]["pcrDigest"])))


def snapshot(roots):
    """{path: (size, mtime_ns)} of everything below ROOTS (missing roots are empty)."""
    out = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                out[path] = (st.st_size, st.st_mtime_ns)
    return out


# The scenario -------------------------------------------------------------------------------

class FapiTools(harness.Tools):
    """harness.Tools plus FAPI's environment: its configuration file, a HOME inside the test's
    directory (FAPI expands ~ in paths) and TSS2_LOG when the caller set one."""

    def __init__(self, transport, workdir, extra_env):
        super().__init__(transport, workdir)
        self.extra_env = extra_env

    def env(self):
        env = super().env()
        env.update(self.extra_env)
        if os.environ.get("TSS2_LOG"):
            env["TSS2_LOG"] = os.environ["TSS2_LOG"]
        return env


class FapiScenarioBody(scenario.ScenarioBody):
    prefix = "tpm2emu-fapi"

    @classmethod
    def setUpClass(cls):
        cls.default_dirs_before = snapshot(DEFAULT_FAPI_DIRS)
        super().setUpClass()
        cls.fapi_dir = cls.tmp.join("fapi")
        cls.home = cls.tmp.join("home")
        cls.config = os.path.join(cls.fapi_dir, "fapi-config.json")
        cls.ecc_config = os.path.join(cls.fapi_dir, "fapi-config-ecc.json")
        cls.tools = FapiTools(cls.transport, cls.tmp.path,
                              {"TSS2_FAPICONF": cls.config, "HOME": cls.home})
        if cls.setup_error is None:
            try:
                cls.prepare_fapi()
            except Exception as e:  # reported by every step
                cls.setup_error = e

    @classmethod
    def check_prerequisites(cls):
        """Missing tools or profiles fail the scenario (with what to install); never a skip."""
        missing = [t for t in ("openssl", "tpm2_getcap") + FAPI_TOOLS if shutil.which(t) is None]
        if missing:
            raise AssertionError(f"missing {', '.join(missing)}: install tpm2-tools (the tss2_* "
                                 f"FAPI tools), libtss2-fapi1 and openssl "
                                 f"(scripts/install-deps.sh)")
        for profile in (RSA_PROFILE, ECC_PROFILE):
            path = os.path.join(SHIPPED_PROFILE_DIR, profile + ".json")
            if not os.path.isfile(path):
                raise AssertionError(f"FAPI profile {path} is missing (package libtss2-fapi1)")

    @classmethod
    def prepare_fapi(cls):
        profiles = os.path.join(cls.fapi_dir, "profiles")
        for d in (profiles, cls.home, os.path.join(cls.fapi_dir, "user"),
                  os.path.join(cls.fapi_dir, "system"), os.path.join(cls.fapi_dir, "log")):
            os.makedirs(d, mode=0o700, exist_ok=True)
        shutil.copy(os.path.join(SHIPPED_PROFILE_DIR, RSA_PROFILE + ".json"), profiles)
        # The shipped profiles are not strict JSON (trailing commas; FAPI's parser accepts
        # them), so the ECC profile's SRK handle is replaced as text.
        with open(os.path.join(SHIPPED_PROFILE_DIR, ECC_PROFILE + ".json")) as f:
            text = f.read()
        moved, count = re.subn(rf"\b{RSA_SRK:#010x}\b", f"{ECC_SRK:#010x}", text, flags=re.I)
        if count != 1:
            raise AssertionError(f"{ECC_PROFILE}: expected its srk_template to name "
                                 f"{RSA_SRK:#x} once, found it {count} times")
        with open(os.path.join(profiles, ECC_PROFILE + ".json"), "w") as f:
            f.write(moved)
        cls.write_configs()

    @classmethod
    def write_configs(cls):
        """The FAPI configuration files; the TCTI is the one tpm2-tools use (the daemon's port
        changes when it restarts)."""
        tcti = cls.transport.tool_env()["TPM2TOOLS_TCTI"]
        for path, profile in ((cls.config, RSA_PROFILE), (cls.ecc_config, ECC_PROFILE)):
            config = {
                "profile_name": profile,
                "profile_dir": os.path.join(cls.fapi_dir, "profiles") + "/",
                "user_dir": os.path.join(cls.fapi_dir, "user"),
                "system_dir": os.path.join(cls.fapi_dir, "system"),
                "log_dir": os.path.join(cls.fapi_dir, "log"),
                "tcti": tcti,
                "system_pcrs": [],
                "ek_cert_less": "yes",
            }
            with open(path, "w") as f:
                json.dump(config, f, indent=2)

    # helpers ---------------------------------------------------------------------------------

    def fapi(self, *args, ok=True, input=b"", config=None):
        """One tss2_* tool. Its password and branch prompts read stdin: INPUT answers them
        (empty by default, so a prompt nobody expected fails instead of waiting)."""
        if config is not None:
            self.tools.extra_env["TSS2_FAPICONF"] = config
        try:
            return self.tool(*args, ok=ok, input=input)
        finally:
            self.tools.extra_env["TSS2_FAPICONF"] = self.config

    def handles(self, kind):
        out = self.tool("tpm2_getcap", kind).out
        return {int(h, 16) for h in re.findall(r"0x[0-9A-Fa-f]+", out)}

    def fapi_list(self, path="/"):
        out = self.fapi("tss2_list", "-p", path, "-o", "-").out.strip()
        return set(out.split(":")) if out else set()

    def exported_pem(self, key, name):
        """The key's public key in PEM from tss2_exportkey (no new parent: public only)."""
        self.fapi("tss2_exportkey", "-p", key, "-o", self.p(name + ".json"), "-f")
        with open(self.p(name + ".json")) as f:
            exported = json.load(f)
        pem = exported.get("pem_ext_public", "")
        self.assertIn("BEGIN PUBLIC KEY", pem, f"tss2_exportkey -p {key}: {exported}")
        with open(self.p(name + ".pem"), "w") as f:
            f.write(pem)
        return self.p(name + ".pem")

    def public_blob(self, path, name):
        """(Name, authPolicy) of a keystore object, from the TPM2B_PUBLIC tss2_gettpmblobs
        gives."""
        self.fapi("tss2_gettpmblobs", "-p", path, "-u", self.p(name + ".pub"), "-f")
        return parse_public(self.read_file(name + ".pub"))

    def sign(self, key, digest_name, sig_name, password=None, input=None, ok=True):
        args = ["tss2_sign", "-p", key, "-d", self.p(digest_name), "-o", self.p(sig_name), "-f"]
        if input is None:
            input = b"" if password is None else password.encode() + b"\n"
        return self.fapi(*args, input=input, ok=ok)

    def verify_openssl(self, pem, sig_name, pss, what, data_name="message.txt"):
        args = ["dgst", "-sha256"]
        if pss:
            # RSASSA-PSS as the RSA profile says; openssl reads the salt length from the
            # signature.
            args += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:auto"]
        p = self.openssl(*args, "-verify", pem, "-signature", self.p(sig_name),
                         self.p(data_name), ok=False)
        self.assertEqual(p.returncode, 0, f"{what}: openssl rejects the signature: "
                                          f"{p.stdout!r} {p.stderr!r}")

    def unseal(self, path, out_name, input=b"", ok=True):
        p = self.fapi("tss2_unseal", "-p", path, "-o", self.p(out_name), "-f", input=input,
                      ok=ok)
        return self.read_file(out_name) if ok else p

    def pcr_value(self, bank, pcr):
        values = harness.parse_pcrread(self.tool("tpm2_pcrread", f"{bank}:{pcr}").out)
        self.assertIn(pcr, values.get(bank, {}), f"tpm2_pcrread {bank}:{pcr}")
        return values[bank][pcr]

    def import_policy(self, path, policy, name):
        with open(self.p(name), "w") as f:
            json.dump(policy, f)
        self.fapi("tss2_import", "-p", path, "-i", self.p(name))

    def import_pcr_policy(self, path, value, name):
        """A PolicyPCR on PCR 16 of the SHA-256 bank holding VALUE."""
        self.import_policy(path, {
            "description": f"PCR {PCR} holds {value.hex()}",
            "policy": [{"type": "POLICYPCR", "pcrs": [
                {"pcr": PCR, "hashAlg": "TPM2_ALG_SHA256", "digest": value.hex()}]}]}, name)

    def nv_define(self, path, nv_type, size=None, auth=""):
        """tss2_createnv; returns the new index's handle (the one tpm2_getcap did not list)."""
        before = self.handles("handles-nv-index")
        args = ["tss2_createnv", "-p", path, "-t", nv_type, "-a", auth]
        if size is not None:
            args += ["-s", size]
        self.fapi(*args)
        new = self.handles("handles-nv-index") - before
        self.assertEqual(len(new), 1, f"tss2_createnv {path}: new NV handles {new}")
        return new.pop()

    def nv_read(self, path, name, input=b"", ok=True):
        p = self.fapi("tss2_nvread", "-p", path, "-o", self.p(name), "-f", input=input, ok=ok)
        return self.read_file(name) if ok else p

    def tpm_nv_read(self, handle, name):
        """The index's contents read by tpm2-tools (with the index's empty password: FAPI's
        indices have AUTHREAD, not OWNERREAD), to compare with what FAPI reads."""
        self.tool("tpm2_nvread", f"{handle:#x}", "-o", self.p(name))
        return self.read_file(name)

    def nv_name(self, handle):
        out = self.tool("tpm2_nvreadpublic", f"{handle:#x}").out
        name = scenario.parse_yaml_field(out, "name")
        self.assertIsNotNone(name, f"tpm2_nvreadpublic {handle:#x}:\n{out}")
        return bytes.fromhex(name)

    def assert_nothing_loaded(self, what):
        """FAPI flushes what it loads (the persistent SRK needs no loading): nothing transient
        is left in the TPM after a successful command. (After a failed unseal, FAPI 3.2 leaves
        the sealed object loaded; the steps with one do not check this.)"""
        for kind in ("handles-transient", "handles-loaded-session"):
            self.assertEqual(self.handles(kind), set(), f"{kind} after {what}")

    def lockout_counter(self):
        out = self.tool("tpm2_getcap", "properties-variable").out
        m = re.search(r"TPM2_PT_LOCKOUT_COUNTER:\s*(0x[0-9A-Fa-f]+)", out)
        self.assertIsNotNone(m, f"no TPM2_PT_LOCKOUT_COUNTER in:\n{out}")
        return int(m.group(1), 16)

    def restart(self):
        """A TPM Reset stands for a reboot: FAPI's event log starts over, as its default
        log_dir (/run/tpm2-tss/eventlog, a tmpfs) would at boot; the PCRs it replays start at
        zero again."""
        super().restart()
        log_dir = os.path.join(self.fapi_dir, "log")
        shutil.rmtree(log_dir)
        os.makedirs(log_dir, mode=0o700)
        self.write_configs()

    # the scenario ----------------------------------------------------------------------------

    def test_01_provision(self):
        self.tool("tpm2_startup", "-c")
        self.fapi("tss2_provision")
        self.fapi("tss2_provision", config=self.ecc_config)
        persistent = self.handles("handles-persistent")
        for handle, profile in ((RSA_SRK, RSA_PROFILE), (ECC_SRK, ECC_PROFILE)):
            self.assertIn(handle, persistent, f"{profile}'s SRK after tss2_provision")
            # The keystore's SRK is the TPM's persistent object.
            pem = self.exported_pem(f"/{profile}/HS/SRK", f"srk-{profile}")
            self.tool("tpm2_readpublic", "-c", f"{handle:#x}", "-f", "pem",
                      "-o", self.p(f"srk-{profile}-tpm.pem"))
            tpm_key = self.openssl("pkey", "-pubin", "-in", self.p(f"srk-{profile}-tpm.pem"))
            fapi_key = self.openssl("pkey", "-pubin", "-in", pem)
            self.assertEqual(fapi_key.stdout, tpm_key.stdout,
                             f"{profile}: SRK in the keystore vs TPM object {handle:#x}")
        listed = self.fapi_list()
        for profile in (RSA_PROFILE, ECC_PROFILE):
            for path in ("HS", "HS/SRK", "HE", "HE/EK", "HN", "LOCKOUT"):
                self.assertIn(f"/{profile}/{path}", listed, "tss2_list after provisioning")
        # FAPI reports the configuration it runs with: ours, not /etc/tpm2-tss's.
        info = json.loads(self.fapi("tss2_getinfo", "-o", "-").out)
        self.assertEqual(info["fapi_config"]["system_dir"], os.path.join(self.fapi_dir, "system"))
        self.assertEqual(info["fapi_config"]["profile_name"], RSA_PROFILE)
        self.assertEqual(info["fapi_config"]["ek_cert_less"].lower(), "yes")
        p = self.fapi("tss2_provision", ok=False)
        self.assertIn("already provisioned", p.err.lower(), "tss2_provision a second time")

    def test_02_getrandom(self):
        samples = []
        for i in range(2):
            self.fapi("tss2_getrandom", "-n", 48, "-o", self.p(f"random{i}.bin"), "-f")
            samples.append(self.read_file(f"random{i}.bin"))
            self.assertEqual(len(samples[-1]), 48, "tss2_getrandom -n 48")
        self.assertNotEqual(samples[0], samples[1], "two tss2_getrandom calls gave the same bytes")
        self.assertNotEqual(samples[0], bytes(48), "tss2_getrandom gave zeros")

    def test_03_rsa_signing_keys(self):
        self.write_file("message.txt", MESSAGE)
        self.write_file("digest.bin", hashlib.sha256(MESSAGE).digest())
        self.write_file("other-digest.bin", hashlib.sha256(b"another message").digest())
        self.fapi("tss2_createkey", "-p", "HS/SRK/rsa_sign", "-t", "sign,noDa", "-a", "")
        self.fapi("tss2_createkey", "-p", "HS/SRK/rsa_sign_pw", "-t", "sign", "-a", "rsapw")
        for key, password in (("HS/SRK/rsa_sign", None), ("HS/SRK/rsa_sign_pw", "rsapw")):
            label = key.rsplit("/", 1)[1]
            self.sign(key, "digest.bin", f"{label}.sig", password)
            self.assertEqual(len(self.read_file(f"{label}.sig")), 256, f"{key}: RSA-2048 sig")
            self.fapi("tss2_verifysignature", "-p", key, "-d", self.p("digest.bin"),
                      "-i", self.p(f"{label}.sig"))
            self.fapi("tss2_verifysignature", "-p", key, "-d", self.p("other-digest.bin"),
                      "-i", self.p(f"{label}.sig"), ok=False)
            self.verify_openssl(self.exported_pem(key, label), f"{label}.sig", True, key)
        # A wrong password is refused by the TPM and counts as a dictionary-attack failure.
        before = self.lockout_counter()
        p = self.sign("HS/SRK/rsa_sign_pw", "digest.bin", "bad.sig", "wrong", ok=False)
        self.assert_rc(p, RC_AUTH_FAIL_S1, "tss2_sign with the wrong password")
        self.assertEqual(self.lockout_counter(), before + 1, "TPM_PT_LOCKOUT_COUNTER")
        self.clear_lockout()
        self.shared["rsa_pem"] = self.read_file("rsa_sign.pem")
        self.assert_nothing_loaded("FAPI's signing")
        # tss2_gettpm2object hands a FAPI key to tpm2-tools as a saved context (ContextSave in
        # one process, ContextLoad in the next).
        self.fapi("tss2_gettpm2object", "-p", "HS/SRK/rsa_sign", "-c", self.p("rsa_sign.ctx"),
                  "-f")
        self.tool("tpm2_sign", "-c", self.p("rsa_sign.ctx"), "-g", "sha256", "-s", "rsapss",
                  "-f", "plain", "-o", self.p("tools.sig"), self.p("message.txt"))
        self.verify_openssl(self.p("rsa_sign.pem"), "tools.sig", True,
                            "tpm2_sign with the context of a FAPI key")

    def test_04_ecc_signing_keys(self):
        for key, password in ((f"/{ECC_PROFILE}/HS/SRK/ecc_sign", None),
                              (f"/{ECC_PROFILE}/HS/SRK/ecc_sign_pw", "eccpw")):
            label = key.rsplit("/", 1)[1]
            self.fapi("tss2_createkey", "-p", key, "-t", "sign,noDa", "-a", password or "")
            self.sign(key, "digest.bin", f"{label}.sig", password)
            self.assertEqual(self.read_file(f"{label}.sig")[0], 0x30,
                             f"{key}: FAPI gives ECDSA signatures DER-encoded")
            self.fapi("tss2_verifysignature", "-p", key, "-d", self.p("digest.bin"),
                      "-i", self.p(f"{label}.sig"))
            self.fapi("tss2_verifysignature", "-p", key, "-d", self.p("other-digest.bin"),
                      "-i", self.p(f"{label}.sig"), ok=False)
            pem = self.exported_pem(key, label)
            self.assertIn("prime256v1", self.openssl("pkey", "-pubin", "-in", pem,
                                                     "-text", "-noout").stdout.decode(),
                          f"{key} is a NIST P-256 key")
            self.verify_openssl(pem, f"{label}.sig", False, key)
        p = self.sign(f"/{ECC_PROFILE}/HS/SRK/ecc_sign_pw", "digest.bin", "bad.sig", "wrong",
                      ok=False)
        self.assert_rc(p, RC_BAD_AUTH_S1, "ECC tss2_sign (noDA key), wrong password")
        self.shared["ecc_pem"] = self.read_file("ecc_sign.pem")
        self.assert_nothing_loaded("ECC signing")

    def test_05_encrypt_decrypt(self):
        self.fapi("tss2_createkey", "-p", "HS/SRK/rsa_dec", "-t", "decrypt,noDa", "-a", "")
        data = b"plaintext for the TPM's RSA-OAEP \x00\x01\xff"
        self.write_file("plain.bin", data)
        self.fapi("tss2_encrypt", "-p", "HS/SRK/rsa_dec", "-i", self.p("plain.bin"),
                  "-o", self.p("cipher.bin"), "-f")
        cipher = self.read_file("cipher.bin")
        self.assertEqual(len(cipher), 256, "tss2_encrypt: one RSA-2048 block")
        self.assertNotIn(data, cipher, "tss2_encrypt left the plaintext in the ciphertext")
        self.fapi("tss2_decrypt", "-p", "HS/SRK/rsa_dec", "-i", self.p("cipher.bin"),
                  "-o", self.p("decrypted.bin"), "-f")
        self.assertEqual(self.read_file("decrypted.bin"), data, "tss2_encrypt/tss2_decrypt")
        # The profile's scheme is OAEP with SHA-256: an openssl ciphertext decrypts too.
        pem = self.exported_pem("HS/SRK/rsa_dec", "rsa_dec")
        self.openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", pem, "-in", self.p("plain.bin"),
                     "-out", self.p("ossl-cipher.bin"), "-pkeyopt", "rsa_padding_mode:oaep",
                     "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256")
        self.fapi("tss2_decrypt", "-p", "HS/SRK/rsa_dec", "-i", self.p("ossl-cipher.bin"),
                  "-o", self.p("ossl-decrypted.bin"), "-f")
        self.assertEqual(self.read_file("ossl-decrypted.bin"), data,
                         "tss2_decrypt of openssl's RSA-OAEP-SHA256 ciphertext")
        self.shared["cipher"] = cipher
        self.shared["plain"] = data
        self.assert_nothing_loaded("encryption and decryption")

    def test_06_seal_unseal(self):
        secret = self.shared["secret"] = b"sealed by FAPI \x00 with a zero byte"
        self.write_file("secret.bin", secret)
        self.fapi("tss2_createseal", "-p", "HS/SRK/seal", "-t", "noDa", "-a", "",
                  "-i", self.p("secret.bin"))
        self.assertEqual(self.unseal("HS/SRK/seal", "unsealed.bin"), secret, "tss2_unseal")
        self.fapi("tss2_createseal", "-p", "HS/SRK/seal_pw", "-t", "noDa", "-a", "sealpw",
                  "-i", self.p("secret.bin"))
        self.assertEqual(self.unseal("HS/SRK/seal_pw", "unsealed-pw.bin", input=b"sealpw\n"),
                         secret, "tss2_unseal with its password")
        p = self.unseal("HS/SRK/seal_pw", "unsealed-bad.bin", input=b"wrong\n", ok=False)
        self.assert_rc(p, RC_BAD_AUTH_S1, "tss2_unseal (noDA) with a wrong password")
        # Without data, the TPM makes the secret up (TPM2_GetRandom + Create).
        self.fapi("tss2_createseal", "-p", "HS/SRK/seal_random", "-t", "noDa", "-a", "",
                  "-s", 32)
        made_up = self.unseal("HS/SRK/seal_random", "unsealed-random.bin")
        self.assertEqual(len(made_up), 32, "tss2_createseal -s 32")
        self.assertEqual(self.unseal("HS/SRK/seal_random", "unsealed-random2.bin"), made_up,
                         "the random sealed secret unseals to the same bytes twice")

    def test_07_nv_indices(self):
        # Ordinary index with a password.
        handle = self.nv_define("/nv/Owner/ordinary", "noDa", size=64, auth="nvpw")
        data = b"FAPI wrote this into an ordinary index"
        self.write_file("nv-data.bin", data)
        self.fapi("tss2_nvwrite", "-p", "/nv/Owner/ordinary", "-i", self.p("nv-data.bin"),
                  input=b"nvpw\n")
        got = self.nv_read("/nv/Owner/ordinary", "nv-read.bin", input=b"nvpw\n")
        self.assertEqual(got[:len(data)], data, "tss2_nvread of what tss2_nvwrite wrote")
        p = self.nv_read("/nv/Owner/ordinary", "nv-bad.bin", input=b"wrong\n", ok=False)
        self.assert_rc(p, RC_BAD_AUTH_S1, "tss2_nvread (noDA) with a wrong password")
        self.shared["nv_ordinary"] = (handle, data)

        # Counter: each increment adds one; tpm2-tools read the same value.
        handle = self.nv_define("/nv/Owner/counter", "counter,noDa")
        self.fapi("tss2_nvincrement", "-p", "/nv/Owner/counter")
        first = struct.unpack(">Q", self.nv_read("/nv/Owner/counter", "ctr1.bin"))[0]
        self.fapi("tss2_nvincrement", "-p", "/nv/Owner/counter")
        second = self.nv_read("/nv/Owner/counter", "ctr2.bin")
        self.assertEqual(struct.unpack(">Q", second)[0], first + 1, "tss2_nvincrement")
        self.assertEqual(self.tpm_nv_read(handle, "ctr-tpm.bin"), second,
                         "the counter read by tpm2_nvread")
        self.shared["nv_counter"] = first + 1

        # Bit field: bits are ORed in.
        handle = self.nv_define("/nv/Owner/bits", "bitfield,noDa")
        self.fapi("tss2_nvsetbits", "-p", "/nv/Owner/bits", "-i", "0x5")
        self.fapi("tss2_nvsetbits", "-p", "/nv/Owner/bits", "-i", "0x8100")
        bits = self.nv_read("/nv/Owner/bits", "bits.bin")
        self.assertEqual(struct.unpack(">Q", bits)[0], 0x8105, "tss2_nvsetbits 0x5 then 0x8100")
        self.assertEqual(self.tpm_nv_read(handle, "bits-tpm.bin"), bits)

        # Extend ("pcr" type): H(old || data), FAPI passes the data itself to NV_Extend.
        handle = self.nv_define("/nv/Owner/extend", "pcr,noDa")
        expected = ZERO
        for event in (b"first event", b"second event"):
            self.write_file("event.bin", event)
            self.fapi("tss2_nvextend", "-p", "/nv/Owner/extend", "-i", self.p("event.bin"))
            expected = sha256(expected, event)
        self.assertEqual(self.nv_read("/nv/Owner/extend", "extend.bin"), expected,
                         "extend index after two tss2_nvextend")
        self.assertEqual(self.tpm_nv_read(handle, "extend-tpm.bin"), expected)
        self.shared["nv_extend"] = expected
        self.assert_nothing_loaded("the NV steps")

    def test_08_pcr_extend_read(self):
        old256, old1 = self.pcr_value("sha256", PCR), self.pcr_value("sha1", PCR)
        self.fapi("tss2_pcrread", "-x", PCR, "-o", self.p("pcr-before.bin"), "-f")
        self.assertEqual(self.read_file("pcr-before.bin"), old256,
                         "tss2_pcrread (the profile's SHA-256 bank) vs tpm2_pcrread")
        event = b"measured by FAPI"
        self.write_file("measured.bin", event)
        self.fapi("tss2_pcrextend", "-x", PCR, "-i", self.p("measured.bin"))
        # TPM2_PCR_Event: every bank is extended with the digest of the data in its algorithm.
        new256 = sha256(old256, hashlib.sha256(event).digest())
        new1 = hashlib.sha1(old1 + hashlib.sha1(event).digest()).digest()
        self.assertEqual(self.pcr_value("sha256", PCR), new256, "SHA-256 PCR after extend")
        self.assertEqual(self.pcr_value("sha1", PCR), new1, "SHA-1 PCR after extend")
        self.fapi("tss2_pcrread", "-x", PCR, "-o", self.p("pcr-after.bin"), "-l",
                  self.p("pcr-log.json"), "-f")
        self.assertEqual(self.read_file("pcr-after.bin"), new256, "tss2_pcrread after extend")
        with open(self.p("pcr-log.json")) as f:
            log = json.load(f)
        digests = {d["hashAlg"]: d["digest"] for e in log if e.get("pcr") == PCR
                   for d in e["digests"]}
        self.assertEqual(digests.get("SHA256"), hashlib.sha256(event).hexdigest(),
                         f"FAPI's event log for PCR {PCR}: {log}")

    def test_09_quote(self):
        self.write_file("nonce.bin", b"fresh nonce 1234")
        self.write_file("other-nonce.bin", b"stale nonce 9876")
        pcr_digest = sha256(self.pcr_value("sha256", PCR))
        for key, pss in (("HS/SRK/ak", True), (f"/{ECC_PROFILE}/HS/SRK/ak", False)):
            label = "ak-" + ("rsa" if pss else "ecc")
            self.fapi("tss2_createkey", "-p", key, "-t", "sign,restricted,noDa", "-a", "")
            # Only PCR 16: FAPI replays its event log from zero, but PCRs 17-22 start at all
            # ones (PC Client D-RTM PCRs), so tss2_verifyquote cannot check them.
            self.fapi("tss2_quote", "-p", key, "-x", str(PCR), "-Q", self.p("nonce.bin"),
                      "-q", self.p(f"{label}.quote.json"), "-o", self.p(f"{label}.sig"),
                      "-l", self.p(f"{label}.log.json"), "-f")
            with open(self.p(f"{label}.quote.json")) as f:
                info = json.load(f)
            attested = info["attest"]
            self.assertEqual(attested["type"], "ATTEST_QUOTE")
            self.assertEqual(bytes.fromhex(attested["extraData"]), b"fresh nonce 1234",
                             "the quote's extraData is the nonce")
            self.assertEqual(bytes.fromhex(attested["attested"]["pcrDigest"]), pcr_digest,
                             f"the quote's pcrDigest is H(PCR {PCR})")
            name, _ = self.public_blob(key, label)
            srk = RSA_SRK if pss else ECC_SRK
            srk_qn = scenario.qualified_name(scenario.hierarchy_qn(scenario.TPM_RH_OWNER),
                                             self.name_of(f"{srk:#x}", f"srk-{srk:x}.name"))
            self.assertEqual(bytes.fromhex(attested["qualifiedSigner"]),
                             scenario.qualified_name(srk_qn, name),
                             "qualifiedSigner is the AK's Qualified Name (Part 1 §16)")
            quote = ["-Q", self.p("nonce.bin"), "-q", self.p(f"{label}.quote.json"),
                     "-i", self.p(f"{label}.sig"), "-l", self.p(f"{label}.log.json")]
            self.fapi("tss2_verifyquote", "-k", key, *quote)
            bad_nonce = quote[:]
            bad_nonce[1] = self.p("other-nonce.bin")
            self.fapi("tss2_verifyquote", "-k", key, *bad_nonce, ok=False)
            # The signature, checked by openssl over the TPMS_ATTEST the JSON describes.
            self.write_file(f"{label}.attest", attest_from_quote_info(info))
            self.verify_openssl(self.exported_pem(key, label), f"{label}.sig", pss,
                                f"{key}'s quote", data_name=f"{label}.attest")
        self.assert_nothing_loaded("quotes")

    def test_10_pcr_and_password_policies(self):
        pcr = self.pcr_value("sha256", PCR)
        self.import_pcr_policy("/policy/pcr16", pcr, "pol-pcr.json")
        self.import_policy("/policy/password", {
            "description": "the object's password",
            "policy": [{"type": "POLICYPASSWORD"}]}, "pol-password.json")
        self.fapi("tss2_createseal", "-p", "HS/SRK/seal_pcr", "-P", "/policy/pcr16", "-t",
                  "noDa", "-a", "", "-i", self.p("secret.bin"))
        self.fapi("tss2_createseal", "-p", "HS/SRK/seal_policypw", "-P", "/policy/password",
                  "-t", "noDa", "-a", "polpw", "-i", self.p("secret.bin"))
        secret = self.shared["secret"]
        # FAPI computes the policy digest in software, the TPM enforces it: both must be
        # Part 3's.
        _, auth_policy = self.public_blob("HS/SRK/seal_pcr", "seal_pcr")
        self.assertEqual(auth_policy, policy_pcr({PCR: pcr}), "authPolicy of the PCR seal")
        _, auth_policy = self.public_blob("HS/SRK/seal_policypw", "seal_policypw")
        self.assertEqual(auth_policy, extend(ZERO, "PolicyAuthValue"),
                         "authPolicy of the PolicyPassword seal")
        self.assertEqual(self.unseal("HS/SRK/seal_pcr", "pcr-unsealed.bin"), secret,
                         "unseal under the PCR policy")
        self.assertEqual(self.unseal("HS/SRK/seal_policypw", "pw-unsealed.bin",
                                     input=b"polpw\n"), secret,
                         "unseal under PolicyPassword")
        p = self.unseal("HS/SRK/seal_policypw", "pw-bad.bin", input=b"wrong\n", ok=False)
        self.assert_rc(p, RC_BAD_AUTH_S1, "PolicyPassword with the wrong password")
        # Once PCR 16 moves on, PolicyPCR refuses (its pcrDigest no longer matches).
        self.write_file("event2.bin", b"the PCR moves on")
        self.fapi("tss2_pcrextend", "-x", PCR, "-i", self.p("event2.bin"))
        p = self.unseal("HS/SRK/seal_pcr", "pcr-bad.bin", ok=False)
        self.assert_rc(p, RC_VALUE_P1, "PolicyPCR after the PCR changed")

    def test_11_authorize_policy(self):
        self.fapi("tss2_createkey", "-p", "HS/SRK/policy_signer", "-t", "sign,noDa", "-a", "")
        self.import_policy("/policy/authorized", {
            "description": "whatever policy_signer authorizes",
            "policy": [{"type": "POLICYAUTHORIZE", "keyPath": "/HS/SRK/policy_signer"}]},
            "pol-authorize.json")
        self.fapi("tss2_createseal", "-p", "HS/SRK/seal_authorized", "-P", "/policy/authorized",
                  "-t", "noDa", "-a", "", "-i", self.p("secret.bin"))
        signer_name, _ = self.public_blob("HS/SRK/policy_signer", "policy_signer")
        _, auth_policy = self.public_blob("HS/SRK/seal_authorized", "seal_authorized")
        self.assertEqual(auth_policy, policy_update(ZERO, "PolicyAuthorize", signer_name),
                         "authPolicy of the PolicyAuthorize seal")
        # Nothing is authorized yet: FAPI finds no policy to satisfy it.
        self.unseal("HS/SRK/seal_authorized", "auth-none.bin", ok=False)
        pcr = self.pcr_value("sha256", PCR)
        self.import_pcr_policy("/policy/pcr16_now", pcr, "pol-pcr-now.json")
        self.fapi("tss2_authorizepolicy", "-P", "/policy/pcr16_now", "-p", "HS/SRK/policy_signer")
        exported = json.loads(self.fapi("tss2_exportpolicy", "-p", "/policy/pcr16_now",
                                        "-o", "-").out)
        digests = {d["hashAlg"]: d["digest"] for d in exported["policyDigests"]}
        self.assertEqual(digests.get("SHA256"), policy_pcr({PCR: pcr}).hex(),
                         "the authorized policy's digest")
        self.assertTrue(exported.get("policyAuthorizations"), "tss2_authorizepolicy signature")
        # Unsealing runs PolicyPCR, VerifySignature (ticket) and PolicyAuthorize in the TPM.
        self.assertEqual(self.unseal("HS/SRK/seal_authorized", "auth-unsealed.bin"),
                         self.shared["secret"], "unseal under the authorized PCR policy")
        self.write_file("event3.bin", b"and moves on again")
        self.fapi("tss2_pcrextend", "-x", PCR, "-i", self.p("event3.bin"))
        p = self.unseal("HS/SRK/seal_authorized", "auth-bad.bin", ok=False)
        self.assert_rc(p, RC_VALUE_P1, "authorized PolicyPCR after the PCR changed")

    def test_12_more_policies(self):
        """PolicySecret (a key's password), PolicyNV, PolicyCounterTimer and PolicyAuthorizeNV
        (tss2_writeauthorizenv), each digest checked in software; an NV index whose PolicyOR
        allows TPM2_NV_ChangeAuth."""
        secret = self.shared["secret"]
        self.fapi("tss2_createkey", "-p", "HS/SRK/gatekeeper", "-t", "sign,noDa", "-a", "gatepw")
        gate_name, _ = self.public_blob("HS/SRK/gatekeeper", "gatekeeper")
        nv_gate = self.nv_define("/nv/Owner/gate", "noDa", size=8)
        self.write_file("seven.bin", struct.pack(">Q", 7))
        self.fapi("tss2_nvwrite", "-p", "/nv/Owner/gate", "-i", self.p("seven.bin"))
        operand = struct.pack(">Q", 7)
        clock_min = struct.pack(">Q", 1)
        cases = (
            ("secret", {"type": "POLICYSECRET", "objectPath": "HS/SRK/gatekeeper"},
             policy_update(ZERO, "PolicySecret", gate_name), b"gatepw\n"),
            ("nv", {"type": "POLICYNV", "nvPath": "/nv/Owner/gate", "operandB": operand.hex(),
                    "operation": "EQ"},
             extend(ZERO, "PolicyNV", counter_timer_args(operand, 0, TPM_EO_EQ),
                    self.nv_name(nv_gate)), b""),
            # TPMS_TIME_INFO offset 8: the Clock, which has moved past 1 ms by now.
            ("clock", {"type": "POLICYCOUNTERTIMER", "operandB": clock_min.hex(), "offset": 8,
                       "operation": "UNSIGNED_GE"},
             extend(ZERO, "PolicyCounterTimer", counter_timer_args(clock_min, 8,
                                                                   TPM_EO_UNSIGNED_GE)), b""),
        )
        for label, element, digest, answer in cases:
            self.import_policy(f"/policy/{label}", {"description": label, "policy": [element]},
                               f"pol-{label}.json")
            self.fapi("tss2_createseal", "-p", f"HS/SRK/seal_{label}", "-P", f"/policy/{label}",
                      "-t", "noDa", "-a", "", "-i", self.p("secret.bin"))
            _, auth_policy = self.public_blob(f"HS/SRK/seal_{label}", f"seal_{label}")
            self.assertEqual(auth_policy, digest, f"authPolicy of the {label} seal")
            self.assertEqual(self.unseal(f"HS/SRK/seal_{label}", f"{label}.out", input=answer),
                             secret, f"unseal under the {label} policy")
        # PolicyNV compares the index with 7: once it holds 8, the policy fails.
        self.write_file("eight.bin", struct.pack(">Q", 8))
        self.fapi("tss2_nvwrite", "-p", "/nv/Owner/gate", "-i", self.p("eight.bin"))
        p = self.unseal("HS/SRK/seal_nv", "nv-bad.out", ok=False)
        self.assert_rc(p, RC_POLICY, "PolicyNV once the index changed")

        # PolicyAuthorizeNV: the policy to satisfy is the one written into the index.
        nv_policy = self.nv_define("/nv/Owner/policy_store", "noDa", size=34)
        self.fapi("tss2_writeauthorizenv", "-p", "/nv/Owner/policy_store",
                  "-P", "/policy/password")
        self.assertEqual(self.tpm_nv_read(nv_policy, "policy-store.bin"),
                         struct.pack(">H", TPM_ALG_SHA256) + extend(ZERO, "PolicyAuthValue"),
                         "tss2_writeauthorizenv writes a TPMT_HA of the policy")
        self.import_policy("/policy/authorize_nv", {
            "description": "the policy in /nv/Owner/policy_store",
            "policy": [{"type": "POLICYAUTHORIZENV", "nvPath": "/nv/Owner/policy_store"}]},
            "pol-authorize-nv.json")
        self.fapi("tss2_createseal", "-p", "HS/SRK/seal_authorize_nv", "-P",
                  "/policy/authorize_nv", "-t", "noDa", "-a", "sealpw2",
                  "-i", self.p("secret.bin"))
        _, auth_policy = self.public_blob("HS/SRK/seal_authorize_nv", "seal_authorize_nv")
        self.assertEqual(auth_policy, extend(ZERO, "PolicyAuthorizeNV", self.nv_name(nv_policy)),
                         "authPolicy of the PolicyAuthorizeNV seal")
        self.assertEqual(self.unseal("HS/SRK/seal_authorize_nv", "authorize-nv.out",
                                     input=b"sealpw2\n"), secret,
                         "unseal under PolicyAuthorizeNV (PolicyPassword in the index)")

        # An index whose policy has a branch for TPM2_NV_ChangeAuth (the ADMIN role always
        # needs a policy); the tools ask for the branch, then the password, on stdin.
        self.import_policy("/policy/nv_admin", {
            "description": "change the password or use the index",
            "policy": [{"type": "POLICYOR", "branches": [
                {"name": "changeauth", "description": "change the password", "policy": [
                    {"type": "POLICYCOMMANDCODE", "code": "NV_CHANGEAUTH"},
                    {"type": "POLICYPASSWORD"}]},
                {"name": "use", "description": "read and write",
                 "policy": [{"type": "POLICYPASSWORD"}]}]}]}, "pol-nv-admin.json")
        before = self.handles("handles-nv-index")
        self.fapi("tss2_createnv", "-p", "/nv/Owner/rekeyed", "-s", 16, "-t", "noDa",
                  "-P", "/policy/nv_admin", "-a", "nvold")
        self.assertEqual(len(self.handles("handles-nv-index") - before), 1, "tss2_createnv -P")
        self.write_file("rekeyed.bin", b"kept across it")
        self.fapi("tss2_nvwrite", "-p", "/nv/Owner/rekeyed", "-i", self.p("rekeyed.bin"),
                  input=b"2\nnvold\n")
        self.fapi("tss2_changeauth", "-p", "/nv/Owner/rekeyed", "-a", "nvnew",
                  input=b"1\nnvold\n")
        got = self.nv_read("/nv/Owner/rekeyed", "rekeyed-read.bin", input=b"2\nnvnew\n")
        self.assertEqual(got[:14], b"kept across it", "tss2_nvread with the new password")
        p = self.nv_read("/nv/Owner/rekeyed", "rekeyed-bad.bin", input=b"2\nnvold\n", ok=False)
        self.assert_rc(p, RC_BAD_AUTH_S1, "the index's old password")

    def test_13_duplicate_and_import(self):
        """tss2_exportkey -e duplicates an exportable key to a new parent (the SRK's public part,
        imported under /ext), tss2_import brings it back under the SRK; a PolicyOR lets the key
        be duplicated (TPM2_Duplicate needs the DUP role) or sign."""
        self.fapi("tss2_exportkey", "-p", "HS/SRK", "-o", self.p("srk-export.json"), "-f")
        self.fapi("tss2_import", "-p", "/ext/new_parent", "-i", self.p("srk-export.json"))
        self.import_policy("/policy/duplicate_or_sign", {
            "description": "duplicate or sign",
            "policy": [{"type": "POLICYOR", "branches": [
                {"name": "export", "description": "duplication",
                 "policy": [{"type": "POLICYCOMMANDCODE", "code": "DUPLICATE"}]},
                {"name": "sign", "description": "signing",
                 "policy": [{"type": "POLICYCOMMANDCODE", "code": "SIGN"}]}]}]},
            "pol-or.json")
        self.fapi("tss2_createkey", "-p", "HS/SRK/movable", "-t", "sign,exportable,noDa",
                  "-P", "/policy/duplicate_or_sign", "-a", "")
        _, auth_policy = self.public_blob("HS/SRK/movable", "movable")
        self.assertEqual(auth_policy, policy_or(policy_command_code("Duplicate"),
                                                policy_command_code("Sign")),
                         "authPolicy of the exportable key")
        # The tools ask which PolicyOR branch to take on stdin: 1 export, 2 sign.
        self.fapi("tss2_exportkey", "-p", "HS/SRK/movable", "-e", "/ext/new_parent",
                  "-o", self.p("duplicate.json"), "-f", input=b"1\n")
        with open(self.p("duplicate.json")) as f:
            self.assertIn("duplicate", json.load(f), "tss2_exportkey -e output")
        # FAPI files the imported key under the new parent's path (HS/SRK).
        self.fapi("tss2_import", "-p", "moved", "-i", self.p("duplicate.json"))
        self.assertIn(f"/{RSA_PROFILE}/HS/SRK/moved", self.fapi_list(), "imported key listed")
        self.sign("HS/SRK/moved", "digest.bin", "moved.sig", input=b"2\n")
        original = self.openssl("pkey", "-pubin", "-in",
                                self.exported_pem("HS/SRK/movable", "movable")).stdout
        pem = self.exported_pem("HS/SRK/moved", "moved")
        self.assertEqual(self.openssl("pkey", "-pubin", "-in", pem).stdout, original,
                         "the imported key is the duplicated one")
        self.verify_openssl(pem, "moved.sig", True, "signature of the imported key")
        # The export branch does not authorize signing.
        p = self.sign("HS/SRK/moved", "digest.bin", "moved-bad.sig", input=b"1\n", ok=False)
        self.assert_rc(p, RC_POLICY_CC_S1, "signing under the export branch")

    def test_14_changeauth(self):
        self.fapi("tss2_createkey", "-p", "HS/SRK/rekeyed", "-t", "sign,noDa", "-a", "oldpw")
        self.fapi("tss2_changeauth", "-p", "HS/SRK/rekeyed", "-a", "newpw", input=b"oldpw\n")
        self.sign("HS/SRK/rekeyed", "digest.bin", "rekeyed.sig", "newpw")
        self.verify_openssl(self.exported_pem("HS/SRK/rekeyed", "rekeyed"), "rekeyed.sig", True,
                            "signature after tss2_changeauth")
        p = self.sign("HS/SRK/rekeyed", "digest.bin", "rekeyed-old.sig", "oldpw", ok=False)
        self.assert_rc(p, RC_BAD_AUTH_S1, "the old password after tss2_changeauth")
        # (FAPI changes an NV index's password only through a policy, as TPM2_NV_ChangeAuth
        # needs the ADMIN role: test_12 does that.)

    def test_15_list_describe_delete(self):
        self.fapi("tss2_setdescription", "-p", "HS/SRK/rsa_sign", "-i", "signs the messages")
        out = self.fapi("tss2_getdescription", "-p", "HS/SRK/rsa_sign", "-o", "-").out
        self.assertIn("signs the messages", out, "tss2_getdescription")
        srk = f"/{RSA_PROFILE}/HS/SRK"
        keys = self.fapi_list(srk)
        for name in ("rsa_sign", "rsa_sign_pw", "rsa_dec", "seal", "seal_pw", "ak", "moved"):
            self.assertIn(f"{srk}/{name}", keys, "tss2_list of the SRK's children")
        self.assertIn("/nv/Owner/counter", self.fapi_list("/nv"), "tss2_list /nv")
        policies = self.fapi_list("/policy")
        self.assertTrue({"/policy/pcr16", "/policy/password", "/policy/authorized"} <= policies,
                        f"tss2_list /policy: {policies}")
        # A persistent key: FAPI makes it persistent with EvictControl and deleting it evicts it.
        self.fapi("tss2_createkey", "-p", "HS/SRK/persistent", "-t",
                  f"sign,noDa,{PERSISTENT_KEY:#x}", "-a", "")
        self.assertIn(PERSISTENT_KEY, self.handles("handles-persistent"),
                      "tss2_createkey with a persistent handle")
        self.sign("HS/SRK/persistent", "digest.bin", "persistent.sig")
        self.verify_openssl(self.exported_pem("HS/SRK/persistent", "persistent"),
                            "persistent.sig", True, "the persistent key's signature")
        self.fapi("tss2_delete", "-p", "HS/SRK/persistent")
        self.assertNotIn(PERSISTENT_KEY, self.handles("handles-persistent"),
                         "tss2_delete of a persistent key evicts it")
        self.fapi("tss2_delete", "-p", "HS/SRK/rsa_sign_pw")
        self.assertNotIn(f"{srk}/rsa_sign_pw", self.fapi_list(srk), "deleted key still listed")
        self.sign("HS/SRK/rsa_sign_pw", "digest.bin", "deleted.sig", "rsapw", ok=False)
        handle = self.nv_define("/nv/Owner/scratch", "noDa", size=8)
        self.fapi("tss2_delete", "-p", "/nv/Owner/scratch")
        self.assertNotIn(handle, self.handles("handles-nv-index"),
                         "tss2_delete of an NV index undefines it")
        self.assertNotIn("/nv/Owner/scratch", self.fapi_list("/nv"))

    def test_16_after_restart(self):
        """A TPM Reset (daemon restart / power cycle of the in-process TPM): the keystore's keys
        load again under the persistent SRKs; NV contents stay; PCRs start over."""
        self.restart()
        persistent = self.handles("handles-persistent")
        self.assertTrue({RSA_SRK, ECC_SRK} <= persistent,
                        f"the SRKs are still persistent after the restart: {persistent}")
        self.sign("HS/SRK/rsa_sign", "digest.bin", "restart-rsa.sig")
        self.write_file("rsa_sign-before.pem", self.shared["rsa_pem"])
        self.verify_openssl(self.p("rsa_sign-before.pem"), "restart-rsa.sig", True,
                            "RSA key after the restart, checked with the public key from before")
        self.sign(f"/{ECC_PROFILE}/HS/SRK/ecc_sign", "digest.bin", "restart-ecc.sig")
        self.write_file("ecc_sign-before.pem", self.shared["ecc_pem"])
        self.verify_openssl(self.p("ecc_sign-before.pem"), "restart-ecc.sig", False,
                            "ECC key after the restart")
        self.write_file("cipher-before.bin", self.shared["cipher"])
        self.fapi("tss2_decrypt", "-p", "HS/SRK/rsa_dec", "-i", self.p("cipher-before.bin"),
                  "-o", self.p("restart-plain.bin"), "-f")
        self.assertEqual(self.read_file("restart-plain.bin"), self.shared["plain"],
                         "decrypting the ciphertext from before the restart")
        secret = self.shared["secret"]
        self.assertEqual(self.unseal("HS/SRK/seal", "restart-unsealed.bin"), secret)
        self.assertEqual(self.unseal("HS/SRK/seal_policypw", "restart-pw.bin",
                                     input=b"polpw\n"), secret)
        # PCR 16 is back to zero: the policy for its earlier value no longer holds.
        self.assertEqual(self.pcr_value("sha256", PCR), ZERO, f"PCR {PCR} after a TPM Reset")
        p = self.unseal("HS/SRK/seal_pcr", "restart-pcr.bin", ok=False)
        self.assert_rc(p, RC_VALUE_P1, "PolicyPCR after the reset")
        _, data = self.shared["nv_ordinary"]
        got = self.nv_read("/nv/Owner/ordinary", "restart-nv.bin",
                           input=b"nvpw\n")
        self.assertEqual(got[:len(data)], data, "ordinary index after the restart")
        counter = struct.unpack(">Q", self.nv_read("/nv/Owner/counter", "restart-ctr.bin"))[0]
        self.assertGreaterEqual(counter, self.shared["nv_counter"], "counter went backwards")
        self.assertEqual(self.nv_read("/nv/Owner/extend", "restart-extend.bin"),
                         self.shared["nv_extend"], "extend index after the restart")
        self.write_file("boot-event.bin", b"measured after the reboot")
        self.fapi("tss2_pcrextend", "-x", PCR, "-i", self.p("boot-event.bin"))
        self.fapi("tss2_quote", "-p", "HS/SRK/ak", "-x", str(PCR), "-Q", self.p("nonce.bin"),
                  "-q", self.p("restart.quote.json"), "-o", self.p("restart.sig"),
                  "-l", self.p("restart.log.json"), "-f")
        with open(self.p("restart.quote.json")) as f:
            digest = bytes.fromhex(json.load(f)["attest"]["attested"]["pcrDigest"])
        self.assertEqual(digest, sha256(sha256(ZERO, hashlib.sha256(
            b"measured after the reboot").digest())), "pcrDigest of the quote after the reset")
        self.fapi("tss2_verifyquote", "-k", "HS/SRK/ak", "-Q", self.p("nonce.bin"),
                  "-q", self.p("restart.quote.json"), "-i", self.p("restart.sig"),
                  "-l", self.p("restart.log.json"))

    def test_17_nothing_written_outside(self):
        """FAPI kept to the test's directory: no keystore under HOME, Debian's default FAPI
        directories untouched."""
        written = []
        for dirpath, _, filenames in os.walk(self.home):
            written += [os.path.join(dirpath, n) for n in filenames]
        self.assertEqual(written, [], "FAPI wrote below HOME")
        after = snapshot(DEFAULT_FAPI_DIRS)
        changed = sorted(p for p in set(after) | set(self.default_dirs_before)
                         if after.get(p) != self.default_dirs_before.get(p))
        self.assertEqual(changed, [], "files changed in the default FAPI directories")
        system = os.listdir(os.path.join(self.fapi_dir, "system"))
        self.assertTrue({RSA_PROFILE, ECC_PROFILE, "policy"} <= set(system),
                        f"the system keystore in the test's directory holds {system}")


# Missing --tpm2emu or --tcti-dir fails the scenario rather than skipping it.
FapiMssimScenario, FapiTctiScenario = scenario.transports(FapiScenarioBody, "Fapi",
                                                          missing=AssertionError)

if __name__ == "__main__":
    harness.main()
