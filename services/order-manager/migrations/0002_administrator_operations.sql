-- Renewals and reissues as orders of their own, the credential that placed them, the issue time
-- the renewal rule needs, and deletion from Certitude.

-- A renewal or reissue is a new order row that links to the order it replaces.
ALTER TABLE orders
    ADD COLUMN renews_order_id         UUID REFERENCES orders (id),
    ADD COLUMN reissue_of_order_id     UUID REFERENCES orders (id),
    -- Certificate of the replaced order, sent as replaces_certificate_id in CertificateIssued.
    ADD COLUMN replaces_certificate_id UUID,
    -- Credential that sends the submission to Entrust, when it is not credential_id: an
    -- administrator credential of the same account named for a renewal or reissue.
    ADD COLUMN submission_credential_id TEXT,
    -- Start of the certificate's validity; Entrust renews a certificate 30 days after it.
    ADD COLUMN not_before              TIMESTAMPTZ,
    -- Set when the order was deleted from Certitude. The row stays as the tombstone of its
    -- tracking id (an import skips it unless asked to restore it) and keeps its history.
    ADD COLUMN deleted_at              TIMESTAMPTZ,
    ADD COLUMN deleted_by              TEXT,
    ADD CONSTRAINT orders_one_predecessor_check
        CHECK (renews_order_id IS NULL OR reissue_of_order_id IS NULL);

CREATE INDEX orders_renews_idx ON orders (renews_order_id) WHERE renews_order_id IS NOT NULL;
CREATE INDEX orders_reissue_of_idx ON orders (reissue_of_order_id)
    WHERE reissue_of_order_id IS NOT NULL;

-- Whether an import job brings back deleted orders.
ALTER TABLE import_jobs ADD COLUMN restore_deleted BOOLEAN NOT NULL DEFAULT FALSE;
