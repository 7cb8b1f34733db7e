"""Slowing password guessing without letting anyone lock an owner out of their account.

Before: 11 failed logins a minute from anywhere locked the account for everyone, owner included.
Now failures are counted per ``login_lockout_window_s`` window in three separate budgets:

- a client with a device token for the account (``devices``) has its own budget
  (``login_failures_per_device``): an attacker elsewhere cannot spend it;
- any other client has a budget per account and address (``login_failures_per_address``): one
  attacking address locks out only itself, and the owner from any other address still logs in;
- all such clients together have a budget per account (``login_failures_per_account``): guessing
  from many addresses is still slowed to that many guesses per window, and while it is spent only
  clients with a device token get through.

Each attempt is counted *before* the password is checked (so a burst of parallel guesses cannot
all slip in before the first failure is recorded) and given back if it succeeds or is refused.
An exhausted budget is 429 ``rate_limited`` with ``Retry-After``, answered before any bcrypt work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from ..config import Settings
from . import ratelimit
from .devices import Device


@dataclass
class Attempt:
    counted: list[tuple[str, ratelimit.Window]] = field(default_factory=list)

    async def give_back(self, conn: asyncpg.Connection) -> None:
        for bucket, window in self.counted:
            await ratelimit.uncount(conn, bucket, window)
        self.counted.clear()


def budgets(settings: Settings, account: str, address: str, device: Device | None) -> list[tuple[str, int]]:
    """(counter bucket, allowed failures) for one attempt. Pure."""
    if device is not None:
        return [(f"login:dev:{device.nonce}", settings.login_failures_per_device)]
    return [
        (f"login:addr:{ratelimit.digest(account + '|' + address)}", settings.login_failures_per_address),
        (f"login:acct:{ratelimit.digest(account)}", settings.login_failures_per_account),
    ]


async def begin(conn: asyncpg.Connection, settings: Settings, account: str, address: str,
                device: Device | None) -> Attempt:
    """Count this attempt as a failure in advance; 429 if a budget is already spent."""
    attempt = Attempt()
    for bucket, allowed in budgets(settings, account, address, device):
        hits, window = await ratelimit.count(conn, bucket, window_s=settings.login_lockout_window_s)
        attempt.counted.append((bucket, window))
        if ratelimit.over_limit(hits, allowed):
            await attempt.give_back(conn)
            raise ratelimit.limited(window, "failed log-ins")
    return attempt
