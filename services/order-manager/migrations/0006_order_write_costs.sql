-- Leaves room in each page, so that an update of columns no index covers, such as the inventory
-- state each certificate of an import receives, stays on its page without new index entries.
ALTER TABLE orders SET (fillfactor = 80);

-- Unique values that most orders lack: imported orders have no idempotency key or submission
-- marker, and orders still being placed have no certificate. Indexing only the rows that have
-- one saves an index entry per such order.
ALTER TABLE orders DROP CONSTRAINT orders_idempotency_key_key;
CREATE UNIQUE INDEX orders_idempotency_key_idx ON orders (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
ALTER TABLE orders DROP CONSTRAINT orders_submission_marker_key;
CREATE UNIQUE INDEX orders_submission_marker_idx ON orders (submission_marker)
    WHERE submission_marker IS NOT NULL;
ALTER TABLE orders DROP CONSTRAINT orders_certificate_id_key;
CREATE UNIQUE INDEX orders_certificate_id_idx ON orders (certificate_id)
    WHERE certificate_id IS NOT NULL;
