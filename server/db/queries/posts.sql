-- Uploads and posts (server/posts). Parameters are positional; each block says what they are.

-- name: backlog_count
-- Jobs waiting or running, counted no further than $1 (the high-water mark): each status scan stops
-- at $1 rows on its partial index, so the check stays cheap however deep the queue is.
SELECT (SELECT count(*) FROM (SELECT 1 FROM jobs WHERE status = 'queued' LIMIT $1) q)
     + (SELECT count(*) FROM (SELECT 1 FROM jobs WHERE status = 'running' LIMIT $1) r) AS n;

-- name: insert_post
-- $1 id, $2 user_id, $3 caption, $4 source_key, $5 content_type, $6 file_size, $7 file_hash
INSERT INTO posts (id, user_id, caption, source_key, content_type, file_size, file_hash)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: insert_post_metadata
INSERT INTO post_metadata (post_id) VALUES ($1);

-- name: lock_user_for_upload
-- Serialises one user's concurrent inits, so the open-upload cap cannot be raced past.
SELECT 1 FROM users WHERE id = $1 FOR UPDATE

-- name: count_open_uploads
-- A deleted post's session stays open for the expiry sweep (it removes late bytes) but no longer
-- takes one of the user's slots.
SELECT count(*) FROM upload_sessions s
WHERE s.user_id = $1 AND s.completed_at IS NULL AND s.expired_at IS NULL AND s.expires_at > now()
  AND NOT EXISTS (SELECT 1 FROM posts p WHERE p.id = s.post_id AND p.deleted_at IS NOT NULL)

-- name: insert_upload_session
-- $1 id, $2 post_id, $3 user_id, $4 token_hash, $5 object_key, $6 content_type, $7 file_size,
-- $8 file_hash, $9 ttl in seconds (the database clock decides expiry, the same for every instance)
INSERT INTO upload_sessions (id, post_id, user_id, token_hash, object_key, content_type, file_size,
                             file_hash, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9));

-- name: get_upload_session
-- The session of post $1 with what complete needs to decide; no lock (verification does I/O).
SELECT s.id, s.post_id, s.user_id, s.token_hash, s.object_key, s.file_size, s.file_hash,
       s.completed_at, s.expires_at <= now() AS expired, p.status, p.deleted_at
FROM upload_sessions s JOIN posts p ON p.id = s.post_id
WHERE s.post_id = $1;

-- name: lock_upload_session
-- Same, locking session and post: concurrent completes and the expiry sweep serialise here.
SELECT s.id, s.post_id, s.user_id, s.token_hash, s.object_key, s.file_size, s.file_hash,
       s.completed_at, s.expires_at <= now() AS expired, p.status, p.deleted_at
FROM upload_sessions s JOIN posts p ON p.id = s.post_id
WHERE s.post_id = $1
FOR UPDATE OF s, p;

-- name: mark_post_processing
-- $1 post_id, $2 content type as sniffed from the bytes (what the file really is), $3 the SHA-256
-- verified at complete (the pipeline checks the bytes it processes against it)
UPDATE posts SET status = 'processing', content_type = $2, file_hash = $3, updated_at = now()
WHERE id = $1 AND status = 'pending_upload';

-- name: mark_session_completed
UPDATE upload_sessions SET completed_at = now() WHERE id = $1 AND completed_at IS NULL;

-- name: enqueue_transcode
-- $1 post_id, $2 max_attempts. The unique (post_id, kind) index makes a second insert a no-op.
INSERT INTO jobs (post_id, kind, max_attempts) VALUES ($1, 'transcode', $2)
ON CONFLICT (post_id, kind) DO NOTHING
RETURNING id;

-- name: transcode_job_id
SELECT id FROM jobs WHERE post_id = $1 AND kind = 'transcode';

-- name: get_post
-- $1 post id, $2 the viewer (NULL: anonymous). post_visible_to (0010_social.sql) hides deleted
-- posts, and any post across a block; liked_by_me is NULL for an anonymous viewer.
SELECT p.id, p.user_id, p.caption, p.status, p.error, p.error_message, p.width, p.height,
       p.metadata, p.created_at, p.published_at, m.like_count, m.comment_count, m.view_count,
       CASE WHEN $2::uuid IS NOT NULL
            THEN EXISTS (SELECT 1 FROM likes l WHERE l.post_id = p.id AND l.user_id = $2) END AS liked_by_me
FROM posts p LEFT JOIN post_metadata m ON m.post_id = p.id
WHERE p.id = $1 AND post_visible_to(p.user_id, p.status, p.deleted_at, $2::uuid);

-- name: post_images_for
-- Every rendition of the posts in $1 (uuid[]): one query per page, not one per post.
SELECT post_id, variant, format, storage_key, width, height, bytes
FROM post_images WHERE post_id = ANY($1::uuid[])
ORDER BY post_id, variant, format;

-- name: list_user_posts
-- $1 user_id, $2 statuses shown (post_status[]), $3/$4 the cursor's (created_at, id) or NULLs for
-- the first page, $5 limit, $6 the viewer (NULL: anonymous; a block either way shows nothing).
-- The row comparison walks posts_user_created_idx in order: keyset paging.
SELECT p.id, p.user_id, p.caption, p.status, p.error, p.error_message, p.width, p.height,
       p.metadata, p.created_at, p.published_at, m.like_count, m.comment_count, m.view_count,
       CASE WHEN $6::uuid IS NOT NULL
            THEN EXISTS (SELECT 1 FROM likes l WHERE l.post_id = p.id AND l.user_id = $6) END AS liked_by_me
FROM posts p LEFT JOIN post_metadata m ON m.post_id = p.id
WHERE p.user_id = $1 AND p.deleted_at IS NULL AND p.status = ANY($2::post_status[])
  AND NOT users_blocked($1, $6::uuid)
  AND (p.created_at, p.id) < (coalesce($3::timestamptz, 'infinity'::timestamptz),
                              coalesce($4::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
ORDER BY p.created_at DESC, p.id DESC
LIMIT $5;

-- name: user_exists
-- $1 user id, $2 the viewer: an account across a block from the viewer is, to them, absent.
SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND NOT users_blocked(id, $2::uuid));

-- name: post_owner
SELECT user_id FROM posts WHERE id = $1 AND deleted_at IS NULL;

-- name: soft_delete_post
UPDATE posts SET deleted_at = now(), updated_at = now() WHERE id = $1 AND deleted_at IS NULL;

-- name: cancel_queued_jobs
-- A deleted post needs no transcode; a running one finishes and the purge waits for it.
UPDATE jobs SET status = 'failed', last_error_code = 'post_deleted', last_error = 'post was deleted',
       finished_at = now(), updated_at = now()
WHERE post_id = $1 AND status = 'queued';

-- name: lock_expired_uploads
-- Up to $1 sessions past expiry whose post still waits for bytes; SKIP LOCKED lets several
-- instances sweep at once and never blocks a complete that holds the row.
SELECT s.id, s.post_id, s.object_key
FROM upload_sessions s JOIN posts p ON p.id = s.post_id
WHERE s.completed_at IS NULL AND s.expired_at IS NULL AND s.expires_at <= now()
ORDER BY s.expires_at
LIMIT $1
FOR UPDATE OF s, p SKIP LOCKED;

-- name: expire_upload
-- $1 session id, $2 post id, $3 readable reason
WITH closed AS (UPDATE upload_sessions SET expired_at = now() WHERE id = $1)
UPDATE posts SET status = 'failed', error = 'upload_expired', error_message = $3, updated_at = now()
WHERE id = $2 AND status = 'pending_upload';

-- name: lock_posts_to_purge
-- Up to $1 soft-deleted posts whose objects are still stored; $2 restricts to one post (or NULL).
-- A post with a running job waits: the publisher may still be writing its variants.
SELECT p.id, p.source_key
FROM posts p
WHERE p.deleted_at IS NOT NULL AND p.objects_purged_at IS NULL
  AND ($2::uuid IS NULL OR p.id = $2)
  AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.post_id = p.id AND j.status = 'running')
ORDER BY p.deleted_at
LIMIT $1
FOR UPDATE OF p SKIP LOCKED;

-- name: mark_post_purged
WITH gone AS (DELETE FROM post_images WHERE post_id = $1)
UPDATE posts SET objects_purged_at = now() WHERE id = $1;
