//! Compiles ../../proto with protox (pure Rust, no system protoc) into OUT_DIR.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new("../../proto");
    let files = [
        root.join("cratedigger/events/v1/events.proto"),
        root.join("cratedigger/recommender/v1/recommender.proto"),
    ];
    let descriptors = protox::compile(&files, [root])?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}
