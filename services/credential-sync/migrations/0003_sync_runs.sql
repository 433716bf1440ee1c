-- Catalog sync runs. At most one run per credential is running, whichever replica started it:
-- the partial unique index makes a second start conflict, and the caller then returns the
-- running run. The replica executing a run renews lease_expires_at while it works; a running
-- run whose lease expired was abandoned (its replica stopped) and may be closed as failed.
CREATE TABLE sync_runs (
    id uuid PRIMARY KEY,
    credential_id uuid NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    state text NOT NULL,
    trigger text NOT NULL,
    organizations integer NOT NULL DEFAULT 0,
    domains integer NOT NULL DEFAULT 0,
    products integer NOT NULL DEFAULT 0,
    removed integer NOT NULL DEFAULT 0,
    error text,
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    lease_expires_at timestamptz NOT NULL,
    CONSTRAINT sync_runs_state_check CHECK (state IN ('running', 'succeeded', 'failed')),
    CONSTRAINT sync_runs_trigger_check
        CHECK (trigger IN ('credential_added', 'on_demand', 'schedule')),
    CONSTRAINT sync_runs_finished_check CHECK ((state = 'running') = (finished_at IS NULL))
);

CREATE UNIQUE INDEX sync_runs_one_running_idx ON sync_runs (credential_id) WHERE state = 'running';

-- The scheduler's "latest run of each credential" lookup.
CREATE INDEX sync_runs_credential_started_idx ON sync_runs (credential_id, started_at DESC);
