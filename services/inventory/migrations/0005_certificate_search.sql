-- Search and sorting of ListCertificates.

-- The common name and the DNS names in lower case, one per line, for a case-insensitive
-- substring search that never matches across two names. IMMUTABLE, which a generated column
-- requires: lower() and array_to_string() of text depend only on their arguments and the
-- database's fixed character type.
CREATE FUNCTION certificate_search_text(common_name TEXT, dns_names TEXT[]) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN lower(coalesce(common_name, '') || E'\n' || array_to_string(dns_names, E'\n'));

ALTER TABLE certificates
    ADD COLUMN search_text     TEXT NOT NULL
        GENERATED ALWAYS AS (certificate_search_text(common_name, dns_names)) STORED,
    -- Sort key of the common-name order.
    ADD COLUMN common_name_key TEXT NOT NULL
        GENERATED ALWAYS AS (lower(coalesce(common_name, ''))) STORED;

-- Keyset pagination of each sort: (key, id) compared as a row.
DROP INDEX certificates_not_after_idx;
CREATE INDEX certificates_not_after_id_idx ON certificates (not_after, id);
CREATE INDEX certificates_common_name_key_id_idx ON certificates (common_name_key, id);
CREATE INDEX certificates_credential_id_idx ON certificates (credential_id)
    WHERE credential_id IS NOT NULL;

-- A trigram index serves `search_text LIKE '%...%'`. The pg_trgm extension must be created by
-- an administrator (`certitude provision` does), because the service role may not; its schema
-- is looked up here, since a database may have it installed elsewhere before provisioning.
DO $$
DECLARE
    trgm_schema TEXT;
BEGIN
    SELECT extnamespace::regnamespace::text INTO trgm_schema
    FROM pg_extension WHERE extname = 'pg_trgm';
    IF trgm_schema IS NULL THEN
        RAISE EXCEPTION 'the pg_trgm extension is missing from this database'
            USING HINT = 'run `certitude provision` with an administrator URL, or have an '
                         'administrator run CREATE EXTENSION pg_trgm';
    END IF;
    EXECUTE format(
        'CREATE INDEX certificates_search_text_trgm_idx ON certificates '
        'USING gin (search_text %s.gin_trgm_ops)',
        trgm_schema);
END
$$;
