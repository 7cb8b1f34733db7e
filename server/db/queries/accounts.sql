-- Accounts: users, verification tokens, refresh-token families, revocations, rate limits.
-- Tokens are looked up by their SHA-256 (bytea); the tokens themselves are never stored.

-- name: insert_user
INSERT INTO users (id, email, username, password_hash)
VALUES ($1, $2, $3, $4)
RETURNING id, email, username, email_verified_at;

-- name: find_user_by_login
-- Email or username, case-insensitively; the lower() indexes serve both branches.
SELECT id, password_hash, email_verified_at
FROM users
WHERE lower(email) = lower($1) OR lower(username) = lower($1);

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

-- name: insert_verification_token
INSERT INTO email_verification_tokens (token_hash, user_id, expires_at)
VALUES ($1, $2, now() + make_interval(secs => $3));

-- name: lock_verification_token
SELECT user_id, expires_at <= now() AS expired, used_at IS NOT NULL AS used
FROM email_verification_tokens
WHERE token_hash = $1
FOR UPDATE;

-- name: use_verification_token
UPDATE email_verification_tokens SET used_at = now() WHERE token_hash = $1;

-- name: mark_user_verified
UPDATE users
SET email_verified_at = coalesce(email_verified_at, now()), updated_at = now()
WHERE id = $1;

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
WHERE user_id = $1 AND revoked_at IS NULL;

-- name: hit_rate_limit
-- One round trip: count this hit in its fixed window and learn the total so far.
INSERT INTO rate_limit_counters (bucket, window_start, hits)
VALUES ($1, to_timestamp($2), 1)
ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_counters.hits + 1
RETURNING hits;

-- name: prune_rate_limit_counters
DELETE FROM rate_limit_counters WHERE window_start < to_timestamp($1);

-- name: find_taken
-- Which of email / username is already in use (a courtesy pre-check; the unique indexes decide).
SELECT bool_or(lower(email) = lower($1)) AS email_taken, bool_or(lower(username) = lower($2)) AS username_taken
FROM users
WHERE lower(email) = lower($1) OR lower(username) = lower($2);

-- name: find_unverified_by_email
SELECT id, email, username FROM users WHERE lower(email) = lower($1) AND email_verified_at IS NULL;

-- name: get_user
SELECT id, email, username, email_verified_at, created_at FROM users WHERE id = $1;

-- name: prune_expired_refresh_tokens
-- Past expiry a token is refused anyway; its family row stays as the record of the login.
DELETE FROM refresh_tokens WHERE expires_at < now();

-- name: prune_expired_verification_tokens
DELETE FROM email_verification_tokens WHERE expires_at < now();
