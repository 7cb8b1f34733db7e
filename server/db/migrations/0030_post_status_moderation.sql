-- Moderation adds two post statuses. ALTER TYPE ... ADD VALUE runs inside a transaction, but a value
-- added there cannot be used until that transaction commits, so this migration only adds them and
-- 0031 (its own transaction) is the first to use them.
ALTER TYPE post_status ADD VALUE IF NOT EXISTS 'in_review';
ALTER TYPE post_status ADD VALUE IF NOT EXISTS 'removed';
