"""The filing exchange between a county deployment and a separate prefecture deployment: settings,
request signing and the HTTP client (no database here; see services/filing_exchange_service.py).

One deployment may host the prefecture and its counties (the embedded default: nothing to set). A
county deployment files with a prefecture deployment over HTTP(S) when ZS_FILING_PREFECTURE_URL is
set; the prefecture knows where each county's decisions go (ZS_FILING_COUNTY_URLS, ``county=https://…``
pairs).

Each deployment signs what it sends with its own private key (ZS_FILING_SIGNING_KEY_FILE, made by
`zhaoshang filing-keys generate`) and verifies what it receives with its peers' public keys: the
prefecture knows each county's (ZS_FILING_COUNTY_KEYS, ``county=key`` pairs), a county knows the
prefecture's (ZS_FILING_PREFECTURE_KEYS). So a county can verify the prefecture's decisions but cannot
produce one, which a key shared by both directions allowed.

The algorithm is chosen per deployment (ZS_FILING_SIGNATURE_ALGORITHM, the kind of key `filing-keys
generate` makes): Ed25519, or SM2 with SM3 (GB/T 32918.2, as GB/T 35276 uses it: default user id,
DER signature; workflows/sm2_signature.py) where the 密评 under GB/T 39786-2021 asks for national
algorithms. A public key says which it is (32 bytes: Ed25519; a 65-byte point: SM2), so a prefecture may
have counties on either. The signed content is

    ZS-FILING-ED25519-1 \\n METHOD \\n PATH \\n COUNTY \\n TIMESTAMP \\n NONCE \\n SHA256(BODY)
    ZS-FILING-SM2-1     \\n METHOD \\n PATH \\n COUNTY \\n TIMESTAMP \\n NONCE \\n SM3(BODY)

(the county is in it because one county deployment's key may sign for several counties), sent as
X-ZS-Key-Id (the first 16 hex digits of the SHA-256 of the raw public key) and X-ZS-Signature-Ed25519 or
X-ZS-Signature-SM2 (base64), with X-ZS-County (the county's name, percent-encoded UTF-8), X-ZS-Timestamp
(Unix seconds) and X-ZS-Nonce (random hex).

The older scheme, during the transition (ZS_FILING_HMAC_TRANSITION, on by default): each county shares
a key with its prefecture (ZS_FILING_KEYS, ``county=key`` pairs, on both sides) and X-ZS-Signature is
the HMAC-SHA256 (hex) of METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n SHA256(BODY). It is accepted only
from a peer whose public key is not configured here, and sent alongside the Ed25519 signature while a
shared key is configured, so either side can be upgraded first. Once a peer's public key is configured,
its requests must carry a valid signature made with it.

A request outside the replay window (ZS_FILING_REPLAY_SECONDS either side of the receiver's clock) is
refused; a nonce is accepted once (the receiver keeps the answer it gave, and gives it again to a
replay).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from workflows.sm2_signature import Sm2PrivateKey, Sm2PublicKey

API_PREFIX = "/api/v1"
# The prefecture's decision on the wire (`decision` of POST …/decision). The county completes its
# filing-review task with the answer its form maps to this outcome (`x-outcomes`); an answer word the
# form offers is accepted too (what deployments before this vocabulary sent).
ACCEPTED, RETURNED = "accepted", "returned"
# Message kinds and what a county reports after signing (payload key of POST …/signing).
SIGNED = "contract"
DEFAULT_WINDOW = 300
# Signature schemes, and who signs a request: a county (filings, signing results) or the prefecture
# (decisions).
ED25519, SM2, HMAC = "ed25519", "sm2", "hmac"
ALGORITHMS = (ED25519, SM2)  # the public-key ones, selectable per deployment
COUNTY, PREFECTURE = "county", "prefecture"
SIGNATURE_HEADERS = {ED25519: "X-ZS-Signature-Ed25519", SM2: "X-ZS-Signature-SM2"}
_TAGS = {ED25519: "ZS-FILING-ED25519-1", SM2: "ZS-FILING-SM2-1"}
_KEY_ID = re.compile(r"[0-9a-f]{16}")
PrivateKey = Ed25519PrivateKey | Sm2PrivateKey
PublicKey = Ed25519PublicKey | Sm2PublicKey


@dataclass
class Settings:
    prefecture_url: str | None = None  # county side: the prefecture deployment's base URL
    keys: dict[str, str] = field(default_factory=dict)  # county name → shared key (the older scheme)
    county_urls: dict[str, str] = field(default_factory=dict)  # prefecture side: county → base URL
    window: int = DEFAULT_WINDOW
    timeout: float = 10.0
    signing_key: PrivateKey | None = None  # this deployment's own
    county_keys: dict[str, dict[str, PublicKey]] = field(default_factory=dict)  # county → key id → key
    prefecture_keys: dict[str, PublicKey] = field(default_factory=dict)  # key id → key
    algorithm: str = ED25519  # what this deployment's key is (ZS_FILING_SIGNATURE_ALGORITHM)
    hmac_transition: bool = True


_settings = Settings()


class AuthFailed(Exception):
    """A request that is unsigned, badly signed, stale or replayed with other content (HTTP 401)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class KeyConfigError(RuntimeError):
    """A configured key that cannot be read: the deployment does not start with it."""


def pairs(entries: list[str] | str | None) -> dict[str, str]:
    """``["南县=abc", "桃江县=def"]`` (or the comma-separated string) → ``{"南县": "abc", …}``."""
    if isinstance(entries, str):
        entries = entries.split(",")
    result = {}
    for entry in entries or []:
        name, sep, value = entry.partition("=")
        if sep and name.strip() and value.strip():
            result[name.strip()] = value.strip()
    return result


# ---- keys (Ed25519 or SM2) ------------------------------------------------------------------------

def algorithm_of(key: PrivateKey | PublicKey) -> str:
    return SM2 if isinstance(key, Sm2PrivateKey | Sm2PublicKey) else ED25519


def _raw_public(key: PrivateKey | PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey | Sm2PrivateKey) else key
    if isinstance(public, Sm2PublicKey):
        return public.raw()
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: PrivateKey | PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw public key: names a key in X-ZS-Key-Id."""
    return hashlib.sha256(_raw_public(key)).hexdigest()[:16]


def public_text(key: PrivateKey | PublicKey) -> str:
    """A public key as configured on the other side: base64 of its raw bytes (Ed25519: 32; SM2: the
    65-byte uncompressed point)."""
    return base64.b64encode(_raw_public(key)).decode("ascii")


def parse_public(text: str) -> PublicKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Sm2PublicKey(raw) if len(raw) == 65 else Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as err:
        raise KeyConfigError(f"不是有效的公钥（Ed25519：32 字节；SM2：65 字节的未压缩点；base64）：{text[:60]!r} / "
                             "not a public key (base64 of 32 bytes for Ed25519, of a 65-byte uncompressed point "
                             "for SM2)") from err


def _key_set(texts) -> dict[str, PublicKey]:
    keys = [parse_public(t) for t in texts if t.strip()]
    return {key_id(k): k for k in keys}


def county_public_keys(entries: list[str] | str | dict | None) -> dict[str, dict[str, PublicKey]]:
    """``南县=<base64>`` pairs; a name given twice has two keys (while one is rotated)."""
    if isinstance(entries, dict):
        entries = [f"{name}={value}" for name, values in entries.items()
                   for value in ([values] if isinstance(values, str) else values)]
    if isinstance(entries, str):
        entries = entries.split(",")
    result: dict[str, dict[str, PublicKey]] = {}
    for entry in entries or []:
        name, sep, value = entry.partition("=")
        if not (sep and name.strip() and value.strip()):
            continue
        result.setdefault(name.strip(), {}).update(_key_set([value]))
    return result


def load_private(source: str | Path | PrivateKey | None) -> PrivateKey | None:
    """This deployment's private key from a PEM file, Ed25519 or SM2 (None when there is no file)."""
    if source is None or isinstance(source, Ed25519PrivateKey | Sm2PrivateKey):
        return source
    path = Path(source)
    if not path.is_file():
        return None
    try:
        data = path.read_bytes()
        key = Sm2PrivateKey.from_pem(data) or serialization.load_pem_private_key(data, password=None)
    except (OSError, ValueError, TypeError) as err:
        raise KeyConfigError(f"无法读取签名私钥 {path}：{err} / cannot read the signing key {path}") from err
    if not isinstance(key, Ed25519PrivateKey | Sm2PrivateKey):
        raise KeyConfigError(f"{path} 不是 Ed25519 或 SM2 私钥 / {path} is not an Ed25519 or SM2 private key")
    return key


def generate_private(path: str | Path, algorithm: str = ED25519) -> PrivateKey:
    """A new private key of `algorithm` written to `path` (PEM: PKCS#8 for Ed25519, our SM2 block for
    SM2; readable by its owner only); an existing file is never overwritten (FileExistsError)."""
    if algorithm not in ALGORITHMS:
        raise KeyConfigError(f"未知的签名算法 {algorithm!r}（ed25519 或 sm2） / unknown signature algorithm")
    if algorithm == SM2:
        key = Sm2PrivateKey.generate()
        pem = key.pem()
    else:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
    return key


def configure(prefecture_url: str | None = None, keys: list[str] | str | dict | None = None,
              county_urls: list[str] | str | dict | None = None, window: int | None = None, *,
              signing_key: str | Path | PrivateKey | None = None,
              county_keys: list[str] | str | dict | None = None,
              prefecture_keys: list[str] | str | None = None, hmac_transition: bool = True,
              algorithm: str | None = None) -> None:
    """`algorithm` (ZS_FILING_SIGNATURE_ALGORITHM): what this deployment signs with; its key must be of
    that kind (KeyConfigError otherwise). None: whatever the key is."""
    global _settings
    if isinstance(prefecture_keys, str):
        prefecture_keys = prefecture_keys.split(",")
    own = load_private(signing_key)
    algorithm = (algorithm or "").strip().lower() or (algorithm_of(own) if own is not None else ED25519)
    if algorithm not in ALGORITHMS:
        raise KeyConfigError(f"ZS_FILING_SIGNATURE_ALGORITHM 须为 ed25519 或 sm2，而不是 {algorithm!r} / must be "
                             "ed25519 or sm2")
    if own is not None and algorithm_of(own) != algorithm:
        raise KeyConfigError(f"签名私钥是 {algorithm_of(own)} 密钥，但 ZS_FILING_SIGNATURE_ALGORITHM={algorithm}："
                             f"用 zhaoshang filing-keys generate 生成 {algorithm} 密钥 / the signing key is "
                             f"{algorithm_of(own)}, the deployment's algorithm {algorithm}")
    _settings = Settings(
        prefecture_url=(prefecture_url or "").rstrip("/") or None,
        keys=dict(keys) if isinstance(keys, dict) else pairs(keys),
        county_urls={k: v.rstrip("/") for k, v in
                     (county_urls.items() if isinstance(county_urls, dict) else pairs(county_urls).items())},
        window=int(window or DEFAULT_WINDOW),
        signing_key=own, county_keys=county_public_keys(county_keys),
        prefecture_keys=_key_set(prefecture_keys or []), hmac_transition=bool(hmac_transition), algorithm=algorithm)


def settings() -> Settings:
    return _settings


def files_remotely() -> bool:
    """Do this deployment's counties file with a separate prefecture deployment?"""
    return _settings.prefecture_url is not None


def _canonical(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """What the older HMAC scheme signs (and what identifies a request for replay checks)."""
    return "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode("utf-8")


def _body_digest(algorithm: str, body: bytes) -> str:
    if algorithm == SM2:
        digest = hashes.Hash(hashes.SM3())
        digest.update(body)
        return digest.finalize().hex()
    return hashlib.sha256(body).hexdigest()


def _canonical_public(algorithm: str, method: str, path: str, county: str, timestamp: str, nonce: str,
                      body: bytes) -> bytes:
    """What a public-key signature signs (the tag names the algorithm, so one cannot pass for the other)."""
    return "\n".join([_TAGS[algorithm], method.upper(), path, county, timestamp, nonce,
                      _body_digest(algorithm, body)]).encode("utf-8")


def sign(county: str, key: str | None, method: str, path: str, body: bytes, *,
         private_key: PrivateKey | None = None, timestamp: int | None = None,
         nonce: str | None = None) -> dict[str, str]:
    """The authentication headers of one request: the Ed25519 or SM2 signature with `private_key`, the
    older HMAC one with the shared `key` (either or both)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16)
    headers = {"X-ZS-County": quote(county, safe=""), "X-ZS-Timestamp": stamp, "X-ZS-Nonce": nonce}
    if key:
        headers["X-ZS-Signature"] = hmac.new(key.encode("utf-8"), _canonical(method, path, stamp, nonce, body),
                                             hashlib.sha256).hexdigest()
    if private_key is not None:
        algorithm = algorithm_of(private_key)
        signature = private_key.sign(_canonical_public(algorithm, method, path, county, stamp, nonce, body))
        headers["X-ZS-Key-Id"] = key_id(private_key)
        headers[SIGNATURE_HEADERS[algorithm]] = base64.b64encode(signature).decode("ascii")
    return headers


@dataclass(frozen=True)
class SignedRequest:
    county: str
    nonce: str
    request_hash: str  # of the signed content: a replayed nonce must carry the same request
    scheme: str = ED25519  # which signature was verified (ED25519, SM2 or HMAC)
    signer: str = COUNTY
    key_id: str | None = None  # public key: the key verified; HMAC: the key id offered alongside, unverified
    # What lets the signature be checked again later (recheck): the signed fields, the body, the signature.
    evidence: dict | None = None


def verify(headers, method: str, path: str, body: bytes, now: float | None = None,
           signer: str = COUNTY) -> SignedRequest:
    """Check a request's signature and freshness; the county it was signed for, or AuthFailed. `signer`:
    who must have signed it — a county (its requests) or the prefecture (its decisions)."""
    county = unquote(headers.get("X-ZS-County") or "")
    stamp, nonce = headers.get("X-ZS-Timestamp") or "", headers.get("X-ZS-Nonce") or ""
    given_hmac = (headers.get("X-ZS-Signature") or "").lower()
    given_public = {algorithm: headers.get(name) or "" for algorithm, name in SIGNATURE_HEADERS.items()}
    given_id = headers.get("X-ZS-Key-Id") or ""
    if not (county and stamp and nonce and (given_hmac or any(given_public.values()))):
        raise AuthFailed("请求未签名：缺少 X-ZS-County、X-ZS-Timestamp、X-ZS-Nonce 或签名"
                         "（X-ZS-Key-Id 与 X-ZS-Signature-Ed25519 或 X-ZS-Signature-SM2）。")
    # ASCII only: "²" or "٣" pass isdigit() but are no timestamp (int() fails or reads another script).
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12) or not (8 <= len(nonce) <= 64) \
            or not (nonce.isascii() and nonce.isalnum()):
        raise AuthFailed("签名参数格式不正确。")
    if abs((time.time() if now is None else now) - int(stamp)) > _settings.window:
        raise AuthFailed("请求已过期（时间戳超出允许的时间窗口），请校准时钟后重发。")
    request_hash = hashlib.sha256(_canonical(method, path, stamp, nonce, body)).hexdigest()
    offered_id = given_id if _KEY_ID.fullmatch(given_id) else None
    public = _settings.prefecture_keys if signer == PREFECTURE else _settings.county_keys.get(county, {})
    signed = {"method": method.upper(), "path": path, "county": county, "timestamp": stamp, "nonce": nonce,
              "body": body.decode("utf-8", "replace")}
    if public:
        # A peer whose public key is known signs with it: its older shared key no longer counts.
        if not any(given_public.values()):
            raise AuthFailed("须以公钥签名（X-ZS-Key-Id 与 X-ZS-Signature-Ed25519 或 X-ZS-Signature-SM2）：已配置"
                             "对方的公钥，不再接受共享密钥签名。")
        if offered_id is None:
            raise AuthFailed("公钥编号（X-ZS-Key-Id）格式不正确。")
        key = public.get(offered_id)
        if key is None:
            raise AuthFailed("未知的公钥编号（X-ZS-Key-Id）：未配置该公钥。")
        algorithm = algorithm_of(key)
        given = given_public[algorithm]
        if not given:
            raise AuthFailed(f"该公钥是 {algorithm.upper()} 公钥，须以 {SIGNATURE_HEADERS[algorithm]} 签名。")
        problem = _check_public(key, given, _canonical_public(algorithm, method, path, county, stamp, nonce, body))
        if problem:
            raise AuthFailed(problem)
        return SignedRequest(county, nonce, request_hash, algorithm, signer, offered_id,
                             {**signed, "algorithm": algorithm, "key_id": offered_id, "signature": given})
    shared = _settings.keys.get(county)
    if shared is None or not _settings.hmac_transition:
        raise AuthFailed("未知的县或未配置其公钥。" if _settings.hmac_transition else
                         "未配置对方的公钥；共享密钥签名（HMAC）已停用。")
    if not given_hmac:
        raise AuthFailed("未配置对方的公钥，无法核验公钥签名。")
    expected = hmac.new(shared.encode("utf-8"), _canonical(method, path, stamp, nonce, body),
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), given_hmac.encode("utf-8", "replace")):
        raise AuthFailed("签名校验失败。")
    return SignedRequest(county, nonce, request_hash, HMAC, signer, offered_id,
                         {**signed, "algorithm": HMAC, "key_id": None, "signature": given_hmac})


def _check_public(key: PublicKey, given: str, content: bytes) -> str | None:
    """None when `given` (base64) is the key's signature of `content`, else what is wrong."""
    try:
        signature = base64.b64decode(given, validate=True) if given.isascii() else b""
    except (binascii.Error, ValueError):
        signature = b""
    algorithm = algorithm_of(key)
    if not (len(signature) == 64 if algorithm == ED25519 else 8 <= len(signature) <= 72):
        return f"签名（{SIGNATURE_HEADERS[algorithm]}）格式不正确。"
    try:
        key.verify(signature, content)
    except InvalidSignature:
        return "签名校验失败。"
    return None


def recheck(evidence: dict, signer: str = PREFECTURE) -> str | None:
    """Check a stored signature again (an audit event keeps the `evidence` of a received decision):
    None when it is a valid signature, by a public key configured here for `signer`, of exactly the
    stored body; else what is wrong. A shared-key (HMAC) signature of the transition is checked with the
    shared key: that shows the body was not changed by anyone without the key, but not who signed it
    (both sides hold the key)."""
    if not isinstance(evidence, dict):
        return "没有保存签名。"
    algorithm = evidence.get("algorithm")
    if algorithm not in (*ALGORITHMS, HMAC):
        return f"未知的签名算法 {str(algorithm)[:20]!r}。"
    fields = [evidence.get(name) for name in ("method", "path", "county", "timestamp", "nonce", "body",
                                              "signature")]
    if not all(isinstance(value, str) for value in fields):
        return "保存的签名记录不完整。"
    method, path, county, stamp, nonce, body, given = fields
    if algorithm == HMAC:
        shared = _settings.keys.get(county)
        if shared is None:
            return "共享密钥（HMAC）签名，而本部署已不配置该县的共享密钥，无法复核。"
        expected = hmac.new(shared.encode("utf-8"), _canonical(method, path, stamp, nonce, body.encode("utf-8")),
                            hashlib.sha256).hexdigest()
        return None if hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace")) \
            else "签名校验失败。"
    kid = evidence.get("key_id")
    if not isinstance(kid, str):
        return "保存的签名记录不完整。"
    keys = _settings.prefecture_keys if signer == PREFECTURE else _settings.county_keys.get(county, {})
    key = keys.get(kid)
    if key is None:
        return f"公钥 {kid[:16]} 未在本部署配置（轮换后请保留旧公钥以便复核）。"
    if algorithm_of(key) != algorithm:
        return f"公钥 {kid[:16]} 不是 {algorithm} 公钥。"
    return _check_public(key, given, _canonical_public(algorithm, method, path, county, stamp, nonce,
                                                       body.encode("utf-8")))


@dataclass(frozen=True)
class Reply:
    status: int  # 0: no answer (connection refused, timeout)
    body: dict | None
    error: str | None = None

    @property
    def acknowledged(self) -> bool:
        return 200 <= self.status < 300


def base_url(peer: str, county: str) -> str | None:
    """Where a message goes: the prefecture (county side) or a county (prefecture side)."""
    return _settings.prefecture_url if peer == "prefecture" else _settings.county_urls.get(county)


def post(peer: str, county: str, path: str, payload: dict) -> Reply:
    """POST a signed JSON body; never raises for network trouble (the outbox retries)."""
    url = base_url(peer, county)
    if url is None:
        return Reply(0, None, "未配置对方接口地址（ZS_FILING_PREFECTURE_URL / ZS_FILING_COUNTY_URLS）。")
    # The older shared-key signature goes along while the transition lasts: a peer not yet upgraded
    # checks only that one.
    shared = _settings.keys.get(county) if _settings.hmac_transition else None
    if _settings.signing_key is None and shared is None:
        return Reply(0, None, "未配置本部署的签名私钥（ZS_FILING_SIGNING_KEY_FILE，zhaoshang filing-keys generate）。")
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
    full_path = API_PREFIX + path
    headers = {"Content-Type": "application/json; charset=utf-8",
               **sign(county, shared, "POST", full_path, body, private_key=_settings.signing_key)}
    request = urllib.request.Request(url + full_path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=_settings.timeout) as response:
            return Reply(response.status, _json(response.read()))
    except urllib.error.HTTPError as err:
        answer = _json(err.read())
        return Reply(err.code, answer, (answer or {}).get("error") or f"HTTP {err.code}")
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        return Reply(0, None, f"无法连接：{getattr(err, 'reason', err)}")


def _no_constant(name: str):
    """NaN, Infinity and -Infinity are not JSON numbers: a message carrying one is malformed."""
    raise ValueError(f"{name} is not a number")


def _json(raw: bytes) -> dict | None:
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None
