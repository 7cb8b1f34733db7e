-- Moderation's statuses in the one visibility rule (0010_social.sql, mirrored by
-- server/social/rules.py): a post in review is seen by its owner and by admins, whatever blocks
-- stand between them (an owner cannot hide a post from review by blocking the moderators); a removed
-- post by its owner alone, as 0010 already has it for any status it does not name.
CREATE OR REPLACE FUNCTION post_visible_to(owner uuid, status post_status, deleted_at timestamptz, viewer uuid)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT deleted_at IS NULL AND CASE
        WHEN viewer IS NOT NULL AND owner = viewer THEN true
        WHEN status = 'in_review' THEN viewer IS NOT NULL AND EXISTS (SELECT 1 FROM admins a WHERE a.user_id = viewer)
        ELSE status IN ('pending_upload', 'processing', 'published', 'failed') AND NOT users_blocked(owner, viewer)
    END
$$;
