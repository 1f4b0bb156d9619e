"""Personal data (个人信息): the values of the fields a form schema marks `"x-personal": true` are sealed
with SM4 (GB/T 32907) before they enter task data, the engine state, task records, drafts and audit
events; pages that need them reveal them, everything else shows a mask (138****0000).

A sealed value is a small tagged dict, so a value stored in clear before (or under an older model)
still reads as itself:

    {"enc": "sm4-gcm", "kid": "k2026", "dk": <data key, wrapped>, "ct": <value>}   (both base64)

Envelope: every value has its own random 128-bit data key; the value is encrypted with it (SM4-GCM,
authenticated), the data key with the key-encryption key `kid` from ZS_PII_KEYS (SM4-GCM, the key id
as associated data). The first key of ZS_PII_KEYS seals new values; the others only open older ones,
so a new key is added in front and the old one stays until nothing sealed with it is left (see
docs/operations.md; audit events are never rewritten, so a key that sealed audit events stays).

The engine carries sealed values as they are: gateways, scripts and DMN tables must not read a personal
field (they would see the dict). SM3 stays for integrity (the audit chain); this module is
confidentiality only.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MARK = "x-personal"  # form-schema keyword on a property: its value is personal data
TAG = "sm4-gcm"
DEV_KID = "dev"
DEV_LABEL = b"zhaoshang DEVELOPMENT personal-data key - never for production"
UNREADABLE = "〔个人信息无法解密〕"
_VALUE_AAD = b"zhaoshang personal data"
_KID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")

_ring: list[tuple[str, bytes]] = []


class KeyMissing(RuntimeError):
    """A sealed value whose key is not configured (or does not open it)."""


def parse_keys(entries: list[str]) -> list[tuple[str, bytes]]:
    """ZS_PII_KEYS entries `id:base64key` (16-byte SM4 keys) → [(id, key)], first = current."""
    ring = []
    for entry in entries:
        kid, sep, encoded = entry.partition(":")
        kid = kid.strip()
        try:
            key = base64.b64decode(encoded.strip(), validate=True) if sep else b""
        except (binascii.Error, ValueError):
            key = b""
        if not _KID.match(kid) or len(key) != 16:
            raise RuntimeError(
                f"ZS_PII_KEYS: “{kid[:32]}” is not id:base64-of-16-bytes (e.g. "
                "k2026:$(python -c 'import os,base64;print(base64.b64encode(os.urandom(16)).decode())'))."
            )
        if kid in {k for k, _ in ring}:
            raise RuntimeError(f"ZS_PII_KEYS: key id {kid} appears twice.")
        ring.append((kid, key))
    return ring


def development_key() -> bytes:
    """The fixed, publicly known key used when none is configured outside production (labelled `dev`)."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(DEV_LABEL)
    return digest.finalize()[:16]


def configure(entries: list[str], env: str) -> None:
    """Load the key ring. Production refuses to start without a key; elsewhere the development key
    (kid `dev`) is used when none is configured, and still opens `dev` values when keys are."""
    global _ring
    ring = parse_keys(entries)
    if not ring and env == "production":
        raise RuntimeError(
            "ZS_ENV=production needs ZS_PII_KEYS (id:base64 of 16 random bytes) to encrypt "
            "personal data; see docs/operations.md."
        )
    if env != "production" and DEV_KID not in {k for k, _ in ring}:
        ring.append((DEV_KID, development_key()))
    _ring = ring


def current_kid() -> str:
    return _keys()[0][0]


def _keys() -> list[tuple[str, bytes]]:
    if not _ring:
        configure([], "development")
    return _ring


def _encrypt(key: bytes, plain: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(12)
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    body = encryptor.update(plain) + encryptor.finalize()
    return nonce + body + encryptor.tag


def _decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < 28:
        raise InvalidTag()
    nonce, body, tag = blob[:12], blob[12:-16], blob[-16:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(aad)
    return decryptor.update(body) + decryptor.finalize()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def is_sealed(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("enc") == TAG
        and isinstance(value.get("kid"), str)
        and isinstance(value.get("dk"), str)
        and isinstance(value.get("ct"), str)
    )


def seal(value: Any) -> Any:
    """The sealed form of a value (None, "" and already sealed values stay as they are)."""
    if value in (None, "") or is_sealed(value):
        return value
    kid, kek = _keys()[0]
    data_key = os.urandom(16)
    plain = json.dumps(value, ensure_ascii=False).encode("utf-8")
    return {
        "enc": TAG,
        "kid": kid,
        "dk": _b64(_encrypt(kek, data_key, kid.encode())),
        "ct": _b64(_encrypt(data_key, plain, _VALUE_AAD)),
    }


def _data_key(value: dict) -> bytes:
    kek = dict(_keys()).get(value["kid"])
    if kek is None:
        raise KeyMissing(f"personal-data key {value['kid']!r} is not in ZS_PII_KEYS")
    try:
        return _decrypt(kek, base64.b64decode(value["dk"]), value["kid"].encode())
    except (InvalidTag, binascii.Error, ValueError) as err:
        raise KeyMissing(f"personal-data key {value['kid']!r} does not open this value") from err


def unseal(value: Any) -> Any:
    """The clear value; a value that is not sealed is returned as it is. KeyMissing when it cannot be
    opened."""
    if not is_sealed(value):
        return value
    try:
        plain = _decrypt(_data_key(value), base64.b64decode(value["ct"]), _VALUE_AAD)
        return json.loads(plain.decode("utf-8"))
    except (InvalidTag, binascii.Error, ValueError) as err:
        raise KeyMissing("a sealed personal value does not decrypt (altered?)") from err


def reveal(value: Any) -> Any:
    """The clear value for a page that shows it; UNREADABLE instead of an error when its key is missing."""
    try:
        return unseal(value)
    except KeyMissing:
        return UNREADABLE


def rewrap(value: Any) -> Any:
    """The value's data key wrapped under the current key (the value itself is not re-encrypted)."""
    if not is_sealed(value) or value["kid"] == current_kid():
        return value
    kid, kek = _keys()[0]
    return {**value, "kid": kid, "dk": _b64(_encrypt(kek, _data_key(value), kid.encode()))}


def mask(text: Any) -> str:
    """What lists and paper show of a personal value: a phone number's first 3 and last 4 digits, an
    e-mail's first letter and domain, a name's first character."""
    if text in (None, ""):
        return ""
    text = str(text)
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 7 and len(digits) >= len(text) - 4:
        return f"{digits[:3]}****{digits[-4:]}"
    if "@" in text:
        local, _, domain = text.partition("@")
        return f"{local[:1]}***@{domain}"
    return text[:1] + "*" * min(max(len(text) - 1, 1), 3)


def masked(value: Any) -> Any:
    """A sealed value masked; anything else as it is."""
    return mask(reveal(value)) if is_sealed(value) else value


def personal_fields(schema: dict) -> list[str]:
    """The top-level fields a form schema marks as personal data."""
    return [
        name
        for name, prop in (schema.get("properties") or {}).items()
        if isinstance(prop, dict) and prop.get(MARK) is True
    ]


def seal_fields(schema: dict, values: dict) -> dict:
    """`values` with every field the schema marks as personal sealed (validated in clear before)."""
    fields = personal_fields(schema)
    if not fields:
        return values
    return {k: seal(v) if k in fields else v for k, v in values.items()}


def _walk(data: Any, leaf) -> Any:
    if is_sealed(data):
        return leaf(data)
    if isinstance(data, dict):
        return {k: _walk(v, leaf) for k, v in data.items()}
    if isinstance(data, list):
        return [_walk(v, leaf) for v in data]
    return data


def reveal_all(data: Any) -> Any:
    """A copy of `data` with every sealed value in clear (for a page that may show it)."""
    return _walk(data, reveal)


def mask_all(data: Any) -> Any:
    """A copy of `data` with every sealed value masked (lists, exports, paper, audit pages)."""
    return _walk(data, masked)


def rewrap_all(data: Any) -> tuple[Any, int]:
    """(`data` with every sealed value's data key under the current key, how many changed)."""
    changed = 0

    def leaf(value):
        nonlocal changed
        new = rewrap(value)
        changed += new is not value
        return new

    return _walk(data, leaf), changed
