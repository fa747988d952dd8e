-- The replay store: every program, execution and traced step Curio has seen,
-- plus checkpoints, evaluations and the learning curve.

CREATE TABLE programs (
    id           BIGSERIAL PRIMARY KEY,
    -- sha256(language || '\0' || source): one row per distinct program.
    content_hash BYTEA NOT NULL UNIQUE,
    language     TEXT NOT NULL,
    source       TEXT NOT NULL CHECK (octet_length(source) <= 65536),
    origin       TEXT NOT NULL CHECK (origin IN ('corpus', 'generated', 'mutated', 'submitted')),
    submitter    TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE executions (
    -- Chosen by the client before the run: a retried write finds it and
    -- stores nothing twice.
    id                UUID PRIMARY KEY,
    program_id        BIGINT NOT NULL REFERENCES programs (id),
    input             TEXT NOT NULL,
    -- The u64 seed, bit for bit, as a signed 64-bit integer.
    seed              BIGINT NOT NULL,
    max_steps         INTEGER NOT NULL,
    timeout_ms        INTEGER NOT NULL,
    memory_bytes      BIGINT NOT NULL,
    output_bytes      BIGINT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('ok', 'exception', 'step_limit', 'timeout',
                                                      'memory_limit', 'output_limit', 'invalid_program')),
    step_count        BIGINT NOT NULL,
    stdout            TEXT NOT NULL,
    error_type        TEXT,
    error_message     TEXT,
    error_line        INTEGER,
    truncated         BOOLEAN NOT NULL,
    duration_us       BIGINT NOT NULL,
    pool_replica      TEXT,
    run_id            TEXT,
    strategy          TEXT,
    acquisition_score DOUBLE PRECISION,
    model_version     BIGINT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX executions_program ON executions (program_id);
CREATE INDEX executions_run ON executions (run_id, created_at);

-- One row per traced step: the state at step t. A transition t -> t+k is
-- this row and the row k steps later of the same execution.
CREATE TABLE transitions (
    id           BIGSERIAL PRIMARY KEY,
    execution_id UUID NOT NULL REFERENCES executions (id),
    step         INTEGER NOT NULL,
    event        TEXT NOT NULL CHECK (event IN ('call', 'line', 'return', 'exception')),
    line         INTEGER NOT NULL,
    function     TEXT NOT NULL,
    depth        INTEGER NOT NULL,
    -- [[name, repr], ...] in definition order.
    locals       JSONB NOT NULL,
    stdout       TEXT NOT NULL,
    value        TEXT,
    -- Sampling weight the trainer keeps up to date (its loss on this step).
    priority     REAL NOT NULL CHECK (priority > 0),
    UNIQUE (execution_id, step)
);

CREATE TABLE checkpoints (
    id           BIGSERIAL PRIMARY KEY,
    run_id       TEXT NOT NULL,
    train_step   BIGINT NOT NULL,
    path         TEXT NOT NULL,
    model_config JSONB NOT NULL,
    metrics      JSONB NOT NULL DEFAULT '{}',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (run_id, train_step)
);

CREATE TABLE eval_results (
    id            BIGSERIAL PRIMARY KEY,
    checkpoint_id BIGINT REFERENCES checkpoints (id),
    run_id        TEXT NOT NULL,
    suite         TEXT NOT NULL,
    metric        TEXT NOT NULL,
    value         DOUBLE PRECISION NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX eval_results_run ON eval_results (run_id, suite, metric);

-- Metric against interpreter queries used, per run and strategy.
CREATE TABLE learning_curve (
    run_id       TEXT NOT NULL,
    strategy     TEXT NOT NULL,
    queries_used BIGINT NOT NULL,
    metric       TEXT NOT NULL,
    value        DOUBLE PRECISION NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, strategy, metric, queries_used)
);
