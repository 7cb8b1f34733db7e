"""Mailers: the file outbox (atomic, one .eml per message) and SMTP against a real SMTP server
(aiosmtpd on loopback), including a sign-up whose verification mail goes out over SMTP."""

from __future__ import annotations

import asyncio
import os
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from serverproc import free_port
from server.config import Settings
from server.mail import FileMailer, MailError, SmtpMailer, compose, create_mailer

SMTP_USER = "mailer"
SMTP_PASSWORD = "s3cret-smtp-password"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd handler hook
        self.messages.append(envelope.original_content or envelope.content)
        return "250 OK"


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), authenticator=_authenticate, auth_require_tls=False
    )
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


async def test_file_mailer_writes_one_complete_eml_per_message(tmp_path: Path) -> None:
    mailer = FileMailer(tmp_path / "outbox")
    paths = await asyncio.gather(
        *(mailer.send(compose("a@x.org", f"u{i}@x.org", "hi", f"body {i}\n")) for i in range(5))
    )
    files = sorted((tmp_path / "outbox").iterdir())
    assert files == sorted(paths) and len(files) == 5
    assert all(f.suffix == ".eml" for f in files), "no temporary files left"
    recipients = {message_from_bytes(f.read_bytes(), policy=policy.default)["To"] for f in files}
    assert recipients == {f"u{i}@x.org" for i in range(5)}
    parsed = message_from_bytes(paths[0].read_bytes(), policy=policy.default)
    assert parsed["Message-ID"] and parsed["Date"]
    assert os.stat(paths[0]).st_mode & 0o077 == 0, "mail holds tokens: owner-only"


async def test_file_mailer_reports_an_unwritable_outbox(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(MailError, match="outbox"):
        await FileMailer(blocker).send(compose("a@x.org", "b@x.org", "hi", "body\n"))


async def test_smtp_mailer_delivers_with_login(smtp_server) -> None:
    controller, inbox = smtp_server
    mailer = SmtpMailer("127.0.0.1", controller.port, SMTP_USER, SMTP_PASSWORD, starttls=False)
    await mailer.send(compose("a@x.org", "b@x.org", "subject here", "hello over smtp\n"))
    [raw] = inbox.messages
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "subject here" and "hello over smtp" in parsed.get_content()


async def test_smtp_errors_never_carry_the_password(smtp_server) -> None:
    controller, _ = smtp_server
    mailer = SmtpMailer("127.0.0.1", controller.port, SMTP_USER, "wrong-" + SMTP_PASSWORD, starttls=False)
    with pytest.raises(MailError) as info:
        await mailer.send(compose("a@x.org", "b@x.org", "s", "b\n"))
    assert SMTP_PASSWORD not in str(info.value) and "refused the login" in str(info.value)
    assert SMTP_PASSWORD not in repr(mailer)


async def test_smtp_unreachable_server_is_a_mail_error() -> None:
    mailer = SmtpMailer("127.0.0.1", free_port(), starttls=False)
    with pytest.raises(MailError, match="failed"):
        await mailer.send(compose("a@x.org", "b@x.org", "s", "b\n"))


def test_create_mailer_follows_mail_mode(tmp_path: Path) -> None:
    assert isinstance(create_mailer(Settings(data_dir=tmp_path)), FileMailer)
    smtp = create_mailer(Settings(mail_mode="smtp", smtp_host="mail.example.org", smtp_password="pw-123"))
    assert isinstance(smtp, SmtpMailer) and "pw-123" not in repr(smtp)


class TestSignUpOverSmtp:
    @pytest.fixture
    def settings(self, settings, smtp_server):
        controller, _ = smtp_server
        return settings.with_overrides(
            mail_mode="smtp", smtp_host="127.0.0.1", smtp_port=controller.port,
            smtp_user=SMTP_USER, smtp_password=SMTP_PASSWORD, smtp_starttls=False,
        )

    async def test_verification_mail_goes_out_over_smtp_and_its_link_works(self, client, smtp_server, data_dir) -> None:
        _, inbox = smtp_server
        body = {"email": "ivan@example.org", "username": "ivan", "password": "long enough password"}
        assert (await client.post("/api/v1/auth/register", json=body)).status == 201
        [raw] = inbox.messages
        content = message_from_bytes(raw, policy=policy.default).get_content()
        token = content.split("token=", 1)[1].split()[0]
        assert (await client.post("/api/v1/auth/verify-email",
                                  json={"token": token, "username": "ivan", "password": body["password"]})).status == 200
        assert not (data_dir / "outbox").exists(), "smtp mode writes no files"
