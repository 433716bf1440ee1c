-- One row per Entrust order: placed by Certitude (source 'created') or found by an import
-- (source 'imported'). docs/order-states.md lists the states and how Entrust statuses map to
-- them.
CREATE TABLE orders (
    id                  UUID PRIMARY KEY,
    credential_id       TEXT        NOT NULL,
    -- The client's key for CreateOrder; a repeated request returns this row. Imports have none.
    idempotency_key     TEXT UNIQUE,
    -- Sent to Entrust as tracking.trackingInfo, so an order whose submission outcome is unknown
    -- can be found there. Imports have none.
    submission_marker   TEXT UNIQUE,
    -- Entrust's id of the order, known once Entrust accepted it.
    tracking_id         BIGINT,
    product             TEXT        NOT NULL,
    common_name         TEXT        NOT NULL,
    dns_names           TEXT[]      NOT NULL DEFAULT '{}',
    organization        TEXT,
    client_id           INTEGER,
    -- What a submission sends beside the names, kept so that a resubmission sends the same.
    validity_days       INTEGER,
    queue_for_approval  BOOLEAN     NOT NULL DEFAULT FALSE,
    -- The inventory key pair and its CSR; NULL for imported orders.
    key_id              TEXT,
    key_algorithm       TEXT,
    csr_pem             TEXT,
    -- SubjectPublicKeyInfo (DER) of the CSR: an issued certificate must carry this key.
    public_key_spki     BYTEA,
    status              TEXT        NOT NULL CHECK (status IN (
                            'SUBMITTING', 'PENDING', 'ISSUED', 'DECLINED', 'SUSPENDED',
                            'REVOKED', 'EXPIRED', 'DEACTIVATED', 'SUPERSEDED', 'FAILED',
                            'UNKNOWN')),
    -- The status exactly as Entrust last reported it.
    entrust_status      TEXT,
    -- Certitude's id of the certificate, given when the certificate entered Certitude.
    certificate_id      UUID UNIQUE,
    serial_number       TEXT,
    not_after           TIMESTAMPTZ,
    error               TEXT,
    source              TEXT        NOT NULL CHECK (source IN ('created', 'imported')),
    -- When the last submission to Entrust started; NULL while none is in flight or when the
    -- last one is known not to have reached Entrust.
    submitted_at        TIMESTAMPTZ,
    submit_attempts     INTEGER     NOT NULL DEFAULT 0,
    -- Lease of the replica working on the order (submitting, polling or reconciling it).
    claimed_until       TIMESTAMPTZ,
    -- When the poller next looks at the order; NULL when nothing is left to check.
    next_poll_at        TIMESTAMPTZ,
    poll_attempts       INTEGER     NOT NULL DEFAULT 0,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    UNIQUE (credential_id, tracking_id)
);

CREATE INDEX orders_due_idx ON orders (next_poll_at)
    WHERE status IN ('SUBMITTING', 'PENDING') AND next_poll_at IS NOT NULL;
CREATE INDEX orders_listing_idx ON orders (created_at DESC, id DESC);
CREATE INDEX orders_credential_listing_idx ON orders (credential_id, created_at DESC, id DESC);

-- Every step of an order: who or what acted, the state before and after, and the outcome.
CREATE TABLE order_history (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    UUID        NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    at          TIMESTAMPTZ NOT NULL,
    -- 'api' or the caller's name for requests; 'poller', 'reconciler' or 'import' for tasks.
    actor       TEXT        NOT NULL,
    -- What was done: 'create', 'submit', 'poll', 'reconcile', 'import'.
    action      TEXT        NOT NULL,
    from_status TEXT,
    to_status   TEXT,
    -- Result of the step, such as 'issued', 'pending', 'rejected', 'unknown', 'unchanged'.
    outcome     TEXT        NOT NULL,
    detail      TEXT
);

CREATE INDEX order_history_order_idx ON order_history (order_id, at);

-- Imports of a credential's Entrust orders, run in the background with their progress.
CREATE TABLE import_jobs (
    id            UUID PRIMARY KEY,
    credential_id TEXT        NOT NULL,
    state         TEXT        NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    pages         INTEGER     NOT NULL DEFAULT 0,
    orders        INTEGER     NOT NULL DEFAULT 0,
    imported      INTEGER     NOT NULL DEFAULT 0,
    updated       INTEGER     NOT NULL DEFAULT 0,
    issued        INTEGER     NOT NULL DEFAULT 0,
    skipped       INTEGER     NOT NULL DEFAULT 0,
    failed        INTEGER     NOT NULL DEFAULT 0,
    error         TEXT,
    started_at    TIMESTAMPTZ NOT NULL,
    -- Refreshed with each batch; a running job whose heartbeat stopped was abandoned.
    heartbeat_at  TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ
);

-- At most one running import per credential.
CREATE UNIQUE INDEX import_jobs_running_idx ON import_jobs (credential_id) WHERE state = 'running';
