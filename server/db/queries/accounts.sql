-- Accounts: users, verification tokens, refresh-token families, revocations, rate limits.
-- Tokens are looked up by their SHA-256 (bytea); the tokens themselves are never stored.

-- name: insert_user
INSERT INTO users (id, email, username, password_hash)
VALUES ($1, $2, $3, $4)
RETURNING id, email, username, email_verified_at;

-- name: find_user_by_login
-- $1 email or username (case-insensitive), $2 unverified sign-up lifetime in seconds. A username
-- names one row; an email names its verified account, else its newest live sign-up (an '@' never
-- appears in a username, so the two cases cannot collide).
SELECT id, password_hash, email_verified_at
FROM users
WHERE (lower(email) = lower($1) OR lower(username) = lower($1))
  AND (email_verified_at IS NOT NULL OR created_at > now() - make_interval(secs => $2))
ORDER BY email_verified_at IS NOT NULL DESC, created_at DESC
LIMIT 1;

-- name: get_user_verified
SELECT email_verified_at IS NOT NULL AS verified FROM users WHERE id = $1;

-- name: revoke_access_token
-- $1 jti. The insert trigger tells every instance (NOTIFY imagepipe_revocations).
INSERT INTO access_revocations (kind, subject) VALUES ('jti', $1) ON CONFLICT DO NOTHING;

-- name: recent_access_revocations
-- What an instance loads into memory: revocations younger than $1 seconds (an access token's life).
SELECT kind, subject FROM access_revocations WHERE revoked_at > now() - make_interval(secs => $1);

-- name: is_access_revoked
-- The slow path, used only while this instance's LISTEN connection is down. $1 jti, $2 fam, $3 sub.
SELECT EXISTS (
    SELECT 1 FROM access_revocations
    WHERE (kind = 'jti' AND subject = $1) OR (kind = 'family' AND subject = $2) OR (kind = 'user' AND subject = $3)
);

-- name: prune_access_revocations
DELETE FROM access_revocations WHERE revoked_at < now() - make_interval(secs => $1);

-- name: supersede_email_tokens
-- $1 purpose, $2 lower-case email: a new link makes the older unused ones worthless.
UPDATE email_tokens SET used_at = now() WHERE purpose = $1 AND email = $2 AND used_at IS NULL;

-- name: insert_email_token
-- $1 token_hash, $2 purpose, $3 lower-case email, $4 user_id (reset) or NULL, $5 lifetime in seconds
INSERT INTO email_tokens (token_hash, purpose, email, user_id, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5));

-- name: get_email_token
-- $1 token_hash, $2 purpose; FOR UPDATE so two clicks at once cannot both spend it.
SELECT email, user_id, expires_at <= now() AS expired, used_at IS NOT NULL AS used
FROM email_tokens
WHERE token_hash = $1 AND purpose = $2
FOR UPDATE;

-- name: spend_email_token
UPDATE email_tokens SET used_at = now() WHERE token_hash = $1;

-- name: find_signup
-- $1 lower-case email, $2 username, $3 sign-up lifetime in seconds: the live unverified sign-up.
SELECT id, password_hash FROM users
WHERE lower(email) = $1 AND lower(username) = lower($2) AND email_verified_at IS NULL
  AND created_at > now() - make_interval(secs => $3);

-- name: mark_user_verified
-- Fails on users_verified_email_idx if another sign-up verified the address first.
UPDATE users
SET email_verified_at = coalesce(email_verified_at, now()), updated_at = now()
WHERE id = $1;

-- name: drop_other_signups
-- $1 lower-case email, $2 the sign-up that won the address: the rest free their usernames now.
DELETE FROM users WHERE lower(email) = $1 AND id <> $2 AND email_verified_at IS NULL;

-- name: drop_expired_signups_for
-- $1 email, $2 username, $3 lifetime in seconds: sign-ups that would block this registration but
-- have expired are removed at once instead of waiting for the prune.
DELETE FROM users
WHERE email_verified_at IS NULL AND created_at <= now() - make_interval(secs => $3)
  AND (lower(email) = lower($1) OR lower(username) = lower($2));

-- name: prune_expired_signups
DELETE FROM users WHERE email_verified_at IS NULL AND created_at <= now() - make_interval(secs => $1);

-- name: find_verified_by_email
SELECT id, email, username FROM users WHERE lower(email) = lower($1) AND email_verified_at IS NOT NULL;

-- name: set_password
UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1;

-- name: insert_refresh_family
INSERT INTO refresh_token_families (id, user_id) VALUES ($1, $2);

-- name: insert_refresh_token
INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at)
VALUES ($1, $2, $3, now() + make_interval(secs => $4));

-- name: lock_refresh_token
-- Locks the token row so two refreshes with one token serialise: the second sees rotated_at set.
SELECT t.family_id, t.user_id, t.rotated_at IS NOT NULL AS rotated, t.expires_at <= now() AS expired,
       f.revoked_at IS NOT NULL AS family_revoked
FROM refresh_tokens t
JOIN refresh_token_families f ON f.id = t.family_id
WHERE t.token_hash = $1
FOR UPDATE OF t;

-- name: rotate_refresh_token
UPDATE refresh_tokens SET rotated_at = now() WHERE token_hash = $1;

-- name: revoke_refresh_family
UPDATE refresh_token_families
SET revoked_at = now(), revoked_reason = $2
WHERE id = $1 AND revoked_at IS NULL;

-- name: revoke_refresh_family_of_user
-- Logout only touches a family the caller owns.
UPDATE refresh_token_families f
SET revoked_at = now(), revoked_reason = $3
FROM refresh_tokens t
WHERE t.token_hash = $1 AND t.family_id = f.id AND f.user_id = $2 AND f.revoked_at IS NULL;

-- name: revoke_all_refresh_families_of_user
UPDATE refresh_token_families
SET revoked_at = now(), revoked_reason = $2
WHERE user_id = $1 AND revoked_at IS NULL
RETURNING id;

-- name: hit_rate_limit
-- One round trip: count this hit in its fixed window ($2 start, $3 length in seconds) and learn
-- the total so far. Its commit does not wait for the WAL flush (set_config(..., true) lasts until
-- this statement's own commit): a hit lost in a crash costs nothing, and the flush (1-2 ms p50,
-- ~9 ms p99 on the bench VM) was as long as the like or follow the limit guards. Run it outside any
-- transaction that writes durable data: inside one, that whole transaction would commit without
-- waiting for the flush.
WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true))
INSERT INTO rate_limit_counters (bucket, window_start, hits, expires_at)
SELECT $1, to_timestamp($2), 1, to_timestamp($2 + $3) FROM async_commit
ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_counters.hits + 1
RETURNING hits;

-- name: unhit_rate_limit
-- Give back a hit counted in advance (a login attempt that turned out not to be a failure).
UPDATE rate_limit_counters SET hits = greatest(hits - 1, 0) WHERE bucket = $1 AND window_start = to_timestamp($2);

-- name: prune_rate_limit_counters
DELETE FROM rate_limit_counters WHERE expires_at < to_timestamp($1);

-- name: find_taken
-- Is the username in use (by anyone), and does a verified account hold the email? A courtesy
-- pre-check; the unique indexes decide.
SELECT coalesce(bool_or(lower(username) = lower($2)), false) AS username_taken,
       coalesce(bool_or(lower(email) = lower($1) AND email_verified_at IS NOT NULL), false) AS email_verified
FROM users
WHERE lower(email) = lower($1) OR lower(username) = lower($2);

-- name: newest_live_signup
-- $1 email, $2 lifetime in seconds: the address as that sign-up spelled it.
SELECT email FROM users
WHERE lower(email) = lower($1) AND email_verified_at IS NULL AND created_at > now() - make_interval(secs => $2)
ORDER BY created_at DESC
LIMIT 1;

-- name: get_user
SELECT id, email, username, email_verified_at, created_at FROM users WHERE id = $1;

-- name: prune_expired_refresh_tokens
-- Past expiry a token is refused anyway; its family row stays as the record of the login.
DELETE FROM refresh_tokens WHERE expires_at < now();

-- name: prune_expired_email_tokens
DELETE FROM email_tokens WHERE expires_at < now();
