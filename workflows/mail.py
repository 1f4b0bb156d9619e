"""Optional e-mail copies of in-app notifications, through the SMTP server set in configuration.

Mail is sent only after the transaction that created the notification commits, so a rolled-back
step never mails anyone; a mail server that is down loses nothing in the application (the in-app
notification stays) and is logged.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_settings: dict = {"host": "", "port": 25, "sender": "noreply@localhost"}


def configure(host: str, port: int, sender: str) -> None:
    _settings.update(host=host or "", port=int(port), sender=sender)


def enabled() -> bool:
    return bool(_settings["host"])


def queue(session: Session, to: str | None, subject: str, body: str) -> None:
    """Send after this session commits (nothing if mail is off or the user has no address)."""
    if enabled() and to:
        session.info.setdefault("outgoing_mail", []).append((to, subject, body))


@event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    for to, subject, body in session.info.pop("outgoing_mail", []):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = _settings["sender"], to, subject
        message.set_content(body)
        try:
            with smtplib.SMTP(_settings["host"], _settings["port"], timeout=10) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as err:
            log.warning("mail to %s not sent: %s", to, err)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop("outgoing_mail", None)
