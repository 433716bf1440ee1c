-- Certificates follow the state of their order: a revoked or suspended order's certificates
-- are stored as revoked or suspended. Readers still report an active certificate past
-- not_after as expired.
ALTER TABLE certificates DROP CONSTRAINT certificates_status_check;
ALTER TABLE certificates ADD CONSTRAINT certificates_status_check
    CHECK (status IN ('active', 'expired', 'revoked', 'suspended'));

-- The latest OrderStatusChanged of each order. A certificate whose CertificateIssued arrives
-- after a later status change of its order takes its status from here.
CREATE TABLE order_statuses (
    order_id    TEXT PRIMARY KEY,
    -- Certitude order state, such as ISSUED, SUSPENDED or REVOKED.
    status      TEXT        NOT NULL,
    -- Envelope sequence of the event that set the status; an event with a lower one is older.
    sequence    BIGINT      NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
