//! The integration tests: one binary, one module per area.

mod grpc;
mod handshake;
mod resource;
