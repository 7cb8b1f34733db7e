"""The default mailer: one ``.eml`` file per message in ``<data-dir>/outbox``.

Written to a temporary name and renamed, so a reader polling the outbox never sees half a mail.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from ._base import MailError


class FileMailer:
    def __init__(self, outbox: Path) -> None:
        self.outbox = Path(outbox)

    def _write(self, message: EmailMessage) -> Path:
        self.outbox.mkdir(parents=True, exist_ok=True)
        if "Date" not in message:
            message["Date"] = formatdate(localtime=False)
        if "Message-ID" not in message:
            message["Message-ID"] = make_msgid(domain="imagepipe.local")
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:12]}"
        tmp = self.outbox / f".{name}.tmp"
        final = self.outbox / f"{name}.eml"
        data = message.as_bytes()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return final

    async def send(self, message: EmailMessage) -> Path:
        try:
            return await asyncio.to_thread(self._write, message)
        except OSError as exc:
            raise MailError(f"could not write mail to the outbox: {exc.strerror or exc}") from None

    async def close(self) -> None:
        return None
