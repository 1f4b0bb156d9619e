"""Messages to users: a notification in the inbox and, when the user has an address, an e-mail."""

from __future__ import annotations

from sqlalchemy.orm import Session

from workflows import mail
from workflows.models import Notification, User


def notify(
    s: Session, user_ids, text: str, kind: str, instance_id: int | None = None, task_id: int | None = None
) -> None:
    for user_id in dict.fromkeys(user_ids):
        s.add(Notification(user_id=user_id, instance_id=instance_id, task_id=task_id, kind=kind, text=text))
        user = s.get(User, user_id)
        mail.queue(s, user.email if user else None, "【招商引资项目评审系统】" + text[:60], text)
