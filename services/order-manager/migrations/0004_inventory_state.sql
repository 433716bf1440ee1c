-- Whether the order's certificate is in the inventory, as the inventory's events report it
-- (CertificateAddedToInventory, CertificateRejected). NULL until the first of them arrives.
ALTER TABLE orders
    ADD COLUMN inventory_state    TEXT CHECK (inventory_state IN ('in_inventory', 'waiting')),
    -- Why the certificate waits, such as 'license_limit', and the inventory's message with
    -- what to do; NULL unless inventory_state is 'waiting'.
    ADD COLUMN inventory_reason   TEXT,
    ADD COLUMN inventory_message  TEXT,
    -- Envelope sequence of the applied event among the certificate's events. An event with
    -- the same or a lower sequence is older and does not overwrite the state.
    ADD COLUMN inventory_sequence BIGINT;
