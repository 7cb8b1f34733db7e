"""The small HTML pages that mailed links open.

Opening a link only shows a form (a GET changes nothing, so mail scanners and link previews spend
nothing); its button POSTs the form to the same path, which does the work and shows the outcome.
No script, no outside resources; the token in the URL never leaks through a Referer header, and
the pages cannot be framed (clickjacking) or cached.
"""

from __future__ import annotations

import html
from typing import Any, Awaitable, Callable

from aiohttp import web

from .. import appkeys
from ..http import ApiError
from . import mailing, ratelimit, reset, signup
from .validation import parse_token, parse_verification

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}
_STYLE = ("body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}"
          "label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;box-sizing:border-box}"
          "button{margin-top:1.2rem;padding:.6rem 1.2rem;font-size:1rem}")


def _page(title: str, body: str, status: int = 200) -> web.Response:
    text = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>")
    return web.Response(text=text, content_type="text/html", status=status, headers=_HEADERS)


def _form(action: str, token: str, fields: str, button: str) -> str:
    return (f'<form method="post" action="{html.escape(action)}">'
            f'<input type="hidden" name="token" value="{html.escape(token)}">{fields}'
            f"<button type=\"submit\">{html.escape(button)}</button></form>")


_VERIFY_FIELDS = ('<p>Confirm with the username and password you chose when you signed up.</p>'
                  '<label for="username">Username</label>'
                  '<input id="username" name="username" autocomplete="username" required>'
                  '<label for="password">Password</label>'
                  '<input id="password" name="password" type="password" autocomplete="current-password" required>')
_RESET_FIELDS = ('<label for="password">New password</label>'
                 '<input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required>')


async def verify_page(request: web.Request) -> web.Response:
    token = request.query.get("token", "")
    return _page("Confirm your email address",
                 _form(mailing.VERIFY_PAGE, token, _VERIFY_FIELDS, "Confirm my email address"))


async def reset_page(request: web.Request) -> web.Response:
    token = request.query.get("token", "")
    return _page("Choose a new password", _form(mailing.RESET_PAGE, token, _RESET_FIELDS, "Set my new password"))


async def _submitted(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/x-www-form-urlencoded":
        raise ApiError(415, "unsupported_media_type", "this page takes its own form")
    return dict(await request.post())


async def _run(request: web.Request, title: str, work: Callable[[dict[str, Any]], Awaitable[str]]) -> web.Response:
    """Do the page's POST; every outcome, failure included, is a page."""
    try:
        form = await _submitted(request)
        async with request.app[appkeys.DB].acquire() as conn:
            await ratelimit.enforce(request, request.app[appkeys.SETTINGS], conn, "page", str(form.get("token", "")))
        done = await work(form)
    except ApiError as exc:
        return _page(title, f"<p>{html.escape(exc.message)}</p>", status=exc.status)
    return _page(title, f"<p>{html.escape(done)}</p>")


async def verify_submit(request: web.Request) -> web.Response:
    async def work(form: dict[str, Any]) -> str:
        data = parse_verification(form)
        await signup.verify(request.app[appkeys.DB], request.app[appkeys.SETTINGS], data.token, data.username,
                            data.password)
        return "Your email address is confirmed. You can log in now."

    return await _run(request, "Confirm your email address", work)


async def reset_submit(request: web.Request) -> web.Response:
    async def work(form: dict[str, Any]) -> str:
        token = parse_token(form)
        password = form.get("password")
        await reset.confirm(request.app, token, password if isinstance(password, str) else "")
        return "Your password is changed and every device is logged out. Log in with the new password."

    return await _run(request, "Choose a new password", work)


def add_routes(app: web.Application) -> None:
    app.router.add_get(mailing.VERIFY_PAGE, verify_page)
    app.router.add_post(mailing.VERIFY_PAGE, verify_submit)
    app.router.add_get(mailing.RESET_PAGE, reset_page)
    app.router.add_post(mailing.RESET_PAGE, reset_submit)
