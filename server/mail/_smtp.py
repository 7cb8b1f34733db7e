"""SMTP delivery with the standard library, run in a thread so the event loop never waits on it.

A connection per message: mail here is rare (sign-ups), and it spares us reconnect logic. Errors
are re-raised as ``MailError`` without the server's reply to AUTH, which could echo credentials.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage

from ._base import MailError

TIMEOUT_S = 20.0


class SmtpMailer:
    def __init__(self, host: str, port: int, user: str = "", password: str = "", starttls: bool = True) -> None:
        self.host = host
        self.port = port
        self.user = user
        self._password = password
        self.starttls = starttls

    def __repr__(self) -> str:  # keep the password out of logs and tracebacks
        return f"SmtpMailer(host={self.host!r}, port={self.port}, user={self.user!r}, starttls={self.starttls})"

    def _deliver(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_S) as smtp:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self._password)
            smtp.send_message(message)

    async def send(self, message: EmailMessage) -> None:
        try:
            await asyncio.to_thread(self._deliver, message)
        except smtplib.SMTPAuthenticationError:
            raise MailError(f"SMTP server {self.host}:{self.port} refused the login for {self.user!r}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"SMTP delivery via {self.host}:{self.port} failed: {type(exc).__name__}") from None

    async def close(self) -> None:
        return None
