#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Prints the nkey test vectors of nats_auth_test.cc (kGenerated).

An implementation independent of kvmap/nats_auth.cc: Python's base64.b32encode, binascii's
CRC-CCITT (crc_hqx with initial value 0 is CRC-16/XMODEM) and the `cryptography` package's
Ed25519. Test keys only: the seeds are derived from fixed labels.

    /usr/bin/python3 tests/unit/kvmap/data/gen_nkey_vectors.py
"""
import base64
import binascii
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PREFIX_SEED = 18 << 3
ROLES = {"U": 20 << 3, "A": 0, "O": 14 << 3}


def encode(body: bytes) -> str:
    crc = binascii.crc_hqx(body, 0)
    return base64.b32encode(body + crc.to_bytes(2, "little")).decode().rstrip("=")


def main() -> None:
    nonce = b"PXoWU7zWAMt75FY"
    for label, role in (("user-1", "U"), ("account-1", "A"), ("operator-1", "O")):
        raw = hashlib.sha256(b"redis-nats-gateway test " + label.encode()).digest()
        prefix = ROLES[role]
        seed = encode(bytes([PREFIX_SEED | (prefix >> 5), (prefix & 31) << 3]) + raw)
        key = Ed25519PrivateKey.from_private_bytes(raw)
        pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        public = encode(bytes([prefix]) + pub)
        sig = base64.urlsafe_b64encode(key.sign(nonce)).decode().rstrip("=")
        print(f'    {{"{label}", "{raw.hex()}",\n     "{seed}",\n     "{public}",\n'
              f'     "{sig}"}},')


if __name__ == "__main__":
    main()
