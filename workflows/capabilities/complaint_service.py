"""Investor complaints (《郴州市关于进一步加强招商引资工作的实施意见》 §15): registered by the county commerce
bureau and answered by the responsible department within 7 working days. A BPMN process of its own
(bpmn/investor_complaint.bpmn) run by the same inbox, deadlines and operations as the investment projects."""

from __future__ import annotations

from workflows import auth, forms
from workflows.actor import Actor
from workflows.db import transaction
from workflows.engine.model_store import COMPLAINT, form_files
from workflows.services.instance_step import first_task, start_instance
from workflows.services.project_service import bound_version

PURPOSE = COMPLAINT  # the purpose the complaint pages serve
_WHO = "只有县商务局可以登记投资者投诉。"


def complaint_form(actor: Actor) -> tuple[dict, dict]:
    """(schema, uischema) of the complaint registration form of the current model version."""
    with transaction() as s:
        version = bound_version(s, actor, PURPOSE)
        first = first_task(version)
        auth.require(auth.process_start(actor, first.lane), _WHO)
        return form_files(version, first.form)


def complaint_start(actor: Actor, submitted: dict) -> int:
    """Register a complaint and route it to the responsible department, in one step."""
    with transaction() as s:
        version = bound_version(s, actor, PURPOSE)
        first = first_task(version)
        auth.require(auth.process_start(actor, first.lane), _WHO)
        schema, _ = form_files(version, first.form)
        values = forms.validate(schema, submitted, {})
        instance = start_instance(
            s,
            actor,
            version,
            values,
            {**values, "started_by": actor.username, "county": actor.org_name},
            project_name=values["subject"],
            investor=values["investor"],
            action="complaint_registered",
        )
        return instance.id
