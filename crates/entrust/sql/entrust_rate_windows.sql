-- Shared Entrust request budget (entrust crate, PostgresRateBudget).
--
-- One row per credential and time bucket (a thirtieth of the quota window) with the number of
-- requests sent in it. Rows older than the window and its margin are deleted as requests arrive,
-- so the table stays small. Every replica and service that must share a credential's quota reads
-- and writes the same table.
CREATE TABLE IF NOT EXISTS entrust_rate_windows (
    credential_key text NOT NULL,
    window_start timestamptz NOT NULL,
    used integer NOT NULL CHECK (used > 0),
    PRIMARY KEY (credential_key, window_start)
);
