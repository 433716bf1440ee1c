-- Where certificates are deployed.
CREATE TABLE deployments (
    id                UUID PRIMARY KEY,
    certificate_id    UUID        NOT NULL REFERENCES certificates (id),
    -- Empty strings and port 0 stand for "not recorded", so the unique index below compares
    -- locations field by field. At least one of host, path and system is set.
    host              TEXT        NOT NULL,
    port              INTEGER     NOT NULL CHECK (port BETWEEN 0 AND 65535),
    path              TEXT        NOT NULL,
    system            TEXT        NOT NULL,
    note              TEXT        NOT NULL,
    -- Whether the certificate still has to be deployed at this location.
    needs_deployment  BOOLEAN     NOT NULL,
    -- The predecessor's location this one was copied from on renewal or reissue.
    inherited_from    UUID REFERENCES deployments (id) ON DELETE SET NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    created_by        TEXT,
    confirmed_at      TIMESTAMPTZ,
    confirmed_by      TEXT,
    CHECK (host <> '' OR path <> '' OR system <> ''),
    CHECK (port = 0 OR host <> '')
);

CREATE UNIQUE INDEX deployments_location_idx
    ON deployments (certificate_id, host, port, path, system);
-- Lists: one certificate's locations, and every location that needs deployment, oldest first.
CREATE INDEX deployments_certificate_idx ON deployments (certificate_id, created_at, id);
CREATE INDEX deployments_needed_idx ON deployments (created_at, id) WHERE needs_deployment;
