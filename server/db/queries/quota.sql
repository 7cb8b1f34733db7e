-- Per-account storage (server/posts/quota.py), computed at upload/init from what is stored.

-- name: storage_used_by_user
-- $1 user_id. Bytes an account holds: each live post's source (declared size; a pending upload
-- reserves it, so parallel inits cannot overshoot) plus every stored rendition. Deleted posts give
-- their bytes back at once; an expired upload holds none (its late bytes are removed).
SELECT (SELECT coalesce(sum(p.file_size), 0) FROM posts p
        WHERE p.user_id = $1 AND p.deleted_at IS NULL AND p.error IS DISTINCT FROM 'upload_expired')
     + (SELECT coalesce(sum(i.bytes), 0) FROM post_images i JOIN posts p ON p.id = i.post_id
        WHERE p.user_id = $1 AND p.deleted_at IS NULL) AS used;
