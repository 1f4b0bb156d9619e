"""Duplicate signing (严禁乱签约、重复签约, 《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(十三)):
the prefecture flags a filing that matches an earlier filing of any of its counties — the same investor, and
the same or a similar project — before it is accepted.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.models import Filing, Organisation

# Two project names are "similar" when difflib's ratio (2·matching characters / total characters)
# is at least 0.8, or one name contains the other. For Chinese names of 8–15 characters, 0.8 lets one
# or two characters differ (年产10万吨稻虾深加工项目 / 年产10万吨稻虾精深加工项目: 0.96) while a different
# project of the same investor does not match (稻虾冷链物流园 / 年产10万吨稻虾深加工项目: 0.4); investors
# may well sign several different projects, so the investor alone is not enough. Containment
# catches phase suffixes (稻虾深加工项目 / 稻虾深加工项目（一期）), which fall below 0.8 on length alone.
SIMILAR_RATIO = 0.8

_PUNCTUATION = re.compile(r"[\s\W_]+", re.UNICODE)
# Legal-form spellings that name the same company (有限责任公司 is the long form of 有限公司).
_LEGAL_FORMS = (("有限责任公司", "有限公司"), ("股份有限公司", "股份公司"))


def normalise_investor(name: str | None) -> str:
    """Full-width → half-width (NFKC), lower case, without spaces and punctuation (（）·, …)."""
    text = _PUNCTUATION.sub("", unicodedata.normalize("NFKC", name or "")).lower()
    for long, short in _LEGAL_FORMS:
        text = text.replace(long, short)
    return text


def normalise_project(name: str | None) -> str:
    return _PUNCTUATION.sub("", unicodedata.normalize("NFKC", name or "")).lower()


def similarity(a: str | None, b: str | None) -> float:
    """1.0 for the same project name (after normalising), SIMILAR_RATIO or more for similar ones."""
    x, y = normalise_project(a), normalise_project(b)
    if not x or not y:
        return 0.0
    if x == y:
        return 1.0
    ratio = difflib.SequenceMatcher(None, x, y).ratio()
    if x in y or y in x:
        ratio = max(ratio, SIMILAR_RATIO)
    return round(ratio, 2)


def matches(s: Session, filing: Filing) -> list[dict]:
    """Earlier filings of the same prefecture (any county, any state) that this one duplicates."""
    summary = filing.summary or {}
    investor = normalise_investor(summary.get("investor"))
    if not investor:
        return []
    query = select(Filing).where(Filing.prefecture_id == filing.prefecture_id).order_by(Filing.id)
    if filing.id is not None:
        query = query.where(Filing.id < filing.id)
    found = []
    for other in s.scalars(query):
        theirs = other.summary or {}
        if normalise_investor(theirs.get("investor")) != investor:
            continue
        ratio = similarity(summary.get("project_name"), theirs.get("project_name"))
        if ratio < SIMILAR_RATIO:
            continue
        found.append(
            {
                "filing_id": other.id,
                "county": s.get(Organisation, other.county_id).name,
                "project_name": theirs.get("project_name"),
                "investor": theirs.get("investor"),
                "state": other.state,
                "number": other.number,
                "similarity": ratio,
            }
        )
    return found
