//! Event types: which aggregate and event a payload message stands for, and its subject.

use certitude_proto::events::v1 as proto;

/// Describes one kind of event: the aggregate it belongs to, its name, the protobuf message
/// that carries it and the version of that message's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventType {
    /// Aggregate kind, one subject token: `order`, `certificate`, `credential`.
    pub aggregate: &'static str,
    /// Event name, one subject token in snake case: `created`, `status_changed`.
    pub name: &'static str,
    /// Fully qualified protobuf name of the payload, such as
    /// `certitude.events.v1.OrderCreated`. It is the envelope's `event_type`.
    pub full_name: &'static str,
    /// Schema version. A breaking change is a new version and thus a new subject.
    pub schema_version: u32,
}

impl EventType {
    /// Returns the subject of this event under `prefix`: `<prefix>.v<version>.<aggregate>.<name>`.
    pub fn subject(&self, prefix: &str) -> String {
        format!(
            "{prefix}.v{}.{}.{}",
            self.schema_version, self.aggregate, self.name
        )
    }
}

/// A protobuf message that is the payload of exactly one event type.
pub trait Event: prost::Message + Default {
    /// The event type this message is the payload of.
    const TYPE: EventType;
}

macro_rules! events {
    ($($message:ident => $aggregate:literal, $name:literal;)*) => {
        $(
            impl Event for proto::$message {
                const TYPE: EventType = EventType {
                    aggregate: $aggregate,
                    name: $name,
                    full_name: concat!("certitude.events.v1.", stringify!($message)),
                    schema_version: 1,
                };
            }
        )*

        /// Every event type of `certitude.events.v1`.
        #[cfg(test)]
        pub(crate) const ALL: &[EventType] = &[$(<proto::$message as Event>::TYPE),*];
    };
}

events! {
    CredentialAdded => "credential", "added";
    CredentialUpdated => "credential", "updated";
    CredentialRemoved => "credential", "removed";
    CatalogSynced => "catalog", "synced";
    OrderCreated => "order", "created";
    OrderImported => "order", "imported";
    OrderStatusChanged => "order", "status_changed";
    CertificateIssued => "certificate", "issued";
    CertificateAddedToInventory => "certificate", "added_to_inventory";
    CertificateRevoked => "certificate", "revoked";
    OrderDeleted => "order", "deleted";
    CertificateRenewed => "certificate", "renewed";
    CertificateReissued => "certificate", "reissued";
    CertificateRejected => "certificate", "rejected";
    CertificateDeploymentRequired => "certificate", "deployment_required";
    RenewalPolicyChanged => "renewal_policy", "changed";
    RenewalSucceeded => "renewal", "succeeded";
    RenewalFailed => "renewal", "failed";
    CertificateExpiring => "certificate", "expiring";
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use prost_types::FileDescriptorSet;

    use super::*;

    #[test]
    fn subject_has_prefix_version_aggregate_and_name() {
        let subject = <proto::OrderCreated as Event>::TYPE.subject("certs");

        assert_eq!(subject, "certs.v1.order.created");
    }

    #[test]
    fn full_names_exist_in_contracts() {
        let descriptors = FileDescriptorSet::decode(certitude_proto::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set compiled into certitude-proto decodes");
        let names: Vec<String> = descriptors
            .file
            .iter()
            .flat_map(|file| {
                let package = file.package().to_owned();
                file.message_type
                    .iter()
                    .map(move |message| format!("{package}.{}", message.name()))
            })
            .collect();

        for event in ALL {
            assert!(
                names.iter().any(|name| name == event.full_name),
                "{} is not a message of the .proto contracts",
                event.full_name
            );
        }
    }
}
