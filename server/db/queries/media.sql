-- Local mode's upload endpoint (server/storage/media_routes.py).

-- name: upload_session_open
-- Whether the upload session of post $1 for object key $2 still takes bytes: not completed (the
-- source was verified), not expired, post not deleted. A signed URL outlives all three.
SELECT EXISTS (
    SELECT 1 FROM upload_sessions s JOIN posts p ON p.id = s.post_id
    WHERE s.post_id = $1 AND s.object_key = $2
      AND s.completed_at IS NULL AND s.expired_at IS NULL AND s.expires_at > now() AND p.deleted_at IS NULL
);
