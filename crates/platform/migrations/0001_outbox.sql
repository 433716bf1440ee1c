-- The transactional outbox: each event is written here in the same transaction as the state
-- change it describes, and the relay publishes it to NATS JetStream afterwards.
CREATE TABLE outbox (
    -- Event id (UUIDv7), also sent as the Nats-Msg-Id header.
    id             UUID PRIMARY KEY,
    subject        TEXT        NOT NULL,
    -- Fully qualified protobuf name of the payload.
    event_type     TEXT        NOT NULL,
    aggregate_type TEXT        NOT NULL,
    aggregate_id   TEXT        NOT NULL,
    -- Position among the aggregate's events, from 1, allocated from outbox_sequences.
    sequence       BIGINT      NOT NULL,
    -- The encoded certitude.events.v1.Envelope: the NATS message body.
    envelope       BYTEA       NOT NULL,
    -- W3C trace context of the transaction that wrote the event.
    traceparent    TEXT,
    created_at     TIMESTAMPTZ NOT NULL,
    -- A relay that claimed the row publishes it until this instant; later, another may.
    claimed_until  TIMESTAMPTZ,
    published_at   TIMESTAMPTZ,
    UNIQUE (aggregate_type, aggregate_id, sequence)
);

CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_published_at_idx ON outbox (published_at) WHERE published_at IS NOT NULL;

-- The last sequence number handed out per aggregate. The upsert that allocates the next one
-- locks the aggregate's row until the transaction ends, so concurrent writers get 1, 2, 3...
CREATE TABLE outbox_sequences (
    aggregate_type TEXT   NOT NULL,
    aggregate_id   TEXT   NOT NULL,
    last_sequence  BIGINT NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- Wakes the relays of this schema when a transaction that wrote events commits. Postgres
-- delivers the notification at commit and drops it on rollback.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(left('outbox.' || TG_TABLE_SCHEMA, 63), '');
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
