//! rivertwin's validation: SWASHES analytic solutions and the Merewether flood, with a
//! Markdown report and PNG plots (`cargo run --release -p validate`).

pub mod cases;
pub mod plot;
pub mod report;
pub mod swashes;
