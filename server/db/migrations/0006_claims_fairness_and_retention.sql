-- Fencing per claim: every claim of a job gets a fresh number, and every write a holder makes about
-- the job names the claim it holds. A paused or partitioned holder whose job was claimed again (by
-- another instance, or by its own process after its lease was reaped) can change nothing.
CREATE SEQUENCE job_claim_seq;
ALTER TABLE jobs ADD COLUMN claim bigint;

-- Fair claiming across accounts, as start-time fair queueing: claims take the lowest rank first,
-- then the oldest. A new job's rank is one past its account's latest waiting or running job, but
-- never below the rank at the head of the queue (the "virtual clock"): one account queueing 60
-- jobs gets 60 consecutive ranks, and another account's upload, arriving later, takes the rank at
-- the head and waits for at most one of them, not for all.
ALTER TABLE jobs ADD COLUMN user_id uuid;
UPDATE jobs j SET user_id = p.user_id FROM posts p WHERE p.id = j.post_id;
ALTER TABLE jobs ALTER COLUMN user_id SET NOT NULL;
ALTER TABLE jobs ADD COLUMN fair_rank bigint NOT NULL DEFAULT 1;
CREATE INDEX jobs_active_by_user_idx ON jobs (user_id, fair_rank) WHERE status IN ('queued', 'running');
DROP INDEX jobs_claimable_idx;
CREATE INDEX jobs_claimable_idx ON jobs (fair_rank, run_after, id) WHERE status = 'queued';

-- Every inserter (upload/complete, tests, tools) gets the same account and rank.
CREATE FUNCTION jobs_assign_fair_rank() RETURNS trigger AS $$
DECLARE
    head bigint;
    own_last bigint;
BEGIN
    IF NEW.user_id IS NULL THEN
        SELECT user_id INTO NEW.user_id FROM posts WHERE id = NEW.post_id;
    END IF;
    SELECT fair_rank INTO head FROM jobs WHERE status = 'queued' AND run_after <= now()
    ORDER BY fair_rank, run_after, id LIMIT 1;
    SELECT max(fair_rank) INTO own_last FROM jobs
    WHERE user_id = NEW.user_id AND status IN ('queued', 'running');
    NEW.fair_rank := GREATEST(COALESCE(head, 1), COALESCE(own_last + 1, 1));
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER jobs_fair_rank BEFORE INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION jobs_assign_fair_rank();

-- Objects a claim is about to write (variants under posts/{post}/{claim}/). A claim that never
-- published (fenced out, crashed, post deleted) leaves objects nothing points at: the sweep removes
-- them once the claim is no longer current.
CREATE TABLE variant_writes (
    claim       bigint PRIMARY KEY,
    post_id     uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX variant_writes_created_idx ON variant_writes (created_at);

-- Retention: succeeded jobs are deleted after job_retention_days, oldest first, in small batches.
CREATE INDEX jobs_succeeded_finished_idx ON jobs (finished_at) WHERE status = 'succeeded';
