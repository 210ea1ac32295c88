//! rivertwin command line: headless scenario runs, raster and basin information, and a
//! self-contained solver demo. Errors become a message and exit code 1, never a panic;
//! an interrupted run exits 3 (partial result written) or 130 (aborted).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = rivertwin::cli::Cli::parse();
    match rivertwin::cli::execute(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
