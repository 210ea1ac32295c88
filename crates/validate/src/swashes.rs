//! SWASHES reference files (`tests/data/swashes`, see its README).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// A SWASHES output: the `#` header and the numeric columns.
#[derive(Debug, Clone)]
pub struct Reference {
    pub name: String,
    pub header: String,
    pub columns: Vec<Vec<f64>>,
}

/// The folder with the reference files.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/swashes")
}

impl Reference {
    pub fn load(name: &str) -> anyhow::Result<Self> {
        Self::load_path(&data_dir().join(name))
    }

    pub fn load_path(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut header = String::new();
        let mut columns: Vec<Vec<f64>> = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                header.push_str(line);
                header.push('\n');
                continue;
            }
            let values: Vec<f64> = line
                .split_whitespace()
                .map(|v| v.parse().unwrap_or(f64::NAN))
                .collect();
            if values.is_empty() {
                continue;
            }
            if columns.is_empty() {
                columns = vec![Vec::new(); values.len()];
            }
            for (c, v) in columns.iter_mut().zip(values) {
                c.push(v);
            }
        }
        if columns.is_empty() {
            bail!("{}: no data rows", path.display());
        }
        Ok(Self {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            header,
            columns,
        })
    }

    /// The number after `key` in the header.
    pub fn param(&self, key: &str) -> anyhow::Result<f64> {
        let line = self
            .header
            .lines()
            .find(|l| l.contains(key))
            .with_context(|| format!("{}: no `{key}` in the header", self.name))?;
        let rest = &line[line.find(key).unwrap_or(0) + key.len()..];
        rest.split_whitespace()
            .next()
            .and_then(|v| v.trim_end_matches(',').parse().ok())
            .with_context(|| format!("{}: no number after `{key}`", self.name))
    }

    pub fn col(&self, i: usize) -> &[f64] {
        &self.columns[i]
    }
}

/// Linear interpolation of (xs, ys) at x; clamped at the ends.
pub fn interp(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    if x <= xs[0] {
        return ys[0];
    }
    let last = xs.len() - 1;
    if x >= xs[last] {
        return ys[last];
    }
    let i = xs.partition_point(|&v| v <= x) - 1;
    let t = (x - xs[i]) / (xs[i + 1] - xs[i]);
    ys[i] + t * (ys[i + 1] - ys[i])
}

/// Σ|a − b| / Σ|b|.
pub fn relative_l1(model: &[f64], reference: &[f64]) -> f64 {
    let num: f64 = model
        .iter()
        .zip(reference)
        .map(|(a, b)| (a - b).abs())
        .sum();
    num / reference.iter().map(|b| b.abs()).sum::<f64>()
}
