-- The audit trail of changes made through the REST API, one row per change, hash-chained:
-- each row's hash covers the previous row's hash and the row's own fields (see src/audit/chain.rs
-- for the serialization). Request bodies are never stored.
CREATE TABLE audit_log (
    sequence        bigint PRIMARY KEY CHECK (sequence > 0),
    occurred_at     timestamptz NOT NULL,
    request_id      text NOT NULL,
    actor_token_id  uuid,
    actor_name      text,
    actor_role      text,
    method          text NOT NULL,
    route           text NOT NULL,
    target          text,
    status          smallint NOT NULL,
    outcome         text NOT NULL CHECK (outcome IN ('success', 'failure')),
    prev_hash       text NOT NULL,
    hash            text NOT NULL
);

CREATE INDEX audit_log_actor_idx ON audit_log (actor_token_id, sequence);
CREATE INDEX audit_log_occurred_at_idx ON audit_log (occurred_at);

-- The last sequence and hash of the chain, in exactly one row. An append locks this row with
-- SELECT ... FOR UPDATE in the transaction of its insert, so concurrent gateways append one
-- after the other and keep a single chain.
CREATE TABLE audit_chain_head (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    sequence   bigint NOT NULL,
    hash       text NOT NULL
);

INSERT INTO audit_chain_head (singleton, sequence, hash)
VALUES (true, 0, '0000000000000000000000000000000000000000000000000000000000000000');
