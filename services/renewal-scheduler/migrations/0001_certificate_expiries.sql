-- The expiry of every certificate that entered Certitude, recorded from CertificateIssued events.
CREATE TABLE certificate_expiries (
    certificate_id UUID PRIMARY KEY,
    order_id       TEXT,
    not_after      TIMESTAMPTZ NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL
);

-- Expiry scans: certificates expiring within a window.
CREATE INDEX certificate_expiries_not_after_idx ON certificate_expiries (not_after);
