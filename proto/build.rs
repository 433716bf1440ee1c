//! Compiles the `.proto` contracts with protox, a pure-Rust protobuf compiler, so the build needs
//! no system `protoc`. The descriptor set is also written to `OUT_DIR` for reflection and docs.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "certitude/events/v1/envelope.proto",
    "certitude/events/v1/credential_events.proto",
    "certitude/events/v1/order_events.proto",
    "certitude/events/v1/inventory_events.proto",
    "certitude/events/v1/renewal_events.proto",
    "certitude/credential/v1/credential.proto",
    "certitude/order/v1/order.proto",
    "certitude/inventory/v1/inventory.proto",
    "certitude/renewal/v1/renewal.proto",
];

/// Messages with an API key, a private key or a password among their fields.
const SECRET_MESSAGES: [&str; 7] = [
    "certitude.credential.v1.AddCredentialRequest",
    "certitude.credential.v1.UpdateCredentialRequest",
    "certitude.credential.v1.ResolvedCredential",
    "certitude.inventory.v1.CertificateFile",
    "certitude.inventory.v1.ImportCertificateFilesRequest",
    "certitude.inventory.v1.ExportCertificateRequest",
    "certitude.inventory.v1.ExportedCertificate",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=certitude");

    let descriptors = protox::compile(PROTOS, ["."])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("certitude_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Messages that carry secrets get a hand-written, redacting Debug in src/redact.rs.
        .skip_debug(SECRET_MESSAGES)
        .compile_fds(descriptors)?;
    Ok(())
}
