-- Revoked access tokens, by what they belong to: a login (refresh-token family), a deleted account,
-- or one token (logout). Every instance holds the recent rows in memory, loaded at start and kept
-- current by NOTIFY imagepipe_revocations (server/auth/revocation.py), so checking a Bearer token
-- costs no database round trip. Rows older than an access token's lifetime are pruned.
CREATE TABLE access_revocations (
    kind        text NOT NULL CHECK (kind IN ('family', 'user', 'jti')),
    subject     uuid NOT NULL,
    revoked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, subject)
);
CREATE INDEX access_revocations_revoked_at_idx ON access_revocations (revoked_at);

CREATE FUNCTION access_revocations_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('imagepipe_revocations', NEW.kind || ':' || NEW.subject::text);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER access_revocations_notify_insert AFTER INSERT ON access_revocations
    FOR EACH ROW EXECUTE FUNCTION access_revocations_notify();

-- Whoever revokes a login (logout, reuse detection, password reset, another area's code) revokes
-- its access tokens with it: the rule lives here, not in every caller.
CREATE FUNCTION refresh_family_revoked() RETURNS trigger AS $$
BEGIN
    INSERT INTO access_revocations (kind, subject) VALUES ('family', NEW.id) ON CONFLICT DO NOTHING;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER refresh_family_revoked AFTER UPDATE OF revoked_at ON refresh_token_families
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION refresh_family_revoked();

-- A deleted account's tokens die with it (its families go by cascade, without an UPDATE). Only
-- verified accounts can hold tokens, so expiring unverified sign-ups leaves no tombstones.
CREATE FUNCTION user_deleted_revoke() RETURNS trigger AS $$
BEGIN
    INSERT INTO access_revocations (kind, subject) VALUES ('user', OLD.id) ON CONFLICT DO NOTHING;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER users_deleted_revoke AFTER DELETE ON users
    FOR EACH ROW WHEN (OLD.email_verified_at IS NOT NULL) EXECUTE FUNCTION user_deleted_revoke();

INSERT INTO access_revocations (kind, subject, revoked_at)
SELECT 'jti', jti, now() FROM revoked_access_tokens WHERE expires_at > now();
DROP TABLE revoked_access_tokens;
