-- The home feed (server/feed): the viewer's own and their followees' public posts, newest first,
-- keyset-paged on (published_at, id). Fan-out on read, in two steps chosen in server/feed/rules.py
-- (measured: README, "Feed and notifications"):
--   feed_window  the newest $4 public posts below the cursor, through posts_public_time_idx,
--                keeping the followees' (a hashed set): a fraction of a millisecond whenever the
--                followees posted recently, however many they are;
--   feed_merge   below that, one probe of posts_public_author_idx per followee, merged: bounded
--                by the number of followees, whatever the age of their posts (where a plain
--                `user_id IN (followees) ORDER BY published_at` plan collapses).
-- Both return whole rows (feed_post_rows, 0040, and liked_by_me), in feed order.
-- Visibility is post_is_public (0010_social.sql; moderation's statuses are not public); follows
-- never cross a block (a block removes them), and blocked_ids filters anyway.

-- name: feed_following_count
SELECT following_count FROM user_stats WHERE user_id = $1;

-- name: feed_window
-- $1 viewer, $2/$3 cursor (published_at, id) or NULLs, $4 window size, $5 rows wanted.
-- The OR keeps the IN from being turned into a join: as a hashed filter on an ordered scan, the
-- scan stops as soon as $5 rows are found.
WITH pick AS (
    SELECT w.id, w.published_at
    FROM (SELECT p.id, p.published_at, p.user_id
          FROM posts p
          WHERE post_is_public(p.status, p.deleted_at)
            AND (p.published_at, p.id) < (coalesce($2::timestamptz, 'infinity'::timestamptz),
                                          coalesce($3::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
          ORDER BY p.published_at DESC, p.id DESC
          LIMIT $4) w
    WHERE (w.user_id IN (SELECT f.followee_id FROM follows f WHERE f.follower_id = $1) OR w.user_id = $1)
      AND w.user_id NOT IN (SELECT id FROM blocked_ids($1))
    LIMIT $5
)
SELECT r.*, EXISTS (SELECT 1 FROM likes l WHERE l.post_id = r.id AND l.user_id = $1) AS liked_by_me
FROM pick JOIN feed_post_rows r ON r.id = pick.id
ORDER BY pick.published_at DESC, pick.id DESC;

-- name: feed_merge
-- $1 viewer, $2/$3 cursor or NULLs, $4 rows wanted: each followee's (and the viewer's own) newest
-- $4 public posts below the cursor, merged.
WITH authors AS (
    SELECT f.followee_id AS id FROM follows f WHERE f.follower_id = $1
    UNION ALL
    SELECT $1::uuid
), pick AS (
    SELECT x.id, x.published_at
    FROM authors a
    CROSS JOIN LATERAL (
        SELECT p.id, p.published_at
        FROM posts p
        WHERE p.user_id = a.id AND post_is_public(p.status, p.deleted_at)
          AND (p.published_at, p.id) < (coalesce($2::timestamptz, 'infinity'::timestamptz),
                                        coalesce($3::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
        ORDER BY p.published_at DESC, p.id DESC
        LIMIT $4
    ) x
    WHERE a.id NOT IN (SELECT id FROM blocked_ids($1))
    ORDER BY x.published_at DESC, x.id DESC
    LIMIT $4
)
SELECT r.*, EXISTS (SELECT 1 FROM likes l WHERE l.post_id = r.id AND l.user_id = $1) AS liked_by_me
FROM pick JOIN feed_post_rows r ON r.id = pick.id
ORDER BY pick.published_at DESC, pick.id DESC;
