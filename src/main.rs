//! rivertwin command line. For now it runs a solver demonstration: a dam break in a
//! valley with a progress line and a water-balance summary.

use std::process::ExitCode;

fn main() -> ExitCode {
    match rivertwin::demo::run(std::env::args().skip(1)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
