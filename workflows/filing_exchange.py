"""The filing exchange between a county deployment and a separate prefecture deployment: settings,
request signing and the HTTP client (no database here; see services/filing_exchange_service.py).

One deployment may host the prefecture and its counties (the embedded default: nothing to set). A
county deployment files with a prefecture deployment over HTTP(S) when ZS_FILING_PREFECTURE_URL is
set. Each county shares a key with its prefecture (ZS_FILING_KEYS, ``county=key`` pairs, on both
sides); the prefecture knows where each county's decisions go (ZS_FILING_COUNTY_URLS,
``county=https://…`` pairs).

Every request is signed (HMAC-SHA256 with the county's key) over

    METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n SHA256(BODY)

and carries the headers X-ZS-County (the county's name, percent-encoded UTF-8), X-ZS-Timestamp
(Unix seconds), X-ZS-Nonce (random hex) and X-ZS-Signature (hex). A request outside the replay
window (ZS_FILING_REPLAY_SECONDS either side of the receiver's clock) is refused; a nonce is
accepted once (the receiver keeps the answer it gave, and gives it again to a replay).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

API_PREFIX = "/api/v1"
# The prefecture's decision on the wire (`decision` of POST …/decision). The county completes its
# filing-review task with the answer its form maps to this outcome (`x-outcomes`); an answer word the
# form offers is accepted too (what deployments before this vocabulary sent).
ACCEPTED, RETURNED = "accepted", "returned"
# Message kinds and what a county reports after signing (payload key of POST …/signing).
SIGNED = "contract"
DEFAULT_WINDOW = 300


@dataclass
class Settings:
    prefecture_url: str | None = None  # county side: the prefecture deployment's base URL
    keys: dict[str, str] = field(default_factory=dict)  # county name → shared key
    county_urls: dict[str, str] = field(default_factory=dict)  # prefecture side: county → base URL
    window: int = DEFAULT_WINDOW
    timeout: float = 10.0


_settings = Settings()


class AuthFailed(Exception):
    """A request that is unsigned, badly signed, stale or replayed with other content (HTTP 401)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


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


def configure(prefecture_url: str | None = None, keys: list[str] | str | dict | None = None,
              county_urls: list[str] | str | dict | None = None, window: int | None = None) -> None:
    global _settings
    _settings = Settings(
        prefecture_url=(prefecture_url or "").rstrip("/") or None,
        keys=dict(keys) if isinstance(keys, dict) else pairs(keys),
        county_urls={k: v.rstrip("/") for k, v in
                     (county_urls.items() if isinstance(county_urls, dict) else pairs(county_urls).items())},
        window=int(window or DEFAULT_WINDOW))


def settings() -> Settings:
    return _settings


def files_remotely() -> bool:
    """Do this deployment's counties file with a separate prefecture deployment?"""
    return _settings.prefecture_url is not None


def _canonical(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode("utf-8")


def sign(county: str, key: str, method: str, path: str, body: bytes, *, timestamp: int | None = None,
         nonce: str | None = None) -> dict[str, str]:
    """The authentication headers of one request."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16)
    signature = hmac.new(key.encode("utf-8"), _canonical(method, path, stamp, nonce, body), hashlib.sha256)
    return {"X-ZS-County": quote(county, safe=""), "X-ZS-Timestamp": stamp, "X-ZS-Nonce": nonce,
            "X-ZS-Signature": signature.hexdigest()}


@dataclass(frozen=True)
class SignedRequest:
    county: str
    nonce: str
    request_hash: str  # of the signed content: a replayed nonce must carry the same request


def verify(headers, method: str, path: str, body: bytes, now: float | None = None) -> SignedRequest:
    """Check a request's signature and freshness; the county it was signed for, or AuthFailed."""
    county = unquote(headers.get("X-ZS-County") or "")
    stamp, nonce = headers.get("X-ZS-Timestamp") or "", headers.get("X-ZS-Nonce") or ""
    given = (headers.get("X-ZS-Signature") or "").lower()
    if not (county and stamp and nonce and given):
        raise AuthFailed("请求未签名：缺少 X-ZS-County、X-ZS-Timestamp、X-ZS-Nonce 或 X-ZS-Signature。")
    key = _settings.keys.get(county)
    if key is None:
        raise AuthFailed("未知的县或未配置该县的共享密钥。")
    # ASCII only: "²" or "٣" pass isdigit() but are no timestamp (int() fails or reads another script).
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12) or not (8 <= len(nonce) <= 64) \
            or not (nonce.isascii() and nonce.isalnum()):
        raise AuthFailed("签名参数格式不正确。")
    if abs((time.time() if now is None else now) - int(stamp)) > _settings.window:
        raise AuthFailed("请求已过期（时间戳超出允许的时间窗口），请校准时钟后重发。")
    canonical = _canonical(method, path, stamp, nonce, body)
    expected = hmac.new(key.encode("utf-8"), canonical, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise AuthFailed("签名校验失败。")
    return SignedRequest(county=county, nonce=nonce, request_hash=hashlib.sha256(canonical).hexdigest())


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
    key = _settings.keys.get(county)
    if key is None:
        return Reply(0, None, f"未配置{county}的共享密钥（ZS_FILING_KEYS）。")
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
    full_path = API_PREFIX + path
    headers = {"Content-Type": "application/json; charset=utf-8",
               **sign(county, key, "POST", full_path, body)}
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
