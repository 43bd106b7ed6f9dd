//! Helpers shared by the tests of the desktop app (`tests/`) and the benchmarks (`crates/bench`):
//! code that both need and that belongs to neither the product nor the emulators: process trees
//! from `/proc` ([`procs`]), the app's tray over D-Bus ([`tray`]) and its windows on the X
//! display ([`x11`]).

pub mod procs;
pub mod tray;
pub mod x11;
