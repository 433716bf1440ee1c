//! Certitude's order states and how each Entrust status maps to one, as docs/order-states.md
//! sets out.

use std::fmt;

use entrust::model::OrderStatus;

/// The state Certitude gives an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderState {
    /// Stored and being sent to Entrust, or sent with an unknown outcome.
    Submitting,
    /// Accepted by Entrust, certificate not issued yet.
    Pending,
    /// The certificate exists and is usable.
    Issued,
    Declined,
    Suspended,
    Revoked,
    Expired,
    Deactivated,
    /// Replaced by a renewal or reissue.
    Superseded,
    /// Rejected by Entrust; the error is stored with the order.
    Failed,
    /// Entrust reported a status Certitude does not know.
    Unknown,
}

impl OrderState {
    /// Every state, in the order of docs/order-states.md.
    pub const ALL: [OrderState; 11] = [
        OrderState::Submitting,
        OrderState::Pending,
        OrderState::Issued,
        OrderState::Declined,
        OrderState::Suspended,
        OrderState::Revoked,
        OrderState::Expired,
        OrderState::Deactivated,
        OrderState::Superseded,
        OrderState::Failed,
        OrderState::Unknown,
    ];

    /// Maps an Entrust status to a state. Unknown statuses map to [`OrderState::Unknown`].
    pub fn from_entrust(status: &OrderStatus) -> OrderState {
        match status {
            OrderStatus::Pending | OrderStatus::PendingQuorum | OrderStatus::Approved => {
                OrderState::Pending
            }
            OrderStatus::Ready
            | OrderStatus::Active
            | OrderStatus::Reissuing
            | OrderStatus::Renewing => OrderState::Issued,
            OrderStatus::Reissued | OrderStatus::Renewed => OrderState::Superseded,
            OrderStatus::Declined => OrderState::Declined,
            OrderStatus::Suspended => OrderState::Suspended,
            OrderStatus::Revoked => OrderState::Revoked,
            OrderStatus::Expired => OrderState::Expired,
            OrderStatus::Deactivated => OrderState::Deactivated,
            OrderStatus::NotApplicable | OrderStatus::Unknown | OrderStatus::Unrecognized(_) => {
                OrderState::Unknown
            }
        }
    }

    /// Returns the name stored in the database and sent in the API and events, e.g. `PENDING`.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Submitting => "SUBMITTING",
            OrderState::Pending => "PENDING",
            OrderState::Issued => "ISSUED",
            OrderState::Declined => "DECLINED",
            OrderState::Suspended => "SUSPENDED",
            OrderState::Revoked => "REVOKED",
            OrderState::Expired => "EXPIRED",
            OrderState::Deactivated => "DEACTIVATED",
            OrderState::Superseded => "SUPERSEDED",
            OrderState::Failed => "FAILED",
            OrderState::Unknown => "UNKNOWN",
        }
    }

    /// Parses a stored name; `None` for a name this version does not write.
    pub fn parse(name: &str) -> Option<OrderState> {
        OrderState::ALL
            .into_iter()
            .find(|state| state.as_str() == name)
    }

    /// Tells whether an order in this state brings its certificate into the inventory when
    /// imported: ISSUED, and SUSPENDED, EXPIRED or REVOKED ones that carry a certificate.
    pub fn imports_certificate(self) -> bool {
        matches!(
            self,
            OrderState::Issued | OrderState::Suspended | OrderState::Expired | OrderState::Revoked
        )
    }
}

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of the mapping table in docs/order-states.md.
    const DOCUMENTED: &[(&str, OrderState)] = &[
        ("PENDING", OrderState::Pending),
        ("PENDING_QUORUM", OrderState::Pending),
        ("APPROVED", OrderState::Pending),
        ("READY", OrderState::Issued),
        ("ACTIVE", OrderState::Issued),
        ("REISSUING", OrderState::Issued),
        ("RENEWING", OrderState::Issued),
        ("REISSUED", OrderState::Superseded),
        ("RENEWED", OrderState::Superseded),
        ("DECLINED", OrderState::Declined),
        ("SUSPENDED", OrderState::Suspended),
        ("REVOKED", OrderState::Revoked),
        ("EXPIRED", OrderState::Expired),
        ("DEACTIVATED", OrderState::Deactivated),
        ("NA", OrderState::Unknown),
        ("UNKNOWN", OrderState::Unknown),
    ];

    #[test]
    fn every_documented_status_maps_to_its_state() {
        for (status, expected) in DOCUMENTED {
            let mapped = OrderState::from_entrust(&OrderStatus::parse(status));

            assert_eq!(mapped, *expected, "Entrust status {status}");
        }
    }

    #[test]
    fn statuses_map_without_regard_to_case() {
        for (status, expected) in DOCUMENTED {
            let lower = status.to_ascii_lowercase();
            let mapped = OrderState::from_entrust(&OrderStatus::parse(&lower));

            assert_eq!(mapped, *expected, "Entrust status {lower}");
        }
    }

    #[test]
    fn unknown_status_maps_to_unknown() {
        let status = OrderStatus::parse("ON_HOLD");

        assert_eq!(OrderState::from_entrust(&status), OrderState::Unknown);
        assert_eq!(status.as_str(), "ON_HOLD");
    }

    #[test]
    fn state_names_round_trip() {
        for state in OrderState::ALL {
            assert_eq!(OrderState::parse(state.as_str()), Some(state));
        }
        assert_eq!(OrderState::parse("pending"), None);
    }

    #[test]
    fn only_certificate_bearing_states_import_certificates() {
        let importing: Vec<OrderState> = OrderState::ALL
            .into_iter()
            .filter(|state| state.imports_certificate())
            .collect();

        assert_eq!(
            importing,
            [
                OrderState::Issued,
                OrderState::Suspended,
                OrderState::Revoked,
                OrderState::Expired
            ]
        );
    }
}
