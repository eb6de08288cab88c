#!/usr/bin/env python3
"""Public keys of dstack-sim's built-in development identity, derived independently of the
project's C code (pure Python: HKDF-SHA256, P-256, secp256k1 and Ed25519 arithmetic) from the
derivation documented in docs/dstack-sim.md ("The built-in development identity"):

    IKM      = SHA-256("dstack-sim insecure development identity v1")
    kms root = HKDF(IKM, "dev-kms-root-k256");  app id = HKDF(IKM, "dev-app-id")[0..20]
    app key  = HKDF(kms root, app id || "app-key")
    GetKey(path) = HKDF(app key, path)           (HKDF salt "RATLS", protocol.md 3.1)

The recipe tests pin servers to the key of a dstack: URI; this is the second, independent
opinion on what that key is (the first is the openssl CLI on the exported certificate).

    dev_key.py pin PATH [ALG]        sha256//<base64 SPKI SHA-256>, curl's --pinnedpubkey
    dev_key.py spki-sha256 PATH [ALG] hex SPKI SHA-256
    dev_key.py spki PATH [ALG]        hex SubjectPublicKeyInfo DER
    dev_key.py ssh PATH [ALG]         OpenSSH public key line (p256 or ed25519)
ALG: p256 (default), secp256k1 (k256), ed25519. PATH is the URI's path (dstack:tls/www -> tls/www).
"""
import base64
import hashlib
import hmac
import sys

SEED = b"dstack-sim insecure development identity v1"


def hkdf(ikm, info, length=32, salt=b"RATLS"):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    t, okm, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm += t
        i += 1
    return okm[:length]


# Short Weierstrass curves: (p, a, G, n).
SECP256K1 = (2**256 - 2**32 - 977, 0,
             (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
              0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8),
             0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141)
P256 = (0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff, -3,
        (0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296,
         0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5),
        0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551)


def ec_add(curve, P, Q):
    p, a = curve[0], curve[1]
    if P is None:
        return Q
    if Q is None:
        return P
    if P[0] == Q[0] and (P[1] + Q[1]) % p == 0:
        return None
    if P == Q:
        lam = (3 * P[0] * P[0] + a) * pow(2 * P[1], -1, p) % p
    else:
        lam = (Q[1] - P[1]) * pow(Q[0] - P[0], -1, p) % p
    x = (lam * lam - P[0] - Q[0]) % p
    return (x, (lam * (P[0] - x) - P[1]) % p)


def ec_mul(curve, k):
    R, Q = None, curve[2]
    while k:
        if k & 1:
            R = ec_add(curve, R, Q)
        Q = ec_add(curve, Q, Q)
        k >>= 1
    return R


def compressed(P):
    return bytes([2 + (P[1] & 1)]) + P[0].to_bytes(32, "big")


def uncompressed(P):
    return b"\x04" + P[0].to_bytes(32, "big") + P[1].to_bytes(32, "big")


# Ed25519 (RFC 8032).
Q25519 = 2**255 - 19
D25519 = -121665 * pow(121666, -1, Q25519) % Q25519


def _xrecover(y):
    q = Q25519
    xx = (y * y - 1) * pow(D25519 * y * y + 1, -1, q)
    x = pow(xx, (q + 3) // 8, q)
    if (x * x - xx) % q:
        x = x * pow(2, (q - 1) // 4, q) % q
    return q - x if x % 2 else x


def _eadd(P, Q):
    q = Q25519
    (x1, y1), (x2, y2) = P, Q
    t = D25519 * x1 * x2 * y1 * y2
    return ((x1 * y2 + x2 * y1) * pow(1 + t, -1, q) % q, (y1 * y2 + x1 * x2) * pow(1 - t, -1, q) % q)


def ed25519_pub(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a = (a & ((1 << 254) - 8)) | (1 << 254)
    by = 4 * pow(5, -1, Q25519) % Q25519
    P, R = (_xrecover(by), by), (0, 1)
    while a:
        if a & 1:
            R = _eadd(R, P)
        P = _eadd(P, P)
        a >>= 1
    return (R[1] | ((R[0] & 1) << 255)).to_bytes(32, "little")


def app_key():
    ikm = hashlib.sha256(SEED).digest()
    kms = hkdf(ikm, b"dev-kms-root-k256")
    app_id = hkdf(ikm, b"dev-app-id")[:20]
    return hkdf(kms, app_id + b"app-key")


def spki(path, alg="p256"):
    k = hkdf(app_key(), path.encode())
    if alg == "p256":
        return bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200") + \
            uncompressed(ec_mul(P256, int.from_bytes(k, "big")))
    if alg in ("secp256k1", "k256"):
        return bytes.fromhex("3056301006072a8648ce3d020106052b8104000a034200") + \
            uncompressed(ec_mul(SECP256K1, int.from_bytes(k, "big")))
    if alg == "ed25519":
        return bytes.fromhex("302a300506032b6570032100") + ed25519_pub(k)
    raise SystemExit(f"dev_key.py: unknown alg {alg!r}")


def ssh_pub(path, alg="p256"):
    def string(b):
        return len(b).to_bytes(4, "big") + b
    if alg == "ed25519":
        blob = string(b"ssh-ed25519") + string(spki(path, alg)[-32:])
        return "ssh-ed25519 " + base64.b64encode(blob).decode()
    if alg != "p256":
        raise SystemExit(f"dev_key.py: OpenSSH has no key type for {alg!r}")
    point = spki(path)[-65:]
    blob = string(b"ecdsa-sha2-nistp256") + string(b"nistp256") + string(point)
    return "ecdsa-sha2-nistp256 " + base64.b64encode(blob).decode()


def main(argv):
    if len(argv) < 3 or argv[1] not in ("pin", "spki-sha256", "spki", "ssh"):
        raise SystemExit(__doc__)
    if argv[1] == "ssh":
        print(ssh_pub(argv[2], argv[3] if len(argv) > 3 else "p256"))
        return
    der = spki(argv[2], argv[3] if len(argv) > 3 else "p256")
    if argv[1] == "spki":
        print(der.hex())
    elif argv[1] == "spki-sha256":
        print(hashlib.sha256(der).hexdigest())
    else:
        print("sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode())


if __name__ == "__main__":
    main(sys.argv)
