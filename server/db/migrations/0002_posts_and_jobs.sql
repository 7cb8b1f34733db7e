-- Posts, their variants, counters, upload sessions and the durable job queue.
CREATE TYPE post_status AS ENUM ('pending_upload', 'processing', 'published', 'failed');

CREATE TABLE posts (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    caption         text NOT NULL DEFAULT '',
    status          post_status NOT NULL DEFAULT 'pending_upload',
    error           text,                 -- machine code, e.g. image_too_small
    error_message   text,                 -- readable reason
    source_key      text NOT NULL,
    content_type    text NOT NULL,
    file_size       bigint NOT NULL,
    file_hash       text,                 -- hex SHA-256 declared at init (optional)
    width           integer,
    height          integer,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,  -- taken_at, camera, placeholder, colour...
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    deleted_at      timestamptz
);
-- Keyset pagination of a user's posts, newest first.
CREATE INDEX posts_user_created_idx ON posts (user_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;

CREATE TABLE post_images (
    post_id     uuid NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    variant     text NOT NULL,            -- thumbnail | medium | original
    format      text NOT NULL,            -- jpeg | webp | avif
    storage_key text NOT NULL,
    width       integer NOT NULL,
    height      integer NOT NULL,
    bytes       integer NOT NULL,
    quality     integer,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, variant, format)
);

CREATE TABLE post_metadata (
    post_id       uuid PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,
    like_count    bigint NOT NULL DEFAULT 0,
    comment_count bigint NOT NULL DEFAULT 0,
    view_count    bigint NOT NULL DEFAULT 0
);

CREATE TABLE upload_sessions (
    id            uuid PRIMARY KEY,
    post_id       uuid NOT NULL UNIQUE REFERENCES posts(id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash    bytea NOT NULL,
    object_key    text NOT NULL,
    content_type  text NOT NULL,
    file_size     bigint NOT NULL,
    file_hash     text,
    expires_at    timestamptz NOT NULL,
    completed_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX upload_sessions_open_idx ON upload_sessions (expires_at) WHERE completed_at IS NULL;

CREATE TYPE job_status AS ENUM ('queued', 'running', 'succeeded', 'failed', 'dead');

-- The job row is the source of truth; in-memory mailboxes only stage work.
CREATE TABLE jobs (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL DEFAULT 'transcode',
    post_id       uuid NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    status        job_status NOT NULL DEFAULT 'queued',
    attempts      integer NOT NULL DEFAULT 0,     -- counted at claim time
    max_attempts  integer NOT NULL DEFAULT 5,
    pool_breaks   integer NOT NULL DEFAULT 0,     -- times this job was in flight when the pool broke
    run_after     timestamptz NOT NULL DEFAULT now(),
    lease_owner   text,
    lease_expires_at timestamptz,
    last_error    text,
    last_error_code text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
-- One live transcode job per post: two concurrent completes cannot queue two.
CREATE UNIQUE INDEX jobs_one_per_post_idx ON jobs (post_id, kind);
CREATE INDEX jobs_claimable_idx ON jobs (run_after, id) WHERE status = 'queued';
CREATE INDEX jobs_running_lease_idx ON jobs (lease_expires_at) WHERE status = 'running';

-- Wake idle feeders on every instance the moment a job becomes claimable.
CREATE FUNCTION jobs_notify() RETURNS trigger AS $$
BEGIN
    IF NEW.status = 'queued' THEN
        PERFORM pg_notify('imagepipe_jobs', NEW.id::text);
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION jobs_notify();
CREATE TRIGGER jobs_notify_update AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION jobs_notify();
