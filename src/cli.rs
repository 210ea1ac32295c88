//! Subcommands of the `rivertwin` binary.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Parser)]
#[command(
    name = "rivertwin",
    version,
    about = "A digital twin of a river basin: 2D flood scenarios on real terrain"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario without a window and write its results (GeoTIFFs, gauges.csv,
    /// summary.json) to a folder.
    Run {
        /// The scenario file, `basins/<id>/scenarios/<name>.toml`.
        scenario: PathBuf,
        /// Output folder; it must not exist unless --force is given.
        #[arg(long)]
        out: PathBuf,
        /// Worker threads (default: all cores).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Replace an existing output folder.
        #[arg(long)]
        force: bool,
    },
    /// Describe a raster or a basin: grid, cell size, CRS, nodata, value range, memory.
    Info {
        /// A raster file, or a basin folder / basin.toml.
        path: PathBuf,
    },
    /// A self-contained solver demo: a dam break down a synthetic valley.
    Demo {
        #[arg(long, default_value_t = 400)]
        cells: usize,
        #[arg(long, default_value_t = 20.0)]
        minutes: f64,
        #[arg(long, default_value_t = 0)]
        threads: usize,
    },
}

pub fn execute(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run {
            scenario,
            out,
            threads,
            force,
        } => run(scenario, out, threads, force),
        Command::Info { path } => {
            print!("{}", basin::info::describe(&path)?);
            Ok(())
        }
        Command::Demo {
            cells,
            minutes,
            threads,
        } => crate::demo::run(crate::demo::DemoArgs {
            cells,
            minutes,
            threads,
        }),
    }
}

fn run(scenario: PathBuf, out: PathBuf, threads: usize, force: bool) -> anyhow::Result<()> {
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        ctrlc::set_handler(move || {
            if cancel.swap(true, Ordering::Relaxed) {
                std::process::exit(130);
            }
            eprintln!("\nstopping after this step; the partial result will be written (Ctrl-C again to abort)");
        })
        .context("installing the Ctrl-C handler")?;
    }
    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(500));
    let options = basin::RunOptions {
        threads,
        force,
        cancel,
    };
    let summary = basin::run(&scenario, &out, &options, |p| {
        let fraction = (p.sim_time_s / p.duration_s).clamp(0.0, 1.0);
        bar.set_position((fraction * 1000.0) as u64);
        let eta = if fraction > 0.0 {
            p.wall_time_s * (1.0 - fraction) / fraction
        } else {
            0.0
        };
        bar.set_message(format!(
            "sim {:.0}/{:.0} s · wall {:.1} s · ETA {:.0} s · {:.1} M cell-updates/s",
            p.sim_time_s,
            p.duration_s,
            p.wall_time_s,
            eta,
            p.cell_updates_per_s / 1e6
        ));
    });
    bar.finish_and_clear();
    let summary = summary?;
    println!(
        "{}: {} — {} ({} steps, {:.0} s simulated in {:.1} s wall, {:.1} M cell-updates/s on {} threads)",
        summary.basin,
        summary.scenario,
        summary.status,
        summary.steps,
        summary.sim_time_s,
        summary.wall_time_s,
        summary.cell_updates_per_s / 1e6,
        summary.threads
    );
    println!(
        "max depth {:.2} m, max speed {:.2} m/s, water balance error {:.1e}",
        summary.max_depth_m, summary.max_speed_m_s, summary.relative_volume_error
    );
    println!("results in {}", out.display());
    Ok(())
}
