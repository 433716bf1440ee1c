//! The audit trail of changes made through the REST API.
//!
//! Every request other than GET, HEAD and OPTIONS that passed authentication gets one row in
//! `audit_log`, written after its handler ran: the token that made it, the method and route
//! template, the path parameters, the status and the request id. Request bodies are never
//! stored, because they can hold API keys. The rows form a hash chain (see [`chain`]), and
//! [`verify`] walks it to find edited, deleted or truncated rows.

pub mod chain;
pub mod middleware;
pub mod request_id;
pub mod verify;

pub use chain::{AuditEvent, AuditRow, ChainHead, GENESIS_HASH, Outcome, append, read_head};
pub use verify::{AnchoredHead, ChainFault, ChainReport, Verification, verify_chain};

use certitude_platform::telemetry::metrics::DatabaseGauge;

/// Returns the gauge `certitude.audit.head_sequence`, the sequence of the last audit row. A
/// drop in its history shows rows deleted at the end of the chain.
pub fn head_gauge() -> DatabaseGauge {
    DatabaseGauge {
        name: "certitude.audit.head_sequence",
        description: "Sequence of the last row of the audit trail's hash chain",
        unit: "{row}",
        query: "SELECT sequence AS value FROM audit_chain_head \
                WHERE singleton AND $1::timestamptz IS NOT NULL",
    }
}
