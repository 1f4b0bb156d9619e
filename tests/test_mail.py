"""Optional mail copies of notifications through a local SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

import socket

import pytest
from flow_support import login, ready_tasks, register_lead

from webapp import create_app
from workflows import mail
from workflows.db import transaction


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()
    mail.configure("", 25, "noreply@localhost")


def test_an_urge_is_also_mailed_when_smtp_is_configured(smtp, sqlite_url):
    inbox, port = smtp
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": sqlite_url,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "t",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": port,
            "SMTP_FROM": "zhaoshang@nanxian.example",
        }
    )
    client = app.test_client()
    pid = register_lead(client)
    ((screening, _, _),) = ready_tasks(app, pid)
    assert client.post(f"/tasks/{screening}/urge", data={"message": "请尽快初审"}).status_code == 302
    assert len(inbox.messages) == 1
    recipients, content = inbox.messages[0]
    assert recipients == ["yanpan@demo.example"]
    assert "zhaoshang@nanxian.example" in content


def test_nothing_is_mailed_when_the_step_rolls_back(smtp, sqlite_database):
    inbox, port = smtp
    mail.configure("127.0.0.1", port, "noreply@nanxian.example")
    with pytest.raises(RuntimeError), transaction() as s:
        mail.queue(s, "yanpan@demo.example", "subject", "body")
        raise RuntimeError("the step failed")
    with transaction() as s:
        pass
    assert inbox.messages == []


def test_a_mail_server_that_is_down_loses_nothing_in_the_app(sqlite_url):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": sqlite_url,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "t",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": 9,
        }
    )  # nothing listens on port 9
    client = app.test_client()
    try:
        pid = register_lead(client)
        ((screening, _, _),) = ready_tasks(app, pid)
        assert client.post(f"/tasks/{screening}/urge").status_code == 302
        login(client, "yanpan")
        assert "催办" in client.get("/notifications").data.decode()
    finally:
        mail.configure("", 25, "noreply@localhost")
