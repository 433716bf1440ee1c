//! Choosing the administrator credential an operation acts with, and reporting Entrust's
//! rejections of administrator rights to credential-sync.
//!
//! The order's own credential acts when credential-sync marks it as an administrator and not
//! as lacking the right. A credential named in the request must be marked the same way and
//! must read the order's tracking id at Entrust, which shows that it reaches the order's
//! account. Every check happens before the operation is sent to Entrust.

use std::sync::Arc;

use entrust::CertificateAuthority;
use entrust::model::{OrderDetail, TrackingId};

use super::Action;
use crate::core::Core;
use crate::error::OrderError;
use crate::sources::{AdministratorRight, ResolvedAuthority};
use crate::store::orders::OrderRow;

/// The credential an operation acts with.
#[derive(Debug, Clone)]
pub(crate) struct Acting {
    pub credential_id: String,
    pub authority: Arc<dyn CertificateAuthority>,
    /// Whether the request named this credential instead of the order's own.
    pub named: bool,
}

/// Returns the credential that may carry out `action` on `order` (tracking id
/// `tracking_id`): the one named in `admin_credential_id`, or the order's own.
///
/// Fails with [`OrderError::PermissionDenied`] when that credential is not marked as an
/// administrator, lacks the right, or (when named) does not reach the order's Entrust account,
/// and with NOT_FOUND for an unknown credential.
pub(crate) async fn acting_credential(
    core: &Core,
    order: &OrderRow,
    action: Action,
    tracking_id: TrackingId,
    admin_credential_id: Option<&str>,
) -> Result<Acting, OrderError> {
    let named = admin_credential_id.filter(|id| *id != order.credential_id);
    let Some(named) = named else {
        let resolved = core.credentials.resolve(&order.credential_id).await?;
        check_own(order, action, &resolved.administrator)?;
        return Ok(Acting {
            credential_id: order.credential_id.clone(),
            authority: resolved.authority,
            named: false,
        });
    };

    let resolved = core.credentials.resolve(named).await?;
    check_named(named, &resolved.administrator)?;
    check_same_account(order, named, tracking_id, &resolved).await?;
    Ok(Acting {
        credential_id: named.to_owned(),
        authority: resolved.authority,
        named: true,
    })
}

fn check_own(
    order: &OrderRow,
    action: Action,
    administrator: &AdministratorRight,
) -> Result<(), OrderError> {
    let credential = &order.credential_id;
    if !administrator.is_administrator {
        return Err(OrderError::PermissionDenied {
            message: format!(
                "credential {credential} of order {} is not marked as an Entrust administrator, \
                 so it cannot {} the order: name an administrator credential of the same Entrust \
                 account in admin_credential_id, or set is_administrator on credential \
                 {credential} if its Entrust user has administrator rights",
                order.id,
                action.verb()
            ),
        });
    }
    if administrator.lacks_administrator_right {
        return Err(OrderError::PermissionDenied {
            message: format!(
                "credential {credential} of order {} lacks Entrust administrator rights: {}; \
                 name another administrator credential of the account in admin_credential_id, \
                 or grant its Entrust user administrator rights and set is_administrator on \
                 credential {credential} again",
                order.id,
                denial_description(administrator)
            ),
        });
    }
    Ok(())
}

fn check_named(credential: &str, administrator: &AdministratorRight) -> Result<(), OrderError> {
    if !administrator.is_administrator {
        return Err(OrderError::PermissionDenied {
            message: format!(
                "credential {credential} named in admin_credential_id is not marked as an \
                 Entrust administrator: set is_administrator on it if its Entrust user has \
                 administrator rights, or name another credential"
            ),
        });
    }
    if administrator.lacks_administrator_right {
        return Err(OrderError::PermissionDenied {
            message: format!(
                "credential {credential} named in admin_credential_id lacks Entrust \
                 administrator rights: {}; grant its Entrust user administrator rights and set \
                 is_administrator on it again, or name another credential",
                denial_description(administrator)
            ),
        });
    }
    Ok(())
}

/// Describes the HTTP 403 that credential-sync recorded for the credential.
fn denial_description(administrator: &AdministratorRight) -> String {
    match (
        administrator.denied_action.as_str(),
        administrator.missing_since.as_str(),
    ) {
        ("", "") => "Entrust rejected an administrator action with it (HTTP 403)".to_owned(),
        (action, "") => format!("Entrust rejected {action:?} with it (HTTP 403)"),
        ("", since) => format!("Entrust rejected an administrator action with it at {since}"),
        (action, since) => format!("Entrust rejected {action:?} with it at {since} (HTTP 403)"),
    }
}

/// Reads `tracking_id` with the named credential and compares what comes back with the stored
/// order. A tracking id Entrust does not know, or an order with another serial number, marker or
/// names, means the credential reaches another account.
async fn check_same_account(
    order: &OrderRow,
    credential: &str,
    tracking_id: TrackingId,
    resolved: &ResolvedAuthority,
) -> Result<(), OrderError> {
    let other_account = |what: String| OrderError::PermissionDenied {
        message: format!(
            "credential {credential} named in admin_credential_id does not reach the Entrust \
             account of order {}: reading tracking id {tracking_id} with it {what}; name an \
             administrator credential of the account that holds the order (the order's \
             credential is {})",
            order.id, order.credential_id
        ),
    };
    match resolved.authority.order(tracking_id).await {
        Ok(detail) => match mismatch(order, &detail) {
            Some(what) => Err(other_account(what)),
            None => Ok(()),
        },
        Err(entrust::Error::NotFound { .. }) => Err(other_account("found no order".to_owned())),
        Err(
            error @ (entrust::Error::PermissionDenied { .. }
            | entrust::Error::CredentialsRejected { .. }),
        ) => Err(other_account(format!("failed: {error}"))),
        Err(error) => Err(OrderError::Entrust(error)),
    }
}

/// Returns how the order Entrust returned differs from the stored one, or `None` when every
/// fact both know agrees. Names are compared only when neither the serial number nor the marker
/// can be.
fn mismatch(order: &OrderRow, detail: &OrderDetail) -> Option<String> {
    let stored_serial = order.serial_number.as_deref();
    let read_serial = detail.serial_number.as_ref().map(|serial| serial.as_str());
    if let (Some(stored), Some(read)) = (stored_serial, read_serial) {
        let same = stored
            .trim_start_matches('0')
            .eq_ignore_ascii_case(read.trim_start_matches('0'));
        return (!same).then(|| {
            format!("returned a certificate with serial number {read}, not the order's {stored}")
        });
    }
    if let (Some(stored), Some(read)) = (&order.submission_marker, &detail.tracking_marker) {
        return (stored != read)
            .then(|| "returned an order with another tracking marker".to_owned());
    }
    let same_names = detail.dns_names.is_empty()
        || order.dns_names.iter().all(|name| {
            detail
                .dns_names
                .iter()
                .any(|read| read.eq_ignore_ascii_case(name))
        });
    (!same_names).then(|| {
        format!(
            "returned an order for {}, not for {}",
            detail.dns_names.join(", "),
            order.dns_names.join(", ")
        )
    })
}

/// Handles Entrust's HTTP 403 to `action` on `order` with `acting`'s credential: reports it to
/// credential-sync (a failed report is logged) and returns the PERMISSION_DENIED error.
pub(crate) async fn permission_denied_by_entrust(
    core: &Core,
    order: &OrderRow,
    action: Action,
    acting: &Acting,
) -> OrderError {
    let tracking_id = order.tracking_id.unwrap_or_default();
    let reported = format!("{} order {tracking_id}", action.verb());
    let credential = &acting.credential_id;
    let marked = match core
        .credentials
        .report_permission_denied(credential, &reported)
        .await
    {
        Ok(()) => format!("credential-sync now marks credential {credential} as lacking the right"),
        Err(error) => {
            tracing::warn!(
                credential.id = %credential, order.id = %order.id, error = %error,
                "telling credential-sync that Entrust rejected an administrator action failed"
            );
            format!(
                "telling credential-sync failed ({error}), so credential {credential} is not marked yet"
            )
        }
    };
    tracing::warn!(
        credential.id = %credential, order.id = %order.id, action = action.verb(),
        "Entrust rejected an administrator action (HTTP 403)"
    );
    OrderError::PermissionDenied {
        message: format!(
            "the Entrust user lacks administrator rights: Entrust rejected the request to {} order {} \
             (tracking id {tracking_id}) with credential {credential} (HTTP 403), and {marked}. \
             Grant the Entrust user administrator rights and set is_administrator on the \
             credential again, or name another administrator credential in admin_credential_id",
            action.verb(),
            order.id
        ),
    }
}

#[cfg(test)]
mod tests {
    use entrust::model::{OrderStatus, SerialNumber};

    use super::*;
    use crate::state::OrderState;

    fn detail(serial: Option<&str>, marker: Option<&str>, names: &[&str]) -> OrderDetail {
        OrderDetail {
            tracking_id: TrackingId::new(7),
            status: OrderStatus::Active,
            serial_number: serial.map(|s| SerialNumber::from_be_bytes(&hex_bytes(s))),
            subject_dn: None,
            dns_names: names.iter().map(|name| (*name).to_owned()).collect(),
            expires_at: None,
            issued_at: None,
            certificate_pem: None,
            chain_pem: Vec::new(),
            csr_pem: None,
            product: None,
            organization: None,
            tracking_marker: marker.map(str::to_owned),
            requester: None,
            creator: None,
            decline_reason: None,
            deactivated: false,
            deactivated_at: None,
            key_type: None,
            key_size: None,
            eku: None,
            third_party: false,
        }
    }

    fn hex_bytes(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|index| u8::from_str_radix(&hex[index..index + 2], 16).expect("hex digits"))
            .collect()
    }

    fn stored(serial: Option<&str>, marker: Option<&str>) -> OrderRow {
        let mut order = super::super::tests_support::order(OrderState::Issued, None);
        order.serial_number = serial.map(str::to_owned);
        order.submission_marker = marker.map(str::to_owned);
        order
    }

    #[test]
    fn same_serial_is_the_same_order() {
        let order = stored(Some("0A1B"), None);

        assert_eq!(mismatch(&order, &detail(Some("0A1B"), None, &[])), None);
    }

    #[test]
    fn other_serial_is_another_account() {
        let order = stored(Some("0A1B"), None);

        let found = mismatch(&order, &detail(Some("0C2D"), None, &[]));

        assert!(found.is_some_and(|what| what.contains("serial number C2D")));
    }

    #[test]
    fn other_marker_is_another_account() {
        let order = stored(None, Some("certitude-1"));

        assert!(mismatch(&order, &detail(None, Some("certitude-2"), &[])).is_some());
        assert_eq!(
            mismatch(&order, &detail(None, Some("certitude-1"), &[])),
            None
        );
    }

    #[test]
    fn names_decide_without_serial_or_marker() {
        let order = stored(None, None);

        assert_eq!(
            mismatch(&order, &detail(None, None, &["WWW.example.com"])),
            None
        );
        assert!(mismatch(&order, &detail(None, None, &["shop.example.org"])).is_some());
    }
}
