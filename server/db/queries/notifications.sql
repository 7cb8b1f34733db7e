-- Notifications (server/feed): written with the action that causes them, read as a paged list and
-- as a live stream. Table, indexes and the post-status trigger: 0040_feed_and_notifications.sql.
-- The rules every notify_* query applies (server/feed/rules.py says why):
--   never one's own action (also a CHECK on the table), never across a block either way
--   (users_blocked), and a like or follow repeated within $window seconds is one notification.

-- name: notify_set_like
-- A like or unlike (social_set_like, 0010_social.sql) and the like's notification in ONE statement:
-- the like stays one round trip. $1 post, $2 actor, $3 true to like, $4 repeat window (s).
-- `notify` is the recipient to announce after commit, or NULL.
WITH l AS MATERIALIZED (
    SELECT * FROM social_set_like($1, $2, $3)
), n AS (
    INSERT INTO notifications (recipient_id, kind, actor_id, post_id)
    SELECT p.user_id, 'like', $2, $1
    FROM l JOIN posts p ON p.id = $1
    WHERE l.changed AND $3 AND p.user_id IS NOT NULL AND p.user_id <> $2
      AND NOT users_blocked(p.user_id, $2)
      AND NOT EXISTS (
          SELECT 1 FROM notifications o
          WHERE o.actor_id = $2 AND o.recipient_id = p.user_id AND o.kind = 'like' AND o.post_id = $1
            AND o.created_at > now() - make_interval(secs => $4))
    RETURNING recipient_id
)
SELECT l.post_found, l.post_visible, l.post_public, l.changed, l.like_count,
       (SELECT recipient_id FROM n) AS notify
FROM l;

-- name: notify_follow
-- $1 follower (actor), $2 followee, $3 repeat window (s); in the follow's transaction.
INSERT INTO notifications (recipient_id, kind, actor_id)
SELECT $2, 'follow', $1
WHERE $1::uuid <> $2::uuid AND NOT users_blocked($1, $2)
  AND NOT EXISTS (
      SELECT 1 FROM notifications o
      WHERE o.actor_id = $1 AND o.recipient_id = $2 AND o.kind = 'follow'
        AND o.created_at > now() - make_interval(secs => $3))
RETURNING recipient_id;

-- name: notify_comment
-- $1 a comment just written in this transaction: its post's owner hears of it.
INSERT INTO notifications (recipient_id, kind, actor_id, post_id, comment_id)
SELECT p.user_id, 'comment', c.user_id, c.post_id, c.id
FROM comments c JOIN posts p ON p.id = c.post_id
WHERE c.id = $1 AND p.user_id IS NOT NULL AND p.user_id <> c.user_id
  AND NOT users_blocked(p.user_id, c.user_id)
RETURNING recipient_id;

-- name: notify_forget_pair
-- A block: what either account was told about the other goes (each is absent to the other).
DELETE FROM notifications
WHERE (actor_id = $1 AND recipient_id = $2) OR (actor_id = $2 AND recipient_id = $1);

-- name: notifications_page
-- $1 recipient, $2/$3 cursor (tx as text, id) or NULLs, $4 limit: newest first, i.e. the stream's
-- order backwards.
SELECT n.id, n.kind, n.actor_id, n.post_id, n.comment_id, n.created_at, n.read_at, n.tx::text AS tx,
       u.username, u.display_name
FROM notifications n LEFT JOIN users u ON u.id = n.actor_id
WHERE n.recipient_id = $1
  AND (n.tx, n.id) < (coalesce($2::text, '18446744073709551615')::xid8, coalesce($3::bigint, 9223372036854775807))
ORDER BY n.tx DESC, n.id DESC
LIMIT $4;

-- name: notifications_unread_page
SELECT n.id, n.kind, n.actor_id, n.post_id, n.comment_id, n.created_at, n.read_at, n.tx::text AS tx,
       u.username, u.display_name
FROM notifications n LEFT JOIN users u ON u.id = n.actor_id
WHERE n.recipient_id = $1 AND n.read_at IS NULL
  AND (n.tx, n.id) < (coalesce($2::text, '18446744073709551615')::xid8, coalesce($3::bigint, 9223372036854775807))
ORDER BY n.tx DESC, n.id DESC
LIMIT $4;

-- name: notifications_unread_count
-- Counted up to $2: an account that never reads must not make every page count a million rows.
SELECT count(*) FROM (SELECT 1 FROM notifications WHERE recipient_id = $1 AND read_at IS NULL LIMIT $2) x;

-- name: notifications_read_up_to
-- $1 recipient, $2 a notification of theirs: it and every older one (in list order) are read.
-- No row back when $2 is not theirs.
WITH target AS (
    SELECT tx, id FROM notifications WHERE id = $2 AND recipient_id = $1
), marked AS (
    UPDATE notifications n SET read_at = now()
    FROM target t
    WHERE n.recipient_id = $1 AND n.read_at IS NULL AND (n.tx, n.id) <= (t.tx, t.id)
    RETURNING 1
)
SELECT (SELECT count(*) FROM marked) AS marked FROM target;

-- name: notifications_read_ids
-- $1 recipient, $2 ids: those of theirs are read; others' ids are ignored, never revealed.
WITH marked AS (
    UPDATE notifications SET read_at = now()
    WHERE recipient_id = $1 AND id = ANY($2::bigint[]) AND read_at IS NULL
    RETURNING 1
)
SELECT count(*) AS marked FROM marked;

-- name: notifications_stream_start
-- Where a new stream starts: behind every transaction still running, so one committing now is
-- delivered, not skipped.
SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS tx;

-- name: notifications_stream_after
-- $1 recipient, $2/$3 position (tx as text, id), $4 limit: the next notifications in stream order.
-- `settled`: written by a transaction older than every running one, so nothing can still commit
-- before it; the stream delivers the settled prefix only.
SELECT n.id, n.kind, n.actor_id, n.post_id, n.comment_id, n.created_at, n.read_at, n.tx::text AS tx,
       u.username, u.display_name,
       n.tx < pg_snapshot_xmin(pg_current_snapshot()) AS settled
FROM notifications n LEFT JOIN users u ON u.id = n.actor_id
WHERE n.recipient_id = $1 AND (n.tx, n.id) > ($2::text::xid8, $3::bigint)
ORDER BY n.tx, n.id
LIMIT $4;

-- name: notifications_recipients_since
-- The stream hub's catch-up poll: which of the recipients streaming here ($2) have rows from
-- transactions at or after the previous poll's horizon ($1), and the new horizon. Every row
-- committed since the previous poll was written by a transaction running then or started later,
-- so its tx is at or after that horizon. Finds rows nobody announced (a post's status trigger) or announcements lost while the
-- listening connection was down.
SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon,
       ARRAY(SELECT DISTINCT recipient_id FROM notifications
             WHERE recipient_id = ANY($2::uuid[])
               AND tx >= $1::text::xid8) AS recipients;

-- name: notifications_announce
-- Wake the streams of these recipients on every instance: ids only (the 8 KB payload limit), sent
-- after the actions' transactions committed, in a tiny transaction of its own.
SELECT pg_notify('imagepipe_notifications', $1);

-- name: stream_ticket_issue
-- $1 SHA-256 of the ticket, $2 user, $3 lifetime (s), $4 most live tickets an account may hold;
-- $5 jti, $6 login family and $7 expiry of the access token that asked for it.
-- No row back when the account already holds that many.
INSERT INTO notification_stream_tickets (token_hash, user_id, expires_at, access_jti, access_family, access_exp)
SELECT $1, $2, now() + make_interval(secs => $3), $5, $6, $7
WHERE (SELECT count(*) FROM notification_stream_tickets WHERE user_id = $2 AND expires_at > now()) < $4
RETURNING expires_at;

-- name: stream_ticket_redeem
-- Single use: the row goes whether or not it was still valid.
DELETE FROM notification_stream_tickets WHERE token_hash = $1
RETURNING user_id, expires_at > now() AS live, access_jti, access_family, access_exp;

-- name: stream_tickets_sweep
DELETE FROM notification_stream_tickets
WHERE token_hash IN (SELECT token_hash FROM notification_stream_tickets WHERE expires_at <= now() LIMIT 1000);
