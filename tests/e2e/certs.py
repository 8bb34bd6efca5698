"""Certificates for the TLS tests, made with the openssl CLI in a directory of the test's own.

make_ca and make_cert write <name>.key (PEM, not encrypted) and <name>.crt (PEM) there, valid for
two days, and return their paths as (crt, key). A new key is RSA 2048 (key=RSA) or EC P-256
(key=EC). `extensions` are the lines of an X.509v3 section in openssl's config syntax, e.g.
"subjectAltName = DNS:localhost, IP:127.0.0.1\n"; without them a CA gets the v3_ca extensions of
the system's openssl.cnf, and a certificate only those `openssl x509 -req` adds itself.
"""
import os
import pathlib
import subprocess

OPENSSL = "/usr/bin/openssl"

# How `openssl req` makes the new key.
RSA = ("-newkey", "rsa:2048")
EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")


def openssl(directory, *args):
    """Run the openssl CLI in `directory`; a failure fails the test with openssl's error output."""
    args = [str(a) for a in args]
    out = subprocess.run([OPENSSL, *args], cwd=directory, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"openssl {' '.join(args)}:\n{out.stderr}"


def make_ca(directory, name, cn, key=RSA, extensions=None):
    """A self-signed CA certificate for CN=`cn`: <name>.crt and <name>.key; returns (crt, key)."""
    directory = pathlib.Path(directory).resolve()
    config = []
    if extensions is not None:
        conf = directory / f"{name}.cnf"
        conf.write_text(f"[req]\ndistinguished_name = dn\nx509_extensions = ext\n[dn]\n[ext]\n{extensions}")
        config = ["-config", conf.name]
    openssl(directory, "req", "-x509", "-new", *key, "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt",
            "-days", "2", "-subj", f"/CN={cn}", *config)
    return directory / f"{name}.crt", directory / f"{name}.key"


def make_cert(directory, name, cn, ca, serial=None, key=RSA, extensions=None):
    """A certificate for CN=`cn` signed by `ca` (make_ca's (crt, key)): <name>.crt and <name>.key;
    returns (crt, key). `serial` is a random 64-bit number unless given."""
    directory = pathlib.Path(directory).resolve()
    ca_crt, ca_key = ca
    openssl(directory, "req", "-new", *key, "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={cn}")
    extfile = []
    if extensions is not None:
        ext = directory / f"{name}.ext"
        ext.write_text(f"[ext]\n{extensions}")
        extfile = ["-extfile", ext.name, "-extensions", "ext"]
    if serial is None:
        serial = int.from_bytes(os.urandom(8), "big")
    openssl(directory, "x509", "-req", "-in", f"{name}.csr", "-CA", ca_crt, "-CAkey", ca_key, "-set_serial", serial,
            "-days", "2", "-out", f"{name}.crt", *extfile)
    return directory / f"{name}.crt", directory / f"{name}.key"
