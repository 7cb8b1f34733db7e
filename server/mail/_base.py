"""What every mailer offers: send one message, then close."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol


class MailError(Exception):
    """The message could not be handed over (disk full, SMTP refused); the text holds no secrets."""


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> object: ...  # FileMailer returns the file's path

    async def close(self) -> None: ...


def compose(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    # Plain 7bit when possible, so links stay greppable in the .eml (quoted-printable would split
    # them and turn "=" into "=3D"); SMTP allows lines up to 998 bytes.
    plain = body.isascii() and all(len(line) <= 998 for line in body.splitlines())
    message.set_content(body, cte="7bit" if plain else None)
    return message
