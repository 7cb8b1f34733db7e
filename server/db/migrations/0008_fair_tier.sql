-- Fair claiming, second step: at equal rank, a job whose account had nothing waiting or running
-- when it was queued (tier 0) goes before one queued behind its own account's backlog (tier 1).
-- A quiet account's upload takes the rank at the head of the queue; without this it still waited
-- for the busy account's job of that same rank, queued earlier.
ALTER TABLE jobs ADD COLUMN fair_tier smallint NOT NULL DEFAULT 1;
DROP INDEX jobs_claimable_idx;
CREATE INDEX jobs_claimable_idx ON jobs (fair_rank, fair_tier, run_after, id) WHERE status = 'queued';

CREATE OR REPLACE FUNCTION jobs_assign_fair_rank() RETURNS trigger AS $$
DECLARE
    head bigint;
    own_last bigint;
BEGIN
    IF NEW.user_id IS NULL THEN
        SELECT user_id INTO NEW.user_id FROM posts WHERE id = NEW.post_id;
    END IF;
    SELECT fair_rank INTO head FROM jobs WHERE status = 'queued' AND run_after <= now()
    ORDER BY fair_rank, fair_tier, run_after, id LIMIT 1;
    SELECT max(fair_rank) INTO own_last FROM jobs
    WHERE user_id = NEW.user_id AND status IN ('queued', 'running');
    NEW.fair_rank := GREATEST(COALESCE(head, 1), COALESCE(own_last + 1, 1));
    NEW.fair_tier := CASE WHEN own_last IS NULL THEN 0 ELSE 1 END;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
