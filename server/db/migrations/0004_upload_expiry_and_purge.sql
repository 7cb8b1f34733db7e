-- Background sweeps of uploads and posts: each sweep needs a "done" mark so it never rescans old rows.
-- An expired session keeps its row (a late complete still gets a precise 410) but leaves the sweep.
ALTER TABLE upload_sessions ADD COLUMN expired_at timestamptz;
CREATE INDEX upload_sessions_expiring_idx ON upload_sessions (expires_at)
    WHERE completed_at IS NULL AND expired_at IS NULL;
DROP INDEX upload_sessions_open_idx;  -- superseded by the index above

-- A soft-deleted post disappears from the API at once; its objects go later, then this is stamped.
ALTER TABLE posts ADD COLUMN objects_purged_at timestamptz;
CREATE INDEX posts_purge_pending_idx ON posts (deleted_at)
    WHERE deleted_at IS NOT NULL AND objects_purged_at IS NULL;
