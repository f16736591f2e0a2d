#!/usr/bin/env python3
"""Keys, sessions and attestation with tpm2-tools against tpm2emu: one scenario body, run once
per transport (the mssim socket of `tpm2emu serve`, and the in-process TCTI).

Every value the TPM computes that can be computed outside it is checked in software: signatures
with `openssl dgst -verify`, OAEP with `openssl pkeyutl`, AES-CBC with `openssl enc`, HMAC with
Python's hmac. The steps share one TPM per transport and run in name order (test_01...); the
lockout password set in test_10 is used again by test_15. Transient objects are flushed after
every step (each tool process leaves the objects it loaded behind).

Usage: keys_scenario_test.py --tpm2emu PATH [--tcti-dir DIR] [--asan-runtime LIB]
                             [--keep] [--verbose-tools] [unittest args, e.g. KeysMssimScenario]
"""

import hashlib
import hmac
import re
import struct

import harness
import scenario

LOCKOUT_PASS = "lockpw"
SIGN_DECRYPT = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|decrypt|sign"
ECDH_ATTRS = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|decrypt"
SIGN_ATTRS = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign"
X509_SIGNER, X509_SUBJECT = "0x81010040", "0x81010041"

# NIST P-256 (p, n, G; a = -3), for checking ECC results in Python.
P256_P = 2**256 - 2**224 + 2**192 + 2**96 - 1
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
          0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)


def ec_add(a, b):
    """Affine P-256 point addition (None is the point at infinity)."""
    if a is None or b is None:
        return a or b
    if a[0] == b[0] and (a[1] + b[1]) % P256_P == 0:
        return None
    if a == b:
        slope = (3 * a[0] * a[0] - 3) * pow(2 * a[1], -1, P256_P) % P256_P
    else:
        slope = (b[1] - a[1]) * pow(b[0] - a[0], -1, P256_P) % P256_P
    x = (slope * slope - a[0] - b[0]) % P256_P
    return x, (slope * (a[0] - x) - a[1]) % P256_P


def ec_mul(k, point):
    out = None
    while k:
        if k & 1:
            out = ec_add(out, point)
        point, k = ec_add(point, point), k >> 1
    return out


def ecc_point_bytes(point):
    """A TPM2B_ECC_POINT."""
    body = b"".join(len(c).to_bytes(2, "big") + c for c in (v.to_bytes(32, "big") for v in point))
    return len(body).to_bytes(2, "big") + body


def parse_ecc_point(data):
    """(x, y) from a TPM2B_ECC_POINT."""
    at, coords = 2, []
    for _ in range(2):
        n = int.from_bytes(data[at:at + 2], "big")
        coords.append(int.from_bytes(data[at + 2:at + 2 + n], "big"))
        at += 2 + n
    return tuple(coords)
AK_ATTRS = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign"
PERSISTENT = "0x81000001"


class KeysScenarioBody(scenario.ScenarioBody):
    """The scenario; scenario.transports() makes the test classes."""

    prefix = "tpm2emu-keys"

    # helpers ---------------------------------------------------------------------------------

    def primary_pem(self, name, alg="rsa", hierarchy="o", auth=None):
        """Creates a primary key into NAME.ctx and returns its public key as PEM bytes."""
        self.primary(name, alg, hierarchy, extra=("-P", auth) if auth is not None else ())
        self.tool("tpm2_readpublic", "-c", self.p(name + ".ctx"), "-f", "pem",
                  "-o", self.p(name + ".pem"))
        return self.read_file(name + ".pem")

    def srk(self):
        self.primary("srk", "rsa")
        return self.p("srk.ctx")

    def create_load(self, name, alg, parent=None, **kwargs):
        """tpm2_create + tpm2_load of NAME under PARENT (the SRK by default); returns NAME.ctx."""
        return super().create_load(name, alg, parent or self.p("srk.ctx"), **kwargs)

    # the scenario ----------------------------------------------------------------------------

    def test_01_startup(self):
        self.tool("tpm2_startup", "-c")

    def test_02_primary_is_deterministic(self):
        for alg in ("rsa", "ecc"):
            first = self.primary_pem(f"prim-{alg}-1", alg)
            self.flush()
            second = self.primary_pem(f"prim-{alg}-2", alg)
            self.flush()
            self.assertIn(b"BEGIN PUBLIC KEY", first, f"tpm2_readpublic -f pem of {alg} primary")
            self.assertEqual(first, second, f"two owner {alg} primaries from the same template "
                                            f"have different public keys")
            self.shared[f"owner-{alg}"] = first
        if self.transport.restart_power_cycles:
            self.restart()
            for alg in ("rsa", "ecc"):
                again = self.primary_pem(f"prim-{alg}-3", alg)
                self.flush()
                self.assertEqual(again, self.shared[f"owner-{alg}"],
                                 f"owner {alg} primary changed across a daemon restart on the "
                                 f"same state directory")
        for hierarchy in ("e", "n"):
            for alg in ("rsa", "ecc"):
                pem = self.primary_pem(f"prim-{hierarchy}-{alg}", alg, hierarchy)
                self.assertIn(b"BEGIN PUBLIC KEY", pem, f"-C {hierarchy} -G {alg} primary")
                self.flush()
        self.assertNotEqual(self.read_file("prim-e-rsa.pem"), self.shared["owner-rsa"],
                            "endorsement and owner RSA primaries are the same key")

    def test_03_create_load_and_seal(self):
        self.srk()
        for alg in ("rsa", "ecc", "hmac", "aes128"):
            self.create_load(f"k-{alg}", alg)
            self.flush()  # the TPM has few object slots; start over with a fresh SRK
            self.srk()
        secret = b"sealed secret \x00\x01\x02 bytes"
        seal = self.create_load("seal", None, auth="pw", sealed=secret)
        self.tool("tpm2_unseal", "-c", seal, "-p", "pw", "-o", self.p("unsealed.bin"))
        self.assertEqual(self.read_file("unsealed.bin"), secret, "tpm2_unseal -p pw")
        p = self.tool("tpm2_unseal", "-c", seal, "-p", "wrong", ok=False)
        self.assert_rc(p, 0x98E, "tpm2_unseal with the wrong password")

    def test_04_sign_verify(self):
        self.srk()
        msg = self.write_file("msg.txt", b"message to be signed by the TPM\n" * 3)
        for alg in ("rsa", "ecc"):
            key = self.create_load(f"sig-{alg}", alg)
            pem = self.pem_of(key, f"sig-{alg}.pem")
            self.tool("tpm2_sign", "-c", key, "-g", "sha256", "-o", self.p(f"sig-{alg}.tss"), msg)
            self.tool("tpm2_verifysignature", "-c", key, "-g", "sha256", "-m", msg,
                      "-s", self.p(f"sig-{alg}.tss"))
            self.tool("tpm2_sign", "-c", key, "-g", "sha256", "-f", "plain",
                      "-o", self.p(f"sig-{alg}.raw"), msg)
            p = self.openssl("dgst", "-sha256", "-verify", pem, "-signature",
                             self.p(f"sig-{alg}.raw"), msg, ok=False)
            self.assertEqual(p.returncode, 0, f"openssl rejects the TPM's {alg} signature: "
                                              f"{p.stdout!r} {p.stderr!r}")
            # A different message must not verify.
            other = self.write_file("other.txt", b"another message")
            self.tool("tpm2_verifysignature", "-c", key, "-g", "sha256", "-m", other,
                      "-s", self.p(f"sig-{alg}.tss"), ok=False)
            self.flush()
            self.srk()

    def test_05_rsa_encrypt_decrypt(self):
        self.srk()
        key = self.create_load("rsaenc", "rsa", attrs=SIGN_DECRYPT)
        pem = self.pem_of(key, "rsaenc.pem")
        data = b"sixteen byte msg and more"
        msg = self.write_file("plain.bin", data)
        for scheme in ("oaep", "rsaes"):
            self.tool("tpm2_rsaencrypt", "-c", key, "-s", scheme, "-o", self.p("ct.bin"), msg)
            self.tool("tpm2_rsadecrypt", "-c", key, "-s", scheme, "-o", self.p("pt.bin"),
                      self.p("ct.bin"))
            self.assertEqual(self.read_file("pt.bin"), data,
                             f"tpm2_rsaencrypt/tpm2_rsadecrypt -s {scheme} round trip")
        self.openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", pem, "-in", msg,
                     "-out", self.p("ossl-ct.bin"), "-pkeyopt", "rsa_padding_mode:oaep",
                     "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256")
        self.tool("tpm2_rsadecrypt", "-c", key, "-s", "oaep", "-o", self.p("ossl-pt.bin"),
                  self.p("ossl-ct.bin"))
        self.assertEqual(self.read_file("ossl-pt.bin"), data,
                         "tpm2_rsadecrypt -s oaep of openssl's OAEP-SHA256 ciphertext")

    def test_06_encryptdecrypt_aes_cbc(self):
        raw = bytes(range(16))
        self.write_file("aes.key", raw)
        iv = self.write_file("iv.bin", bytes(16))
        data = b"0123456789abcdef" * 4
        pt = self.write_file("aes-pt.bin", data)
        self.tool("tpm2_loadexternal", "-G", "aes", "-r", self.p("aes.key"),
                  "-c", self.p("aes.ctx"))
        self.tool("tpm2_encryptdecrypt", "-c", self.p("aes.ctx"), "-G", "cbc", "-t", iv,
                  "-o", self.p("aes-ct.bin"), pt)
        want = self.openssl("enc", "-aes-128-cbc", "-nopad", "-K", raw.hex(), "-iv", "00" * 16,
                            "-in", pt).stdout
        self.assertEqual(self.read_file("aes-ct.bin").hex(), want.hex(),
                         "tpm2_encryptdecrypt -G cbc vs openssl enc -aes-128-cbc")
        self.tool("tpm2_encryptdecrypt", "-d", "-c", self.p("aes.ctx"), "-G", "cbc", "-t", iv,
                  "-o", self.p("aes-back.bin"), self.p("aes-ct.bin"))
        self.assertEqual(self.read_file("aes-back.bin"), data, "tpm2_encryptdecrypt -d")

    def test_07_hmac_external_key(self):
        key = b"an hmac key of some length 0123456789"
        self.write_file("hmac.key", key)
        data = b"data to be MACed\n" * 5
        msg = self.write_file("hmac-msg.bin", data)
        self.tool("tpm2_loadexternal", "-G", "hmac", "-r", self.p("hmac.key"),
                  "-c", self.p("hmac.ctx"))
        out = self.tool("tpm2_hmac", "-c", self.p("hmac.ctx"), "--hex", msg).out.strip()
        self.assertEqual(out.lower(), hmac.new(key, data, hashlib.sha256).hexdigest(),
                         "tpm2_hmac of a tpm2_loadexternal -G hmac key vs Python hmac")

    def test_08_ecdh(self):
        self.srk()
        key = self.create_load("ecdh", "ecc", attrs=ECDH_ATTRS)
        self.tool("tpm2_ecdhkeygen", "-c", key, "-u", self.p("Q.pub"), "-o", self.p("Z.bin"))
        self.tool("tpm2_ecdhzgen", "-c", key, "-u", self.p("Q.pub"), "-o", self.p("Z2.bin"))
        z1, z2 = self.read_file("Z.bin"), self.read_file("Z2.bin")
        self.assertGreater(len(z1), 0, "tpm2_ecdhkeygen wrote an empty Z")
        self.assertEqual(z1.hex(), z2.hex(), "tpm2_ecdhzgen Z differs from tpm2_ecdhkeygen's")

    def test_09_changeauth_object(self):
        srk = self.srk()
        key = self.create_load("chg", "ecc", auth="oldpw")
        self.tool("tpm2_changeauth", "-c", key, "-C", srk, "-p", "oldpw",
                  "-r", self.p("chg-new.priv"), "newpw")
        self.tool("tpm2_load", "-C", srk, "-u", self.p("chg.pub"), "-r", self.p("chg-new.priv"),
                  "-c", self.p("chg2.ctx"))
        msg = self.write_file("chg-msg.txt", b"signed with the new password")
        self.tool("tpm2_sign", "-c", self.p("chg2.ctx"), "-p", "newpw", "-g", "sha256",
                  "-f", "plain", "-o", self.p("chg.sig"), msg)
        pem = self.pem_of(self.p("chg2.ctx"), "chg.pem")
        self.openssl("dgst", "-sha256", "-verify", pem, "-signature", self.p("chg.sig"), msg)

    def _session_round(self, label, extra):
        srk = self.p("srk.ctx")
        s = self.p(f"sess-{label}.ctx")
        self.tool("tpm2_startauthsession", "--hmac-session", "-S", s, *extra)
        self.tool("tpm2_sessionconfig", s, "--enable-encrypt", "--enable-decrypt")
        out = self.tool("tpm2_getrandom", "-S", s, "16", "--hex").out.strip()
        self.assertRegex(out, r"^[0-9a-fA-F]{32}$", f"tpm2_getrandom -S ({label} session)")
        secret = f"secret through a {label} session".encode()
        self.tool("tpm2_create", "-C", srk, "-S", s, "-i-", "-u", self.p(f"ss-{label}.pub"),
                  "-r", self.p(f"ss-{label}.priv"), input=secret)
        self.tool("tpm2_load", "-C", srk, "-u", self.p(f"ss-{label}.pub"),
                  "-r", self.p(f"ss-{label}.priv"), "-c", self.p(f"ss-{label}.ctx"))
        self.tool("tpm2_unseal", "-c", self.p(f"ss-{label}.ctx"), "-S", s,
                  "-o", self.p(f"ss-{label}.out"))
        self.assertEqual(self.read_file(f"ss-{label}.out"), secret,
                         f"tpm2_unseal -S through a {label} session")
        self.tool("tpm2_flushcontext", s)

    def test_10a_session_unsalted(self):
        self.srk()
        self._session_round("unsalted", [])

    def test_10b_session_salted_rsa(self):
        self.srk()
        self.primary_pem("salt-rsa", "rsa")
        self._session_round("salted-rsa", ["-c", self.p("salt-rsa.ctx")])

    def test_10c_session_salted_ecc(self):
        self.srk()
        self.primary_pem("salt-ecc", "ecc")
        self._session_round("salted-ecc", ["-c", self.p("salt-ecc.ctx")])

    def test_10d_session_bound_owner(self):
        self.srk()
        self._session_round("bound", ["--bind-context", "o"])

    def test_11_dictionary_lockout(self):
        self.tool("tpm2_changeauth", "-c", "l", LOCKOUT_PASS)
        self.shared["lockout"] = LOCKOUT_PASS
        self.tool("tpm2_dictionarylockout", "-s", "-n", "3", "-t", "1000", "-l", "1000",
                  "-p", LOCKOUT_PASS)
        self.tool("tpm2_dictionarylockout", "-c", "-p", LOCKOUT_PASS)
        self.srk()
        secret = b"DA-protected"
        seal = self.create_load("da-seal", None, auth="good", sealed=secret)
        for i in range(3):
            p = self.tool("tpm2_unseal", "-c", seal, "-p", f"bad{i}", ok=False)
            self.assert_rc(p, 0x98E, f"wrong password #{i + 1} (maxTries 3)")
        p = self.tool("tpm2_unseal", "-c", seal, "-p", "good", ok=False)
        self.assert_rc(p, 0x921, "the right password while in lockout")
        self.tool("tpm2_dictionarylockout", "-c", "-p", LOCKOUT_PASS)
        self.tool("tpm2_unseal", "-c", seal, "-p", "good", "-o", self.p("da.out"))
        self.assertEqual(self.read_file("da.out"), secret, "unseal after the lockout was cleared")

    def _ak(self):
        srk = self.srk()
        ak = self.create_load("ak", "rsa:rsassa-sha256:null", attrs=AK_ATTRS)
        return srk, ak

    def test_12_attestation(self):
        srk, ak = self._ak()
        ak_pem = self.pem_of(ak, "ak.pem")
        self.tool("tpm2_quote", "-c", ak, "-l", "sha256:0,1,16", "-q", "abcd", "-g", "sha256",
                  "-m", self.p("quote.msg"), "-s", self.p("quote.sig"),
                  "-o", self.p("quote.pcrs"))
        self.tool("tpm2_checkquote", "-u", ak_pem, "-m", self.p("quote.msg"),
                  "-s", self.p("quote.sig"), "-f", self.p("quote.pcrs"), "-g", "sha256",
                  "-q", "abcd")
        self.tool("tpm2_checkquote", "-u", ak_pem, "-m", self.p("quote.msg"),
                  "-s", self.p("quote.sig"), "-f", self.p("quote.pcrs"), "-g", "sha256",
                  "-q", "abce", ok=False)
        self.tool("tpm2_certify", "-c", srk, "-C", ak, "-g", "sha256",
                  "-o", self.p("certify.att"), "-s", self.p("certify.sig"))
        self.assertGreater(len(self.read_file("certify.att")), 0, "tpm2_certify attestation")
        self.tool("tpm2_gettime", "-c", ak, "--attestation", self.p("time.att"),
                  "-o", self.p("time.sig"))
        self.assertGreater(len(self.read_file("time.att")), 0, "tpm2_gettime attestation")

    def test_13_credentials(self):
        srk, ak = self._ak()
        self.tool("tpm2_readpublic", "-c", srk, "-o", self.p("srk.pub"))
        self.tool("tpm2_readpublic", "-c", ak, "-n", self.p("ak.name"))
        name = self.read_file("ak.name").hex()
        secret = b"credential secret 0123456789"
        self.write_file("cred-secret.bin", secret)
        for label, extra in (("offline", ["-T", "none"]), ("tpm", [])):
            self.tool("tpm2_makecredential", *extra, "-u", self.p("srk.pub"),
                      "-s", self.p("cred-secret.bin"), "-n", name,
                      "-o", self.p(f"cred-{label}.out"))
            self.tool("tpm2_activatecredential", "-c", ak, "-C", srk,
                      "-i", self.p(f"cred-{label}.out"), "-o", self.p(f"cred-{label}.got"))
            self.assertEqual(self.read_file(f"cred-{label}.got"), secret,
                             f"tpm2_activatecredential of a {label} tpm2_makecredential")

    def test_13b_ek_ak_credentials(self):
        """The remote-attestation flow: tpm2_createek (TCG default template, whose policy is
        PolicySecret(endorsement)) and tpm2_createak, then a credential made in software for
        the AK's Name and activated with the EK under a policy session."""
        secret = b"ek/ak credential secret"
        self.write_file("ekak-secret.bin", secret)
        for alg in ("rsa", "ecc"):
            ek, ak = self.p(f"ek-{alg}.ctx"), self.p(f"ak-{alg}.ctx")
            self.tool("tpm2_createek", "-c", ek, "-G", alg, "-u", self.p(f"ek-{alg}.pub"))
            self.tool("tpm2_createak", "-C", ek, "-c", ak, "-G", alg, "-g", "sha256",
                      "-s", "rsassa" if alg == "rsa" else "ecdsa",
                      "-u", self.p(f"ak-{alg}.pub"), "-n", self.p(f"ak-{alg}.name"))
            name = self.read_file(f"ak-{alg}.name").hex()
            self.tool("tpm2_makecredential", "-T", "none", "-u", self.p(f"ek-{alg}.pub"),
                      "-s", self.p("ekak-secret.bin"), "-n", name,
                      "-o", self.p(f"ekak-{alg}.cred"))
            session = self.p(f"ekak-{alg}.session")
            self.tool("tpm2_startauthsession", "--policy-session", "-S", session)
            self.tool("tpm2_policysecret", "-S", session, "-c", "e")
            self.tool("tpm2_activatecredential", "-c", ak, "-C", ek,
                      "-i", self.p(f"ekak-{alg}.cred"), "-o", self.p(f"ekak-{alg}.got"),
                      "-P", f"session:{session}")
            self.tool("tpm2_flushcontext", session)
            self.assertEqual(self.read_file(f"ekak-{alg}.got"), secret,
                             f"{alg} EK: tpm2_activatecredential recovers the secret")
            # Without the EK's policy, the EK cannot be used.
            self.tool("tpm2_activatecredential", "-c", ak, "-C", ek,
                      "-i", self.p(f"ekak-{alg}.cred"), "-o", self.p(f"ekak-{alg}.bad"),
                      ok=False)

    def test_14_import_pem(self):
        srk = self.srk()
        self.openssl("genrsa", "-out", self.p("imp.pem"), "2048")
        self.openssl("pkey", "-in", self.p("imp.pem"), "-pubout", "-out", self.p("imp-pub.pem"))
        self.tool("tpm2_import", "-C", srk, "-G", "rsa", "-i", self.p("imp.pem"),
                  "-u", self.p("imp.pub"), "-r", self.p("imp.priv"))
        self.tool("tpm2_load", "-C", srk, "-u", self.p("imp.pub"), "-r", self.p("imp.priv"),
                  "-c", self.p("imp.ctx"))
        msg = self.write_file("imp-msg.txt", b"signed by an imported key")
        self.tool("tpm2_sign", "-c", self.p("imp.ctx"), "-g", "sha256", "-f", "plain",
                  "-o", self.p("imp.sig"), msg)
        self.openssl("dgst", "-sha256", "-verify", self.p("imp-pub.pem"),
                     "-signature", self.p("imp.sig"), msg)

    def _persistent_handles(self):
        out = self.tool("tpm2_getcap", "handles-persistent").out
        return {int(h, 16) for h in re.findall(r"0x[0-9A-Fa-f]+", out)}

    def test_15_persistence(self):
        srk = self.srk()
        self.tool("tpm2_evictcontrol", "-C", "o", "-c", srk, PERSISTENT)
        self.assertIn(int(PERSISTENT, 16), self._persistent_handles(),
                      "tpm2_getcap handles-persistent after tpm2_evictcontrol")
        self.flush()
        self.tool("tpm2_create", "-C", PERSISTENT, "-G", "ecc", "-u", self.p("pers.pub"),
                  "-r", self.p("pers.priv"))
        self.tool("tpm2_load", "-C", PERSISTENT, "-u", self.p("pers.pub"),
                  "-r", self.p("pers.priv"), "-c", self.p("pers.ctx"))
        self.flush()
        if self.transport.restart_power_cycles:
            self.restart()
        self.assertIn(int(PERSISTENT, 16), self._persistent_handles(),
                      "the persistent SRK after a restart / new tool process")
        self.tool("tpm2_load", "-C", PERSISTENT, "-u", self.p("pers.pub"),
                  "-r", self.p("pers.priv"), "-c", self.p("pers2.ctx"))
        self.tool("tpm2_evictcontrol", "-C", "o", "-c", PERSISTENT)
        self.assertNotIn(int(PERSISTENT, 16), self._persistent_handles(),
                         "tpm2_getcap handles-persistent after evicting 0x81000001")

    def test_16_clear_changes_owner_seed(self):
        before = self.shared.get("owner-rsa") or self.primary_pem("clr-before", "rsa")
        self.flush()
        lockout = self.shared.get("lockout")
        args = ["tpm2_clear", "-c", "l"]
        if lockout:
            args.append(lockout)  # tpm2_clear takes the lockout auth as its argument
        self.tool(*args)
        after = self.primary_pem("clr-after", "rsa")
        self.assertNotEqual(before, after, "owner RSA primary unchanged by tpm2_clear")
        after_ecc = self.primary_pem("clr-after-ecc", "ecc")
        if self.shared.get("owner-ecc"):
            self.assertNotEqual(self.shared["owner-ecc"], after_ecc,
                                "owner ECC primary unchanged by tpm2_clear")

    @staticmethod
    def _audit_extend(digest, cc, params, response):
        """digest := H(digest || cpHash || rpHash) (Part 1 §17.1, §32), handle-less commands."""
        cp = hashlib.sha256(cc.to_bytes(4, "big") + params).digest()
        rp = hashlib.sha256(bytes(4) + cc.to_bytes(4, "big") + response).digest()
        return hashlib.sha256(digest + cp + rp).digest()

    def _signed_audit(self, tool, ak, ak_pem, name, *extra):
        """Runs an audit report tool signed by AK, checks the signature with openssl, and
        returns the attestation's type and a Reader at its audit info."""
        self.tool(tool, "-c", ak, "-g", "sha256", "-f", "plain", *extra,
                  "-m", self.p(name + ".msg"), "-s", self.p(name + ".sig"))
        self.openssl_verify(ak_pem, name + ".sig", name + ".msg", tool)
        head, r = scenario.parse_attest(self.read_file(name + ".msg"))
        self.assertEqual(head["magic"], scenario.TPM_GENERATED_VALUE)
        return head["type"], r

    def test_17_audit(self):
        _, ak = self._ak()
        ak_pem = self.pem_of(ak, "ak.pem")
        get_random = 0x17B

        # Session audit: two audited GetRandom calls, then a signed report of the digest.
        self.tool("tpm2_startauthsession", "-S", self.p("audit.ctx"), "--audit-session")
        digest = bytes(32)
        for i in range(2):
            self.tool("tpm2_getrandom", "8", "-S", self.p("audit.ctx"),
                      "-o", self.p(f"audit-r{i}.bin"))
            random = self.read_file(f"audit-r{i}.bin")
            digest = self._audit_extend(digest, get_random, b"\x00\x08", b"\x00\x08" + random)
        kind, r = self._signed_audit("tpm2_getsessionauditdigest", ak, ak_pem, "sa",
                                     "-S", self.p("audit.ctx"), "-q", "cafe")
        self.assertEqual(kind, 0x8016, "TPM_ST_ATTEST_SESSION_AUDIT")
        # exclusiveSession: the tools run other commands in between (not exclusive), but it
        # is a TPMI_YES_NO either way.
        self.assertIn(r.u8(), (0, 1), "exclusiveSession")
        self.assertEqual(r.b().hex(), digest.hex(), "session audit digest")
        self.tool("tpm2_flushcontext", self.p("audit.ctx"))

        # Command audit: a signed report ends the log, so the next one covers exactly the
        # GetRandom in between, in a new log (the counter moves on by one).
        self.tool("tpm2_setcommandauditstatus", "TPM2_CC_GetRandom")
        reports = [self._signed_audit("tpm2_getcommandauditdigest", ak, ak_pem, "ca0")]
        self.tool("tpm2_getrandom", "8", "-o", self.p("audit-r2.bin"))
        random = self.read_file("audit-r2.bin")
        reports.append(self._signed_audit("tpm2_getcommandauditdigest", ak, ak_pem, "ca1"))
        infos = []
        for kind, r in reports:
            self.assertEqual(kind, 0x8015, "TPM_ST_ATTEST_COMMAND_AUDIT")
            infos.append({"counter": r.u64(), "alg": r.u16(), "digest": r.b(),
                          "commands": r.b()})
            self.assertEqual(infos[-1]["alg"], scenario.TPM_ALG_SHA256, "audit hash")
        self.assertEqual(infos[1]["counter"], infos[0]["counter"] + 1, "a new audit log")
        expected = self._audit_extend(bytes(32), get_random, b"\x00\x08", b"\x00\x08" + random)
        self.assertEqual(infos[1]["digest"].hex(), expected.hex(), "command audit digest")
        audited = scenario.sha256((0x140).to_bytes(4, "big"), get_random.to_bytes(4, "big"))
        self.assertEqual(infos[1]["commands"].hex(), audited.hex(),
                         "digest of the audited command codes")
        # Taken off the list again, only SetCommandCodeAuditStatus itself is left.
        self.tool("tpm2_setcommandauditstatus", "-c", "TPM2_CC_GetRandom")
        _, r = self._signed_audit("tpm2_getcommandauditdigest", ak, ak_pem, "ca2")
        r.take(8 + 2)
        r.b()
        self.assertEqual(r.b().hex(), scenario.sha256((0x140).to_bytes(4, "big")).hex())

    def _public_point(self, ctx):
        out = self.tool("tpm2_readpublic", "-c", ctx).out
        return tuple(int(re.search(rf"^\s*{c}: ([0-9a-f]+)$", out, re.M).group(1), 16)
                     for c in "xy")

    def test_18_commit_ecdaa_sign(self):
        """tpm2_commit then an ECDAA tpm2_sign: [s]G = E + [T]Q with T = H(k || digest) mod n."""
        self.srk()
        key = self.create_load("daa", "ecc256:ecdaa4-sha256", attrs=SIGN_ATTRS)
        self.tool("tpm2_commit", "-c", key, "-t", self.p("daa.ctr"), "--eccpoint-K",
                  self.p("K.bin"), "--eccpoint-L", self.p("L.bin"), "-u", self.p("E.bin"))
        msg = self.write_file("daa-msg.txt", b"anonymous message")
        counter = str(int.from_bytes(self.read_file("daa.ctr"), "big"))
        self.tool("tpm2_sign", "-c", key, "-g", "sha256", "-s", "ecdaa", "--commit-index",
                  counter, "-o", self.p("daa.sig"), msg)
        sig = self.read_file("daa.sig")
        self.assertEqual(sig[:4].hex(), "001a000b", "TPMT_SIGNATURE is ECDAA with SHA-256")
        k = sig[6:6 + int.from_bytes(sig[4:6], "big")]
        s = int.from_bytes(sig[6 + len(k) + 2:], "big")
        digest = hashlib.sha256(b"anonymous message").digest()
        t = int.from_bytes(hashlib.sha256(k + digest).digest(), "big") % P256_N
        e = parse_ecc_point(self.read_file("E.bin"))
        q = self._public_point(key)
        self.assertEqual(ec_mul(s, P256_G), ec_add(e, ec_mul(t, q)), "[s]G != E + [T]Q")
        # The commit is used up.
        self.tool("tpm2_sign", "-c", key, "-g", "sha256", "-s", "ecdaa", "--commit-index",
                  counter, "-o", self.p("daa2.sig"), msg, ok=False)

    def test_19_ecephemeral_zgen2phase(self):
        """tpm2_ecephemeral + tpm2_zgen2phase (ECDH) against party B computed in Python."""
        self.srk()
        key = self.create_load("zg", "ecc256:ecdh-sha256", attrs=ECDH_ATTRS)
        self.tool("tpm2_ecephemeral", "-u", self.p("QeA.bin"), "-t", self.p("zg.ctr"), "ecc256")
        ds_b, de_b = 0x1234567 * 0x89ABCDEF, 0xFEDCBA98 * 0x7654321
        self.write_file("QsB.bin", ecc_point_bytes(ec_mul(ds_b, P256_G)))
        self.write_file("QeB.bin", ecc_point_bytes(ec_mul(de_b, P256_G)))
        self.tool("tpm2_zgen2phase", "-c", key, "--static-public", self.p("QsB.bin"),
                  "--ephemeral-public", self.p("QeB.bin"),
                  "-t", str(int.from_bytes(self.read_file("zg.ctr"), "big")),
                  "--output-Z1", self.p("Z1.bin"), "--output-Z2", self.p("Z2.bin"))
        qe_a = parse_ecc_point(self.read_file("QeA.bin"))
        self.assertEqual(parse_ecc_point(self.read_file("Z1.bin")),
                         ec_mul(ds_b, self._public_point(key)), "Zs")
        self.assertEqual(parse_ecc_point(self.read_file("Z2.bin")), ec_mul(de_b, qe_a), "Ze")

    def test_20_certifyx509(self):
        """TPM2_CertifyX509 of a partial certificate made by tpm2_certifyX509certutil, sent with
        tpm2_send (no tool sends the command in tpm2-tools 5.4); the certificate rebuilt as a
        client would parses with openssl, its signature verifies with the signer's public key
        and its subjectPublicKeyInfo is the certified key's. The x509sign signer cannot sign
        with tpm2_sign."""
        self.srk()
        # SIGN_ATTRS | x509sign (bit 19), as a number: tpm2-tools 5.4 has no name for it.
        signer = self.create_load("x509-signer", "ecc256", attrs="0x000C0072")
        subject = self.create_load("x509-subject", "rsa2048", attrs=SIGN_ATTRS)
        self.tool("tpm2_evictcontrol", "-C", "o", "-c", signer, X509_SIGNER)
        self.tool("tpm2_evictcontrol", "-C", "o", "-c", subject, X509_SUBJECT)
        try:
            self._certify_x509_and_check(signer, subject)
        finally:
            self.tool("tpm2_evictcontrol", "-C", "o", "-c", X509_SIGNER)
            self.tool("tpm2_evictcontrol", "-C", "o", "-c", X509_SUBJECT)

    def _certify_x509_and_check(self, signer, subject):
        self.tool("tpm2_certifyX509certutil", "-o", self.p("partial.der"), "-d", "365")
        partial = self.read_file("partial.der")
        password = struct.pack(">IHBH", 0x40000009, 0, 0, 0)  # TPM_RS_PW, empty auth
        params = (scenario.tpm2b(b"")                       # reservedData
                  + struct.pack(">HH", 0x0018, 0x000B)     # inScheme ECDSA, SHA-256
                  + scenario.tpm2b(partial))               # partialCertificate
        body = (struct.pack(">II", int(X509_SUBJECT, 16), int(X509_SIGNER, 16))
                + struct.pack(">I", 2 * len(password)) + password + password + params)
        command = struct.pack(">HII", 0x8002, 10 + len(body), 0x197) + body
        self.write_file("certifyx509.cmd", command)
        self.tool("tpm2_send", "-o", self.p("certifyx509.rsp"), self.p("certifyx509.cmd"))
        rsp = scenario.Reader(self.read_file("certifyx509.rsp"))
        tag, size, rc = rsp.u16(), rsp.u32(), rsp.u32()
        self.assertEqual(rc, 0, f"TPM2_CertifyX509 answered {rc:#x}")
        rsp.u32()  # parameterSize
        added, tbs_digest = rsp.b(), rsp.b()
        sig_alg, hash_alg, r, s = rsp.u16(), rsp.u16(), rsp.b(), rsp.b()
        self.assertEqual((tag, sig_alg, hash_alg), (0x8002, 0x0018, 0x000B))

        # Part 3 §18.8.1: the TPM's fields (version, serialNumber, signature algorithm,
        # subjectPublicKeyInfo) and the caller's (issuer, validity, subject, extensions) go
        # together in RFC 5280 order.
        a, c = der_elements(added), der_elements(partial)
        self.assertEqual((len(a), len(c)), (4, 4), "added and partial certificate elements")
        alg_id = a[2]
        tbs = der(0x30, a[0] + a[1] + alg_id + c[0] + c[1] + c[2] + a[3] + c[3])
        self.assertEqual(tbs_digest, hashlib.sha256(tbs).digest(), "tbsDigest")
        ecdsa_sig = der(0x30, der_integer(r) + der_integer(s))
        cert = der(0x30, tbs + alg_id + der(0x03, b"\0" + ecdsa_sig))
        self.write_file("cert.der", cert)
        text = self.openssl("x509", "-inform", "DER", "-in", self.p("cert.der"), "-noout",
                            "-text").stdout.decode()
        self.assertIn("Version: 3", text)
        self.assertIn("ecdsa-with-SHA256", text)
        self.write_file("tbs.der", tbs)
        self.write_file("tbs.sig", ecdsa_sig)
        self.tool("tpm2_readpublic", "-c", signer, "-f", "pem", "-o", self.p("signer.pem"))
        self.openssl_verify(self.p("signer.pem"), "tbs.sig", "tbs.der", "CertifyX509 signature")
        cert_key = self.openssl("x509", "-inform", "DER", "-in", self.p("cert.der"), "-noout",
                                "-pubkey").stdout
        self.tool("tpm2_readpublic", "-c", subject, "-f", "pem", "-o", self.p("subject.pem"))
        self.assertEqual(cert_key.strip(), self.read_file("subject.pem").strip(),
                         "the certificate's key is the certified key")
        # Part 2 §8.3.3.15: the x509sign key signs certificates, not digests.
        msg = self.write_file("x509-msg.txt", b"not through tpm2_sign")
        p = self.tool("tpm2_sign", "-c", signer, "-g", "sha256", "-o", self.p("x.sig"), msg,
                      ok=False)
        self.assert_rc(p, 0x182, "tpm2_sign with an x509sign key")  # TPM_RC_ATTRIBUTES + H1


def der(tag, content):
    """A DER element with a one-octet tag."""
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return bytes([tag]) + length + content


def der_integer(magnitude):
    """A positive DER INTEGER from big-endian magnitude octets."""
    v = magnitude.lstrip(b"\0") or b"\0"
    return der(0x02, (b"\0" if v[0] & 0x80 else b"") + v)


def der_elements(data):
    """The encodings of the elements inside the DER SEQUENCE `data`."""
    def header(buf, i):
        n = buf[i + 1]
        if n < 0x80:
            return i + 2, n
        k = n & 0x7F
        return i + 2 + k, int.from_bytes(buf[i + 2:i + 2 + k], "big")
    start, n = header(data, 0)
    body, out, i = data[start:start + n], [], 0
    while i < len(body):
        j, m = header(body, i)
        out.append(body[i:j + m])
        i = j + m
    return out

KeysMssimScenario, KeysTctiScenario = scenario.transports(KeysScenarioBody, "Keys")

if __name__ == "__main__":
    harness.main()
