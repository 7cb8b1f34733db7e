-- Background sweeps no longer hold a transaction (and its snapshot) across object-store calls: a
-- row is claimed for a while in a short transaction, its objects are removed outside any
-- transaction, and a second short transaction marks it done. A sweeper that dies mid-way leaves a
-- claim that runs out, and the next sweep takes the row again (removing objects twice is harmless).
ALTER TABLE posts ADD COLUMN purge_claimed_until timestamptz;
ALTER TABLE upload_sessions ADD COLUMN expiry_claimed_until timestamptz;
