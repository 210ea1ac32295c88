//! A merged ensemble as layers: the maps `rivertwin ensemble merge` wrote (the probability
//! that the maximum depth exceeds each threshold, quantiles of the maximum depth and of
//! the arrival time) read onto the open basin's grid, shown on the water surface with
//! their legends; and the panel that loads them and picks one.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use basin::Basin;
use basin::ensemble::MergedKind;
use bevy_egui::egui;
use egui::RichText;
use ndarray::Array2;

use crate::app::palette::Layer;
use crate::app::session::{Action, Session, ViewSettings};

/// One merged map.
#[derive(Debug)]
pub struct EnsembleMap {
    pub file: String,
    pub kind: MergedKind,
    /// Its title in the panel and the legend, e.g. `P(max depth > 0.5 m)`.
    pub title: String,
    /// On the basin's grid; NaN outside the basin and where a time is never reached.
    pub values: Array2<f32>,
}

/// The maps of one merged ensemble.
#[derive(Debug)]
pub struct EnsembleMaps {
    /// The folder holding the maps (`<plan>/merged`).
    pub folder: PathBuf,
    /// The basin they belong to (canonical).
    pub basin_dir: PathBuf,
    /// Members merged (rows of `gauge_peaks.csv`), when known.
    pub members: Option<usize>,
    /// Probabilities first (by threshold), then depth and arrival quantiles.
    pub maps: Vec<EnsembleMap>,
}

impl EnsembleMaps {
    /// Read the merged maps of a plan folder (or of its `merged/` folder itself) onto the
    /// grid of `basin`; refuses maps of another grid and a folder with none.
    pub fn load(basin: &Basin, folder: &Path) -> anyhow::Result<Self> {
        let folder = if folder.join("merged").is_dir() {
            folder.join("merged")
        } else {
            folder.to_path_buf()
        };
        let entries = std::fs::read_dir(&folder).with_context(|| {
            format!(
                "{}: give an ensemble's folder after `rivertwin ensemble merge`",
                folder.display()
            )
        })?;
        let mut found: Vec<(MergedKind, f64, String)> = entries
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                let (kind, value) = MergedKind::of_file(&name)?;
                Some((kind, value, name))
            })
            .collect();
        if found.is_empty() {
            bail!(
                "{}: no merged maps (probability_depth_over_<t>m.tif, max_depth_m_p<q>.tif, \
                 first_inundation_s_p<q>.tif); run `rivertwin ensemble merge` on the plan first",
                folder.display()
            );
        }
        let order = |k: MergedKind| match k {
            MergedKind::Probability => 0,
            MergedKind::Depth => 1,
            MergedKind::Arrival => 2,
        };
        found.sort_by(|a, b| order(a.0).cmp(&order(b.0)).then(a.1.total_cmp(&b.1)));
        let mut maps = Vec::with_capacity(found.len());
        for (kind, value, file) in found {
            let values = crate::app::twin::read_on_basin_grid(basin, &folder.join(&file))?;
            let title = match kind {
                MergedKind::Probability => format!("P(max depth > {value} m)"),
                MergedKind::Depth => format!("max depth, P{value}"),
                MergedKind::Arrival => format!("arrival time, P{value}"),
            };
            maps.push(EnsembleMap {
                file,
                kind,
                title,
                values: values.mapv(|v| v as f32),
            });
        }
        let members = std::fs::read_to_string(folder.join("gauge_peaks.csv"))
            .ok()
            .map(|t| t.lines().count().saturating_sub(1));
        Ok(Self {
            folder,
            basin_dir: basin
                .dir
                .canonicalize()
                .unwrap_or_else(|_| basin.dir.clone()),
            members,
            maps,
        })
    }

    /// The map the view shows: the chosen one, when the layer is an ensemble layer.
    pub fn shown(&self, view: &ViewSettings) -> Option<&EnsembleMap> {
        view.layer
            .is_ensemble()
            .then(|| self.maps.get(view.ensemble_map))
            .flatten()
    }
}

/// The water layer that draws a merged map of `kind`.
pub fn layer_of(kind: MergedKind) -> Layer {
    match kind {
        MergedKind::Probability => Layer::EnsembleProbability,
        MergedKind::Depth => Layer::EnsembleDepth,
        MergedKind::Arrival => Layer::EnsembleArrival,
    }
}

/// What a merged map gives the water surface at one cell: the depth drawn (m; a map of
/// probabilities or times is drawn as a sheet of full opacity where it has a value) and
/// the value coloured (times in minutes, as the live arrival layer).
pub fn cell_value(map: &EnsembleMap, cell: (usize, usize)) -> (f32, f32) {
    /// Deep enough for the water shader's full opacity (its settings' z).
    const SHEET_M: f32 = 0.3;
    let v = map.values[cell];
    match map.kind {
        MergedKind::Depth if v.is_finite() => (v, v),
        MergedKind::Probability if v > 0.0 => (SHEET_M, v),
        MergedKind::Arrival if v.is_finite() => (SHEET_M, v / 60.0),
        _ => (0.0, 0.0),
    }
}

/// The panel: load a merged ensemble, pick the map shown.
pub fn ensemble_ui(
    ui: &mut egui::Ui,
    session: &Session,
    view: &mut ViewSettings,
    out: &mut Vec<Action>,
) {
    ui.heading("Ensemble");
    ui.label("load an ensemble's merged maps (a folder after `rivertwin ensemble merge`):");
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut view.ensemble_folder)
                .hint_text("storm_ensemble")
                .desired_width(170.0),
        );
        let can = !view.ensemble_folder.trim().is_empty() && session.basin.is_some();
        if ui.add_enabled(can, egui::Button::new("Load")).clicked() {
            out.push(Action::LoadEnsemble(PathBuf::from(
                view.ensemble_folder.trim(),
            )));
        }
    });
    if session.ensemble_loading() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("reading the merged maps …");
        });
    }
    let Some(e) = &session.ensemble else {
        return;
    };
    ui.label(
        RichText::new(match e.members {
            Some(n) => format!("{}: {n} members", e.folder.display()),
            None => e.folder.display().to_string(),
        })
        .strong(),
    );
    for (i, map) in e.maps.iter().enumerate() {
        let selected = view.layer.is_ensemble() && view.ensemble_map == i;
        if ui
            .selectable_label(selected, &map.title)
            .on_hover_text(&map.file)
            .clicked()
        {
            view.ensemble_map = i;
            view.layer = layer_of(map.kind);
        }
    }
    if ui.button("Close ensemble").clicked() {
        out.push(Action::CloseEnsemble);
    }
}
