-- The events each durable consumer of this service has processed. A row is written in the
-- transaction of the event's effect, so a redelivered event finds it and has no second effect.
CREATE TABLE inbox (
    -- Durable consumer name: one service may consume the same event with several consumers.
    consumer        TEXT        NOT NULL,
    event_id        UUID        NOT NULL,
    subject         TEXT        NOT NULL,
    stream_sequence BIGINT      NOT NULL,
    processed_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

CREATE INDEX inbox_processed_at_idx ON inbox (processed_at);
