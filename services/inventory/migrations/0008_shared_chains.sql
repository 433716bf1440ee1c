-- Issuer chains are stored once. The certificates of one issuing CA share the same chain, which
-- repeated in every row was most of the table's size and of the cost of an insert.
CREATE TABLE certificate_chains (
    -- SHA-256 over the chain's PEM texts, each preceded by its length (see the service code).
    digest     BYTEA PRIMARY KEY,
    -- Issuer certificates in PEM, nearest issuer first.
    chain_pem  TEXT[] NOT NULL
);

-- A certificate's chain: NULL when it has none, and in rows written before this migration,
-- which keep their own chain_pem. New rows store an empty chain_pem. Readers take the shared
-- chain when there is one, else chain_pem.
-- NOTE: no foreign key: the check would lock the shared chain row for every insert, and chains
-- are never deleted. During a rolling upgrade, replicas of the previous release read an empty
-- chain for the rows newer ones write.
ALTER TABLE certificates ADD COLUMN chain_digest BYTEA;
ALTER TABLE certificates ALTER COLUMN chain_pem SET DEFAULT '{}';
