//! rivertwin: a digital twin of a river basin. The solver lives in `hydro`, basins,
//! scenarios and the headless runner in `basin`; this crate is the application around
//! them.

#[cfg(feature = "app")]
pub mod app;
pub mod cli;
pub mod demo;
