//! Feeds arbitrary bytes to `import`, with and without a password, and runs chain ordering
//! and PEM export on whatever imports.
#![no_main]

use certitude_certfile::{PemPart, SecretString, export_pem, import, order_chain};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let password = SecretString::from("certitude");
    for password in [None, Some(&password)] {
        let Ok(imported) = import(data, password) else {
            continue;
        };
        if imported.certificates.is_empty() {
            continue;
        }
        if let Ok(chain) = order_chain(imported.certificates) {
            let _ = chain.verify();
            let _ = export_pem(&chain, PemPart::FullChainWithRoot);
        }
    }
});
