//! Windows targets load WinFsp's DLL lazily (`/DELAYLOAD`), as the `winfsp` crate
//! requires: the DLL lives in WinFsp's install directory, not on the loader's path, and
//! `winfsp::winfsp_init` finds it at start-up. Nothing to do for other targets.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("windows") {
        winfsp::build::winfsp_link_delayload();
    }
}
