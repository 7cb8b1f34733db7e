-- Moderation (server/moderation): roles, reports, the review queue, decisions and their audit.

-- name: moderation_admin
-- The caller's account if it is an admin (checked on every admin call: a revoke is immediate).
SELECT u.id, u.username FROM admins a JOIN users u ON u.id = a.user_id WHERE a.user_id = $1;

-- name: moderation_is_admin
SELECT EXISTS (SELECT 1 FROM admins WHERE user_id = $1);

-- name: moderation_user_by_login
-- $1 a username or an email, matched as login does (case-insensitively).
SELECT id, username FROM users WHERE lower(username) = lower($1) OR lower(email) = lower($1);

-- name: moderation_grant_admin
INSERT INTO admins (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING RETURNING user_id;

-- name: moderation_revoke_admin
DELETE FROM admins WHERE user_id = $1 RETURNING user_id;

-- name: moderation_audit
-- $1 actor_id (or NULL), $2 actor label, $3 action, $4 post_id, $5 comment_id, $6 user_id, $7 reason,
-- $8 details (jsonb)
INSERT INTO moderation_audit (actor_id, actor, action, post_id, comment_id, user_id, reason, details)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb);

-- name: moderation_audit_for_post
SELECT id, at, actor_id, actor, action, post_id, comment_id, user_id, reason, details
FROM moderation_audit WHERE post_id = $1 ORDER BY at, id;

-- name: moderation_audit_recent
SELECT id, at, actor_id, actor, action, post_id, comment_id, user_id, reason, details
FROM moderation_audit ORDER BY id DESC LIMIT $1;

-- name: moderation_lock_reporter
-- Serialises one account's reports, so its hourly limit cannot be raced past (an advisory lock:
-- the users row stays free for everything else).
SELECT pg_advisory_xact_lock(hashtext('imagepipe-report'), hashtext($1::uuid::text));

-- name: moderation_recent_reports
SELECT count(*) FROM reports WHERE reporter_id = $1 AND created_at > now() - interval '1 hour';

-- name: moderation_lock_post
-- The post a decision or a report is about, locked: reports counting towards the threshold and
-- decisions on the same post take turns.
SELECT id, user_id, status::text AS status FROM posts WHERE id = $1 AND deleted_at IS NULL FOR UPDATE;

-- name: moderation_lock_reported_post
-- The post $1 as reporter $2 finds it: whether they may see it at all (the one visibility rule,
-- blocks included), locked so reports counting towards the threshold take turns.
SELECT id, user_id, status::text AS status, post_visible_to(user_id, status, deleted_at, $2::uuid) AS visible
FROM posts WHERE id = $1 AND deleted_at IS NULL FOR UPDATE;

-- name: moderation_comment
-- $1 comment id, $2 viewer: the comment and its post (comments belong to server/social), and whether a
-- block stands between the viewer and its author (then the comment does not exist for the viewer).
SELECT c.id, c.user_id, c.post_id, users_blocked(c.user_id, $2) AS blocked FROM comments c WHERE c.id = $1;

-- name: moderation_insert_post_report
-- $1 reporter, $2 post, $3 reason, $4 note. Nothing is inserted for a second report by the same account.
INSERT INTO reports (reporter_id, post_id, reason, note) VALUES ($1, $2, $3, $4)
ON CONFLICT (post_id, reporter_id) WHERE comment_id IS NULL DO NOTHING
RETURNING id;

-- name: moderation_insert_comment_report
-- $1 reporter, $2 post, $3 comment, $4 reason, $5 note
INSERT INTO reports (reporter_id, post_id, comment_id, reason, note) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (comment_id, reporter_id) WHERE comment_id IS NOT NULL DO NOTHING
RETURNING id;

-- name: moderation_open_post_reports
-- Distinct accounts with an open report on post $1 (one report per account, so a plain count).
SELECT count(*) FROM reports WHERE post_id = $1 AND comment_id IS NULL AND closed_at IS NULL;

-- name: moderation_close_reports
UPDATE reports SET closed_at = now() WHERE post_id = $1 AND comment_id IS NULL AND closed_at IS NULL;

-- name: moderation_set_status
-- The one statement that moves a post between published, in_review and removed: $1 post, $2 the
-- new status, $3 the statuses it may come from. Returns the owner, or nothing if the post was not
-- in one of those statuses (someone decided first, or it was deleted).
UPDATE posts
SET status = $2::post_status, updated_at = now(),
    published_at = CASE WHEN $2 = 'published' THEN COALESCE(published_at, now()) ELSE published_at END
WHERE id = $1 AND deleted_at IS NULL AND status::text = ANY($3::text[])
RETURNING user_id;

-- name: moderation_record_hold
-- $1 post, $2 why it is held (classifier | classifier_error | reports)
INSERT INTO post_moderation (post_id, held_by, held_at) VALUES ($1, $2, now())
ON CONFLICT (post_id) DO UPDATE SET held_by = EXCLUDED.held_by, held_at = EXCLUDED.held_at;

-- name: moderation_record_decision
-- $1 post, $2 approved | removed, $3 reason
INSERT INTO post_moderation (post_id, decision, decided_at, reason) VALUES ($1, $2, now(), $3)
ON CONFLICT (post_id) DO UPDATE
SET decision = EXCLUDED.decision, decided_at = EXCLUDED.decided_at, reason = EXCLUDED.reason,
    held_by = NULL, held_at = NULL;

-- name: moderation_record_assessment
-- The classifier's answer for post $1: $2 model, $3 scores (jsonb), $4 score, $5 error code.
INSERT INTO post_moderation (post_id, model, scores, score, error, assessed_at)
VALUES ($1, $2, $3::jsonb, $4, $5, now())
ON CONFLICT (post_id) DO UPDATE
SET model = EXCLUDED.model, scores = EXCLUDED.scores, score = EXCLUDED.score, error = EXCLUDED.error,
    assessed_at = EXCLUDED.assessed_at;

-- name: moderation_hold_new_post
-- The publisher's twin of pipeline_publish_post for a post the classifier holds: same facts,
-- status in_review, never published_at.
UPDATE posts
SET status = 'in_review', width = $2, height = $3, metadata = metadata || $4::jsonb,
    error = NULL, error_message = NULL, updated_at = now()
WHERE id = $1;

-- name: moderation_facts
-- What the owner and admins see about posts $1 (uuid[]).
SELECT post_id, model, scores, score, error, assessed_at, held_by, held_at, decision, decided_at, reason
FROM post_moderation WHERE post_id = ANY($1::uuid[]);

-- name: moderation_queue
-- Posts waiting for review, oldest first (by when they were held); $1/$2 the cursor's (held_at,
-- id) or NULLs, $3 limit. Same post columns as get_post.
SELECT p.id, p.user_id, p.caption, p.status, p.error, p.error_message, p.width, p.height,
       p.metadata, p.created_at, p.published_at, m.like_count, m.comment_count, m.view_count,
       coalesce(pm.held_at, p.updated_at) AS held_at, pm.held_by, u.username
FROM posts p
LEFT JOIN post_metadata m ON m.post_id = p.id
LEFT JOIN post_moderation pm ON pm.post_id = p.id
JOIN users u ON u.id = p.user_id
WHERE p.status = 'in_review' AND p.deleted_at IS NULL
  AND (coalesce(pm.held_at, p.updated_at), p.id) > (coalesce($1::timestamptz, '-infinity'::timestamptz),
                                                    coalesce($2::uuid, '00000000-0000-0000-0000-000000000000'::uuid))
ORDER BY coalesce(pm.held_at, p.updated_at), p.id
LIMIT $3;

-- name: moderation_open_reports_for
-- Open reports on posts $1 (uuid[]), with their reporters, oldest first.
SELECT r.id, r.post_id, r.comment_id, r.reason, r.note, r.created_at, u.id AS reporter_id, u.username
FROM reports r JOIN users u ON u.id = r.reporter_id
WHERE r.post_id = ANY($1::uuid[]) AND r.closed_at IS NULL
ORDER BY r.created_at, r.id;

-- name: moderation_reported_comments
-- Comments with open reports, the first reported first; $1 limit.
SELECT r.comment_id, r.post_id, min(r.created_at) AS first_reported_at, count(*) AS report_count,
       array_agg(r.reason ORDER BY r.created_at) AS reasons
FROM reports r
WHERE r.comment_id IS NOT NULL AND r.closed_at IS NULL
GROUP BY r.comment_id, r.post_id
ORDER BY min(r.created_at)
LIMIT $1;

-- name: moderation_renditions
SELECT variant, format, storage_key FROM post_images WHERE post_id = $1 ORDER BY variant, format;

-- name: moderation_is_rendition
SELECT EXISTS (SELECT 1 FROM post_images WHERE post_id = $1 AND storage_key = $2);

-- name: moderation_move_rendition
-- Point one rendition at its copy on the other side ($5 new key) if it still points at $4 and the
-- post is still in status $6: a decision taken meanwhile wins, and its own move follows.
UPDATE post_images SET storage_key = $5
WHERE post_id = $1 AND variant = $2 AND format = $3 AND storage_key = $4
  AND EXISTS (SELECT 1 FROM posts p WHERE p.id = $1 AND p.status::text = $6 AND p.deleted_at IS NULL)
RETURNING 1;

-- name: moderation_misplaced
-- Up to $1 posts whose renditions sit on the wrong side: in review but public, or published but held.
SELECT p.id, p.status::text AS status FROM posts p
WHERE p.status = 'in_review' AND p.deleted_at IS NULL
  AND EXISTS (SELECT 1 FROM post_images i WHERE i.post_id = p.id AND i.storage_key NOT LIKE 'held/%')
UNION
SELECT p.id, p.status::text FROM posts p
WHERE p.id IN (SELECT i.post_id FROM post_images i WHERE i.storage_key LIKE 'held/%')
  AND p.status = 'published' AND p.deleted_at IS NULL
LIMIT $1;

-- name: moderation_claim_removed_to_purge
-- Up to $1 removed posts whose objects are still stored, claimed for $3 seconds (as
-- claim_posts_to_purge does for deleted ones); $2 restricts to one post (or NULL).
UPDATE posts p SET purge_claimed_until = now() + make_interval(secs => $3::float8)
FROM (
    SELECT p2.id FROM posts p2
    WHERE p2.status = 'removed' AND p2.objects_purged_at IS NULL AND ($2::uuid IS NULL OR p2.id = $2)
      AND (p2.purge_claimed_until IS NULL OR p2.purge_claimed_until < now())
      AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.post_id = p2.id AND j.status = 'running')
    ORDER BY p2.updated_at
    LIMIT $1
    FOR UPDATE OF p2 SKIP LOCKED
) picked
WHERE p.id = picked.id
RETURNING p.id, p.source_key;
