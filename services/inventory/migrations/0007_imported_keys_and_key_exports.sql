-- Private keys that came in certificate files, and the audit of private key exports.

-- An imported key is stored sealed like a generated one, but it has no idempotency key and no
-- CSR. A generated key keeps both.
ALTER TABLE keys
    ADD COLUMN origin TEXT NOT NULL DEFAULT 'generated' CHECK (origin IN ('generated', 'import')),
    ALTER COLUMN idempotency_key DROP NOT NULL,
    ALTER COLUMN csr_pem DROP NOT NULL,
    ADD CONSTRAINT keys_generated_has_request_check
        CHECK (origin = 'import' OR (idempotency_key IS NOT NULL AND csr_pem IS NOT NULL));

-- One row per key pair: an imported key that the inventory holds already is linked, not stored
-- again. It also finds the key of a certificate by the certificate's public key.
CREATE UNIQUE INDEX keys_public_key_spki_idx ON keys (public_key_spki);

-- Every export of a private key, alone (PEM) or in a PKCS#12 file.
CREATE TABLE key_exports (
    id              UUID PRIMARY KEY,
    certificate_id  UUID        NOT NULL REFERENCES certificates (id),
    key_id          UUID        NOT NULL REFERENCES keys (id),
    -- The gateway token's name, or the caller's name for gRPC.
    actor           TEXT        NOT NULL,
    -- pem: the unencrypted PKCS#8 key; pkcs12: certificate, issuers and key.
    format          TEXT        NOT NULL CHECK (format IN ('pem', 'pkcs12')),
    -- The PKCS#12 encryption: aes256 or 3des; NULL for pem.
    encryption      TEXT        CHECK (encryption IN ('aes256', '3des')),
    exported_at     TIMESTAMPTZ NOT NULL,
    CHECK ((format = 'pem') = (encryption IS NULL))
);

CREATE INDEX key_exports_certificate_idx ON key_exports (certificate_id, exported_at);
