-- A stream ticket remembers the access token it was asked with, so a stream opened with it ends
-- when that token is revoked (log out everywhere, a password reset), as a Bearer stream does.
-- NULL for tickets issued before this migration: those streams run to their lifetime.
ALTER TABLE notification_stream_tickets
    ADD COLUMN access_jti uuid,
    ADD COLUMN access_family uuid,
    ADD COLUMN access_exp bigint;
