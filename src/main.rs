//! rivertwin command line: headless scenario runs, raster and basin information, and a
//! self-contained solver demo. Errors become a message and exit code 1, never a panic.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = rivertwin::cli::Cli::parse();
    match rivertwin::cli::execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
