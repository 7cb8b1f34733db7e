-- upload/init counts a user's open upload sessions (a cap on what one account can have in flight);
-- only open sessions are indexed, so the count stays cheap however many uploads a user completed.
CREATE INDEX upload_sessions_user_open_idx ON upload_sessions (user_id)
    WHERE completed_at IS NULL AND expired_at IS NULL;
