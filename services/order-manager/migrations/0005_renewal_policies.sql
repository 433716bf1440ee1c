-- The auto-renewal policy of each order, as renewal-scheduler's RenewalPolicyChanged events
-- report it. A manual RenewOrder of an order with an enabled policy is rejected.
CREATE TABLE renewal_policies (
    policy_id UUID PRIMARY KEY,
    -- The order the policy applies to now; a policy moves to the order that renewed it.
    order_id  UUID NOT NULL,
    enabled   BOOLEAN NOT NULL,
    -- Envelope sequence of the applied event among the policy's events; an event with the same
    -- or a lower sequence is older and does not overwrite the row.
    sequence  BIGINT NOT NULL
);

CREATE INDEX renewal_policies_order_idx ON renewal_policies (order_id) WHERE enabled;
