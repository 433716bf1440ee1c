//! CountOrders: the orders of one credential, for credential-sync's deletion check.

use certitude_proto::order::v1::CountOrdersRequest;
use tonic::Code;

use crate::support::{CREDENTIAL_ID, Harness};

async fn count(harness: &Harness, credential_id: &str) -> Result<u64, tonic::Status> {
    let response = harness
        .client
        .clone()
        .count_orders(CountOrdersRequest {
            credential_id: credential_id.to_owned(),
        })
        .await?;
    Ok(response.into_inner().count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_covers_only_the_named_credential() {
    let harness = Harness::start().await;
    for (key, name) in [("count-1", "www.example.com"), ("count-2", "example.com")] {
        harness
            .client
            .clone()
            .create_order(harness.order_request(key, name))
            .await
            .expect("the order is placed");
    }

    let own = count(&harness, CREDENTIAL_ID)
        .await
        .expect("the orders are counted");
    let other = count(&harness, "credential-without-orders")
        .await
        .expect("an unknown credential has no orders");

    assert_eq!(own, 2);
    assert_eq!(other, 0);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_without_credential_is_invalid() {
    let harness = Harness::start().await;

    let status = count(&harness, "  ")
        .await
        .expect_err("the credential id is missing");

    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("credential_id: "),
        "{}",
        status.message()
    );
    harness.stop().await;
}
