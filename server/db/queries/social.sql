-- The social graph and engagement (server/social). Counters are kept by the triggers of
-- 0010_social.sql: nothing here adds or subtracts a count. Visibility goes through the functions
-- post_is_public, post_visible_to, users_blocked and blocked_ids defined there.

-- name: social_target
-- An account by id ($1) or lowercase username ($2), with its counters and, for viewer $3 (or
-- NULL), how the two relate.
SELECT u.id, u.username, u.display_name, u.bio, u.created_at,
       s.posts_count, s.followers_count, s.following_count,
       EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $3 AND f.followee_id = u.id) AS followed_by_me,
       EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $3 AND b.blocked_id = u.id) AS blocked_by_me,
       EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = u.id AND b.blocked_id = $3) AS blocks_me
FROM users u JOIN user_stats s ON s.user_id = u.id
WHERE u.id = coalesce($1::uuid, (SELECT id FROM users WHERE lower(username) = $2::text));

-- name: social_lock_pair
-- Serialises every change to the edges between two accounts ($1, $2 in any order): a follow and a
-- block racing each other must not leave a follow behind the block.
SELECT pg_advisory_xact_lock(hashtextextended(least($1::uuid, $2::uuid)::text || greatest($1::uuid, $2::uuid)::text, 10));

-- name: social_relation
-- How viewer $1 and account $2 relate; no row when $2 is gone.
SELECT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $1 AND b.blocked_id = u.id) AS blocked_by_me,
       EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = u.id AND b.blocked_id = $1) AS blocks_me
FROM users u WHERE u.id = $2;

-- name: social_follow
INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING created_at;

-- name: social_unfollow
DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2 RETURNING created_at;

-- name: social_followers_count
SELECT followers_count FROM user_stats WHERE user_id = $1;

-- name: social_block
INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING created_at;

-- name: social_unblock
DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2 RETURNING created_at;

-- name: social_unfollow_both
DELETE FROM follows WHERE (follower_id = $1 AND followee_id = $2) OR (follower_id = $2 AND followee_id = $1);

-- name: social_post_for
-- Post $1 as actor $2 may act on it: visible at all, and public (likeable, commentable, viewable).
SELECT p.user_id AS owner_id,
       post_visible_to(p.user_id, p.status, p.deleted_at, $2) AS visible,
       post_is_public(p.status, p.deleted_at) AS public
FROM posts p WHERE p.id = $1;

-- name: social_set_like
-- $1 post, $2 actor, $3 true to like, false to unlike: see social_set_like in 0010_social.sql.
SELECT post_found, post_visible, post_public, changed, like_count FROM social_set_like($1, $2, $3);

-- name: social_insert_comment
-- $1 id, $2 post, $3 author, $4 body. Written only if the post is visible to the author and public;
-- no row at all: no such post. One statement, so the check and the write cannot be split.
WITH p AS (
    SELECT post_visible_to(p.user_id, p.status, p.deleted_at, $3) AS post_visible,
           post_is_public(p.status, p.deleted_at) AS post_public
    FROM posts p WHERE p.id = $2
), c AS (
    INSERT INTO comments (id, post_id, user_id, body)
    SELECT $1, $2, $3, $4 FROM p WHERE p.post_visible AND p.post_public
    RETURNING id, post_id, user_id, body, created_at
)
SELECT p.post_visible, p.post_public, c.*, u.username, u.display_name
FROM p LEFT JOIN c ON true LEFT JOIN users u ON u.id = c.user_id;

-- name: social_comment_for_delete
-- Comment $1 with who may delete it (author, post owner) and whether actor $2 may see it; locked,
-- so two deletes serialise and the second finds nothing.
SELECT c.user_id AS author_id, p.user_id AS owner_id,
       post_visible_to(p.user_id, p.status, p.deleted_at, $2) AND NOT users_blocked(c.user_id, $2) AS visible
FROM comments c JOIN posts p ON p.id = c.post_id
WHERE c.id = $1
FOR UPDATE OF c;

-- name: social_delete_comment
DELETE FROM comments WHERE id = $1;

-- name: social_count_view
-- Counts viewer $2's view of post $1 unless one was counted in the last $3 seconds; a row comes
-- back only when this view counted. ON CONFLICT locks the row, so concurrent views count once.
INSERT INTO post_views (post_id, viewer_id) VALUES ($1, $2)
ON CONFLICT (post_id, viewer_id) DO UPDATE
SET last_counted_at = now(), views = post_views.views + 1
WHERE post_views.last_counted_at <= now() - make_interval(secs => $3)
RETURNING views;

-- name: social_followers_page
-- Accounts following $1, newest first, after cursor ($2, $3), hiding those in a block with viewer $4.
SELECT u.id, u.username, u.display_name, f.created_at AS edge_at
FROM follows f JOIN users u ON u.id = f.follower_id
WHERE f.followee_id = $1
  AND (f.created_at, f.follower_id) < (coalesce($2::timestamptz, 'infinity'::timestamptz),
                                       coalesce($3::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
  AND f.follower_id NOT IN (SELECT id FROM blocked_ids($4::uuid))
ORDER BY f.created_at DESC, f.follower_id DESC
LIMIT $5;

-- name: social_following_page
SELECT u.id, u.username, u.display_name, f.created_at AS edge_at
FROM follows f JOIN users u ON u.id = f.followee_id
WHERE f.follower_id = $1
  AND (f.created_at, f.followee_id) < (coalesce($2::timestamptz, 'infinity'::timestamptz),
                                       coalesce($3::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
  AND f.followee_id NOT IN (SELECT id FROM blocked_ids($4::uuid))
ORDER BY f.created_at DESC, f.followee_id DESC
LIMIT $5;

-- name: social_blocks_page
-- The accounts $1 blocks, newest first (only ever shown to $1 itself).
SELECT u.id, u.username, u.display_name, b.created_at AS edge_at
FROM blocks b JOIN users u ON u.id = b.blocked_id
WHERE b.blocker_id = $1
  AND (b.created_at, b.blocked_id) < (coalesce($2::timestamptz, 'infinity'::timestamptz),
                                      coalesce($3::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
ORDER BY b.created_at DESC, b.blocked_id DESC
LIMIT $4;

-- name: social_likers_page
SELECT u.id, u.username, u.display_name, l.created_at AS edge_at
FROM likes l JOIN users u ON u.id = l.user_id
WHERE l.post_id = $1
  AND (l.created_at, l.user_id) < (coalesce($2::timestamptz, 'infinity'::timestamptz),
                                   coalesce($3::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
  AND l.user_id NOT IN (SELECT id FROM blocked_ids($4::uuid))
ORDER BY l.created_at DESC, l.user_id DESC
LIMIT $5;

-- name: social_comments_page
-- Comments on $1, oldest first, after cursor ($2, $3), hiding authors in a block with viewer $4.
SELECT c.id, c.post_id, c.user_id, c.body, c.created_at, u.username, u.display_name
FROM comments c JOIN users u ON u.id = c.user_id
WHERE c.post_id = $1
  AND (c.created_at, c.id) > (coalesce($2::timestamptz, '-infinity'::timestamptz),
                              coalesce($3::uuid, '00000000-0000-0000-0000-000000000000'::uuid))
  AND c.user_id NOT IN (SELECT id FROM blocked_ids($4::uuid))
ORDER BY c.created_at, c.id
LIMIT $5;

-- name: social_update_profile
-- $2/$3: the new display_name/bio; $4/$5 say whether each was given (absent fields stay).
UPDATE users
SET display_name = CASE WHEN $4::bool THEN $2::text ELSE display_name END,
    bio = CASE WHEN $5::bool THEN $3::text ELSE bio END,
    updated_at = now()
WHERE id = $1
RETURNING id;

-- name: social_password_hash
SELECT password_hash FROM users WHERE id = $1;

-- name: social_delete_account
-- Everything else follows from the foreign keys and triggers of 0010_social.sql: likes, comments,
-- views, follows, blocks, sessions and upload sessions go (and their counters with them); posts
-- are soft-deleted and left to the purge sweep.
DELETE FROM users WHERE id = $1 RETURNING id;
