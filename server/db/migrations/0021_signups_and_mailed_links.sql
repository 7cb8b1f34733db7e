-- Sign-ups no longer own an address until they verify it: several unverified sign-ups may name the
-- same email (a squatter's cannot block the owner's), and only a verified account holds it.
-- Unverified sign-ups expire (unverified_account_ttl_s) and free their username.
DROP INDEX users_email_lower_idx;
CREATE UNIQUE INDEX users_verified_email_idx ON users (lower(email)) WHERE email_verified_at IS NOT NULL;
CREATE INDEX users_email_lower_idx ON users (lower(email));
CREATE INDEX users_unverified_created_idx ON users (created_at) WHERE email_verified_at IS NULL;

-- Links mailed to an address, stored only as SHA-256. A verification link belongs to the address:
-- whoever holds the mailbox verifies their own sign-up with its username and password. A reset link
-- belongs to one account. A newer link of the same purpose supersedes the older ones (used_at set).
CREATE TABLE email_tokens (
    token_hash  bytea PRIMARY KEY,
    purpose     text NOT NULL CHECK (purpose IN ('verify', 'reset')),
    email       text NOT NULL,  -- lower-case
    user_id     uuid REFERENCES users(id) ON DELETE CASCADE,  -- reset links only
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_tokens_open_idx ON email_tokens (purpose, email) WHERE used_at IS NULL;
CREATE INDEX email_tokens_user_idx ON email_tokens (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX email_tokens_expires_idx ON email_tokens (expires_at);

INSERT INTO email_tokens (token_hash, purpose, email, expires_at, used_at, created_at)
SELECT t.token_hash, 'verify', lower(u.email), t.expires_at, t.used_at, t.created_at
FROM email_verification_tokens t JOIN users u ON u.id = t.user_id;
DROP TABLE email_verification_tokens;

-- Rate-limit windows of any length (mails per hour, login failures per 15 min): each counter says
-- when it stops mattering, so pruning one-minute windows no longer resets the long ones.
ALTER TABLE rate_limit_counters ADD COLUMN expires_at timestamptz;
UPDATE rate_limit_counters SET expires_at = window_start + interval '60 seconds';
ALTER TABLE rate_limit_counters ALTER COLUMN expires_at SET NOT NULL;
CREATE INDEX rate_limit_counters_expires_idx ON rate_limit_counters (expires_at);
