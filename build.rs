//! Link the rivertwin binary with packed relative relocations (DT_RELR) where the linker
//! and C library support them (GNU ld ≥ 2.38 with glibc ≥ 2.36; elsewhere the linker
//! leaves them out): the app's render stack makes over half a million relocations,
//! 13.6 MB of them in the usual format, which every start reads and keeps resident.

fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if target_os == "linux" && target_env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
