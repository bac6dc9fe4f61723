//! Compiles the gRPC definitions in `proto/` into Rust with `protox` (a protobuf compiler in Rust,
//! so no system `protoc` is needed) and `tonic-prost-build`. The generated code is included by
//! `src/server/pb.rs` only.

const PROTOS: [&str; 3] = [
    "proto/tfplugin6.proto",
    "proto/go-plugin.proto",
    "proto/health.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    tonic_prost_build::configure()
        // Clients are generated for the integration tests, which drive the server as Terraform does.
        .build_client(true)
        .build_server(true)
        // The clients take any channel; tests bring tonic's, the server binary needs none.
        .build_transport(false)
        .compile_fds(descriptors)?;
    Ok(())
}
