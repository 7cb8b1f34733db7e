-- The home feed, notifications and live-stream tickets (issue 11; DESIGN.md "Social").
--
-- Feed: fan-out on read, chosen by measurement (README, "Feed and notifications"; the probe is
-- `imagepipe bench social --designs`). Nothing is written per follower when a post publishes: a
-- feed page reads the newest public posts through one time-ordered index, keeping those of the
-- viewer's followees (a hashed set), and falls back to one index probe per followee below that
-- window (queries/feed.sql). So a follow, an unfollow, a block, a deletion or a moderation status
-- takes effect on the next request, with nothing to rewrite or trim.
--
-- Notifications: one row per event for its recipient, written in the transaction of the action
-- that caused it (server/social calls server/feed/notifications), or here by trigger for a post's
-- own status (post_published, post_failed). Live streams read them in the order of the writing
-- transaction's id (`tx`), delivering only rows whose transaction is older than every transaction
-- still running, so a resumed stream (Last-Event-ID) can never skip a row that commits late.

-- Every published post has a publication time: the feed orders by it. The pipeline sets it; this
-- covers any other way a post becomes published (an admin approving it, a tool, a test).
CREATE FUNCTION posts_published_at_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'published' AND NEW.published_at IS NULL THEN
        NEW.published_at := now();
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER posts_published_at BEFORE INSERT OR UPDATE OF status, published_at ON posts
    FOR EACH ROW EXECUTE FUNCTION posts_published_at_keep();
UPDATE posts SET published_at = updated_at WHERE status = 'published' AND published_at IS NULL;

-- The public posts, newest first: the feed's recent window scans this (index-only: the author is
-- included). The predicate is post_is_public (0010_social.sql) spelled out, so that queries
-- written with post_is_public match it once the planner inlines the function.
CREATE INDEX posts_public_time_idx ON posts (published_at DESC, id DESC) INCLUDE (user_id)
    WHERE status = 'published' AND deleted_at IS NULL;
-- One author's public posts, newest first: the feed's per-followee merge below the window.
CREATE INDEX posts_public_author_idx ON posts (user_id, published_at DESC, id DESC)
    WHERE status = 'published' AND deleted_at IS NULL;

-- A post as a feed shows it: its counters and its author's name (queries/feed.sql adds the
-- viewer's liked_by_me).
CREATE VIEW feed_post_rows AS
SELECT p.id, p.user_id, p.caption, p.status, p.error, p.error_message, p.width, p.height,
       p.metadata, p.created_at, p.published_at, m.like_count, m.comment_count, m.view_count,
       u.username, u.display_name
FROM posts p
LEFT JOIN post_metadata m ON m.post_id = p.id
JOIN users u ON u.id = p.user_id;

CREATE TYPE notification_kind AS ENUM ('follow', 'like', 'comment', 'post_published', 'post_failed');

CREATE TABLE notifications (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient_id  uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind          notification_kind NOT NULL,
    -- Who acted; NULL for the system's own news about a post (post_published, post_failed).
    actor_id      uuid REFERENCES users(id) ON DELETE CASCADE,
    post_id       uuid REFERENCES posts(id) ON DELETE CASCADE,
    comment_id    uuid REFERENCES comments(id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    read_at       timestamptz,
    -- The writing transaction: streams and lists order by (tx, id); see the header.
    tx            xid8 NOT NULL DEFAULT pg_current_xact_id(),
    CHECK (actor_id IS DISTINCT FROM recipient_id)  -- never about one's own action
);
-- A recipient's notifications in stream order (the list reads it backwards); unread ones apart,
-- for unread_only and unread_count.
CREATE INDEX notifications_recipient_idx ON notifications (recipient_id, tx, id);
CREATE INDEX notifications_unread_idx ON notifications (recipient_id, tx, id) WHERE read_at IS NULL;
-- Repeats (like -> unlike -> like is one), blocks (a pair's notifications go) and account deletion.
CREATE INDEX notifications_actor_idx ON notifications (actor_id, recipient_id, kind);
-- A deleted post or comment takes its notifications with it.
CREATE INDEX notifications_post_idx ON notifications (post_id, kind) WHERE post_id IS NOT NULL;
CREATE INDEX notifications_comment_idx ON notifications (comment_id) WHERE comment_id IS NOT NULL;

-- The owner hears when a post is published or fails, once per post and kind a day (a retried
-- failure, an approval after review). A row insert only: announcing it is the stream hub's poll,
-- never a NOTIFY inside the pipeline's transaction.
CREATE FUNCTION notifications_post_status() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    k notification_kind := CASE NEW.status WHEN 'published' THEN 'post_published'::notification_kind
                                           ELSE 'post_failed'::notification_kind END;
BEGIN
    IF NEW.user_id IS NOT NULL AND NEW.deleted_at IS NULL AND NOT EXISTS (
        SELECT 1 FROM notifications n
        WHERE n.post_id = NEW.id AND n.kind = k AND n.created_at > now() - interval '1 day'
    ) THEN
        INSERT INTO notifications (recipient_id, kind, post_id) VALUES (NEW.user_id, k, NEW.id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER notifications_post_status AFTER UPDATE OF status ON posts
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.status IN ('published', 'failed'))
    EXECUTE FUNCTION notifications_post_status();

-- Posts are deleted softly (their objects are purged later): the notifications about one go the
-- moment it is deleted, as a comment's go by cascade.
CREATE FUNCTION notifications_post_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM notifications WHERE post_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER notifications_post_deleted AFTER UPDATE OF deleted_at ON posts
    FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
    EXECUTE FUNCTION notifications_post_deleted();

-- Stream tickets: what a browser's EventSource (which cannot send an Authorization header) puts in
-- the stream URL instead of a token. Short-lived, single use, stored only as SHA-256, and shared
-- by every instance (a ticket from one may be redeemed on another behind the load balancer).
CREATE TABLE notification_stream_tickets (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX notification_stream_tickets_user_idx ON notification_stream_tickets (user_id);
CREATE INDEX notification_stream_tickets_expiry_idx ON notification_stream_tickets (expires_at);
