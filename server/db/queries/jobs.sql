-- The durable job queue. Every write made by a worker is lease-checked (lease_owner = $owner AND
-- status = 'running'): an instance whose lease expired has lost the job to someone else and must
-- change nothing.

-- name: jobs_claim
-- attempts are counted here, at claim: a job that crashes its whole instance still uses one up.
-- A deleted post's job is never claimed (its purge may already have run, and a transcode now would
-- publish its photo again); the reaper closes such jobs. The post row is share-locked so a delete
-- waits for this claim to commit, and then sees the job running and lets it finish before purging.
WITH picked AS (
    SELECT j.id FROM jobs j JOIN posts p ON p.id = j.post_id
    WHERE j.status = 'queued' AND j.run_after <= now() AND p.deleted_at IS NULL
    ORDER BY j.run_after, j.id
    LIMIT $1
    FOR UPDATE OF j SKIP LOCKED
    FOR SHARE OF p SKIP LOCKED
)
UPDATE jobs j
SET status = 'running', attempts = j.attempts + 1, lease_owner = $2,
    lease_expires_at = now() + make_interval(secs => $3), updated_at = now()
FROM picked, posts p
WHERE j.id = picked.id AND p.id = j.post_id
RETURNING j.id, j.post_id, j.kind, j.attempts, j.max_attempts, j.pool_breaks, p.user_id, p.source_key,
          p.content_type

-- name: jobs_heartbeat
UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $3), updated_at = now()
WHERE id = ANY($1::bigint[]) AND lease_owner = $2 AND status = 'running'
RETURNING id

-- name: jobs_mark_succeeded
-- Returns the seconds since upload/complete queued the job (clock_timestamp: the commit is near).
UPDATE jobs
SET status = 'succeeded', lease_owner = NULL, lease_expires_at = NULL, finished_at = now(),
    updated_at = now(), last_error = NULL, last_error_code = NULL
WHERE id = $1 AND lease_owner = $2 AND status = 'running'
RETURNING EXTRACT(EPOCH FROM clock_timestamp() - created_at)::float8

-- name: jobs_mark_retry
-- Back to the queue after $3 seconds, or dead once every attempt is spent.
UPDATE jobs
SET status = (CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END)::job_status,
    run_after = now() + make_interval(secs => $3),
    lease_owner = NULL, lease_expires_at = NULL, last_error = $4, last_error_code = $5,
    finished_at = CASE WHEN attempts >= max_attempts THEN now() END, updated_at = now()
WHERE id = $1 AND lease_owner = $2 AND status = 'running'
RETURNING status::text AS status, post_id, attempts

-- name: jobs_mark_final
-- $3 is 'failed' (the image itself is bad) or 'dead' (we gave up on it, e.g. a poison image).
UPDATE jobs
SET status = $3::job_status, lease_owner = NULL, lease_expires_at = NULL, last_error = $4,
    last_error_code = $5, finished_at = now(), updated_at = now()
WHERE id = $1 AND lease_owner = $2 AND status = 'running'
RETURNING post_id

-- name: jobs_defer
-- Not the job's fault (store or database outage, drain): back to the queue without using an attempt.
UPDATE jobs
SET status = 'queued', attempts = GREATEST(attempts - 1, 0), run_after = now() + make_interval(secs => $3),
    lease_owner = NULL, lease_expires_at = NULL, last_error = $4, last_error_code = $5, updated_at = now()
WHERE id = ANY($1::bigint[]) AND lease_owner = $2 AND status = 'running'
RETURNING id

-- name: jobs_release_owner
-- Drain: every job this instance still holds goes back at once, its attempt given back.
UPDATE jobs
SET status = 'queued', attempts = GREATEST(attempts - 1, 0), run_after = now(),
    lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
WHERE lease_owner = $1 AND status = 'running'
RETURNING id

-- name: jobs_add_pool_break
UPDATE jobs SET pool_breaks = pool_breaks + 1, updated_at = now()
WHERE id = ANY($1::bigint[]) AND lease_owner = $2 AND status = 'running'
RETURNING id, pool_breaks

-- name: jobs_reap_expired
-- Leases of crashed instances: back to the queue, or dead when that crash used the last attempt.
-- $1 (optional) also takes leases whose owner starts with it: an instance restarting on the same
-- data dir knows its previous life is dead and need not wait for those leases to expire.
WITH expired AS (
    SELECT id FROM jobs
    WHERE status = 'running' AND (lease_expires_at < now() OR starts_with(lease_owner, $1::text))
    FOR UPDATE SKIP LOCKED
), reaped AS (
    UPDATE jobs j
    SET status = (CASE WHEN j.attempts >= j.max_attempts THEN 'dead' ELSE 'queued' END)::job_status,
        run_after = now(), lease_owner = NULL, lease_expires_at = NULL,
        last_error = CASE WHEN j.attempts >= j.max_attempts
            THEN 'gave up after ' || j.attempts || ' attempts: the worker holding it stopped responding'
            ELSE j.last_error END,
        last_error_code = CASE WHEN j.attempts >= j.max_attempts THEN 'lease_expired' ELSE j.last_error_code END,
        finished_at = CASE WHEN j.attempts >= j.max_attempts THEN now() END, updated_at = now()
    FROM expired
    WHERE j.id = expired.id
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

-- name: pipeline_upsert_image
-- Re-running a job rewrites the same rows: at-least-once processing never duplicates a variant.
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
