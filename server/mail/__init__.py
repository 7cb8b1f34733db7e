"""Outgoing mail: ``FileMailer`` (default, ``<data-dir>/outbox``) or ``SmtpMailer`` (``mail_mode=smtp``).

``mail_ctx`` is the app's cleanup context that puts the configured mailer in ``app[MAILER]``.
"""

from __future__ import annotations

from typing import AsyncIterator

from aiohttp import web

from .. import appkeys
from ..config import Settings
from ._base import MailError, Mailer, compose
from ._file import FileMailer
from ._smtp import SmtpMailer


def create_mailer(settings: Settings) -> Mailer:
    if settings.mail_mode == "smtp":
        return SmtpMailer(
            settings.smtp_host, settings.smtp_port, settings.smtp_user, settings.smtp_password, settings.smtp_starttls
        )
    return FileMailer(settings.data_dir / "outbox")


async def mail_ctx(app: web.Application) -> AsyncIterator[None]:
    mailer = create_mailer(app[appkeys.SETTINGS])
    app[appkeys.MAILER] = mailer
    try:
        yield
    finally:
        await mailer.close()


__all__ = ["FileMailer", "MailError", "Mailer", "SmtpMailer", "compose", "create_mailer", "mail_ctx"]
