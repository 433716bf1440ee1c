-- Entrust API credentials. The API key and the client certificate's private key are stored only
-- sealed by the platform keyring; the associated data of each blob names this table, the
-- column and the row id, so a blob copied to another row or column fails to open.
CREATE TABLE credentials (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    api_base_url text NOT NULL,
    username text NOT NULL,
    api_key bytea NOT NULL,
    client_certificate_pem text,
    client_key bytea,
    is_administrator boolean NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT credentials_name_key UNIQUE (name),
    CONSTRAINT credentials_client_identity_complete
        CHECK ((client_certificate_pem IS NULL) = (client_key IS NULL))
);

-- Keyset paging of ListCredentials, oldest first.
CREATE INDEX credentials_created_at_id_idx ON credentials (created_at, id);
