//! `rivertwin info`: what a raster or a basin is, and what a run over it needs.

use std::fmt::Write;
use std::path::Path;

use crate::basin::Basin;
use crate::error::Result;
use crate::raster::{crs_label, read_raster, run_memory_bytes};

/// A human-readable description of a raster file or a basin folder.
pub fn describe(path: &Path) -> Result<String> {
    let mut out = String::new();
    let is_basin = path.is_dir() || path.file_name().is_some_and(|n| n == "basin.toml");
    let raster = if is_basin {
        let basin = Basin::load(path)?;
        let _ = writeln!(out, "basin: {}", basin.file.name);
        if !basin.file.description.is_empty() {
            let _ = writeln!(out, "  {}", basin.file.description);
        }
        let _ = writeln!(out, "folder: {}", basin.dir.display());
        let _ = writeln!(out, "scenarios: {}", basin.scenario_names().join(", "));
        for g in &basin.gauges {
            let _ = writeln!(
                out,
                "gauge {}: x {:.2}, y {:.2} (row {}, column {})",
                g.name, g.x, g.y, g.row, g.col
            );
        }
        for note in &basin.notes {
            let _ = writeln!(out, "note: {note}");
        }
        // The values, nodata as NaN, from where the basin keeps them.
        let mut dem = basin.dem;
        dem.data = ndarray::Zip::from(&basin.bed_m.values())
            .and(&basin.active)
            .map_collect(|&z, &a| if a { z } else { f64::NAN });
        dem
    } else {
        read_raster(path)?
    };
    let g = &raster.grid;
    let valid: Vec<f64> = raster
        .data
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let (lo, hi) = valid
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let (x0, y0, x1, y1) = g.extent();
    let _ = writeln!(out, "raster: {}", raster.path.display());
    let _ = writeln!(
        out,
        "grid: {} columns × {} rows, cell {} × {} (map units)",
        g.cols,
        g.rows,
        g.cell_size_x(),
        g.cell_size_y()
    );
    let _ = writeln!(out, "extent: x {x0:.3} – {x1:.3}, y {y0:.3} – {y1:.3}");
    if raster.crs_wkt.is_empty() {
        let _ = writeln!(
            out,
            "CRS: none — a run takes the coordinates and cell size to be metres"
        );
    } else {
        let _ = writeln!(out, "CRS: {}", crs_label(&raster.crs_wkt));
    }
    if raster.south_up_in_file {
        let _ = writeln!(
            out,
            "orientation: stored south-up (row 0 in the south); flipped on load to north-up"
        );
    }
    let _ = writeln!(
        out,
        "nodata: {}",
        raster.nodata.map_or("none".into(), |v| v.to_string())
    );
    let _ = writeln!(out, "valid cells: {} of {}", valid.len(), g.rows * g.cols);
    if !valid.is_empty() {
        let _ = writeln!(out, "values: {lo:.3} – {hi:.3}");
    }
    let _ = writeln!(
        out,
        "a run (`rivertwin run`) needs up to about {} MiB of memory; the app more",
        run_memory_bytes(g.rows.saturating_mul(g.cols)) >> 20
    );
    Ok(out)
}
