"""Cells of exported spreadsheets (.xlsx ledgers, the audit events CSV) as text, never as formulas.

A project, unit or user name such as `=HYPERLINK("http://…","点此")` must not become a live formula
when a leader opens an export in Excel or WPS (CSV / formula injection, OWASP "CSV Injection"):
- CSV: a text cell starting with = + - @, a tab or a carriage return gets a leading apostrophe, the
  OWASP recommendation; spreadsheet programs show the rest as typed.
- .xlsx: the cell is stored with the string data type, so its text is shown exactly as typed (no
  apostrophe needed; openpyxl would otherwise store a value starting with "=" as a formula).
"""
from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """`value` for a CSV row: text that a spreadsheet would read as a formula is prefixed with '."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(values) -> list:
    return [csv_cell(v) for v in values]


def xlsx_append(ws, values) -> None:
    """Append a row to an openpyxl worksheet with every text value stored as a string, never a formula."""
    ws.append(list(values))
    for cell in ws[ws.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
