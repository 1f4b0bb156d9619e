"""Official documents (文书) as PDF: Jinja2 templates + one CSS file, rendered by WeasyPrint.

This module only renders: it receives a plain context (dicts, strings, numbers, dates) built by
workflows/services/document_service.py and returns PDF bytes. It never reads the database.

Layout follows GB/T 9704-2012 (党政机关公文格式) as far as free fonts allow: A4, 版心 156 × 225 mm
(margins top 37, left 28, right 26, bottom 35 mm), a centred title in a heavy serif, body text in a
宋体-like serif with 仿宋-like families first when the server has them, page numbers at the foot.
Document texts are Chinese only: official documents of a Chinese county are issued in Chinese, so
nothing here goes through the UI's translation catalogue.
"""
from __future__ import annotations

import base64
import ctypes
import ctypes.util
import functools
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2

from workflows.errors import ServiceError
from workflows.localtime import to_local

HERE = Path(__file__).resolve().parent

# URL slug → document title. The order is the order the project page offers them in.
KINDS: dict[str, str] = {
    "review-form": "项目评审表",
    "joint-review": "联合会审意见汇总表",
    "contract-review": "合同审签单",
    "filing-form": "备案表",
    "reminder-letter": "项目推进提醒函",
    "history": "项目办理记录",
}

# One character per kind for the document number (机关代字 after 县 + 商), see document_number().
NUMBER_CODES = {"review-form": "审", "joint-review": "会", "contract-review": "合", "filing-form": "报",
                "reminder-letter": "函", "history": "档"}

# The font every document needs: Debian/Ubuntu fonts-noto-cjk (Noto Serif CJK SC, Regular and Bold;
# Black where the full Noto CJK set is installed). Named as fontconfig knows the family.
REQUIRED_FAMILY = "Noto Serif CJK SC"
# Put first when fontconfig has them: 仿宋 for body text (GB/T 9704 prescribes 3号仿宋), 小标宋 for
# titles, 宋体 for page numbers. Proprietary fonts are not shipped; a county's server may have them.
FANGSONG_LIKE = ("FangSong", "仿宋", "FangSong_GB2312", "仿宋_GB2312", "STFangsong", "华文仿宋",
                 "FZFangSong-Z02S", "方正仿宋简体", "方正仿宋_GBK")
XIAOBIAOSONG_LIKE = ("FZXiaoBiaoSong-B05S", "方正小标宋简体", "方正小标宋_GBK", "FZXiaoBiaoSong-B05")
SONGTI_LIKE = ("SimSun", "宋体", "STSong", "华文宋体")


class DocumentFontMissing(ServiceError):
    """The server cannot render Chinese: refuse rather than hand out a PDF of empty boxes."""

    status = 500


@functools.lru_cache(maxsize=1)
def cjk_families() -> frozenset[str]:
    """Names of the font families fontconfig has that cover Simplified Chinese (`fc-list :lang=zh family`),
    read through libfontconfig itself (the library WeasyPrint's Pango uses; no fc-list binary needed)."""
    path = ctypes.util.find_library("fontconfig")
    if not path:
        return frozenset()
    fc = ctypes.CDLL(path)
    fc.FcInitLoadConfigAndFonts.restype = ctypes.c_void_p
    fc.FcNameParse.restype = ctypes.c_void_p
    fc.FcNameParse.argtypes = [ctypes.c_char_p]
    fc.FcObjectSetCreate.restype = ctypes.c_void_p
    fc.FcObjectSetAdd.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    fc.FcFontList.restype = ctypes.c_void_p
    fc.FcFontList.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    fc.FcPatternGetString.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                      ctypes.POINTER(ctypes.c_char_p)]
    for name in ("FcFontSetDestroy", "FcObjectSetDestroy", "FcPatternDestroy", "FcConfigDestroy"):
        getattr(fc, name).argtypes = [ctypes.c_void_p]

    class FontSet(ctypes.Structure):
        _fields_ = [("nfont", ctypes.c_int), ("sfont", ctypes.c_int),
                    ("fonts", ctypes.POINTER(ctypes.c_void_p))]

    config = fc.FcInitLoadConfigAndFonts()
    pattern = fc.FcNameParse(b":lang=zh-cn")
    objects = fc.FcObjectSetCreate()
    fc.FcObjectSetAdd(objects, b"family")
    found = fc.FcFontList(config, pattern, objects)
    families: set[str] = set()
    try:
        fonts = ctypes.cast(found, ctypes.POINTER(FontSet)).contents
        for i in range(fonts.nfont):
            n = 0
            value = ctypes.c_char_p()
            while fc.FcPatternGetString(fonts.fonts[i], b"family", n, ctypes.byref(value)) == 0:
                families.add(value.value.decode("utf-8", "replace"))
                n += 1
    finally:
        fc.FcFontSetDestroy(found)
        fc.FcObjectSetDestroy(objects)
        fc.FcPatternDestroy(pattern)
        fc.FcConfigDestroy(config)
    return frozenset(families)


def font_stacks() -> dict[str, str]:
    """CSS font-family values naming only families fontconfig has; raises DocumentFontMissing when the
    Chinese serif is not installed (Chinese would otherwise come out as empty boxes)."""
    available = cjk_families()
    if REQUIRED_FAMILY not in available:
        raise DocumentFontMissing("服务器未安装中文字体 Noto Serif CJK SC，无法生成 PDF 文书，"
                                  "请管理员安装 fonts-noto-cjk 后重试。")

    def stack(preferred: tuple[str, ...]) -> str:
        names = [n for n in preferred if n in available] + [REQUIRED_FAMILY]
        return ", ".join(f'"{n}"' for n in names)

    return {"body": stack(FANGSONG_LIKE), "title": stack(XIAOBIAOSONG_LIKE), "song": stack(SONGTI_LIKE)}


def cn_date(value: Any) -> str:
    """A date on paper: 2026年5月6日. GB/T 9704-2012 §7.3.5.3 writes 成文日期 in Arabic numerals with the
    full year and no leading zero in month or day ("1不编为01"). Datetimes are naive UTC from the
    database and shown in China time; ISO date strings (form dates) are taken as they are."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = to_local(value).date()
    return f"{value.year}年{value.month}月{value.day}日"


def cn_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    local = to_local(value)
    return f"{cn_date(value)} {local:%H:%M:%S}"


def wan(value: Any) -> str:
    """An amount in 万元 (or 万美元) with thousands separators and two decimals: 25,000.00."""
    if value in (None, ""):
        return "—"
    try:
        return f"{float(value):,.2f}"
    except (TypeError, ValueError):
        return str(value)


def number(value: Any) -> str:
    """A plain quantity (亩, 人): thousands separators, decimals only when there are some."""
    if value in (None, ""):
        return "—"
    try:
        figure = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{figure:,.0f}" if figure.is_integer() else f"{figure:,.2f}".rstrip("0").rstrip(".")


def yes_no(value: Any) -> str:
    """A checkbox pair as printed forms have it: ■是 □否."""
    if value is None:
        return "□是　□否"
    return "■是　□否" if value else "□是　■否"


def png_data_uri(png: bytes | None) -> str | None:
    """A drawn signature (PNG bytes) embedded in the document, never fetched from anywhere."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii") if png else None


def document_number(county: str, kind: str, year: int, sequence: int) -> str:
    """发文字号 (GB/T 9704-2012 §7.2.4): 机关代字〔年份〕序号号, e.g. 南商审〔2026〕12号.

    A real number comes from the bureau's register of outgoing documents, which this system does not
    keep; so the number is derived, stable (the same each time the document is generated again) and
    unique: the county's one-character abbreviation as its documents use it (南县 → 南, 桃江县 → 桃),
    商 for the commerce bureau, one character for the kind of document (NUMBER_CODES), the year the
    project was registered (China time) and the project's id as the sequence. Project ids are unique
    across all counties, so no two projects share a number; numbers are not consecutive in a county.
    """
    return f"{county[:1]}商{NUMBER_CODES[kind]}〔{year}〕{sequence}号"


def _fetcher():
    """Documents embed their images as data: URIs and load nothing else: no file:// or network access,
    whatever text ends up in a template; anything else stops the rendering."""
    from weasyprint import URLFetcher

    return URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(cn_date=cn_date, cn_datetime=cn_datetime, wan=wan, number=number, yes_no=yes_no)
    return env


def render(kind: str, context: dict[str, Any]) -> bytes:
    """The PDF of one document kind from its context (see document_service for what each holds)."""
    return render_page(f"{kind}.html", {"kind": kind, "title": KINDS[kind], **context})


def render_page(template: str, context: dict[str, Any]) -> bytes:
    """A PDF from any template of this folder (not a project document: e.g. the period report), with
    the same stylesheet, fonts and closed URL fetcher as the project documents."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    stacks = font_stacks()
    fonts = FontConfiguration()
    css = (HERE / "documents.css").read_text(encoding="utf-8")
    css += (f"\nhtml {{ font-family: {stacks['body']}; }}\n"
            f".heavy, h1 {{ font-family: {stacks['title']}; }}\n"
            f"@page {{ @bottom-center {{ font-family: {stacks['song']}; }} }}\n")
    html = HTML(string=_environment().get_template(template).render(**context), url_fetcher=_fetcher())
    return html.write_pdf(stylesheets=[CSS(string=css, font_config=fonts)], font_config=fonts)
