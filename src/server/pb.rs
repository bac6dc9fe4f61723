//! The code `build.rs` generates from `proto/`: tfplugin6, go-plugin's services and the gRPC
//! health service. Private to `server/`; everything else sees only the `tf` model.

#![allow(
    // Generated code documents what the .proto documents, not every item.
    missing_docs,
    unreachable_pub,
    // prost derives and names things its own way.
    clippy::all,
    clippy::pedantic,
    rust_2018_idioms
)]

/// Terraform plugin protocol 6. `pub` only so `server::testing` can hand it to the tests.
pub mod tfplugin6 {
    include!(concat!(env!("OUT_DIR"), "/tfplugin6.rs"));
}

/// go-plugin's controller and stdio services.
pub mod plugin {
    include!(concat!(env!("OUT_DIR"), "/plugin.rs"));
}

/// The gRPC health service.
pub mod health {
    include!(concat!(env!("OUT_DIR"), "/grpc.health.v1.rs"));
}
