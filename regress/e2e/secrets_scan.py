#!/usr/bin/env python3
"""Look for a node's secrets in clear anywhere under some directories.

    secrets_scan.py ROTKEY NODEID KEKHEX KEYID MATHEX KCV DIR...

The test is root on the node, so it can do what kmd's hsm worker does: open
the KEK (KEKHEX, as kmd_local holds it) with the software root-of-trust key
file ROTKEY (any of its 32-byte keys), then a served key's material (MATHEX, kmd_keys.material_sealed
of version KEYID) with the KEK.  The material's key check value must be KCV
(so what was opened is the real key).  Then every file under the DIRs but
the RoT key file is searched for the KEK and the material: raw, hex (either
case) and base64.  With SCAN_PRINT set, print the material's hex
instead (for a planted control).  Exit 0: nothing found; 1: found (printed); 2: could not
open the secrets.
"""
import base64
import ctypes
import os
import subprocess
import sys

sodium = ctypes.CDLL("libsodium.so.23")
NPUB, ABYTES = 24, 16


def unseal(key, ad, blob):
    """XChaCha20-Poly1305 as kmd's seal_hex: nonce | ciphertext | tag."""
    if len(blob) < NPUB + ABYTES:
        return None
    out = ctypes.create_string_buffer(len(blob))
    outlen = ctypes.c_ulonglong()
    ct = blob[NPUB:]
    r = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        out, ctypes.byref(outlen), None, ct, ctypes.c_ulonglong(len(ct)),
        ad.encode(), ctypes.c_ulonglong(len(ad)), blob[:NPUB], key)
    return out.raw[:outlen.value] if r == 0 else None


def blob_of(hexstr):
    """kmd stores a sealed value as the bytes of its hex, or as the bytes."""
    raw = bytes.fromhex(hexstr)
    try:
        return bytes.fromhex(raw.decode())
    except ValueError:
        return raw


def kcv(key):
    cipher = "-aes-%d-ecb" % (8 * len(key))
    out = subprocess.run(["openssl", "enc", cipher, "-K", key.hex(),
                          "-nopad"], input=bytes(16), capture_output=True,
                         check=True).stdout
    return out[:3].hex().upper()


def main():
    rotkey, node, kekhex, keyid, mathex, want = sys.argv[1:7]
    dirs = sys.argv[7:]
    rot = open(rotkey, "rb").read()
    kek = None
    for i in range(0, len(rot), 32):  # one 32-byte slot per software key
        kek = kek or unseal(rot[i:i + 32], "kmd:kek:" + node,
                            blob_of(kekhex))
    if kek is None:
        print("cannot open the KEK with the software RoT key")
        return 2
    mat = unseal(kek, "kmd:key:" + keyid, blob_of(mathex))
    if mat is None or kcv(mat) != want:
        print("cannot open the key's material, or its kcv is not %s" % want)
        return 2
    if os.environ.get("SCAN_PRINT"):
        print(mat.hex())
        return 0
    needles = {}
    for name, s in (("KEK", kek), ("key material", mat)):
        needles[s] = name + " (raw)"
        needles[s.hex().encode()] = name + " (hex)"
        needles[s.hex().upper().encode()] = name + " (HEX)"
        needles[base64.b64encode(s)] = name + " (base64)"
    found = files = size = 0
    skip = os.path.realpath(rotkey)
    for d in dirs:
        for top, _, names in os.walk(d):
            for n in names:
                p = os.path.join(top, n)
                if os.path.realpath(p) == skip or not os.path.isfile(p) \
                        or os.path.islink(p):
                    continue
                try:
                    data = open(p, "rb").read()
                except OSError:
                    continue
                files += 1
                size += len(data)
                for needle, what in needles.items():
                    if needle in data:
                        print("%s in clear in %s" % (what, p))
                        found += 1
    print("scanned %d files, %d bytes: %d found" % (files, size, found))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
