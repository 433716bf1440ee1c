//! The gateway: Certitude's REST API under `/v1`. It authenticates every request with a bearer
//! token, authorizes by role, validates input, and calls the services over gRPC. It holds no
//! certificate logic.

pub mod pagination;
pub mod problem;
pub mod tokens;
