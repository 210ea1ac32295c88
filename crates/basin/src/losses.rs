//! `[losses]` of `basin.toml` read into what the solver takes: initial + continuing loss
//! (uniform), or a curve-number or Green–Ampt model with values per cell (one value, or a
//! raster on the DEM's grid). Every value is checked with the key, the file and the fix.

use std::path::{Path, PathBuf};

use ndarray::Array2;

use crate::config::{LossModelName, LossParams};
use crate::error::{BasinError, Result};

/// The losses the solver takes for `basin`, `None` without `[losses]`: initial +
/// continuing per cell (mm, mm/h, capacity mm) over each cell's pervious share; with a
/// curve-number or Green–Ampt model, the zero losses it starts from (the model sets each
/// cell's rate per step). The run engine and the app's Soil layer both read it here.
pub fn solver_losses(basin: &crate::Basin) -> Option<hydro::Losses> {
    let l = basin.file.losses.as_ref()?;
    let (rows, cols) = basin.bed_m.dim();
    if basin.loss_model.is_some() {
        return Some(hydro::Losses::uniform(rows, cols, 0.0, 0.0, f64::INFINITY));
    }
    let mut losses =
        hydro::Losses::uniform(rows, cols, 0.0, 0.0, l.capacity_mm.unwrap_or(f64::INFINITY));
    if let Some((il, cl)) = &basin.loss_rates {
        losses.initial_mm.assign(il);
        losses.continuing_mm_per_h.assign(cl);
    }
    // Only the pervious share of a cell takes water.
    if let Some(p) = &basin.loss_pervious {
        for a in [
            &mut losses.initial_mm,
            &mut losses.continuing_mm_per_h,
            &mut losses.capacity_mm,
        ] {
            // No limit stays no limit (∞ × 0 would be NaN).
            ndarray::Zip::from(a).and(p).for_each(|v, &p| {
                if v.is_finite() {
                    *v *= p;
                }
            });
        }
    }
    Some(losses)
}

/// The keys of each model, for refusing a key given to the wrong one.
const KEYS: [(&str, LossModelName); 18] = [
    ("initial_mm", LossModelName::InitialContinuing),
    ("continuing_mm_per_h", LossModelName::InitialContinuing),
    ("capacity_mm", LossModelName::InitialContinuing),
    ("initial_raster", LossModelName::InitialContinuing),
    ("continuing_raster", LossModelName::InitialContinuing),
    ("curve_number", LossModelName::CurveNumber),
    ("curve_number_raster", LossModelName::CurveNumber),
    ("ia_ratio", LossModelName::CurveNumber),
    ("landcover", LossModelName::CurveNumber),
    ("soil_group", LossModelName::CurveNumber),
    ("soil_group_raster", LossModelName::CurveNumber),
    ("table", LossModelName::CurveNumber),
    ("conductivity_mm_per_h", LossModelName::GreenAmpt),
    ("conductivity_raster", LossModelName::GreenAmpt),
    ("suction_mm", LossModelName::GreenAmpt),
    ("moisture_deficit", LossModelName::GreenAmpt),
    ("suction_raster", LossModelName::GreenAmpt),
    ("moisture_deficit_raster", LossModelName::GreenAmpt),
];

fn model_name(m: LossModelName) -> &'static str {
    match m {
        LossModelName::InitialContinuing => "initial_continuing",
        LossModelName::CurveNumber => "curve_number",
        LossModelName::GreenAmpt => "green_ampt",
    }
}

/// What `[losses]` gives the solver: a model, and the pervious share of each cell.
#[derive(Clone, Debug, Default)]
pub struct LossSetup {
    /// A curve-number or Green–Ampt model; `None` for initial + continuing loss.
    pub model: Option<hydro::LossModel>,
    /// Initial (mm) and continuing (mm/h) loss per cell, for initial + continuing loss.
    pub initial_continuing: Option<(Array2<f64>, Array2<f64>)>,
    /// 1 − the impervious share, per cell; `None` when all of every cell is pervious.
    pub pervious: Option<Array2<f64>>,
}

/// Check `[losses]` and build what the solver takes. `raster(rel, key, inputs)` reads a
/// raster named in basin.toml onto the DEM's grid. An impervious share f scales what a
/// cell takes by (1 − f): the initial + continuing losses directly; the curve number's
/// P − Q(P) in the solver; Green–Ampt through K and Δθ both × (1 − f), which is exactly
/// the pervious part's infiltration spread over the cell (F' = (1 − f)F solves the
/// equation with those).
pub fn resolve(
    l: &LossParams,
    toml_path: &Path,
    raster: impl Fn(&Path, &str, &mut Vec<PathBuf>) -> Result<Array2<f64>>,
    active: &Array2<bool>,
    inputs: &mut Vec<PathBuf>,
) -> Result<LossSetup> {
    let pervious = impervious(l, toml_path, &raster, active, inputs)?;
    let (mut model, initial_continuing) = resolve_model(l, toml_path, &raster, active, inputs)?;
    match (&mut model, &pervious) {
        (Some(hydro::LossModel::CurveNumber { impervious, .. }), Some(p)) => {
            *impervious = Some(p.mapv(|v| 1.0 - v));
        }
        (
            Some(hydro::LossModel::GreenAmpt {
                conductivity_mm_per_h,
                moisture_deficit,
                ..
            }),
            Some(p),
        ) => {
            *conductivity_mm_per_h = &*conductivity_mm_per_h * p;
            *moisture_deficit = &*moisture_deficit * p;
        }
        _ => {}
    }
    Ok(LossSetup {
        model,
        initial_continuing,
        pervious,
    })
}

/// 1 − the impervious share per cell, from `impervious_fraction` or `impervious_raster`.
fn impervious(
    l: &LossParams,
    toml_path: &Path,
    raster: &impl Fn(&Path, &str, &mut Vec<PathBuf>) -> Result<Array2<f64>>,
    active: &Array2<bool>,
    inputs: &mut Vec<PathBuf>,
) -> Result<Option<Array2<f64>>> {
    let fix = "give the impervious share of each cell between 0 and 1";
    match (l.impervious_fraction, &l.impervious_raster) {
        (None, None) => Ok(None),
        (Some(f), None) => {
            if !(0.0..=1.0).contains(&f) {
                return Err(BasinError::invalid(
                    toml_path,
                    "losses.impervious_fraction",
                    format!("is {f}"),
                    fix,
                ));
            }
            Ok(Some(Array2::from_elem(active.dim(), 1.0 - f)))
        }
        (None, Some(rel)) => {
            let a = raster(rel, "losses.impervious_raster", inputs)?;
            if let Some(((r, c), v)) = a
                .indexed_iter()
                .find(|&(cell, v)| active[cell] && !(0.0..=1.0).contains(v))
            {
                return Err(BasinError::invalid(
                    toml_path.parent().unwrap_or(Path::new(".")).join(rel),
                    "losses.impervious_raster",
                    format!("gives {v} at row {r}, column {c}"),
                    fix,
                ));
            }
            Ok(Some(a.mapv(|v| {
                if (0.0..=1.0).contains(&v) {
                    1.0 - v
                } else {
                    1.0
                }
            })))
        }
        (Some(_), Some(_)) => Err(BasinError::invalid(
            toml_path,
            "losses.impervious_fraction",
            "and losses.impervious_raster are both given".to_string(),
            "give one value or one raster",
        )),
    }
}

/// The losses an infiltration model gives per cell: its model, or for initial +
/// continuing loss the two per cell.
type ModelOrRates = (Option<hydro::LossModel>, Option<(Array2<f64>, Array2<f64>)>);

/// The model of `[losses]` (`None` for initial + continuing, with their values per cell).
fn resolve_model(
    l: &LossParams,
    toml_path: &Path,
    raster: &impl Fn(&Path, &str, &mut Vec<PathBuf>) -> Result<Array2<f64>>,
    active: &Array2<bool>,
    inputs: &mut Vec<PathBuf>,
) -> Result<ModelOrRates> {
    let bad = |key: &str, problem: String, fix: &str| {
        BasinError::invalid(toml_path, format!("losses.{key}"), problem, fix)
    };
    let given = [
        l.initial_mm.is_some(),
        l.continuing_mm_per_h.is_some(),
        l.capacity_mm.is_some(),
        l.initial_raster.is_some(),
        l.continuing_raster.is_some(),
        l.curve_number.is_some(),
        l.curve_number_raster.is_some(),
        l.ia_ratio.is_some(),
        l.landcover.is_some(),
        l.soil_group.is_some(),
        l.soil_group_raster.is_some(),
        l.table.is_some(),
        l.conductivity_mm_per_h.is_some(),
        l.conductivity_raster.is_some(),
        l.suction_mm.is_some(),
        l.moisture_deficit.is_some(),
        l.suction_raster.is_some(),
        l.moisture_deficit_raster.is_some(),
    ];
    for ((key, owner), given) in KEYS.iter().zip(given) {
        if given && *owner != l.model {
            return Err(bad(
                key,
                format!(
                    "belongs to model = \"{}\", but the model is \"{}\"",
                    model_name(*owner),
                    model_name(l.model)
                ),
                "give the keys of one model (docs/basin-format.md)",
            ));
        }
    }
    let non_negative = |key: &str, v: f64| {
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(bad(key, format!("is {v}"), "give a value ≥ 0"))
        }
    };
    // One value or a raster, on every cell; raster values are checked on active cells.
    let per_cell = |value: Option<f64>,
                    raster_path: &Option<PathBuf>,
                    key: &str,
                    raster_key: &str,
                    ok: &dyn Fn(f64) -> bool,
                    fix: &str,
                    inputs: &mut Vec<PathBuf>|
     -> Result<Array2<f64>> {
        match (value, raster_path) {
            (Some(v), None) => {
                if !ok(v) {
                    return Err(bad(key, format!("is {v}"), fix));
                }
                Ok(Array2::from_elem(active.dim(), v))
            }
            (None, Some(rel)) => {
                let a = raster(rel, &format!("losses.{raster_key}"), inputs)?;
                let path = toml_path.parent().unwrap_or(Path::new(".")).join(rel);
                if let Some(((r, c), v)) =
                    a.indexed_iter().find(|&(cell, v)| active[cell] && !ok(*v))
                {
                    return Err(BasinError::invalid(
                        &path,
                        format!("losses.{raster_key}"),
                        format!("gives {v} at row {r}, column {c}"),
                        fix,
                    ));
                }
                // Inactive cells take a harmless value.
                let fill = a
                    .iter()
                    .zip(active)
                    .find(|(_, a)| **a)
                    .map_or(1.0, |(v, _)| *v);
                Ok(ndarray::Zip::from(&a)
                    .and(active)
                    .map_collect(|&v, &on| if on { v } else { fill }))
            }
            (Some(_), Some(_)) => Err(bad(
                key,
                format!("and losses.{raster_key} are both given"),
                "give one value or one raster",
            )),
            (None, None) => Err(bad(
                key,
                "is missing".into(),
                &format!("give {key} = <value> or {raster_key} = \"file.tif\""),
            )),
        }
    };
    match l.model {
        LossModelName::InitialContinuing => {
            let ok = |v: f64| v.is_finite() && v >= 0.0;
            let il = per_cell(
                l.initial_mm,
                &l.initial_raster,
                "initial_mm",
                "initial_raster",
                &ok,
                "give the initial loss in mm, ≥ 0",
                inputs,
            )?;
            let cl = per_cell(
                l.continuing_mm_per_h,
                &l.continuing_raster,
                "continuing_mm_per_h",
                "continuing_raster",
                &ok,
                "give the continuing loss in mm/h, ≥ 0",
                inputs,
            )?;
            if let Some(c) = l.capacity_mm {
                non_negative("capacity_mm", c)?;
            }
            Ok((None, Some((il, cl))))
        }
        LossModelName::CurveNumber => {
            // From the land-cover table, or one value or a raster.
            let cn = if l.landcover.is_some() {
                from_table(l, toml_path, raster, active, inputs)?
            } else {
                per_cell(
                    l.curve_number,
                    &l.curve_number_raster,
                    "curve_number",
                    "curve_number_raster",
                    &|v| (30.0..=100.0).contains(&v),
                    "curve numbers lie between 30 and 100 (USDA NRCS NEH-630 ch. 9 tables)",
                    inputs,
                )?
            };
            let ia_ratio = l.ia_ratio.unwrap_or(0.2);
            if !(0.0..=1.0).contains(&ia_ratio) {
                return Err(bad(
                    "ia_ratio",
                    format!("is {ia_ratio}"),
                    "give Ia/S between 0 and 1: 0.2 (NEH-630) or 0.05 (Hawkins et al. 2002)",
                ));
            }
            Ok((
                Some(hydro::LossModel::CurveNumber {
                    curve_number: cn,
                    ia_ratio,
                    impervious: None,
                }),
                None,
            ))
        }
        LossModelName::GreenAmpt => {
            let k = per_cell(
                l.conductivity_mm_per_h,
                &l.conductivity_raster,
                "conductivity_mm_per_h",
                "conductivity_raster",
                &|v| v.is_finite() && v >= 0.0,
                "saturated conductivity is ≥ 0 mm/h (e.g. 10 for a loam, Rawls et al. 1983)",
                inputs,
            )?;
            let psi = per_cell(
                l.suction_mm,
                &l.suction_raster,
                "suction_mm",
                "suction_raster",
                &|v| v.is_finite() && v >= 0.0,
                "give the wetting-front suction in mm, ≥ 0 (e.g. 89 for a loam)",
                inputs,
            )?;
            let dtheta = per_cell(
                l.moisture_deficit,
                &l.moisture_deficit_raster,
                "moisture_deficit",
                "moisture_deficit_raster",
                &|v| (0.0..=1.0).contains(&v),
                "give the moisture deficit (porosity − initial water content) between 0 and 1",
                inputs,
            )?;
            Ok((
                Some(hydro::LossModel::GreenAmpt {
                    conductivity_mm_per_h: k,
                    suction_mm: psi,
                    moisture_deficit: dtheta,
                }),
                None,
            ))
        }
    }
}

/// Curve numbers per cell from the land-cover classes × hydrologic soil groups table.
fn from_table(
    l: &LossParams,
    toml_path: &Path,
    raster: &impl Fn(&Path, &str, &mut Vec<PathBuf>) -> Result<Array2<f64>>,
    active: &Array2<bool>,
    inputs: &mut Vec<PathBuf>,
) -> Result<Array2<f64>> {
    let bad = |key: &str, problem: String, fix: String| {
        BasinError::invalid(toml_path, format!("losses.{key}"), problem, fix)
    };
    let groups = ["A", "B", "C", "D"];
    if l.curve_number.is_some() || l.curve_number_raster.is_some() {
        return Err(bad(
            "landcover",
            "is given with curve_number or curve_number_raster".into(),
            "give the curve numbers one way: a value, a raster, or landcover + table".into(),
        ));
    }
    let table = l.table.as_ref().ok_or_else(|| {
        bad(
            "table",
            "is missing".into(),
            "give the CN of each land-cover class per soil group, e.g. table = { \"1\" = { A = 39, B = 61, C = 74, D = 80 } }".into(),
        )
    })?;
    // class → [CN for A, B, C, D] (None where the table has no such group).
    let mut rows: Vec<(f64, [Option<f64>; 4])> = Vec::new();
    for (k, per_group) in table {
        let class: f64 = k.trim().parse().map_err(|_| {
            bad(
                &format!("table.\"{k}\""),
                "is not a class number".into(),
                "keys are the integer classes of the land-cover raster".into(),
            )
        })?;
        let mut cns = [None; 4];
        for (g, &cn) in per_group {
            let Some(i) = groups.iter().position(|x| x == g) else {
                return Err(bad(
                    &format!("table.\"{k}\".{g}"),
                    "is not a hydrologic soil group".into(),
                    "use the groups A, B, C and D".into(),
                ));
            };
            if !(30.0..=100.0).contains(&cn) {
                return Err(bad(
                    &format!("table.\"{k}\".{g}"),
                    format!("is {cn}"),
                    "curve numbers lie between 30 and 100 (USDA NRCS NEH-630 ch. 9 tables)".into(),
                ));
            }
            cns[i] = Some(cn);
        }
        rows.push((class, cns));
    }
    let landcover = l.landcover.as_ref().expect("checked by the caller");
    let classes = raster(landcover, "losses.landcover", inputs)?;
    let group_of: Array2<f64> = match (&l.soil_group, &l.soil_group_raster) {
        (Some(g), None) => {
            let i = groups.iter().position(|x| x == g).ok_or_else(|| {
                bad(
                    "soil_group",
                    format!("is \"{g}\""),
                    "give one of \"A\", \"B\", \"C\", \"D\"".into(),
                )
            })?;
            Array2::from_elem(active.dim(), (i + 1) as f64)
        }
        (None, Some(path)) => raster(path, "losses.soil_group_raster", inputs)?,
        _ => {
            return Err(bad(
                "soil_group",
                "and losses.soil_group_raster: give exactly one".into(),
                "soil_group = \"B\" for the whole basin, or soil_group_raster = \"hsg.tif\" (1 = A … 4 = D)".into(),
            ));
        }
    };
    let mut cn = Array2::from_elem(active.dim(), 75.0);
    for (cell, &a) in active.indexed_iter() {
        if !a {
            continue;
        }
        let (r, c) = cell;
        let class = classes[cell];
        let Some((_, cns)) = rows.iter().find(|(k, _)| *k == class) else {
            return Err(bad(
                "table",
                format!(
                    "has no land-cover class {class} (found at row {r}, column {c} of {})",
                    landcover.display()
                ),
                format!("add \"{class}\" = {{ A = …, B = …, C = …, D = … }} to the table"),
            ));
        };
        let g = group_of[cell];
        let gi = (g.round() as i64 - 1).clamp(-1, 4);
        let Some(Some(value)) = usize::try_from(gi).ok().and_then(|i| cns.get(i)) else {
            let name = usize::try_from(gi)
                .ok()
                .and_then(|i| groups.get(i))
                .copied();
            return Err(bad(
                "table",
                match name {
                    Some(n) => format!(
                        "has no CN for soil group {n} of land-cover class {class} (row {r}, column {c})"
                    ),
                    None => {
                        format!("meets soil group value {g} at row {r}, column {c}, not 1–4 (A–D)")
                    }
                },
                "give every class a CN for each soil group that occurs".into(),
            ));
        };
        cn[cell] = *value;
    }
    Ok(cn)
}
