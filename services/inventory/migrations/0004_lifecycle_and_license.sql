-- Lifecycle of a stored certificate beyond its order's state: replacement by renewal or reissue,
-- and its place in the inventory with respect to the license.

ALTER TABLE certificates
    -- "renewal" or "reissue" when replaces_certificate_id is set.
    ADD COLUMN replacement     TEXT CHECK (replacement IN ('renewal', 'reissue')),
    -- The certificate that replaced this one. A renewed certificate then has status
    -- 'superseded', a reissued one 'revoked'.
    ADD COLUMN superseded_by   UUID,
    ADD COLUMN superseded_at   TIMESTAMPTZ,
    -- held: in the inventory, counted against the license unless superseded_by is set.
    -- waiting: beyond the licensed count; admitted, oldest first, when a slot frees.
    -- removed: taken out of the inventory, kept for reference.
    ADD COLUMN inventory_state TEXT NOT NULL DEFAULT 'held'
                               CHECK (inventory_state IN ('held', 'waiting', 'removed')),
    -- Why a waiting certificate waits ('license_limit'), and that reason in words.
    ADD COLUMN waiting_reason  TEXT,
    ADD COLUMN waiting_message TEXT,
    -- When it entered the held inventory; NULL while it waits.
    ADD COLUMN admitted_at     TIMESTAMPTZ,
    ADD COLUMN removed_at      TIMESTAMPTZ,
    ADD COLUMN removed_by      TEXT;

-- Every certificate stored so far was held from the moment it was stored.
UPDATE certificates SET admitted_at = created_at;
ALTER TABLE certificates ALTER COLUMN inventory_state DROP DEFAULT;

ALTER TABLE certificates DROP CONSTRAINT certificates_status_check;
ALTER TABLE certificates ADD CONSTRAINT certificates_status_check
    CHECK (status IN ('active', 'expired', 'revoked', 'suspended', 'superseded'));

-- The waiting queue, oldest first.
CREATE INDEX certificates_waiting_idx ON certificates (created_at, id)
    WHERE inventory_state = 'waiting';
-- A certificate that arrives after its replacement finds that replacement here.
CREATE INDEX certificates_replaces_idx ON certificates (replaces_certificate_id)
    WHERE replaces_certificate_id IS NOT NULL;

-- The license: one row. Every transaction that admits, supersedes or removes a certificate
-- locks it first (SELECT ... FOR UPDATE), so two inventory replicas never both take the last
-- slot, and `held` stays equal to the number of held certificates without superseded_by.
CREATE TABLE license (
    singleton   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    -- Certificates the license allows; NULL for no limit, the state of a new installation.
    licensed    BIGINT CHECK (licensed >= 0),
    held        BIGINT NOT NULL CHECK (held >= 0),
    updated_at  TIMESTAMPTZ,
    updated_by  TEXT
);

INSERT INTO license (licensed, held)
SELECT NULL, count(*) FROM certificates;
