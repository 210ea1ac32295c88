//! Colour scales of the water layers and of the terrain. One table per layer, shared by the
//! water shader (as a 256 × 1 texture) and the legend, so the two cannot disagree.

use basin::results::{Legend, ResultLayer, result_layer};
use serde::Serialize;

/// What the water surface is coloured by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
pub enum Layer {
    #[default]
    Depth,
    Speed,
    Hazard,
    Arrival,
    /// Depth of this run minus the comparison run (A − B); needs a run B.
    #[value(skip)]
    Difference,
    /// A merged ensemble's map (`ViewSettings::ensemble_map`): a probability of flooding,
    /// a quantile of the maximum depth or of the arrival time.
    #[value(skip)]
    EnsembleProbability,
    #[value(skip)]
    EnsembleDepth,
    #[value(skip)]
    EnsembleArrival,
    /// The basin's soil losses per cell: curve number, Green–Ampt conductivity or the
    /// continuing loss (the Drainage panel turns it on).
    Soil,
}

impl Layer {
    pub const ALL: [Layer; 5] = [
        Layer::Depth,
        Layer::Speed,
        Layer::Hazard,
        Layer::Arrival,
        Layer::Difference,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Layer::Depth => "Depth",
            Layer::Speed => "Speed",
            Layer::Hazard => "Hazard (ARR H1–H6)",
            Layer::Arrival => "Time of arrival",
            Layer::Difference => "Difference A − B",
            Layer::EnsembleProbability => "Ensemble probability",
            Layer::EnsembleDepth => "Ensemble depth quantile",
            Layer::EnsembleArrival => "Ensemble arrival quantile",
            Layer::Soil => "Soil losses",
        }
    }

    /// One of a merged ensemble's maps.
    pub fn is_ensemble(self) -> bool {
        self.ensemble_kind().is_some()
    }

    /// The kind of merged map an ensemble layer shows.
    pub fn ensemble_kind(self) -> Option<basin::ensemble::MergedKind> {
        use basin::ensemble::MergedKind;
        match self {
            Layer::EnsembleProbability => Some(MergedKind::Probability),
            Layer::EnsembleDepth => Some(MergedKind::Depth),
            Layer::EnsembleArrival => Some(MergedKind::Arrival),
            _ => None,
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Layer::Depth | Layer::Difference | Layer::EnsembleDepth => "m",
            Layer::Speed => "m/s",
            Layer::Hazard => "class",
            Layer::Arrival | Layer::EnsembleArrival => "min",
            Layer::EnsembleProbability => "share of members",
            Layer::Soil => "the loss model's",
        }
    }

    /// The result layer (in `basin::results::RESULT_LAYERS`) this view shows live, whose
    /// legend it draws with; `None` for the comparison of two runs, which is the app's own.
    pub fn result_layer(self) -> Option<&'static ResultLayer> {
        let key = match self {
            Layer::Depth => "final_depth_m",
            Layer::Speed => "max_speed_m_s",
            Layer::Hazard => "hazard_class",
            Layer::Arrival => "first_inundation_s",
            Layer::Difference
            | Layer::EnsembleProbability
            | Layer::EnsembleDepth
            | Layer::EnsembleArrival
            | Layer::Soil => return None,
        };
        result_layer(key)
    }

    /// The legend: the result layer's, a merged ensemble map's (the same as its `.qml`),
    /// or for the difference of two runs blue (lower than B), white (equal) and red
    /// (deeper than B).
    pub fn legend(self) -> Legend {
        const DIFFERENCE: Legend = Legend {
            stops: &[
                [33, 102, 172],
                [146, 197, 222],
                [247, 247, 247],
                [244, 165, 130],
                [178, 24, 43],
            ],
            classes: false,
        };
        if let Some(kind) = self.ensemble_kind() {
            return kind.legend();
        }
        if self == Layer::Soil {
            return basin::results::SOIL_LEGEND;
        }
        self.result_layer().map_or(DIFFERENCE, |l| l.legend)
    }

    pub fn stops(self) -> &'static [[u8; 3]] {
        self.legend().stops
    }

    /// Discrete bands (hazard classes) rather than a continuous ramp.
    pub fn is_classes(self) -> bool {
        self.legend().classes
    }

    /// The colour at `t` in 0..=1 (clamped), as sRGB bytes.
    pub fn colour(self, t: f32) -> [u8; 3] {
        let stops = self.stops();
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        };
        if self.is_classes() {
            let i = ((t * stops.len() as f32) as usize).min(stops.len() - 1);
            return stops[i];
        }
        let x = t * (stops.len() - 1) as f32;
        let i = (x.floor() as usize).min(stops.len() - 2);
        let f = x - i as f32;
        let (a, b) = (stops[i], stops[i + 1]);
        std::array::from_fn(|k| {
            (f32::from(a[k]) + f * (f32::from(b[k]) - f32::from(a[k]))).round() as u8
        })
    }

    /// The 256 × 1 RGBA texture the water shader samples.
    pub fn texture_rgba(self) -> Vec<u8> {
        (0..256)
            .flat_map(|i| {
                let [r, g, b] = self.colour((i as f32 + 0.5) / 256.0);
                [r, g, b, 255]
            })
            .collect()
    }
}

/// The value range a layer is shown over.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Range {
    pub min: f32,
    pub max: f32,
}

impl Range {
    /// Position of `v` in the range, 0..=1.
    pub fn normalise(self, v: f32) -> f32 {
        if self.max > self.min {
            ((v - self.min) / (self.max - self.min)).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

/// A "nice" upper bound for a legend: 1, 2 or 5 × 10ⁿ at or above `v`.
pub fn nice_ceiling(v: f32) -> f32 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let p = 10f32.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * p >= v * 0.999 {
            return m * p;
        }
    }
    10.0 * p
}

/// Terrain colour by elevation (0 = lowest, 1 = highest): greens through tans to grey.
pub fn terrain_colour(t: f32) -> [f32; 3] {
    const STOPS: [[f32; 3]; 5] = [
        [0.32, 0.50, 0.28],
        [0.55, 0.64, 0.36],
        [0.76, 0.70, 0.48],
        [0.62, 0.52, 0.42],
        [0.86, 0.85, 0.84],
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f32;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f32;
    std::array::from_fn(|k| STOPS[i][k] + f * (STOPS[i + 1][k] - STOPS[i][k]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramps_hit_their_end_stops_and_classes_their_bands() {
        for layer in Layer::ALL {
            let stops = layer.stops();
            assert_eq!(layer.colour(0.0), stops[0], "{layer:?}");
            assert_eq!(layer.colour(1.0), stops[stops.len() - 1], "{layer:?}");
            assert_eq!(layer.texture_rgba().len(), 256 * 4);
        }
        // Class k of 6 sits in the k-th sixth of the range.
        for k in 0..6 {
            let t = (k as f32 + 0.5) / 6.0;
            assert_eq!(Layer::Hazard.colour(t), Layer::Hazard.stops()[k]);
        }
    }

    /// Every view but the comparison draws with a layer of the result table.
    #[test]
    fn views_take_their_legends_from_the_result_table() {
        for layer in Layer::ALL {
            match layer.result_layer() {
                Some(r) => assert_eq!(layer.stops(), r.legend.stops, "{layer:?}"),
                None => assert_eq!(layer, Layer::Difference),
            }
        }
        assert!(Layer::Hazard.is_classes() && !Layer::Depth.is_classes());
    }

    /// An ensemble map is drawn in the colours of the `.qml` the merge wrote beside it.
    #[test]
    fn ensemble_layers_take_the_merged_maps_legends() {
        use basin::ensemble::MergedKind;
        for kind in [
            MergedKind::Probability,
            MergedKind::Depth,
            MergedKind::Arrival,
        ] {
            let layer = super::super::ensemble::layer_of(kind);
            assert_eq!(layer.ensemble_kind(), Some(kind));
            assert_eq!(layer.stops(), kind.legend().stops, "{layer:?}");
            assert_eq!(layer.texture_rgba().len(), 256 * 4);
        }
        assert_eq!(
            Layer::EnsembleProbability.stops(),
            basin::results::PROBABILITY_LEGEND.stops
        );
        assert!(Layer::ALL.iter().all(|l| !l.is_ensemble()));
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.37), 0.5);
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(nice_ceiling(1.2), 2.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
    }
}
