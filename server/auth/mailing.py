"""The mails accounts send, how many an address may receive, and sending them off the request.

Every mail to one address counts against ``account_mails_per_hour`` (verification links, "someone
signed up with your address", reset links), so neither resend nor sign-up nor reset can flood a
mailbox; over the budget the request answers as always and no mail goes out (an older link of the
address still works). Links open pages under ``/account/`` that only show a form: opening a link,
as mail scanners do, spends nothing (``pages``).

``deliver`` sends in the background: the answer to "reset my password" must take the same time
whether or not the address has an account. ``settle_mail(app)`` waits for what is in flight (tests,
shutdown).
"""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage
from urllib.parse import urlencode

import asyncpg
from aiohttp import web

from .. import appkeys
from ..config import Settings
from ..mail import MailError, compose
from . import ratelimit

log = logging.getLogger(__name__)

VERIFY_PAGE = "/account/verify-email"
RESET_PAGE = "/account/reset-password"
MAIL_WINDOW_S = 3600
_IN_FLIGHT = web.AppKey("account_mails_in_flight", set)


def link(settings: Settings, page: str, token: str) -> str:
    return f"{settings.effective_public_base_url}{page}?{urlencode({'token': token})}"


def verification_mail(settings: Settings, to: str, username: str | None, token: str) -> EmailMessage:
    """``username``: the sign-up that caused the mail; None for a resend (it may be anyone's)."""
    hours = max(1, settings.verify_token_ttl_s // 3600)
    who = f' as "{username}"' if username else ""
    body = (
        f"Hello,\n\nsomeone signed up for imagepipe{who} with this address. If it was you,\n"
        "open this link and confirm with your username and the password you chose:\n\n"
        f"{link(settings, VERIFY_PAGE, token)}\n\n"
        f"The link works for {hours} hour(s); a newer one replaces it. If it was not you, ignore this mail:\n"
        "nobody can use your address without it, and the sign-up is deleted on its own.\n"
    )
    return compose(settings.mail_from, to, "Confirm your email address", body)


def already_registered_mail(settings: Settings, to: str, username: str) -> EmailMessage:
    body = (
        f"Hello {username},\n\nsomeone tried to sign up for imagepipe with this address, which already has\n"
        "your account. If it was you, log in instead; if you forgot your password, reset it from the\n"
        "log-in screen. If it was not you, nothing has changed and you need not do anything.\n"
    )
    return compose(settings.mail_from, to, "You already have an imagepipe account", body)


def reset_mail(settings: Settings, to: str, username: str, token: str) -> EmailMessage:
    minutes = max(1, settings.reset_token_ttl_s // 60)
    body = (
        f"Hello {username},\n\nsomeone asked to reset the password of your imagepipe account. If it was you,\n"
        "open this link and choose a new password:\n\n"
        f"{link(settings, RESET_PAGE, token)}\n\n"
        f"The link works once, for {minutes} minutes. Setting a new password logs out every device.\n"
        "If it was not you, ignore this mail: your password stays as it is.\n"
    )
    return compose(settings.mail_from, to, "Reset your imagepipe password", body)


async def may_mail(conn: asyncpg.Connection, settings: Settings, address: str) -> bool:
    """Count one mail to ``address`` against its hourly budget; False once it is spent."""
    bucket = f"mail:addr:{ratelimit.digest(address)}"
    return await ratelimit.allowed(conn, bucket, settings.account_mails_per_hour, window_s=MAIL_WINDOW_S)


async def _send(app: web.Application, message: EmailMessage, what: str) -> None:
    try:
        await app[appkeys.MAILER].send(message)
    except MailError as exc:  # logged without the token or the address; the user can ask again
        log.error("%s mail not sent: %s", what, exc)
    except Exception:
        log.exception("%s mail not sent", what)


async def send_now(app: web.Application, message: EmailMessage, what: str) -> None:
    """Send while the request waits (sign-up, where every answer sends one mail anyway)."""
    await _send(app, message, what)


def deliver(app: web.Application, message: EmailMessage, what: str) -> None:
    """Send ``message`` in the background (see the module docstring)."""
    tasks: set[asyncio.Task[None]] = app[_IN_FLIGHT]
    task = asyncio.get_running_loop().create_task(_send(app, message, what))
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def settle_mail(app: web.Application) -> None:
    """Wait for every mail in flight (on shutdown, and in tests before reading the outbox)."""
    tasks = list(app[_IN_FLIGHT])
    if tasks:
        await asyncio.wait(tasks, timeout=30)


def install(app: web.Application) -> None:
    """Before start-up: room for mails in flight, sent before the mailer closes on shutdown."""
    app[_IN_FLIGHT] = set()
    app.on_shutdown.append(settle_mail)
