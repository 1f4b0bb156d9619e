"""Currencies are configuration data (ZS_CURRENCIES), not words of the code: `code=unit` pairs, the
first the home currency. Amounts in the home currency are kept in 万元 (`amount_wan`); a project in
another currency keeps its amount in that currency (`amount_usd_wan`) and records the home-currency
equivalent only for the statistics, so no exchange rate is needed here. The codes must be the ones the
model's currency field offers (forms: `currency`)."""

from __future__ import annotations

DEFAULT = "CNY=万元,USD=万美元"
_units: dict[str, str] = {}


def configure(pairs: list[str] | str | None) -> None:
    """Set the currencies from `code=unit` pairs (a list, or one comma-separated string)."""
    if isinstance(pairs, str) or pairs is None:
        pairs = [p for p in (pairs or DEFAULT).split(",") if p.strip()]
    units = {}
    for pair in pairs:
        code, _, unit = pair.partition("=")
        if code.strip():
            units[code.strip()] = unit.strip() or code.strip()
    if not units:
        raise RuntimeError("ZS_CURRENCIES names no currency (code=unit pairs, the home currency first).")
    _units.clear()
    _units.update(units)


def _all() -> dict[str, str]:
    if not _units:
        configure(DEFAULT)
    return _units


def home() -> str:
    """The home currency's code (amounts kept in 万元)."""
    return next(iter(_all()))


def is_home(code: str | None) -> bool:
    """Whether an amount in `code` counts in the home currency (no code: it does)."""
    return not code or code == home()


def unit(code: str | None) -> str:
    """The unit amounts in `code` are shown in (万元, 万美元 …)."""
    units = _all()
    return units.get(code or home(), units[home()])
