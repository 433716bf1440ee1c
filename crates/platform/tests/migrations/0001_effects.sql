-- A stand-in service table for the platform's tests: the state a consumer's handler changes and
-- a producer's transaction writes next to its outbox event. No unique key on event_id, so a
-- second effect of one event would show as a second row.
CREATE TABLE effects (
    event_id UUID,
    order_id TEXT NOT NULL
);
