//! The Lambda binaries link as position-dependent executables on Linux.
//! A position-independent one carries a dynamic relocation for every
//! pointer in its read-only data (about 60 000 here, 1.4 MB), which the
//! dynamic loader applies at every start; fixed addresses need none.
//! The cost: no address randomisation for the binary's own image (shared
//! libraries, stack and heap keep theirs).

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
