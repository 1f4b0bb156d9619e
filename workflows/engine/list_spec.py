"""What a process shows in inboxes and lists, as its model declares it.

Process-level `spiffworkflow:property` entries name data paths (dotted, e.g. `filing.number`; several
separated by commas: the first with a value wins) and the labels of the columns:

    listTitle   the row's title                  listTitleLabel   its column label
                (default: the process name and the instance number)
    listParty   a party (投资方, 投诉人 …)        listPartyLabel   its column label
    listAmount  an amount (a number)              listAmountLabel  its column label
    listClass   a class or category (short text)  listClassLabel   its column label

After each step the values at those paths are copied into the instance row's index columns
(project_name, investor, amount_wan, project_class), so lists, searches and filters stay plain SQL.
A process declaring none of them is listed by its name, start time and initiator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
COLUMNS = ("title", "party", "amount", "class")


@dataclass(frozen=True)
class ListSpec:
    title: tuple[str, ...] = ()
    party: tuple[str, ...] = ()
    amount: tuple[str, ...] = ()
    klass: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()  # (column, label) of the declared columns, in COLUMNS order

    @property
    def declared(self) -> bool:
        return bool(self.title or self.party or self.amount or self.klass)

    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


DEFAULT_LABELS = {"title": "名称", "party": "相关方", "amount": "金额", "class": "类别"}


def _paths(value: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (value or "").split(",") if p.strip())


def list_spec(files: dict[str, str], process_id: str) -> ListSpec:
    return _list_spec(
        json.dumps({n: t for n, t in files.items() if n.endswith(".bpmn")}, sort_keys=True), process_id
    )


@lru_cache(maxsize=128)
def _list_spec(bpmn_json: str, process_id: str) -> ListSpec:
    for text in json.loads(bpmn_json).values():
        try:
            root = etree.fromstring(text.encode("utf-8"))
        except etree.XMLSyntaxError:
            continue
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            if process.get("id") != process_id:
                continue
            props = {
                p.get("name"): p.get("value", "")
                for p in process.findall(
                    f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"
                )
            }
            paths = {
                "title": _paths(props.get("listTitle")),
                "party": _paths(props.get("listParty")),
                "amount": _paths(props.get("listAmount")),
                "class": _paths(props.get("listClass")),
            }
            labels = tuple(
                (c, (props.get(f"list{c.capitalize()}Label") or DEFAULT_LABELS[c]).strip())
                for c in COLUMNS
                if paths[c]
            )
            return ListSpec(paths["title"], paths["party"], paths["amount"], paths["class"], labels)
    return ListSpec()


def value_at(data: dict, paths: tuple[str, ...]) -> Any:
    """The first value found at the paths (dotted keys into nested objects); None when none has one."""
    for path in paths:
        node: Any = data
        for key in path.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        if node not in (None, ""):
            return node
    return None
