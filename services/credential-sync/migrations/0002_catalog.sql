-- The catalog mirrored from each credential's Entrust account. Each entry is keyed by its
-- credential and its natural key at Entrust; client_id is NULL when Entrust did not report
-- it, and NULLS NOT DISTINCT makes such entries unique too. An entry that a later sync no
-- longer finds gets removed_at set instead of being deleted, and loses it when it reappears.
-- updated_at changes only when a field (or removed_at) changes.

CREATE TABLE organizations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credential_id uuid NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    name text NOT NULL,
    client_id bigint,
    verification_status text NOT NULL,
    first_seen_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    removed_at timestamptz,
    CONSTRAINT organizations_natural_key UNIQUE NULLS NOT DISTINCT (credential_id, name, client_id)
);

CREATE TABLE domains (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credential_id uuid NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    name text NOT NULL,
    client_id bigint,
    verification_method text,
    verification_status text NOT NULL,
    ov_eligible boolean,
    ov_expiry timestamptz,
    ev_eligible boolean,
    ev_expiry timestamptz,
    first_seen_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    removed_at timestamptz,
    CONSTRAINT domains_natural_key UNIQUE NULLS NOT DISTINCT (credential_id, name, client_id)
);

-- Counts are NULL when Entrust did not report them (always so for unlimited products).
CREATE TABLE products (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credential_id uuid NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    product_type text NOT NULL,
    remaining bigint,
    used bigint,
    total bigint,
    unlimited boolean NOT NULL,
    first_seen_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    removed_at timestamptz,
    CONSTRAINT products_natural_key UNIQUE (credential_id, product_type)
);
