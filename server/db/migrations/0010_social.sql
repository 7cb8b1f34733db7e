-- The social graph and engagement: profiles, follows, blocks, likes, comments, views, and the exact
-- counters over them (DESIGN.md "Social").
--
-- Counters are kept by row-level triggers on the tables they count, in the writer's transaction.
-- Measured with `python -m native_bench.counter_probe` (README, "Social API"): as cheap as the
-- handler updating the counter itself (fewer round trips, in fact), exact under any interleaving
-- (the counter row's lock orders the writers), and, unlike handler code, also right when rows go
-- by ON DELETE CASCADE (an account deleted, a post purged). Counting on read was 3 ms per post at
-- 100,000 likes, too slow for pages of posts.
--
-- The rules other areas reuse live here, once:
--   post_is_public(status, deleted_at)   a post counts (posts_count), is listed for others, and
--                                        can be liked, commented on and viewed;
--   blocked_ids(viewer), users_blocked(a, b)
--                                        either account blocks the other (as a set, for lists;
--                                        for one pair);
--   post_visible_to(owner, status, deleted_at, viewer)
--                                        whether viewer may see the post at all.
-- server/social/rules.py mirrors them for code that already holds the rows.

ALTER TABLE users ADD COLUMN display_name text, ADD COLUMN bio text;

CREATE FUNCTION post_is_public(status post_status, deleted_at timestamptz) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- Statuses added later (moderation's in_review, removed) are not public: they leave counts
    -- and lists the way a deleted post does, through this one function.
    SELECT deleted_at IS NULL AND status = 'published'
$$;

-- Counters of an account. A separate narrow row, not columns of users: a follow of a popular account
-- then never waits behind that account's own upload (which locks its users row) or rewrites the
-- wide users row.
CREATE TABLE user_stats (
    user_id          uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    posts_count      bigint NOT NULL DEFAULT 0,
    followers_count  bigint NOT NULL DEFAULT 0,
    following_count  bigint NOT NULL DEFAULT 0
);

CREATE FUNCTION user_stats_create() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_stats (user_id) VALUES (NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER users_stats_create AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION user_stats_create();

INSERT INTO user_stats (user_id, posts_count)
SELECT u.id, (SELECT count(*) FROM posts p WHERE p.user_id = u.id AND post_is_public(p.status, p.deleted_at))
FROM users u;

-- posts_count follows every change that makes a post start or stop being public: publish, delete,
-- and any status a later migration adds. The one path for "a post stops counting".
CREATE FUNCTION posts_count_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.user_id IS NOT NULL AND post_is_public(OLD.status, OLD.deleted_at) THEN
        UPDATE user_stats SET posts_count = posts_count - 1 WHERE user_id = OLD.user_id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.user_id IS NOT NULL AND post_is_public(NEW.status, NEW.deleted_at) THEN
        UPDATE user_stats SET posts_count = posts_count + 1 WHERE user_id = NEW.user_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER posts_count_insert_delete AFTER INSERT OR DELETE ON posts
    FOR EACH ROW EXECUTE FUNCTION posts_count_keep();
CREATE TRIGGER posts_count_update AFTER UPDATE OF status, deleted_at, user_id ON posts
    FOR EACH ROW
    WHEN (post_is_public(OLD.status, OLD.deleted_at) IS DISTINCT FROM post_is_public(NEW.status, NEW.deleted_at)
          OR OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION posts_count_keep();

-- Deleting an account deletes its users row (so email and username are free at once) but not its
-- posts: their objects must be purged first, in the background, like any deleted post's. So the
-- owner link becomes NULL and the post is soft-deleted in the same statement; the purge sweep
-- (server/posts/cleanup.py) then finds it like every other deleted post. No post lives without owner.
ALTER TABLE posts ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE posts DROP CONSTRAINT posts_user_id_fkey;
ALTER TABLE posts ADD CONSTRAINT posts_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE SET NULL;

CREATE FUNCTION posts_orphan_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.user_id IS NULL THEN
        NEW.deleted_at := coalesce(NEW.deleted_at, now());
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER posts_orphan_deleted BEFORE UPDATE OF user_id ON posts
    FOR EACH ROW EXECUTE FUNCTION posts_orphan_deleted();
ALTER TABLE posts ADD CONSTRAINT posts_owner_or_deleted CHECK (user_id IS NOT NULL OR deleted_at IS NOT NULL);

-- Follows. Newest first in both lists, keyset-paged on (created_at, the other account's id).
CREATE TABLE follows (
    follower_id  uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    followee_id  uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
);
CREATE INDEX follows_followers_idx ON follows (followee_id, created_at DESC, follower_id DESC);
CREATE INDEX follows_following_idx ON follows (follower_id, created_at DESC, followee_id DESC);

CREATE FUNCTION follows_count_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE user_stats SET followers_count = followers_count + 1 WHERE user_id = NEW.followee_id;
        UPDATE user_stats SET following_count = following_count + 1 WHERE user_id = NEW.follower_id;
    ELSE
        UPDATE user_stats SET followers_count = followers_count - 1 WHERE user_id = OLD.followee_id;
        UPDATE user_stats SET following_count = following_count - 1 WHERE user_id = OLD.follower_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER follows_count AFTER INSERT OR DELETE ON follows FOR EACH ROW EXECUTE FUNCTION follows_count_keep();

-- Blocks: private to the blocker; either direction hides each side from the other.
CREATE TABLE blocks (
    blocker_id  uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id  uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);
CREATE INDEX blocks_list_idx ON blocks (blocker_id, created_at DESC, blocked_id DESC);
CREATE INDEX blocks_blocked_idx ON blocks (blocked_id);

-- The accounts in a block with viewer, either way (none for NULL, an anonymous viewer). Lists filter
-- with `id NOT IN (SELECT id FROM blocked_ids(viewer))`: the planner inlines it and probes a hash
-- built once per query, ten times cheaper than calling users_blocked per row (2.2 ms -> 0.27 ms
-- for a page of 100 followers, measured).
CREATE FUNCTION blocked_ids(viewer uuid) RETURNS TABLE (id uuid) LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT blocked_id FROM blocks WHERE blocker_id = viewer
    UNION ALL
    SELECT blocker_id FROM blocks WHERE blocked_id = viewer
$$;

-- The same rule for one pair: two primary-key probes once the planner has pushed b into the union.
CREATE FUNCTION users_blocked(a uuid, b uuid) RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT EXISTS (SELECT 1 FROM blocked_ids(a) x WHERE x.id = b)
$$;

CREATE FUNCTION post_visible_to(owner uuid, status post_status, deleted_at timestamptz, viewer uuid)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    -- The owner sees their post in every status. Others see the statuses that exist today (a post
    -- is readable by id while it processes) unless a block stands between them; a status added
    -- later is hidden from others until a migration says otherwise.
    SELECT deleted_at IS NULL AND CASE
        WHEN viewer IS NOT NULL AND owner = viewer THEN true
        ELSE status IN ('pending_upload', 'processing', 'published', 'failed') AND NOT users_blocked(owner, viewer)
    END
$$;

-- Likes: one per account and post. Likers newest first.
CREATE TABLE likes (
    post_id     uuid NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, user_id)
);
CREATE INDEX likes_post_list_idx ON likes (post_id, created_at DESC, user_id DESC);
CREATE INDEX likes_user_idx ON likes (user_id);

CREATE FUNCTION likes_count_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE post_metadata SET like_count = like_count + 1 WHERE post_id = NEW.post_id;
    ELSE
        UPDATE post_metadata SET like_count = like_count - 1 WHERE post_id = OLD.post_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER likes_count AFTER INSERT OR DELETE ON likes FOR EACH ROW EXECUTE FUNCTION likes_count_keep();

-- Like or unlike in one round trip (a like is the hottest write there is): look at the post, change
-- the edge only if the actor may (visible, and public to like), then read the count the trigger
-- left, all in one statement's transaction, so the count includes this change. The caller turns
-- the flags into 404 / 409 (server/social/rules.py).
CREATE FUNCTION social_set_like(p_post uuid, p_user uuid, p_like boolean)
RETURNS TABLE (post_found boolean, post_visible boolean, post_public boolean, changed boolean,
               like_count bigint)
LANGUAGE plpgsql AS $$
DECLARE
    p record;
BEGIN
    SELECT user_id, status, deleted_at INTO p FROM posts WHERE id = p_post;
    post_found := FOUND;
    post_visible := post_found AND post_visible_to(p.user_id, p.status, p.deleted_at, p_user);
    post_public := post_found AND post_is_public(p.status, p.deleted_at);
    changed := false;
    IF post_visible AND (post_public OR NOT p_like) THEN
        IF p_like THEN
            INSERT INTO likes (post_id, user_id) VALUES (p_post, p_user) ON CONFLICT DO NOTHING;
        ELSE
            DELETE FROM likes WHERE post_id = p_post AND user_id = p_user;
        END IF;
        changed := FOUND;
    END IF;
    SELECT m.like_count INTO like_count FROM post_metadata m WHERE m.post_id = p_post;
    RETURN NEXT;
END $$;

-- Comments: plain text, oldest first.
CREATE TABLE comments (
    id          uuid PRIMARY KEY,
    post_id     uuid NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    body        text NOT NULL CHECK (length(body) BETWEEN 1 AND 2200),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comments_post_idx ON comments (post_id, created_at, id);
CREATE INDEX comments_user_idx ON comments (user_id);

CREATE FUNCTION comments_count_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE post_metadata SET comment_count = comment_count + 1 WHERE post_id = NEW.post_id;
    ELSE
        UPDATE post_metadata SET comment_count = comment_count - 1 WHERE post_id = OLD.post_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER comments_count AFTER INSERT OR DELETE ON comments FOR EACH ROW EXECUTE FUNCTION comments_count_keep();

-- Views: one row per viewer and post. A view counts when the last counted one is at least 24 h
-- old; `views` says how many times this viewer was counted, so view_count = sum(views), always.
CREATE TABLE post_views (
    post_id          uuid NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    viewer_id        uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    last_counted_at  timestamptz NOT NULL DEFAULT now(),
    views            integer NOT NULL DEFAULT 1 CHECK (views > 0),
    PRIMARY KEY (post_id, viewer_id)
);
CREATE INDEX post_views_viewer_idx ON post_views (viewer_id);

CREATE FUNCTION views_count_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE post_metadata SET view_count = view_count + NEW.views WHERE post_id = NEW.post_id;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE post_metadata SET view_count = view_count + NEW.views - OLD.views WHERE post_id = NEW.post_id;
    ELSE
        UPDATE post_metadata SET view_count = view_count - OLD.views WHERE post_id = OLD.post_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER views_count AFTER INSERT OR DELETE OR UPDATE OF views ON post_views
    FOR EACH ROW EXECUTE FUNCTION views_count_keep();
