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

-- name: bench_seed_posts
-- $2 published posts for each account in $1, a minute apart, each with its counters and its three
-- JPEG renditions: what a profile page lists.
WITH seeded AS (
    INSERT INTO posts (id, user_id, status, source_key, content_type, file_size, width, height,
                       created_at, published_at, metadata)
    SELECT gen_random_uuid(), u, 'published', 'uploads/bench/' || i, 'image/jpeg', 2000000, 4000, 3000,
           now() - make_interval(mins => i), now() - make_interval(mins => i),
           '{"placeholder": "LKO2?U%2Tw=w]~RBVZRi};RPxuwH", "dominant_color": "#808080"}'::jsonb
    FROM unnest($1::uuid[]) AS u, generate_series(1, $2::int) AS i
    RETURNING id
), counters AS (
    INSERT INTO post_metadata (post_id) SELECT id FROM seeded
)
INSERT INTO post_images (post_id, variant, format, storage_key, width, height, bytes, quality)
SELECT s.id, v.variant, 'jpeg', 'posts/' || s.id || '/' || v.variant || '.jpg', v.w, v.h, v.b, v.q
FROM seeded s, (VALUES ('thumbnail', 150, 113, 7000, 80), ('medium', 600, 450, 80000, 85),
                       ('original', 4000, 3000, 1500000, 90)) AS v (variant, w, h, b, q)

-- name: bench_cursor_at
-- The keyset cursor of the $2-th newest post of account $1: where "load more" would be.
SELECT created_at, id FROM posts WHERE user_id = $1 ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1

-- name: bench_bytes_per_post
-- The database's size (tables, indexes, TOAST) over its posts: what each upload adds to PostgreSQL.
SELECT pg_database_size(current_database())::float8 / greatest(count(*), 1) FROM posts
