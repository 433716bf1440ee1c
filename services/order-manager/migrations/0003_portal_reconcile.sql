-- The portal reconcile: a periodic round that compares issued and suspended orders with what
-- Entrust lists now, so that changes made in the Entrust portal reach Certitude.

-- Periodic work that one replica at a time runs. A replica takes the row's lease when the round
-- is due and no live lease is held, renews the lease while it works, and sets the next due time
-- when it finishes. A replica that dies leaves a lease that ends on its own.
CREATE TABLE task_leases (
    -- The task, such as 'portal-reconcile'.
    name              TEXT PRIMARY KEY,
    -- Replica running the current round; NULL when none runs.
    holder            TEXT,
    -- End of the running round's lease; another replica may take the round over after it.
    leased_until      TIMESTAMPTZ,
    -- When the next round is due.
    next_run_at       TIMESTAMPTZ NOT NULL,
    last_started_at   TIMESTAMPTZ,
    last_finished_at  TIMESTAMPTZ,
    -- Error of the last round, NULL when it succeeded.
    last_error        TEXT
);

-- The credentials whose orders a round compares, found without reading every order.
CREATE INDEX orders_portal_reconcile_idx ON orders (credential_id, tracking_id)
    WHERE status IN ('ISSUED', 'SUSPENDED') AND deleted_at IS NULL AND tracking_id IS NOT NULL;
