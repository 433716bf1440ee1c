-- Key pairs generated for orders. The private key is stored only sealed by the platform keyring,
-- with associated data that binds it to this table, its column and the row's id.
CREATE TABLE keys (
    id               UUID PRIMARY KEY,
    -- The order's idempotency key: a repeated GenerateKey call returns this row.
    idempotency_key  TEXT        NOT NULL UNIQUE,
    -- ECDSA_P256, ECDSA_P384, RSA_2048, RSA_3072 or RSA_4096.
    algorithm        TEXT        NOT NULL,
    -- The CSR subject as requested, normalized: a repeated call must ask for the same one.
    common_name      TEXT        NOT NULL,
    dns_names        TEXT[]      NOT NULL,
    organization     TEXT,
    -- PKCS#8 DER of the private key, sealed.
    private_key      BYTEA       NOT NULL,
    -- SubjectPublicKeyInfo DER of the public key.
    public_key_spki  BYTEA       NOT NULL,
    csr_pem          TEXT        NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);
