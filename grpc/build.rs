//! Generates the `apache.rocketmq.v2` message types and the
//! `MessagingService` server from `proto/` with prost and tonic. protoc is
//! the binary vendored by the `protoc-bin-vendored` crate: build machines
//! have no system protoc.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let include = protoc_bin_vendored::include_path()?;
    // SAFETY: build scripts are single-threaded; prost-build reads PROTOC.
    unsafe {
        std::env::set_var("PROTOC", protoc);
    }
    let protos = [
        std::path::PathBuf::from("proto/apache/rocketmq/v2/definition.proto"),
        std::path::PathBuf::from("proto/apache/rocketmq/v2/service.proto"),
    ];
    for proto in &protos {
        println!("cargo:rerun-if-changed={}", proto.display());
    }
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_protos(&protos, &[std::path::PathBuf::from("proto"), include])?;
    Ok(())
}
