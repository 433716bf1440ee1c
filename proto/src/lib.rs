//! Generated protobuf types and gRPC stubs shared by every Certitude service and by outside
//! consumers of its events.

mod redact;

/// Event envelope and event payloads published on NATS JetStream.
pub mod events {
    pub mod v1 {
        tonic::include_proto!("certitude.events.v1");
    }
}

/// Contract of credential-sync.
pub mod credential {
    pub mod v1 {
        tonic::include_proto!("certitude.credential.v1");
    }
}

/// Contract of order-manager.
pub mod order {
    pub mod v1 {
        tonic::include_proto!("certitude.order.v1");
    }
}

/// Contract of inventory.
pub mod inventory {
    pub mod v1 {
        tonic::include_proto!("certitude.inventory.v1");
    }
}

/// Contract of renewal-scheduler.
pub mod renewal {
    pub mod v1 {
        tonic::include_proto!("certitude.renewal.v1");
    }
}

/// Encoded `FileDescriptorSet` of every contract, for reflection and generated docs.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/certitude_descriptor.bin"));
