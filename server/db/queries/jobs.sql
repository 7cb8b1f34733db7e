-- The durable job queue. Every claim of a job gets a fresh number from job_claim_seq (jobs.claim),
-- and every write a holder makes about its job is fenced by it (id = $1 AND claim = $2 AND status =
-- 'running'): a holder whose job was claimed again since, by anyone, changes nothing.

-- name: jobs_claim
-- Attempts are counted here, at claim; the ways a claim ends without being the job's fault give
-- the attempt back (defer, release, an outage reap). Lowest fair rank first, then the oldest.
-- A deleted post's job is never claimed (its purge may already have run, and a transcode now would
-- publish its photo again); the reaper closes such jobs. The post row is share-locked so a delete
-- waits for this claim to commit, and then sees the job running and lets it finish before purging.
WITH picked AS (
    SELECT j.id FROM jobs j JOIN posts p ON p.id = j.post_id
    WHERE j.status = 'queued' AND j.run_after <= now() AND p.deleted_at IS NULL
    ORDER BY j.fair_rank, j.run_after, j.id
    LIMIT $1
    FOR UPDATE OF j SKIP LOCKED
    FOR SHARE OF p SKIP LOCKED
)
UPDATE jobs j
SET status = 'running', attempts = j.attempts + 1, lease_owner = $2, claim = nextval('job_claim_seq'),
    lease_expires_at = now() + make_interval(secs => $3), updated_at = now()
FROM picked, posts p
WHERE j.id = picked.id AND p.id = j.post_id
RETURNING j.id, j.claim, j.post_id, j.kind, j.attempts, j.max_attempts, j.pool_breaks, p.user_id,
          p.source_key, p.content_type, p.file_hash AS source_sha256

-- name: jobs_heartbeat
-- $1 ids, $2 their claims (same order).
UPDATE jobs j SET lease_expires_at = now() + make_interval(secs => $3), updated_at = now()
FROM unnest($1::bigint[], $2::bigint[]) AS held(id, claim)
WHERE j.id = held.id AND j.claim = held.claim AND j.status = 'running'
RETURNING j.id

-- name: jobs_mark_succeeded
-- Returns the seconds since upload/complete queued the job (clock_timestamp: the commit is near).
UPDATE jobs
SET status = 'succeeded', lease_owner = NULL, lease_expires_at = NULL, finished_at = now(),
    updated_at = now(), last_error = NULL, last_error_code = NULL
WHERE id = $1 AND claim = $2 AND status = 'running'
RETURNING EXTRACT(EPOCH FROM clock_timestamp() - created_at)::float8

-- name: jobs_succeeded_by
-- Did this very claim already publish the job? (A retried publish whose first commit landed.)
-- The seconds from upload/complete to that publication, as jobs_mark_succeeded returns them.
SELECT EXTRACT(EPOCH FROM finished_at - created_at)::float8 FROM jobs
WHERE id = $1 AND claim = $2 AND status = 'succeeded'

-- name: jobs_mark_retry
-- Back to the queue after $3 seconds, or dead once every attempt is spent.
UPDATE jobs
SET status = (CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END)::job_status,
    run_after = now() + make_interval(secs => $3),
    lease_owner = NULL, lease_expires_at = NULL, last_error = $4, last_error_code = $5,
    finished_at = CASE WHEN attempts >= max_attempts THEN now() END, updated_at = now()
WHERE id = $1 AND claim = $2 AND status = 'running'
RETURNING status::text AS status, post_id, attempts

-- name: jobs_mark_final
-- $3 is 'failed' (the image itself is bad) or 'dead' (we gave up on it, e.g. a poison image).
UPDATE jobs
SET status = $3::job_status, lease_owner = NULL, lease_expires_at = NULL, last_error = $4,
    last_error_code = $5, finished_at = now(), updated_at = now()
WHERE id = $1 AND claim = $2 AND status = 'running'
RETURNING post_id

-- name: jobs_defer
-- Not the job's fault (store or database outage, a stage restart): back to the queue without
-- using an attempt. $1 ids, $2 their claims.
UPDATE jobs j
SET status = 'queued', attempts = GREATEST(j.attempts - 1, 0), run_after = now() + make_interval(secs => $3),
    lease_owner = NULL, lease_expires_at = NULL, last_error = $4, last_error_code = $5, updated_at = now()
FROM unnest($1::bigint[], $2::bigint[]) AS held(id, claim)
WHERE j.id = held.id AND j.claim = held.claim AND j.status = 'running'
RETURNING j.id

-- name: jobs_release_owner
-- Drain: every job this process life still holds goes back at once, its attempt given back. The
-- owner name is unique to one process life, so this touches no claim of anyone else.
UPDATE jobs
SET status = 'queued', attempts = GREATEST(attempts - 1, 0), run_after = now(),
    lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
WHERE lease_owner = $1 AND status = 'running'
RETURNING id

-- name: jobs_add_pool_break
UPDATE jobs j SET pool_breaks = j.pool_breaks + 1, updated_at = now()
FROM unnest($1::bigint[], $2::bigint[]) AS held(id, claim)
WHERE j.id = held.id AND j.claim = held.claim AND j.status = 'running'
RETURNING j.id, j.pool_breaks

-- name: jobs_reap_expired
-- Leases of instances that stopped renewing them: back to the queue, or dead when that used the
-- last attempt. $1 (optional) also takes leases whose owner starts with it: an instance restarting
-- on the same data dir knows its previous life is dead and need not wait for those leases to
-- expire. $2: the reaper itself just lived through a database outage, so these leases most likely
-- ran out because nobody could renew them, not because of the job: the attempt is given back.
WITH expired AS (
    SELECT id FROM jobs
    WHERE status = 'running' AND (lease_expires_at < now() OR starts_with(lease_owner, $1::text))
    FOR UPDATE SKIP LOCKED
), charged AS (
    SELECT j.id, CASE WHEN $2::bool THEN GREATEST(j.attempts - 1, 0) ELSE j.attempts END AS attempts
    FROM jobs j JOIN expired e ON e.id = j.id
), reaped AS (
    UPDATE jobs j
    SET status = (CASE WHEN c.attempts >= j.max_attempts THEN 'dead' ELSE 'queued' END)::job_status,
        attempts = c.attempts, run_after = now(), lease_owner = NULL, lease_expires_at = NULL,
        last_error = CASE WHEN c.attempts >= j.max_attempts
            THEN 'gave up after ' || c.attempts || ' attempts: the worker holding it stopped responding'
            ELSE j.last_error END,
        last_error_code = CASE WHEN c.attempts >= j.max_attempts THEN 'lease_expired' ELSE j.last_error_code END,
        finished_at = CASE WHEN c.attempts >= j.max_attempts THEN now() END, updated_at = now()
    FROM charged c
    WHERE j.id = c.id
    RETURNING j.id, j.post_id, j.status, j.last_error, j.last_error_code
), failed_posts AS (
    UPDATE posts p
    SET status = 'failed', error = r.last_error_code, error_message = r.last_error, updated_at = now()
    FROM reaped r
    WHERE p.id = r.post_id AND r.status = 'dead' AND p.status = 'processing'
)
SELECT id, status::text AS status FROM reaped

-- name: jobs_close_deleted
-- Queued jobs whose post was deleted after they were queued again (by the reaper, a deferral or an
-- operator): nothing to do for them, and they should not count as backlog.
UPDATE jobs j
SET status = 'failed', last_error_code = 'post_deleted', last_error = 'the post was deleted',
    finished_at = now(), updated_at = now()
FROM posts p
WHERE j.status = 'queued' AND p.id = j.post_id AND p.deleted_at IS NOT NULL
RETURNING j.id

-- name: jobs_fail_post
UPDATE posts SET status = 'failed', error = $2, error_message = $3, updated_at = now()
WHERE id = $1 AND status = 'processing'

-- name: jobs_prune_succeeded
-- Retention: up to $2 succeeded jobs finished before $1 days ago, oldest first.
DELETE FROM jobs
WHERE id IN (
    SELECT id FROM jobs
    WHERE status = 'succeeded' AND finished_at < now() - make_interval(days => $1)
    ORDER BY finished_at
    LIMIT $2
)

-- name: jobs_counts
SELECT status::text AS status, count(*) AS n FROM jobs GROUP BY status

-- name: jobs_queue_depth
SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')

-- name: jobs_list
SELECT id, post_id, status::text AS status, attempts, max_attempts, pool_breaks, run_after, lease_owner,
       last_error_code, last_error, updated_at
FROM jobs
WHERE $1::text IS NULL OR status::text = $1
ORDER BY id DESC
LIMIT $2

-- name: jobs_get
SELECT j.id, j.post_id, j.status::text AS status, p.deleted_at IS NOT NULL AS post_deleted
FROM jobs j JOIN posts p ON p.id = j.post_id WHERE j.id = $1

-- name: jobs_retry
-- An operator's second chance: a fresh set of attempts, and the post back in processing.
WITH retried AS (
    UPDATE jobs
    SET status = 'queued', attempts = 0, pool_breaks = 0, run_after = now(), lease_owner = NULL,
        lease_expires_at = NULL, finished_at = NULL, updated_at = now()
    WHERE id = ANY($1::bigint[]) AND status IN ('dead', 'failed')
      -- a deleted post's objects are being purged: transcoding it again would resurrect them
      AND NOT EXISTS (SELECT 1 FROM posts d WHERE d.id = jobs.post_id AND d.deleted_at IS NOT NULL)
    RETURNING id, post_id
), reopened AS (
    UPDATE posts p SET status = 'processing', error = NULL, error_message = NULL, updated_at = now()
    FROM retried r WHERE p.id = r.post_id AND p.status = 'failed'
)
SELECT id FROM retried ORDER BY id

-- name: jobs_dead_ids
SELECT j.id FROM jobs j JOIN posts p ON p.id = j.post_id
WHERE j.status = 'dead' AND p.deleted_at IS NULL ORDER BY j.id

-- name: pipeline_record_writes
-- Before a claim writes variant objects: so they can be swept if the claim never publishes them.
INSERT INTO variant_writes (claim, post_id) VALUES ($1, $2) ON CONFLICT (claim) DO NOTHING

-- name: pipeline_lock_post
-- Serialises the publish with a concurrent DELETE of the post (which updates this row).
SELECT deleted_at IS NOT NULL AS deleted FROM posts WHERE id = $1 FOR UPDATE

-- name: pipeline_insert_image
-- One row per rendition, written once by the claim that publishes (fenced just before).
INSERT INTO post_images (post_id, variant, format, storage_key, width, height, bytes, quality)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (post_id, variant, format) DO UPDATE
SET storage_key = EXCLUDED.storage_key, width = EXCLUDED.width, height = EXCLUDED.height,
    bytes = EXCLUDED.bytes, quality = EXCLUDED.quality, created_at = now()

-- name: pipeline_publish_post
UPDATE posts
SET status = 'published', width = $2, height = $3, metadata = metadata || $4::jsonb,
    error = NULL, error_message = NULL, published_at = COALESCE(published_at, now()), updated_at = now()
WHERE id = $1

-- name: pipeline_writes_to_sweep
-- Claims that started writing objects at least $1 seconds ago, are no longer their job's current
-- claim, and did not publish (publishing deletes the claim's row): nothing will ever point at their
-- objects. Up to $2, oldest first.
SELECT w.claim, w.post_id
FROM variant_writes w
WHERE w.created_at < now() - make_interval(secs => $1)
  AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.post_id = w.post_id AND j.claim = w.claim AND j.status = 'running')
ORDER BY w.created_at
LIMIT $2

-- name: pipeline_forget_writes
DELETE FROM variant_writes WHERE claim = $1
