//! Helpers shared by the tests of the desktop app (`tests/`) and the benchmarks (`crates/bench`):
//! code that both need and that belongs to neither the product nor the emulators.

pub mod procs;
pub mod x11;
