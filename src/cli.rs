//! Subcommands of the `rivertwin` binary.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
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
    /// Without a subcommand, the app opens on the default bundled basin (Merewether).
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the 3D desktop twin on a basin folder (default: the bundled Merewether).
    #[cfg(feature = "app")]
    Open(OpenArgs),
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
        /// Continue from a state saved by --save-state (same basin and grid) instead of
        /// starting from the basin's initial state.
        #[arg(long, value_name = "FILE.nc")]
        from_state: Option<PathBuf>,
        /// Save the state reached at the end (also when cancelled) to this NetCDF file,
        /// for a later --from-state.
        #[arg(long, value_name = "FILE.nc")]
        save_state: Option<PathBuf>,
        /// Also save the state at these simulated times (s, comma-separated), as
        /// state_<t>s.nc in the results folder.
        #[arg(long, value_name = "SECONDS", value_delimiter = ',')]
        save_state_at: Vec<f64>,
    },
    /// Forecast: from a saved state, follow the scenario's observed series to their last
    /// observation, then run ahead by --until seconds on the forecast tails; results as
    /// for `run`, with lead times counted from the last observation.
    Forecast {
        /// The scenario file, with series given as { observed = …, forecast = … }.
        scenario: PathBuf,
        /// Output folder; it must not exist unless --force is given.
        #[arg(long)]
        out: PathBuf,
        /// The state to start from (e.g. the previous forecast's
        /// state_last_observation.nc); without it, the basin's initial state at t = 0.
        #[arg(long, value_name = "FILE.nc")]
        from_state: Option<PathBuf>,
        /// Lead time: how far beyond the last observation to run (s).
        #[arg(long, value_name = "SECONDS")]
        until: f64,
        /// Worker threads (default: all cores).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Replace an existing output folder.
        #[arg(long)]
        force: bool,
    },
    /// Watch the scenario's observed inputs and run a forecast cycle each time they grow:
    /// each cycle in a folder of its own under --out (cycle_0001, …), hot-started from
    /// the previous cycle's state at its last observation, listed in cycles.csv. Stops
    /// on Ctrl-C (or after --cycles); started again on the same folder it goes on.
    Watch {
        /// The scenario file, with series or rain frames given as observed.
        scenario: PathBuf,
        /// The watch folder (created if new; an existing one is gone on from).
        #[arg(long)]
        out: PathBuf,
        /// Each cycle's lead time beyond its last observation (s).
        #[arg(long, value_name = "SECONDS")]
        until: f64,
        /// How often to look at the observed files (s).
        #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
        poll: f64,
        /// Stop after this many cycles.
        #[arg(long)]
        cycles: Option<usize>,
        /// The state the first cycle starts from (default: the basin's initial state).
        #[arg(long, value_name = "FILE.nc")]
        from_state: Option<PathBuf>,
        /// Worker threads (default: all cores).
        #[arg(long, default_value_t = 0)]
        threads: usize,
    },
    /// Compare two results folders of the same basin (e.g. gates operated and held shut,
    /// a detention area opened and closed): each gauge's peak level and time, the flooded
    /// area, and each detention area's storage and the peak reduction at its gauge.
    Compare {
        /// The first run's results folder (A).
        a: PathBuf,
        /// The second run's results folder (B).
        b: PathBuf,
        /// Also write the comparison as JSON to this file.
        #[arg(long, value_name = "FILE.json")]
        json: Option<PathBuf>,
    },
    /// The basin's drainage from its DEM: depressions filled, D8 flow directions, flow
    /// accumulation, streams with Strahler orders and each gauge's catchment (GeoTIFFs, a
    /// GeoPackage, catchments.csv) into a new folder.
    Hydrology {
        /// A basin folder (or its basin.toml).
        basin: PathBuf,
        /// The results folder; it must not exist.
        #[arg(long)]
        out: PathBuf,
        /// Cells draining at least this area (km²) are streams (default: 1 km², or 1 % of
        /// a basin under 100 km², rounded down to 1, 2 or 5 × 10^k m², as the app draws them).
        #[arg(long)]
        stream_km2: Option<f64>,
        /// A gauge moves onto the cell of highest accumulation within this many cells.
        #[arg(long, default_value_t = 2)]
        snap_cells: usize,
    },
    /// Scenario ensembles: plan the members of an ensemble.toml, run them.
    #[command(subcommand)]
    Ensemble(EnsembleCommand),
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

/// `rivertwin ensemble …`.
#[derive(Debug, Subcommand)]
pub enum EnsembleCommand {
    /// Write one scenario file per member (each extends the base scenario with its own
    /// [adjust]) and a manifest into a new folder.
    Plan {
        /// The ensemble file (docs/ensembles.md).
        ensemble: PathBuf,
        /// The plan's folder; it must not exist.
        #[arg(long)]
        out: PathBuf,
    },
    /// Run the plan's members on this machine, several at once (--jobs), into
    /// runs/member_NNNN; members with a complete result are skipped, so running again
    /// only runs what failed or is missing.
    Run {
        /// A folder written by `ensemble plan`.
        dir: PathBuf,
        /// Worker threads per member (default: 1 when several members run at once, all
        /// cores when --jobs 1).
        #[arg(long)]
        threads: Option<usize>,
        /// Members run at once (default: one per core, fewer if their memory would not
        /// fit; one member per core was faster than one member on all cores on every
        /// bundled basin, docs/ensembles.md).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Merge the members' results into dir/merged: per cell the probability that the
    /// maximum depth exceeds each threshold and the quantiles of the maximum depth and
    /// the arrival time (GeoTIFFs), per gauge the peaks and their quantiles (CSV).
    Merge {
        /// A folder written by `ensemble plan` and run by `ensemble run`.
        dir: PathBuf,
        /// Depth thresholds (m).
        #[arg(long, value_delimiter = ',', default_values_t = [0.1, 0.5, 1.0])]
        thresholds: Vec<f64>,
        /// Quantiles (numpy's linear definition).
        #[arg(long, value_delimiter = ',', default_values_t = [0.1, 0.5, 0.9])]
        quantiles: Vec<f64>,
        /// Merge the members that are complete even if others are not.
        #[arg(long)]
        partial: bool,
    },
    /// Print the members without a complete result (comma-separated ids, as Slurm's
    /// --array takes them; nothing when all are done).
    Pending { dir: PathBuf },
    /// Write dir/slurm/: array.sbatch (one member per array task), merge.sbatch and
    /// submit.sh (submits the members still to run as a job array, then the merge as a
    /// dependent job); time and memory per task are estimated from the grid.
    Slurm {
        dir: PathBuf,
        /// Members running at once (--array=…%K).
        #[arg(long, default_value_t = 8)]
        max_parallel: usize,
        /// CPUs (threads) per member.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Slurm partition (default: the cluster's).
        #[arg(long)]
        partition: Option<String>,
    },
}

/// `rivertwin open` and its scripted mode.
#[cfg(feature = "app")]
#[derive(Debug, clap::Args)]
pub struct OpenArgs {
    /// A basin folder, e.g. basins/jacksboro_valley.
    pub basin: Option<PathBuf>,
    /// A scenario of the basin by name (a file under its scenarios/ without .toml).
    #[arg(long)]
    pub scenario: Option<String>,
    /// Start playing at once.
    #[arg(long)]
    pub play: bool,
    /// Live mode: follow the scenario's observed series as they grow and run the
    /// forecast ahead of the last observation.
    #[arg(long)]
    pub live: bool,
    /// Simulated seconds per wall-clock second (default 10).
    #[arg(long, conflicts_with = "fast")]
    pub speed: Option<f64>,
    /// Run the simulation as fast as the machine allows.
    #[arg(long)]
    pub fast: bool,
    /// Scripted mode: play until this simulated time (s), save --screenshot and/or
    /// --export, then exit (0 on success).
    #[arg(long, value_name = "SIM_SECONDS")]
    pub exit_after: Option<f64>,
    /// Scripted mode: where to save a PNG of the window.
    #[arg(long, requires = "exit_after")]
    pub screenshot: Option<PathBuf>,
    /// Scripted mode: a new folder for the snapshot bundle.
    #[arg(long, requires = "exit_after")]
    pub export: Option<PathBuf>,
    /// The water layer shown at start.
    #[arg(long, value_enum)]
    pub layer: Option<crate::app::palette::Layer>,
    /// Show the maximum so far rather than the current state.
    #[arg(long)]
    pub max: bool,
    /// Window size in pixels, WIDTHxHEIGHT.
    #[arg(long, default_value = "1600x900", value_parser = parse_size)]
    pub window: (u32, u32),
    /// Solver threads (default: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// A merged ensemble (a folder after `rivertwin ensemble merge`) to show as layers.
    #[arg(long)]
    pub ensemble: Option<PathBuf>,
}

#[cfg(feature = "app")]
fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("`{s}` is not WIDTHxHEIGHT, e.g. 1280x720"))?;
    let parse = |v: &str| v.trim().parse::<u32>().map_err(|e| format!("`{v}`: {e}"));
    let (w, h) = (parse(w)?, parse(h)?);
    if !(320..=16384).contains(&w) || !(240..=16384).contains(&h) {
        return Err(format!("{w}x{h} is outside 320x240 … 16384x16384"));
    }
    Ok((w, h))
}

/// The bundled default basin: `basins/merewether` here, or in the source tree.
pub fn default_basin() -> PathBuf {
    let local = PathBuf::from("basins/merewether");
    if local.join("basin.toml").is_file() {
        local
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("basins/merewether")
    }
}

#[cfg(feature = "app")]
fn open(args: OpenArgs) -> anyhow::Result<()> {
    let basin = args.basin.unwrap_or_else(default_basin);
    if let Some(t) = args.exit_after
        && !(t.is_finite() && t >= 0.0)
    {
        anyhow::bail!("--exit-after {t}: give a simulated time in seconds, ≥ 0");
    }
    if let Some(s) = args.speed
        && !(s.is_finite() && s > 0.0)
    {
        anyhow::bail!("--speed {s}: give simulated seconds per second, > 0 (or --fast)");
    }
    if let Some(e) = &args.export
        && e.exists()
    {
        anyhow::bail!(
            "--export {}: the folder already exists; name a new one",
            e.display()
        );
    }
    if cfg!(target_os = "linux")
        && ["DISPLAY", "WAYLAND_DISPLAY", "WAYLAND_SOCKET"]
            .iter()
            .all(|v| std::env::var_os(v).is_none_or(|x| x.is_empty()))
    {
        anyhow::bail!(
            "no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset): run from a \
             desktop session, or under Xvfb (`xvfb-run -s '-screen 0 1600x900x24' rivertwin open …`); \
             for batch work use `rivertwin run`"
        );
    }
    crate::app::run(crate::app::OpenOptions {
        basin,
        scenario: args.scenario,
        // Scripted runs always play.
        play: args.play || args.exit_after.is_some(),
        speed: args.speed,
        fast: args.fast,
        exit_after_s: args.exit_after,
        screenshot: args.screenshot,
        export: args.export,
        window_size: args.window,
        layer: args.layer,
        show_max: args.max,
        threads: args.threads,
        live: args.live,
        ensemble: args.ensemble,
    })
}

/// Run the command; its exit code on success or a handled stop (see [`EXIT_CANCELLED`],
/// [`EXIT_ABORTED`]), an error otherwise (exit 1).
pub fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    let Some(command) = cli.command else {
        #[cfg(feature = "app")]
        return open(OpenArgs {
            basin: None,
            scenario: None,
            play: false,
            live: false,
            speed: None,
            fast: false,
            exit_after: None,
            screenshot: None,
            export: None,
            layer: None,
            max: false,
            window: (1600, 900),
            threads: 0,
            ensemble: None,
        })
        .map(|()| ExitCode::SUCCESS);
        #[cfg(not(feature = "app"))]
        anyhow::bail!(
            "this build has no app (built without the `app` feature); use `rivertwin run`, `info` or `demo`"
        );
    };
    match command {
        #[cfg(feature = "app")]
        Command::Open(args) => open(args).map(|()| ExitCode::SUCCESS),
        Command::Run {
            scenario,
            out,
            threads,
            force,
            from_state,
            save_state,
            save_state_at,
        } => run_with(
            scenario,
            out,
            basin::RunOptions {
                threads,
                force,
                from_state,
                save_state,
                save_state_at,
                ..basin::RunOptions::default()
            },
            None,
        ),
        Command::Forecast {
            scenario,
            out,
            from_state,
            until,
            threads,
            force,
        } => run_with(
            scenario,
            out,
            basin::RunOptions {
                threads,
                force,
                from_state,
                ..basin::RunOptions::default()
            },
            Some(until),
        ),
        Command::Watch {
            scenario,
            out,
            until,
            poll,
            cycles,
            from_state,
            threads,
        } => watch(
            scenario,
            out,
            until,
            poll,
            cycles,
            basin::RunOptions {
                threads,
                from_state,
                ..basin::RunOptions::default()
            },
        ),
        Command::Hydrology {
            basin: path,
            out,
            stream_km2,
            snap_cells,
        } => {
            let basin = basin::Basin::load(&path)?;
            let mut options = basin::hydrology::HydrologyOptions::for_basin(&basin);
            options.snap_cells = snap_cells;
            if let Some(km2) = stream_km2 {
                options.stream_threshold_km2 = km2;
            }
            let r = basin::hydrology::run(&basin, &out, &options)?;
            let s = r.seconds;
            println!(
                "{} cells: filled {} cells in {:.2} s, directions {:.2} s, accumulation {:.2} s, \
                 streams {:.2} s, catchments {:.2} s; written in {:.2} s",
                r.cells,
                r.filled_cells,
                s.fill_s,
                s.directions_s,
                s.accumulation_s,
                s.streams_s,
                s.catchments_s,
                r.write_s
            );
            println!(
                "streams: {} cells draining ≥ {} km² ({} cells), {} reaches, Strahler order up to {}",
                r.stream_cells,
                options.stream_threshold_km2,
                r.stream_threshold_cells,
                r.stream_reaches,
                r.max_strahler_order
            );
            for c in &r.catchments {
                println!(
                    "catchment of {}: {:.3} km² ({} cells), outlet at row {}, column {}",
                    c.gauge, c.area_km2, c.cells, c.outlet_row, c.outlet_col
                );
            }
            println!("written to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare { a, b, json } => {
            let comparison = basin::compare::compare(&a, &b)?;
            print!("{}", comparison.table());
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(&comparison)?;
                std::fs::write(&path, text + "\n")
                    .with_context(|| format!("{}: cannot write the comparison", path.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Ensemble(EnsembleCommand::Plan { ensemble, out }) => {
            let e = basin::ensemble::Ensemble::load(&ensemble)?;
            let manifest = basin::ensemble::plan(&e, &out)?;
            println!(
                "{} members ({:?}) planned in {}",
                manifest.members.len(),
                manifest.sampling,
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Ensemble(EnsembleCommand::Run { dir, threads, jobs }) => {
            let jobs = match jobs {
                Some(j) => j,
                None => basin::ensemble::default_jobs(&dir)?,
            };
            let options = basin::RunOptions {
                threads: threads.unwrap_or(if jobs > 1 { 1 } else { 0 }),
                ..basin::RunOptions::default()
            };
            let started = std::time::Instant::now();
            let report = basin::ensemble::run(&dir, &options, jobs, |id, result| match result {
                Ok(s) => println!("member_{id:04}: {} in {:.1} s", s.status, s.wall_time_s),
                Err(e) => eprintln!("member_{id:04}: failed: {e}"),
            })?;
            let wall = started.elapsed().as_secs_f64();
            println!(
                "{} run ({jobs} at once), {} already complete, {} failed, in {wall:.1} s{}",
                report.ran.len(),
                report.skipped.len(),
                report.failed.len(),
                if report.ran.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({:.0} members per hour)",
                        report.ran.len() as f64 * 3600.0 / wall.max(1e-9)
                    )
                }
            );
            if report.failed.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                for (id, message) in &report.failed {
                    eprintln!("failed: member_{id:04}: {message}");
                }
                anyhow::bail!(
                    "{} of the members failed (listed above); run `rivertwin ensemble run {}` \
                     again once fixed: the complete ones are kept",
                    report.failed.len(),
                    dir.display()
                )
            }
        }
        Command::Ensemble(EnsembleCommand::Merge {
            dir,
            thresholds,
            quantiles,
            partial,
        }) => {
            let started = std::time::Instant::now();
            let report = basin::ensemble::merge(&dir, &thresholds, &quantiles, partial)?;
            println!(
                "{} members merged into {} in {:.1} s{}",
                report.members.len(),
                dir.join("merged").display(),
                started.elapsed().as_secs_f64(),
                if report.missing.is_empty() {
                    String::new()
                } else {
                    format!(" ({} missing, left out)", report.missing.len())
                }
            );
            for o in &report.outputs {
                println!("  {o}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Ensemble(EnsembleCommand::Pending { dir }) => {
            let ids = basin::ensemble::pending(&dir)?;
            let list: Vec<String> = ids.iter().map(usize::to_string).collect();
            println!("{}", list.join(","));
            Ok(ExitCode::SUCCESS)
        }
        Command::Ensemble(EnsembleCommand::Slurm {
            dir,
            max_parallel,
            threads,
            partition,
        }) => {
            let executable = std::env::current_exe().context("the rivertwin binary's path")?;
            let written = basin::ensemble::write_slurm(
                &dir,
                &basin::ensemble::SlurmOptions {
                    max_parallel,
                    threads,
                    partition,
                    executable,
                },
            )?;
            for w in &written {
                println!("{}", w.display());
            }
            println!("submit with: {}", written[2].display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Info { path } => {
            print!("{}", basin::info::describe(&path)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            cells,
            minutes,
            threads,
        } => crate::demo::run(crate::demo::DemoArgs {
            cells,
            minutes,
            threads,
        })
        .map(|()| ExitCode::SUCCESS),
    }
}

/// Exit code of a run stopped by the first interrupt (Ctrl-C, SIGTERM, SIGHUP): the
/// partial result was written and is marked `cancelled` in its summary.json.
pub const EXIT_CANCELLED: u8 = 3;
/// Exit code of a run aborted by a second interrupt: nothing written, nothing replaced.
pub const EXIT_ABORTED: u8 = 130;

/// Stop flags set by the first (cancel) and second (abort) interrupt.
fn interrupt_flags(options: &basin::RunOptions, first: &'static str) -> anyhow::Result<()> {
    let (cancel, abort) = (options.cancel.clone(), options.abort.clone());
    // ctrlc calls this on a thread of its own for SIGINT, SIGTERM and SIGHUP. It only
    // sets flags: the run stops, writes or removes its folder and returns on the main
    // thread, so the process never exits while other threads are still writing.
    ctrlc::set_handler(move || {
        if cancel.swap(true, Ordering::SeqCst) {
            abort.store(true, Ordering::SeqCst);
            eprintln!("\naborting: the temporary results folder will be removed");
        } else {
            eprintln!("\n{first}");
        }
    })
    .context("installing the interrupt handler")
}

/// `watch`: a forecast cycle each time the observations grow, until interrupted.
fn watch(
    scenario: PathBuf,
    out: PathBuf,
    lead_s: f64,
    poll_s: f64,
    cycles: Option<usize>,
    options: basin::RunOptions,
) -> anyhow::Result<ExitCode> {
    if !(poll_s.is_finite() && poll_s > 0.0 && poll_s <= 86_400.0) {
        anyhow::bail!(
            "--poll is {poll_s} s; give how often to look at the observations, e.g. --poll 10"
        );
    }
    interrupt_flags(
        &options,
        "stopping the watch (a cycle under way is written, marked cancelled; interrupt again to abort it)",
    )?;
    let log = basin::runner::Log::new(|note| eprintln!("note: {note}"));
    let options = basin::watch::WatchOptions {
        lead_s,
        poll: Duration::from_secs_f64(poll_s),
        max_cycles: cycles,
        run: basin::RunOptions { log, ..options },
    };
    eprintln!(
        "watching {} (every {poll_s} s; Ctrl-C stops); cycles in {}",
        scenario.display(),
        out.display()
    );
    let done = basin::watch::watch(&scenario, &out, &options, |c| {
        let w = &c.summary.warnings;
        println!(
            "cycle {}: observations to {} s, forecast to {} s, {} warning(s){} — {}",
            c.number,
            c.last_observation_s,
            c.summary.sim_time_s,
            w.count,
            w.first_crossings
                .iter()
                .find(|f| f.lead_time_s > 0.0)
                .map_or(String::new(), |f| format!(
                    "; first: {} {} in {:.0} s",
                    f.place, f.threshold, f.lead_time_s
                )),
            c.folder.display()
        );
    });
    match done {
        Err(e @ basin::BasinError::Aborted { .. }) => {
            eprintln!("{e}");
            Ok(ExitCode::from(EXIT_ABORTED))
        }
        Err(e) => Err(e.into()),
        Ok(done) => {
            eprintln!(
                "{} cycle(s) run; the list is {}",
                done.len(),
                out.join(basin::watch::CYCLES_CSV).display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `run`, or `forecast` with a lead time.
fn run_with(
    scenario: PathBuf,
    out: PathBuf,
    options: basin::RunOptions,
    forecast_lead_s: Option<f64>,
) -> anyhow::Result<ExitCode> {
    interrupt_flags(
        &options,
        "stopping after this step; the partial result will be written (interrupt again to abort)",
    )?;
    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(500));
    let log = {
        let bar = bar.clone();
        basin::runner::Log::new(move |note| bar.suspend(|| eprintln!("note: {note}")))
    };
    let options = basin::RunOptions { log, ..options };
    let on_progress = |p: &basin::Progress| {
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
    };
    let summary = match forecast_lead_s {
        Some(lead) => basin::runner::forecast(&scenario, &out, &options, lead, on_progress),
        None => basin::run(&scenario, &out, &options, on_progress),
    };
    bar.finish_and_clear();
    let summary = match summary {
        Err(e @ basin::BasinError::Aborted { .. }) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_ABORTED));
        }
        other => other?,
    };
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
    if summary.is_cancelled() {
        eprintln!(
            "the run was cancelled at {:.0} s of {:.0} s: the partial result is marked `cancelled` (exit code {EXIT_CANCELLED})",
            summary.sim_time_s, summary.duration_s
        );
        return Ok(ExitCode::from(EXIT_CANCELLED));
    }
    Ok(ExitCode::SUCCESS)
}
