-- Seed rows for `imagepipe bench queue`, which runs in a database of its own (created, migrated and
-- dropped by the bench): no-op jobs that go through the real claim, heartbeat and succeed queries.

-- name: bench_seed_users
-- $1 run tag, $2 how many accounts: the jobs are spread over them, as real uploads are.
INSERT INTO users (id, email, username, password_hash, email_verified_at)
SELECT gen_random_uuid(), 'bench-' || $1 || '-' || i || '@bench.invalid', 'bench_' || $1 || '_' || i, '!', now()
FROM generate_series(1, $2::int) AS i
RETURNING id

-- name: bench_seed_jobs
-- One processing post and one queued job per row, round-robin over the accounts $1.
WITH owners AS (SELECT $1::uuid[] AS ids), seeded AS (
    INSERT INTO posts (id, user_id, status, source_key, content_type, file_size)
    SELECT gen_random_uuid(), owners.ids[1 + i % cardinality(owners.ids)], 'processing',
           'bench/' || i, 'image/jpeg', 1
    FROM generate_series(0, $2::int - 1) AS i, owners
    RETURNING id
)
INSERT INTO jobs (post_id, kind, max_attempts)
SELECT id, 'transcode', 5 FROM seeded
RETURNING id

-- name: bench_job_states
SELECT status::text AS status, count(*) AS n FROM jobs GROUP BY status
