//! The one integration-test binary: every test that runs against in-process servers on
//! 127.0.0.1:0, and real Terraform against the provider binary.

mod acceptance;
mod acceptance_adoption;
mod acceptance_import;
mod acceptance_plans;
mod acceptance_sql;
mod acceptance_state;
mod acceptance_tenants;
mod acceptance_tls;
mod client;
mod doc_commands;
mod docs;
mod examples;
mod grpc;
mod handshake;
mod install;
mod resource;
mod sim;
mod sql;
mod support;
mod terraform;
