"""The prefecture commerce bureau's view of the filings of its counties."""
from __future__ import annotations

from sqlalchemy import select

from workflows import auth
from workflows.actor import Actor
from workflows.db import transaction
from workflows.models import Filing, Organisation, ProcessInstance
from workflows.services.views import FilingItem


def filing_list(actor: Actor) -> list[FilingItem]:
    auth.require(auth.filing_list(actor), "只有市/州商务局可以查看备案。")
    with transaction() as s:
        rows = s.execute(select(Filing, ProcessInstance, Organisation)
                         .join(ProcessInstance, Filing.instance_id == ProcessInstance.id)
                         .join(Organisation, Filing.county_id == Organisation.id)
                         .where(Filing.prefecture_id == actor.org_id)
                         .order_by(Filing.submitted_at.desc())).all()
        return [FilingItem(id=f.id, instance_id=i.id, county=c.name, project_name=i.project_name,
                           investor=i.investor,
                           amount_wan=float(i.amount_wan) if i.amount_wan is not None else None,
                           state=f.state, number=f.number, submitted_at=f.submitted_at,
                           times_submitted=f.times_submitted, return_reason=f.return_reason,
                           signing=f.signing) for f, i, c in rows]
