//! Mutation fuzzing of the basin and scenario loaders: valid `basin.toml` and scenario
//! files are cut, spliced, duplicated and sprinkled with tokens (brackets, quotes, NaN,
//! huge and negative numbers, key names), then loaded. Whatever the text, loading must
//! never panic, and an error must name the file it is about. A fixed seed and a fixed
//! number of cases make the CI run repeatable; `FUZZ_CASES` raises the count locally.

mod common;

use basin::{Basin, Scenario};
use common::{BASIN_TOML, SCENARIO_TOML, TestBasin};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

/// Pieces a hostile or careless user types into a TOML file.
const TOKENS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    "\"",
    "'",
    ",",
    ".",
    "\n",
    "#",
    "nan",
    "inf",
    "-inf",
    "-1",
    "0",
    "0.0",
    "1e308",
    "-1e308",
    "1e-320",
    "18446744073709551616",
    "true",
    "\"\"",
    "csv",
    "edge",
    "from",
    "to",
    "kind",
    "north",
    "inflow",
    "stage",
    "wall",
    "level_m",
    "discharge_m3_s",
    "slope",
    "line",
    "trigger",
    "time_s",
    "manual",
    "water_level",
    "final_bed_m",
    "formation_time_s",
    "depth_raster",
    "constant",
    "raster",
    "landcover",
    "table",
    "nodata_n",
    "x",
    "y",
    "radius_m",
    "[[boundaries]]",
    "[[point_sources]]",
    "[[breaches]]",
    "[solver]",
    "[rain]",
    "rain_mm_per_h",
    "duration_s",
    "output_interval_s",
    "\"dem.tif\"",
    "\"basin.toml\"",
    "{ csv = \"q.csv\" }",
    "[[0, 1]]",
    "[[1, 0], [0, 1]]",
    "\u{feff}",
    "é",
    "\u{0}",
];

#[derive(Clone, Debug)]
enum Mutation {
    DeleteBytes { at: usize, len: usize },
    InsertToken { at: usize, token: usize },
    DuplicateLine { line: usize },
    DeleteLine { line: usize },
    SwapLines { a: usize, b: usize },
    ReplaceNumber { nth: usize, token: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let n = TOKENS.len();
    prop_oneof![
        (0..2000usize, 1..12usize).prop_map(|(at, len)| Mutation::DeleteBytes { at, len }),
        (0..2000usize, 0..n).prop_map(|(at, token)| Mutation::InsertToken { at, token }),
        (0..60usize).prop_map(|line| Mutation::DuplicateLine { line }),
        (0..60usize).prop_map(|line| Mutation::DeleteLine { line }),
        (0..60usize, 0..60usize).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        (0..40usize, 0..n).prop_map(|(nth, token)| Mutation::ReplaceNumber { nth, token }),
    ]
}

/// Apply a mutation to `text`, keeping it a `String` (cuts land on char boundaries).
fn apply(text: &str, m: &Mutation) -> String {
    let boundary = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let mut lines: Vec<&str> = text.lines().collect();
    match *m {
        Mutation::DeleteBytes { at, len } => {
            let (a, b) = (boundary(at), boundary(at.saturating_add(len)));
            format!("{}{}", &text[..a], &text[b..])
        }
        Mutation::InsertToken { at, token } => {
            let a = boundary(at);
            format!("{}{}{}", &text[..a], TOKENS[token], &text[a..])
        }
        Mutation::DuplicateLine { line } if !lines.is_empty() => {
            let l = line % lines.len();
            lines.insert(l, lines[l]);
            lines.join("\n")
        }
        Mutation::DeleteLine { line } if !lines.is_empty() => {
            lines.remove(line % lines.len());
            lines.join("\n")
        }
        Mutation::SwapLines { a, b } if !lines.is_empty() => {
            let len = lines.len();
            lines.swap(a % len, b % len);
            lines.join("\n")
        }
        Mutation::ReplaceNumber { nth, token } => {
            // The nth run of digits becomes the token.
            let mut runs = Vec::new();
            let bytes = text.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i].is_ascii_digit() {
                    let start = i;
                    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                        i += 1;
                    }
                    runs.push((start, i));
                } else {
                    i += 1;
                }
            }
            match runs.get(nth % runs.len().max(1)) {
                Some(&(a, b)) => format!("{}{}{}", &text[..a], TOKENS[token], &text[b..]),
                None => text.to_string(),
            }
        }
        _ => text.to_string(),
    }
}

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// Load the basin and its scenario; on error, check the message names a file of the
/// basin (the one mutated, or a file it names).
fn load_and_check(b: &TestBasin, mutated: &str) -> Result<(), TestCaseError> {
    let result = Basin::load(b.path()).and_then(|basin| Scenario::load(&b.scenario(), &basin));
    if let Err(e) = result {
        let msg = e.to_string();
        let names_a_file = msg.contains(mutated)
            || msg.contains(&b.path().display().to_string())
            || msg.contains(".tif")
            || msg.contains(".csv");
        prop_assert!(names_a_file, "the error names no file: {msg}");
        prop_assert!(!msg.trim().is_empty());
    }
    Ok(())
}

fn fuzz(file: &'static str, original: &'static str, seed: u64) {
    let b = TestBasin::new();
    b.write("scenarios/q.csv", "time_s,q\n0,5\n600,5\n");
    let config = Config {
        cases: cases(),
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    runner
        .run(&prop::collection::vec(mutation(), 1..6), |mutations| {
            let text = mutations
                .iter()
                .fold(original.to_string(), |t, m| apply(&t, m));
            b.write(file, &text);
            let name = std::path::Path::new(file)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            load_and_check(&b, &name)
        })
        .unwrap_or_else(|e| panic!("{file}: {e}"));
}

#[test]
fn mutated_scenario_files_never_panic_and_name_the_file() {
    fuzz("scenarios/breach.toml", SCENARIO_TOML, 0x5ce1a210);
}

#[test]
fn mutated_basin_files_never_panic_and_name_the_file() {
    fuzz("basin.toml", BASIN_TOML, 0xba5171);
}
