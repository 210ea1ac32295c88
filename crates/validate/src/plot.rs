//! PNG plots drawn in Rust with plotters, using the bundled DejaVu Sans font.

use std::path::Path;
use std::sync::Once;

use anyhow::anyhow;
use plotters::prelude::*;

const SIZE: (u32, u32) = (900, 520);

fn font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // DejaVu Sans, bundled with its licence in assets/.
        let bytes: &'static [u8] = include_bytes!("../assets/DejaVuSans.ttf");
        if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_err() {
            eprintln!("warning: the bundled font could not be registered; plots will lack text");
        }
    });
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("plotting: {e}")
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    let pad = ((hi - lo) * 0.05).max(1e-6);
    (lo - pad, hi + pad)
}

/// Water surface of the model (points) against the reference (line), over the bed.
pub fn profile(
    path: &Path,
    title: &str,
    reference: (&[f64], &[f64]),
    model: (&[f64], &[f64]),
    bed: (&[f64], &[f64]),
) -> anyhow::Result<()> {
    font();
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (x0, x1) = range(reference.0.iter().chain(model.0).copied());
    let (y0, y1) = range(reference.1.iter().chain(model.1).chain(bed.1).copied());
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("x (m)")
        .y_desc("elevation (m)")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    let pairs = |(x, y): (&[f64], &[f64])| -> Vec<(f64, f64)> {
        x.iter()
            .zip(y)
            .filter(|(_, y)| y.is_finite())
            .map(|(a, b)| (*a, *b))
            .collect()
    };
    chart
        .draw_series(LineSeries::new(
            pairs(bed),
            RGBColor(120, 90, 60).stroke_width(2),
        ))
        .map_err(err)?
        .label("bed")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RGBColor(120, 90, 60)));
    chart
        .draw_series(LineSeries::new(pairs(reference), BLACK.stroke_width(2)))
        .map_err(err)?
        .label("reference water surface")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK));
    let model_points = pairs(model);
    let every = (model_points.len() / 120).max(1);
    chart
        .draw_series(
            model_points
                .iter()
                .step_by(every)
                .map(|&(x, y)| Circle::new((x, y), 3, BLUE.filled())),
        )
        .map_err(err)?
        .label("rivertwin")
        .legend(|(x, y)| Circle::new((x + 9, y), 3, BLUE.filled()));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Error against cells on log–log axes, with a first-order slope for comparison.
pub fn convergence(path: &Path, title: &str, points: &[(f64, f64)]) -> anyhow::Result<()> {
    font();
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (n0, n1) = (points[0].0 * 0.8, points[points.len() - 1].0 * 1.25);
    let emin = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min) * 0.5;
    let emax = points.iter().map(|p| p.1).fold(0.0, f64::max) * 2.0;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{title}: error against grid size"),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((n0..n1).log_scale(), (emin..emax).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("cells")
        .y_desc("error")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            points.iter().copied(),
            BLUE.stroke_width(2),
        ))
        .map_err(err)?
        .label("rivertwin")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE));
    chart
        .draw_series(points.iter().map(|&p| Circle::new(p, 4, BLUE.filled())))
        .map_err(err)?;
    let (na, ea) = points[0];
    let slope: Vec<(f64, f64)> = points.iter().map(|&(n, _)| (n, ea * na / n)).collect();
    chart
        .draw_series(LineSeries::new(slope, BLACK.stroke_width(1)))
        .map_err(err)?
        .label("first order (slope −1)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Observed against modelled peak levels (and TUFLOW's), with the 1:1 line and ±0.3 m.
pub fn observed_vs_modelled(path: &Path, points: &[(f64, f64, f64)]) -> anyhow::Result<()> {
    font();
    let root = BitMapBackend::new(path, (620, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (lo, hi) = range(points.iter().flat_map(|p| [p.0, p.1, p.2]));
    let mut chart = ChartBuilder::on(&root)
        .caption("Merewether: peak water level at P0–P4", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(lo..hi, lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("observed (m)")
        .y_desc("modelled (m)")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    for (offset, style) in [
        (0.0, BLACK.stroke_width(1)),
        (0.3, RGBColor(160, 160, 160).stroke_width(1)),
        (-0.3, RGBColor(160, 160, 160).stroke_width(1)),
    ] {
        chart
            .draw_series(LineSeries::new(
                vec![(lo, lo + offset), (hi, hi + offset)],
                style,
            ))
            .map_err(err)?;
    }
    chart
        .draw_series(
            points
                .iter()
                .map(|p| Circle::new((p.0, p.1), 5, BLUE.filled())),
        )
        .map_err(err)?
        .label("rivertwin")
        .legend(|(x, y)| Circle::new((x + 9, y), 5, BLUE.filled()));
    chart
        .draw_series(
            points
                .iter()
                .map(|p| TriangleMarker::new((p.0, p.2), 6, RED.filled())),
        )
        .map_err(err)?
        .label("TUFLOW (ARR P15)")
        .legend(|(x, y)| TriangleMarker::new((x + 9, y), 6, RED.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
