-- Where each of the loop's candidates came from, and the share of the
-- round its source had when it was drawn: the record of what a bandit over
-- sources chose, and of the fixed shares when nothing adapts.

ALTER TABLE executions ADD COLUMN source TEXT;
ALTER TABLE executions ADD COLUMN source_share DOUBLE PRECISION
    CHECK (source_share IS NULL OR (source_share >= 0 AND source_share <= 1));
