-- Moderation (server/moderation): admins, what the classifier said about each post, user reports,
-- and an append-only audit of every decision.

-- A role kept apart from users: checked on every admin call, so a revoke takes effect at once.
CREATE TABLE admins (
    user_id     uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    granted_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per post the classifier or a person has looked at; the owner and admins read it.
CREATE TABLE post_moderation (
    post_id     uuid PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,
    model       text,
    scores      jsonb NOT NULL DEFAULT '{}'::jsonb,  -- label -> 0..1
    score       real,                                -- highest flagged score; NULL when no answer
    error       text,                                -- classifier_failed | classifier_timeout | ...
    assessed_at timestamptz,
    held_by     text,         -- why it waits for review: classifier | classifier_error | reports
    held_at     timestamptz,  -- since when (the queue is oldest first)
    decision    text,         -- the last person's decision: approved | removed
    decided_at  timestamptz,
    reason      text          -- why it was removed, shown to the owner
);
CREATE INDEX posts_in_review_idx ON posts (id) WHERE status = 'in_review' AND deleted_at IS NULL;
-- Removed posts whose objects still wait for the purge sweep.
CREATE INDEX posts_removed_purge_idx ON posts (updated_at)
    WHERE status = 'removed' AND objects_purged_at IS NULL;

-- A report names a post, or a comment (and then also the comment's post). A deleted comment takes
-- its reports with it: there is nothing left to review.
CREATE TABLE reports (
    id          bigserial PRIMARY KEY,
    reporter_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    post_id     uuid NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    comment_id  uuid REFERENCES comments(id) ON DELETE CASCADE,
    reason      text NOT NULL CHECK (reason IN ('nudity', 'violence', 'spam', 'harassment', 'other')),
    note        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    closed_at   timestamptz   -- set when an admin decides; closed reports no longer count
);
-- One report per reporter per target, ever: the same accounts cannot hide an approved post again.
CREATE UNIQUE INDEX reports_one_per_post_idx ON reports (post_id, reporter_id) WHERE comment_id IS NULL;
CREATE UNIQUE INDEX reports_one_per_comment_idx ON reports (comment_id, reporter_id) WHERE comment_id IS NOT NULL;
CREATE INDEX reports_open_idx ON reports (post_id) WHERE closed_at IS NULL;
CREATE INDEX reports_reporter_recent_idx ON reports (reporter_id, created_at);

-- Who decided what, when and why. No foreign keys: the record outlives the accounts and posts it
-- names. Append-only, enforced below, so a compromised admin account cannot rewrite history.
CREATE TABLE moderation_audit (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    uuid,          -- the admin's account; NULL for the system and the command line
    actor       text NOT NULL, -- user:<username> | cli:<os user> | classifier | reports
    action      text NOT NULL, -- hold | reject | hide | approve | remove | grant_admin | revoke_admin
    post_id     uuid,
    comment_id  uuid,
    user_id     uuid,          -- the account acted upon (owner of the post, or the new admin)
    reason      text NOT NULL DEFAULT '',
    details     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX moderation_audit_post_idx ON moderation_audit (post_id, at);

CREATE FUNCTION moderation_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'moderation_audit is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER moderation_audit_no_change BEFORE UPDATE OR DELETE ON moderation_audit
    FOR EACH ROW EXECUTE FUNCTION moderation_audit_append_only();

-- Renditions of posts waiting for review live under held/ (never served publicly, see
-- server/moderation/objects.py); the reconcile sweep finds the few that sit on the wrong side.
CREATE INDEX post_images_held_idx ON post_images (post_id) WHERE storage_key LIKE 'held/%';
