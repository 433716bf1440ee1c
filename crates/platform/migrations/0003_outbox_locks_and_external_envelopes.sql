-- The relay now holds row locks for the length of a round instead of writing a claim into each
-- row, so a published event costs one update rather than two.
ALTER TABLE outbox DROP COLUMN claimed_until;

-- Envelopes are stored without compression: events that carry certificates are mostly base64,
-- which compresses little, and the relay reads every envelope once. Large envelopes still move
-- out of the row, so marking a row published does not copy them.
ALTER TABLE outbox ALTER COLUMN envelope SET STORAGE EXTERNAL;
