-- Every certificate that entered Certitude, with its chain and the facts parsed from it.
CREATE TABLE certificates (
    -- The id the producer of CertificateIssued gave the certificate.
    id                      UUID PRIMARY KEY,
    order_id                TEXT,
    tracking_id             BIGINT,
    credential_id           TEXT,
    -- The inventory key whose public key the certificate carries; NULL when none matched.
    key_id                  UUID REFERENCES keys (id),
    replaces_certificate_id UUID,
    subject                 TEXT        NOT NULL,
    common_name             TEXT,
    dns_names               TEXT[]      NOT NULL,
    issuer                  TEXT        NOT NULL,
    -- Upper-case hexadecimal without leading zeros.
    serial_number           TEXT        NOT NULL,
    not_before              TIMESTAMPTZ NOT NULL,
    not_after               TIMESTAMPTZ NOT NULL,
    -- RSA, EC or OTHER, and the key size in bits (0 when unknown).
    key_type                TEXT        NOT NULL,
    key_bits                INTEGER     NOT NULL,
    -- Dotted OID of the signature algorithm.
    signature_algorithm     TEXT        NOT NULL,
    -- Upper-case hexadecimal SHA-256 of the DER encoding.
    sha256_fingerprint      TEXT        NOT NULL UNIQUE,
    certificate_pem         TEXT        NOT NULL,
    -- Issuer certificates in PEM, nearest issuer first; the leaf itself is never repeated here.
    chain_pem               TEXT[]      NOT NULL,
    -- verified: each certificate is signed by the next one; broken: a link does not verify;
    -- missing: no chain was given.
    chain_status            TEXT        NOT NULL
                            CHECK (chain_status IN ('verified', 'broken', 'missing')),
    -- Status when stored; readers report an active certificate past not_after as expired.
    status                  TEXT        NOT NULL CHECK (status IN ('active', 'expired')),
    -- order: it came with an order id; import: without one.
    source                  TEXT        NOT NULL CHECK (source IN ('order', 'import')),
    created_at              TIMESTAMPTZ NOT NULL
);

-- Keyset pagination, newest first: (created_at, id) < (last created_at, last id).
CREATE INDEX certificates_created_at_id_idx ON certificates (created_at, id);
-- Expiry scans: certificates expiring within a window.
CREATE INDEX certificates_not_after_idx ON certificates (not_after);
CREATE INDEX certificates_key_id_idx ON certificates (key_id) WHERE key_id IS NOT NULL;
CREATE INDEX certificates_order_id_idx ON certificates (order_id) WHERE order_id IS NOT NULL;
