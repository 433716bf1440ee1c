-- Auto-renewal policies, one per order. A policy moves to the order that renewed (or replaced)
-- its order, so it keeps renewing the lineage.
CREATE TABLE renewal_policies (
    id                        UUID PRIMARY KEY,
    order_id                  UUID NOT NULL UNIQUE,
    -- The order's credential and product as order-manager reported them when the policy was
    -- set or moved.
    credential_id             TEXT NOT NULL,
    order_product             TEXT NOT NULL,
    enabled                   BOOLEAN NOT NULL,
    -- At most one of the two is set; with neither, renew when two thirds of the lifetime passed.
    renew_days_before_expiry  INTEGER CHECK (renew_days_before_expiry > 0),
    renew_at_lifetime_percent INTEGER CHECK (renew_at_lifetime_percent BETWEEN 1 AND 99),
    rotate_key                BOOLEAN NOT NULL,
    -- NULL keeps the order's product and validity.
    product                   TEXT,
    validity_days             INTEGER,
    -- Optional maintenance window: ISO weekdays 1 (Monday) to 7, local hours, IANA zone.
    window_days               SMALLINT[],
    window_start_hour         SMALLINT,
    window_end_hour           SMALLINT,
    window_time_zone          TEXT,
    max_attempts              INTEGER NOT NULL CHECK (max_attempts > 0),
    admin_credential_id       TEXT,
    actor                     TEXT NOT NULL,
    renewals                  INTEGER NOT NULL DEFAULT 0,
    created_at                TIMESTAMPTZ NOT NULL,
    updated_at                TIMESTAMPTZ NOT NULL,
    CHECK (renew_days_before_expiry IS NULL OR renew_at_lifetime_percent IS NULL)
);

-- The renewal schedule and expiry warnings, on the row of each certificate.
ALTER TABLE certificate_expiries
    -- Start of validity, read from the certificate; NULL when it could not be read.
    ADD COLUMN not_before              TIMESTAMPTZ,
    ADD COLUMN credential_id           TEXT,
    -- Renewals before this certificate in its lineage, from 0.
    ADD COLUMN generation              INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN replaces_certificate_id UUID,
    -- The certificate that replaced this one, once its CertificateIssued arrived.
    ADD COLUMN successor_certificate_id UUID,
    ADD COLUMN revoked_at              TIMESTAMPTZ,
    -- Planned renewal (after jitter and the maintenance window); NULL when none is planned.
    ADD COLUMN renew_at                TIMESTAMPTZ,
    -- 'renewal' (RenewOrder) or 'replacement' (CreateOrder), decided with renew_at.
    ADD COLUMN renewal_method          TEXT CHECK (renewal_method IN ('renewal', 'replacement')),
    -- When the scheduler acts next: renew_at, a retry, a rescheduled attempt or the end of a
    -- claim. The due-scan reads only this column's index.
    ADD COLUMN due_at                  TIMESTAMPTZ,
    ADD COLUMN claimed_until           TIMESTAMPTZ,
    ADD COLUMN claim_token             UUID,
    -- Finished failed attempts of the current renewal.
    ADD COLUMN attempts                INTEGER NOT NULL DEFAULT 0,
    -- Bumped when an attempt's order ended FAILED, so the next attempt uses a new idempotency
    -- key; a crash or a lost response keeps the key, so a retry finds the same order.
    ADD COLUMN key_round               INTEGER NOT NULL DEFAULT 0,
    -- 'renewed', 'replaced' or 'gave_up' once the scheduler is done with the certificate.
    ADD COLUMN renewal_state           TEXT,
    ADD COLUMN new_order_id            UUID,
    -- Smallest warning threshold (days before expiry) announced so far, and when the next is due.
    ADD COLUMN warned_days             INTEGER,
    ADD COLUMN next_warning_at         TIMESTAMPTZ;

CREATE INDEX certificate_expiries_due_idx
    ON certificate_expiries (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX certificate_expiries_warning_idx
    ON certificate_expiries (next_warning_at) WHERE next_warning_at IS NOT NULL;
CREATE INDEX certificate_expiries_renew_at_idx
    ON certificate_expiries (renew_at) WHERE renew_at IS NOT NULL;
CREATE INDEX certificate_expiries_order_idx ON certificate_expiries (order_id);
CREATE INDEX certificate_expiries_new_order_idx
    ON certificate_expiries (new_order_id) WHERE new_order_id IS NOT NULL;
CREATE INDEX certificate_expiries_claims_idx
    ON certificate_expiries (credential_id, claimed_until) WHERE claimed_until IS NOT NULL;

-- The Auto-Renewal Audit: one row per attempt.
CREATE TABLE renewal_audit (
    id                 UUID PRIMARY KEY,
    attempted_at       TIMESTAMPTZ NOT NULL,
    policy_id          UUID NOT NULL,
    order_id           UUID,
    certificate_id     UUID NOT NULL,
    new_order_id       UUID,
    new_certificate_id UUID,
    outcome            TEXT NOT NULL
        CHECK (outcome IN ('succeeded', 'failed', 'gave_up', 'rescheduled', 'replaced')),
    error              TEXT,
    duration_ms        BIGINT NOT NULL,
    attempt            INTEGER NOT NULL
);

CREATE INDEX renewal_audit_certificate_idx ON renewal_audit (certificate_id, id);
CREATE INDEX renewal_audit_order_idx ON renewal_audit (order_id, id);
CREATE INDEX renewal_audit_policy_idx ON renewal_audit (policy_id, id);
CREATE INDEX renewal_audit_new_order_idx ON renewal_audit (new_order_id)
    WHERE new_order_id IS NOT NULL;
