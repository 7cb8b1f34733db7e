"""``imagepipe bench social``: seed the network, start two instances on it, measure through HTTP,
optionally compare the feed designs in SQL, print the table (and ``--json``)."""

from __future__ import annotations

import argparse
import asyncio
import os
import uuid
from typing import Any, Sequence

import aiohttp
import asyncpg

from ..errors import BenchError
from ..progress import say
from . import designs, load
from .cluster import Cluster, start_cluster
from .figures import SocialFigures
from .network import Network, NetworkParams


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "social", help="feeds, notifications and their stream on a seeded network, through HTTP",
        description="Seed a social network (accounts, follows, posts, likes) with COPY, start two instances on it "
                    "and measure through HTTP: feed pages, a post reaching its followers' feeds, likes and "
                    "comments, and notifications delivered to the other instance's stream; --designs also "
                    "compares the feed designs in SQL.")
    p.add_argument("--accounts", type=int, default=10_000, help="accounts to seed (default 10000)")
    p.add_argument("--posts", type=int, default=1_000_000, help="published posts (default 1000000)")
    p.add_argument("--likes", type=int, default=5_000_000, help="likes (default 5000000)")
    p.add_argument("--median-followees", type=int, default=100, help="median accounts followed (default 100)")
    p.add_argument("--heavy-followees", type=int, default=2000, help="what the heaviest follow (default 2000)")
    p.add_argument("--seconds", type=float, default=20.0, help="length of the feed phase (default 20)")
    p.add_argument("--clients", type=int, default=4, help="concurrent feed readers (default 4)")
    p.add_argument("--social-clients", type=int, default=2, help="concurrent likers/commenters (default 2)")
    p.add_argument("--page-size", type=int, default=20, help="feed page size (default 20)")
    p.add_argument("--publications", type=int, default=20, help="celebrity posts timed into feeds (default 20)")
    p.add_argument("--deliveries", type=int, default=200, help="likes timed to the other instance's stream (default 200)")
    p.add_argument("--designs", action="store_true", help="also compare fan-out on read, on write and a hybrid in SQL")
    p.add_argument("--json", dest="json_path", metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--data-dir", help="parent of the temporary folder (database and instances)")
    p.add_argument("--config", help="unused by this mode; accepted like the others")
    return p


def params_from(args: argparse.Namespace) -> NetworkParams:
    return NetworkParams(accounts=args.accounts, posts=args.posts, likes=args.likes,
                         median_followees=args.median_followees, heavy_followees=args.heavy_followees,
                         heavy_accounts=min(10, max(1, args.accounts // 100)),
                         celebrity_posts=min(1000, max(1, args.posts // 100)))


def _closest_to_median(net: Network, count: int) -> list[int]:
    roles = net.roles
    skip = {roles.celebrity, roles.dormant_follower, *range(roles.heavy, roles.heavy + net.params.heavy_accounts)}
    ranked = sorted((abs(len(f) - net.params.median_followees), a) for a, f in enumerate(net.followees) if a not in skip)
    return [a for _, a in ranked[:count]]


async def _logins(base: str, accounts: Sequence[int]) -> list[str]:
    async with aiohttp.ClientSession() as session:
        return [await load.login(session, base, a) for a in accounts]


async def _recent_posts(dsn: str, count: int) -> list[uuid.UUID]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r["id"] for r in await conn.fetch(
            "SELECT id FROM posts WHERE status = 'published' AND deleted_at IS NULL ORDER BY published_at DESC LIMIT $1",
            count)]
    finally:
        await conn.close()


async def measure(cluster: Cluster, args: argparse.Namespace, progress: Any) -> SocialFigures:
    net = cluster.network
    roles = net.roles
    a, b = cluster.a.base_url, cluster.b.base_url
    load.FEED_PAGE = args.page_size
    median = _closest_to_median(net, 8)
    heavy = list(range(roles.heavy, roles.heavy + min(8, net.params.heavy_accounts)))
    fans = [x for x in range(1, len(net.account_ids)) if roles.celebrity in net.followees[x]][:4]
    others = [x for x in range(len(net.account_ids)) if x not in {*median, *heavy, *fans, roles.celebrity}]
    social_accounts, likers = others[:max(1, args.social_clients)], others[-10:]
    progress("bench social: logging in")
    median_tokens, heavy_tokens = await _logins(a, median), await _logins(b, heavy)
    social_tokens, fan_tokens = await _logins(a, social_accounts), await _logins(b, fans)
    liker_tokens = await _logins(a, likers)
    recipient_token = (await _logins(b, median[:1]))[0]

    notes = [f"load average when the measurements began: {' / '.join(f'{x:.1f}' for x in os.getloadavg())} "
             f"(1 / 5 / 15 min, {os.cpu_count()} cores): other work on the machine shows in every latency"]
    progress(f"bench social: {args.clients} feed readers and {args.social_clients} likers for {args.seconds:.0f} s")
    samples = await load.feeds((a, b), median_tokens, heavy_tokens, social_tokens,
                               await _recent_posts(cluster.dsn, 200), args.clients, args.social_clients, args.seconds)
    latencies = dict(samples.by_name)
    notes += sorted(set(samples.errors))

    progress(f"bench social: {args.publications} publications by the most-followed account")
    published = await load.post_to_feed(cluster.dsn, (a, b), net.account_ids[roles.celebrity], fan_tokens,
                                        args.publications)
    latencies["post to feed"] = published.latencies
    n = max(1, len(published.wal_bytes))
    post_to_feed = {"followers": net.followers_count[roles.celebrity], "publications": len(published.wal_bytes),
                    "wal_bytes": round(sum(published.wal_bytes) / n), "follower_rows": 0,
                    "notifications": round(sum(published.extra_rows) / n), "missed": published.missed}

    progress(f"bench social: {args.deliveries} likes through A to a stream on B")
    delivered, lost = await load.delivery(cluster.dsn, a, b, net.account_ids[median[0]], recipient_token,
                                          list(zip((net.account_ids[x] for x in likers), liker_tokens)),
                                          args.deliveries)
    latencies["delivery"] = delivered
    seed = {"rows": cluster.seed_report.rows, "seconds": {k: round(v, 1) for k, v in cluster.seed_report.seconds.items()},
            "network_s": round(cluster.network_s, 1), "wall_s": round(cluster.seed_report.wall_s, 1),
            "total_s": round(cluster.network_s + cluster.seed_report.wall_s, 1)}
    figures = SocialFigures(seed=seed, latencies=latencies, post_to_feed=post_to_feed, delivery_lost=lost, notes=notes)
    figures.explain = await designs.explain_feed(cluster.dsn, net, median[0])
    return figures


def run(args: argparse.Namespace) -> tuple[SocialFigures, dict[str, Any]]:
    """The figures, and the machine facts worth keeping with them."""
    progress = (lambda m: say(m)) if not args.quiet else (lambda m: None)
    try:
        params = params_from(args)
    except ValueError as exc:
        raise BenchError(f"network: {exc}") from None
    cluster = start_cluster(params, args.data_dir, progress)
    try:
        figures = asyncio.run(measure(cluster, args, progress))
        if args.designs:
            progress("bench social: comparing feed designs in SQL")
            figures.designs = asyncio.run(designs.compare(cluster.dsn, cluster.network, progress))
    finally:
        cluster.stop()
    return figures, {}
