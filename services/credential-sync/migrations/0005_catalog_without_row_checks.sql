-- The catalog tables drop their foreign keys to credentials. A foreign key checks the
-- credential once per inserted row, which doubled the time of a first sync of 10,000 domains.
-- Instead, a sync locks the credential's row once (FOR KEY SHARE) for its whole transaction,
-- and deleting a credential deletes its catalog entries in the same transaction, after the
-- credential's row, so it waits for a running sync and removes what that sync wrote.
ALTER TABLE organizations DROP CONSTRAINT organizations_credential_id_fkey;
ALTER TABLE domains DROP CONSTRAINT domains_credential_id_fkey;
ALTER TABLE products DROP CONSTRAINT products_credential_id_fkey;
