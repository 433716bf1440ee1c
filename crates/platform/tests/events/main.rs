//! Events on the real Postgres and NATS: streams, the outbox and its relay, the consumer with
//! its inbox and dead-letter stream.

mod consumer;
mod outbox;
mod relay;
mod streams;
mod support;
