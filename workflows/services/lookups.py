"""Names the pages and documents show for codes a model's data holds."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.models import ProcessInstance, Unit


def unit_name(s: Session, instance: ProcessInstance, code: str | None) -> str | None:
    """The name of a unit code (from BPMN/DMN data) inside the project's county."""
    if not code:
        return None
    return (
        s.scalar(select(Unit.name).where(Unit.organisation_id == instance.county_id, Unit.code == code))
        or code
    )
