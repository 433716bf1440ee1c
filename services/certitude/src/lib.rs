//! The administration commands of the `certitude` binary that tests and other tools call as
//! functions; the binary parses their settings and prints their results.

pub mod rotate;
pub mod verify_audit;
