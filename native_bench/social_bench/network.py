"""The seeded social network of ``imagepipe bench social``, as pure data: who follows whom, who
posted how much and when, how many likes each post got. Deterministic for a given seed, no I/O,
so its shape (median followees, the heaviest followers, the one account half of everyone follows)
is unit-tested on a small network and the same code builds the million-post one.

Shape (issue 11): accounts follow a log-normal number of others (median ``median_followees``),
picked with a Zipf-like popularity so followers are power-law distributed; ``heavy_accounts``
accounts follow exactly ``heavy_followees``; account 0 (the "celebrity") is followed by
``celebrity_share`` of everyone. Posts are spread over ``history_days``, with a log-normal
number per account; ``dormant_share`` of accounts stopped posting months ago, and one extra
account follows only dormant ones (the case where a plain ``IN (followees) ORDER BY time`` plan
collapses). Likes go to posts in proportion to their author's followers.
"""

from __future__ import annotations

import bisect
import math
import random
import uuid
from array import array
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Iterator

from asyncpg.pgproto.pgproto import UUID as PgUUID

DAY_S = 86_400.0


@dataclass(frozen=True)
class NetworkParams:
    accounts: int = 10_000
    posts: int = 1_000_000
    likes: int = 5_000_000
    median_followees: int = 100
    heavy_followees: int = 2_000
    heavy_accounts: int = 10
    celebrity_share: float = 0.5
    celebrity_posts: int = 1_000
    history_days: float = 730.0
    dormant_share: float = 0.15
    seed: int = 11

    def __post_init__(self) -> None:
        if self.accounts < 10:
            raise ValueError("a network needs at least 10 accounts")
        if self.heavy_followees >= self.accounts or self.median_followees >= self.accounts:
            raise ValueError("followee counts must be below the number of accounts")
        if self.heavy_accounts + 3 > self.accounts:
            raise ValueError("too many heavy accounts for the network")


@dataclass(frozen=True)
class Roles:
    """Account indexes the bench measures."""

    celebrity: int  # followed by celebrity_share of everyone
    heavy: int  # follows heavy_followees accounts
    median: int  # follows median_followees accounts (the closest there is)
    dormant_follower: int  # follows only accounts that stopped posting months ago


@dataclass
class Network:
    params: NetworkParams
    now: float  # epoch seconds the history ends at
    account_ids: list[uuid.UUID]
    followees: list[array]  # per account, the indexes it follows
    post_ids: list[uuid.UUID]  # in publication order (oldest first)
    post_author: array  # per post, the author's index
    post_time: array  # per post, epoch seconds of publication (ascending)
    post_likes: array  # per post, how many likes it gets
    dormant: frozenset[int]
    roles: Roles
    followers_count: array = field(default_factory=lambda: array("l"))

    @property
    def follow_count(self) -> int:
        return sum(len(f) for f in self.followees)

    def like_rows(self) -> Iterator[tuple[int, list[int]]]:
        """(post, its distinct likers, never its author) for every liked post in publication order.
        Likers are a window of a shuffled ring of all accounts at a random offset: distinct by
        construction and one slice per post, which is what makes five million affordable here."""
        rng = random.Random(self.params.seed * 7919 + 1)
        n = len(self.account_ids)
        ring = list(range(n))
        rng.shuffle(ring)
        ring += ring
        for post in range(len(self.post_ids)):
            want = self.post_likes[post]
            if not want:
                continue
            start = int(rng.random() * n)
            picked = ring[start:start + want + 1]
            author = self.post_author[post]
            yield post, [a for a in picked if a != author][:want]


_V4_CLEAR = ~((0xF << 76) | (0x3 << 62)) & (2**128 - 1)
_V4_SET = (0x4 << 76) | (0x2 << 62)


def _uuids(rng: random.Random, count: int) -> list[uuid.UUID]:
    """Random version-4 UUIDs from ``rng``, as asyncpg's own UUID type (a uuid.UUID that its COPY
    encodes without a detour through text: a million of them cost a second, not four)."""
    return [PgUUID(((rng.getrandbits(128) & _V4_CLEAR) | _V4_SET).to_bytes(16, "big")) for _ in range(count)]


def _lognormal_counts(rng: random.Random, n: int, median: float, sigma: float, low: int, high: int) -> list[int]:
    return [min(high, max(low, round(median * math.exp(rng.gauss(0.0, sigma))))) for _ in range(n)]


def _popularity(rng: random.Random, n: int) -> list[float]:
    """Cumulative pick weights: Zipf with an offset over a random ranking (account 0 excluded: the
    celebrity's followers are chosen on their own)."""
    ranks = list(range(1, n))
    rng.shuffle(ranks)
    weights = [0.0] + [1.0 / (r + 200) for r in ranks]
    return list(accumulate(weights))


def _pick_followees(rng: random.Random, me: int, k: int, cum: list[float], n: int) -> array:
    chosen: set[int] = set()
    total = cum[-1]
    while len(chosen) < k:
        for _ in range(k - len(chosen) + 8):
            other = bisect.bisect_right(cum, rng.random() * total)
            if other != me and other < n:
                chosen.add(other)
            if len(chosen) >= k:
                break
    return array("l", sorted(chosen))


def build_network(p: NetworkParams, now: float) -> Network:
    """The whole network for ``p``, history ending at ``now`` (epoch seconds)."""
    rng = random.Random(p.seed)
    n = p.accounts
    ids = _uuids(rng, n)
    celebrity, heavy_first = 0, 1
    heavy = range(heavy_first, heavy_first + p.heavy_accounts)
    dormant_follower = heavy_first + p.heavy_accounts

    # Who posts how much, and who stopped: the celebrity and the measured accounts keep posting.
    keep_active = {celebrity, dormant_follower, *heavy}
    dormant = frozenset(a for a in range(n) if a not in keep_active and rng.random() < p.dormant_share)

    counts = _lognormal_counts(rng, n, p.median_followees, 0.9, 3, p.heavy_followees)
    for a in heavy:
        counts[a] = p.heavy_followees
    fans = set(rng.sample([a for a in range(1, n) if a != dormant_follower], int(n * p.celebrity_share)))
    cum = _popularity(rng, n)
    followees: list[array] = []
    for a in range(n):
        if a == dormant_follower:
            pool = sorted(dormant)
            picked = array("l", sorted(rng.sample(pool, min(p.median_followees, len(pool)))))
        else:
            want = counts[a] - (1 if a in fans else 0)
            picked = _pick_followees(rng, a, max(0, want), cum, n)
            picked = array("l", [x for x in picked if x != celebrity])
        if a in fans:
            picked.insert(0, celebrity)
        followees.append(picked)

    followers = array("l", [0]) * n
    for picked in followees:
        for other in picked:
            followers[other] += 1

    # Posts: a log-normal share each (dormant accounts too: their posts are old), the celebrity a
    # fixed number.
    shares = [math.exp(rng.gauss(0.0, 1.2)) for _ in range(n)]
    shares[celebrity] = 0.0
    rest = max(0, p.posts - p.celebrity_posts)
    scale = rest / sum(shares)
    per_account = [int(s * scale) for s in shares]
    per_account[celebrity] = min(p.celebrity_posts, p.posts)
    short = p.posts - sum(per_account)
    for a in rng.sample(range(1, n), min(n - 1, abs(short))) if short else []:
        per_account[a] += 1 if short > 0 else -min(1, per_account[a])

    span = p.history_days * DAY_S
    timed: list[tuple[float, int]] = []
    for a, count in enumerate(per_account):
        start = now - span * rng.uniform(0.3, 1.0)
        end = now - DAY_S * rng.uniform(120.0, 0.8 * p.history_days) if a in dormant else now
        start = min(start, end - DAY_S)
        timed.extend((rng.uniform(start, end), a) for _ in range(count))
    timed.sort()

    mean_followers = max(1.0, sum(followers) / n)
    like_weight = [math.sqrt((followers[a] + 1) / mean_followers) for a in range(n)]
    raw = [like_weight[a] * rng.expovariate(1.0) for _, a in timed]
    like_scale = p.likes / max(1e-9, sum(raw))
    post_likes = array("l", (min(n - 2, int(r * like_scale + rng.random())) for r in raw))

    median_account = min(
        (a for a in range(n) if a not in keep_active),
        key=lambda a: (abs(len(followees[a]) - p.median_followees), a),
    )
    return Network(
        params=p,
        now=now,
        account_ids=ids,
        followees=followees,
        post_ids=_uuids(rng, len(timed)),
        post_author=array("l", (a for _, a in timed)),
        post_time=array("d", (t for t, _ in timed)),
        post_likes=post_likes,
        dormant=dormant,
        roles=Roles(celebrity=celebrity, heavy=heavy_first, median=median_account, dormant_follower=dormant_follower),
        followers_count=followers,
    )
