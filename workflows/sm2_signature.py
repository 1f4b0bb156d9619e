"""SM2 signatures (GB/T 32918.2-2016) with the SM3 digest, as GB/T 35276-2017 uses them: the signer's
identity digest Z computed with the default user id 1234567812345678, the signature the DER SEQUENCE of
the two integers r and s. Interoperable with OpenSSL (`openssl dgst -sm3 -sign … -sigopt
distid:1234567812345678`, and its verify); the tests hold a signature made that way.

The curve arithmetic is the `gmalg` library's (pure Python, nonces from `secrets`, r and s range-checked
on verification); this module only holds the keys and the encodings, so the filing API
(workflows/filing_exchange.py) handles an SM2 key as it does an Ed25519 one: `sign(message)` on the
private key, `verify(signature, message)` on the public key raising InvalidSignature.

Key files: a private key is kept as PEM with the label ZS SM2 PRIVATE KEY around the 32-byte secret
scalar (readable by its owner only, like the Ed25519 one); a public key travels as the base64 of its
65-byte uncompressed point (04 ‖ x ‖ y).
"""
from __future__ import annotations

import base64
import binascii
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from gmalg import SM2 as _Sm2
from gmalg.errors import GMError

DEFAULT_ID = b"1234567812345678"  # GB/T 35276-2017 §10: the default user id
POINT_LENGTH = 65
PEM_LABEL = "ZS SM2 PRIVATE KEY"
_ORDER = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_7203DF6B_21C6052B_53BBF409_39D54123
_PEM = re.compile(rf"-----BEGIN {PEM_LABEL}-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END {PEM_LABEL}-----")


class Sm2PublicKey:
    def __init__(self, point: bytes):
        if len(point) != POINT_LENGTH or point[0] != 4:
            raise ValueError("an SM2 public key is a 65-byte uncompressed point (04 ‖ x ‖ y)")
        try:
            valid = _Sm2().verify_pk(point)
        except GMError:
            valid = False
        if not valid:
            raise ValueError("not a point of the SM2 curve")
        self.point = bytes(point)

    def raw(self) -> bytes:
        return self.point

    def verify(self, signature: bytes, message: bytes) -> None:
        """Raises InvalidSignature unless `signature` (DER r, s) is this key's SM2 signature of `message`."""
        try:
            r, s = decode_dss_signature(signature)
        except ValueError as err:
            raise InvalidSignature() from err
        if not (0 < r < _ORDER and 0 < s < _ORDER) or encode_dss_signature(r, s) != signature:
            raise InvalidSignature()  # out of range, or not the one DER spelling
        if not _Sm2(pk=self.point, uid=DEFAULT_ID).verify(message, r.to_bytes(32, "big"), s.to_bytes(32, "big")):
            raise InvalidSignature()


class Sm2PrivateKey:
    def __init__(self, secret: bytes):
        number = int.from_bytes(secret, "big")
        if len(secret) != 32 or not 0 < number < _ORDER - 1:
            raise ValueError("an SM2 private key is 32 bytes, 1 ≤ d ≤ n − 2")
        self._secret = bytes(secret)
        self._public = Sm2PublicKey(_Sm2().generate_pk(self._secret))

    @classmethod
    def generate(cls) -> Sm2PrivateKey:
        secret, _ = _Sm2().generate_keypair()
        return cls(secret.rjust(32, b"\0"))

    def public_key(self) -> Sm2PublicKey:
        return self._public

    def sign(self, message: bytes) -> bytes:
        r, s = _Sm2(sk=self._secret, pk=self._public.point, uid=DEFAULT_ID).sign(message)
        return encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))

    def pem(self) -> bytes:
        body = base64.encodebytes(self._secret).decode("ascii")
        return f"-----BEGIN {PEM_LABEL}-----\n{body}-----END {PEM_LABEL}-----\n".encode("ascii")

    @classmethod
    def from_pem(cls, data: bytes) -> Sm2PrivateKey | None:
        """The key in a PEM file with our label; None when the file holds no such block."""
        found = _PEM.search(data.decode("ascii", "replace"))
        if found is None:
            return None
        try:
            return cls(base64.b64decode("".join(found.group(1).split()), validate=True))
        except (binascii.Error, ValueError) as err:
            raise ValueError(f"not an SM2 private key: {err}") from err
