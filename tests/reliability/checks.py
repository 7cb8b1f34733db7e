"""What the torture's end state must satisfy, as pure functions over what the database, the disk
and the object ledger say (so each rule is unit-tested on hand-made rows, without a cluster).

Evidence used for "no job completed by a fenced holder": a job's ``claim`` column is the claim of
its last claim, and the post's image rows name the claim whose objects they point at
(``posts/{post}/{claim}/...``). Only the publish transaction writes image rows, fenced by the claim;
a fenced holder that got through would leave rows naming its own, older claim (or leave the job
finished under a claim that never wrote the rows). No ledger of our own is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

VARIANTS = ("thumbnail", "medium", "original")
# Reasons a valid photo may still end failed in a torture: the faults themselves (a job in flight
# at three pool breaks is set aside as poison; a job whose holders kept dying runs out of attempts).
FAULT_REASONS = ("poison_image", "lease_expired", "job_timeout")


@dataclass
class Verdict:
    violations: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def fail(self, text: str) -> None:
        self.violations.append(text)


def claim_of(key: str) -> int | None:
    parts = key.split("/")
    return int(parts[2]) if len(parts) == 4 and parts[0] == "posts" and parts[2].isdigit() else None


def judge(
    accepted: Iterable[tuple[str, bool]],  # (post id, is a valid photo)
    posts: Mapping[str, Mapping[str, Any]],  # id -> status, error, error_message
    jobs: Iterable[Mapping[str, Any]],  # post_id, status, attempts, max_attempts, claim, last_error_code
    images: Iterable[Mapping[str, Any]],  # post_id, variant, storage_key, bytes
    disk: Mapping[str, tuple[int, str]],  # key -> (size, sha256) of what the store holds now
    ledger: Mapping[str, list[str]],  # key -> every distinct sha256 the key ever held, in order
) -> Verdict:
    v = Verdict()
    jobs_by_post = {str(j["post_id"]): j for j in jobs}
    images_by_post: dict[str, list[Mapping[str, Any]]] = {}
    for row in images:
        images_by_post.setdefault(str(row["post_id"]), []).append(row)

    for post_id, good in accepted:
        post = posts.get(post_id)
        if post is None:
            v.fail(f"accepted upload {post_id} has no post")
            continue
        status = post["status"]
        v.count(f"post_{status}")
        if status == "published":
            if not good:
                v.fail(f"post {post_id}: a corrupt upload was published")
            _published(post_id, jobs_by_post.get(post_id), images_by_post.get(post_id, []), disk, ledger, v)
        elif status == "failed":
            if not post.get("error") or not post.get("error_message"):
                v.fail(f"post {post_id} failed without a reason")
            if good:
                v.count(f"valid_failed_{post.get('error')}")
                if post.get("error") not in FAULT_REASONS:
                    v.fail(f"valid photo {post_id} failed with {post.get('error')}: {post.get('error_message')}")
            if images_by_post.get(post_id):
                v.fail(f"failed post {post_id} has image rows")
        else:
            v.fail(f"post {post_id} is stuck in {status}")

    for job in jobs_by_post.values():
        v.count(f"job_{job['status']}")
        if job["attempts"] > job["max_attempts"]:
            v.fail(f"job of post {job['post_id']} used {job['attempts']} attempts of {job['max_attempts']}")
        if job["status"] in ("queued", "running"):
            v.fail(f"job of post {job['post_id']} is still {job['status']}")
        v.counts["max_attempts_used"] = max(v.counts.get("max_attempts_used", 0), job["attempts"])

    for key, hashes in ledger.items():
        if len(hashes) > 1:
            v.fail(f"{key} was written {len(hashes)} times with different bytes")
    v.count("objects_seen", len(ledger))
    return v


def _published(post_id: str, job: Mapping[str, Any] | None, rows: list[Mapping[str, Any]],
               disk: Mapping[str, tuple[int, str]], ledger: Mapping[str, list[str]], v: Verdict) -> None:
    if job is None or job["status"] != "succeeded":
        v.fail(f"published post {post_id} has no succeeded job ({job and job['status']})")
        return
    if sorted(r["variant"] for r in rows) != sorted(VARIANTS):
        v.fail(f"published post {post_id} has variants {sorted(r['variant'] for r in rows)}")
    for row in rows:
        key = row["storage_key"]
        if claim_of(key) != job["claim"]:
            v.fail(f"post {post_id}: {row['variant']} points at claim {claim_of(key)}, the job's last claim is {job['claim']}")
        on_disk = disk.get(key)
        if on_disk is None:
            v.fail(f"post {post_id}: {key} is missing from the store")
            continue
        if on_disk[0] != row["bytes"]:
            v.fail(f"post {post_id}: {key} holds {on_disk[0]} bytes, its row says {row['bytes']}")
        if ledger.get(key, [on_disk[1]])[0] != on_disk[1]:
            v.fail(f"post {post_id}: {key} no longer holds the bytes first written there")
