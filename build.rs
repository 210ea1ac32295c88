//! Link the rivertwin binary with packed relative relocations (DT_RELR) where the C
//! library can load them: the app's render stack makes over half a million relocations,
//! 13.6 MB of them in the usual format, which every start reads and keeps resident.
//!
//! Only for a native build against a glibc that defines `GLIBC_ABI_DT_RELR` (2.36 and
//! later): GNU ld marks such a binary as needing that version, and an older glibc would
//! refuse to start it. Elsewhere the binary is linked as usual.

use std::path::Path;

/// Where Debian, Ubuntu, Fedora and Arch keep the C library.
const LIBC: [&str; 5] = [
    "/lib/x86_64-linux-gnu/libc.so.6",
    "/lib/aarch64-linux-gnu/libc.so.6",
    "/lib64/libc.so.6",
    "/usr/lib64/libc.so.6",
    "/usr/lib/libc.so.6",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let native = var("TARGET") == var("HOST");
    let glibc = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    let arch = var("CARGO_CFG_TARGET_ARCH");
    if native && glibc && (arch == "x86_64" || arch == "aarch64") && libc_loads_relr() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the system's C library defines the version a DT_RELR binary needs.
fn libc_loads_relr() -> bool {
    let needle = b"GLIBC_ABI_DT_RELR";
    LIBC.iter().map(Path::new).any(|p| {
        std::fs::read(p).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
    })
}
