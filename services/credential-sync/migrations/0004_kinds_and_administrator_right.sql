-- Sync runs of chosen catalog kinds, with counts of what each run changed, and the "partial"
-- outcome of a run where some kinds failed while the others were stored.
ALTER TABLE sync_runs
    ADD COLUMN kinds text[] NOT NULL DEFAULT ARRAY['organizations', 'domains', 'products'],
    ADD COLUMN added integer NOT NULL DEFAULT 0,
    ADD COLUMN changed integer NOT NULL DEFAULT 0,
    DROP CONSTRAINT sync_runs_state_check,
    ADD CONSTRAINT sync_runs_state_check
        CHECK (state IN ('running', 'succeeded', 'partial', 'failed')),
    ADD CONSTRAINT sync_runs_kinds_check
        CHECK (cardinality(kinds) > 0
               AND kinds <@ ARRAY['organizations', 'domains', 'products']);

-- Set when Entrust answered HTTP 403 to an administrator action taken with the credential;
-- cleared when the user sets is_administrator again.
ALTER TABLE credentials
    ADD COLUMN administrator_right_missing_since timestamptz,
    ADD COLUMN denied_administrator_action text,
    ADD CONSTRAINT credentials_administrator_right_complete
        CHECK ((administrator_right_missing_since IS NULL)
               = (denied_administrator_action IS NULL));
