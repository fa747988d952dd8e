-- Runs whose guest broke the host's rules end `tampered`; executions the
-- database refused for a reason that retrying cannot fix are kept apart,
-- with why, instead of stopping whoever wrote them.

ALTER TABLE executions DROP CONSTRAINT executions_status_check;
ALTER TABLE executions ADD CONSTRAINT executions_status_check
    CHECK (status IN ('ok', 'exception', 'step_limit', 'timeout', 'memory_limit', 'output_limit',
                      'invalid_program', 'tampered'));

CREATE TABLE rejected_executions (
    -- The id the writer chose; a retried write of the same record finds it.
    execution_id UUID PRIMARY KEY,
    run_id       TEXT,
    strategy     TEXT,
    language     TEXT NOT NULL,
    -- What was sent, made storable (NUL shown as U+2400), so nothing is lost.
    source       TEXT NOT NULL,
    input        TEXT NOT NULL,
    seed         BIGINT NOT NULL,
    status       TEXT NOT NULL,
    step_count   BIGINT NOT NULL,
    reason       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX rejected_executions_run ON rejected_executions (run_id, created_at);
