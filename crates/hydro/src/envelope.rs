//! Flood envelopes tracked inside the sweep: the maximum depth, speed, depth × speed and
//! hazard class each cell has seen, when it first went under and for how long. Each row is
//! folded in right after the sweep wrote it, while it is still in cache. Each chunk of
//! eight cells keeps the least of its maxima, so that on most steps of a flood a chunk is
//! settled from its state and one small record, without reading its envelopes
//! ([`ChunkBound`]); time under water is counted in spells rather than step by step.
//!
//! Hazard classes are data: the caller passes the class limits (e.g. from a TOML table);
//! this crate only applies them.

use ndarray::{Array2, ArrayView2, s};
use serde::Deserialize;

use crate::kernel::Simd;

/// One class of the Australian hazard curves (ARR 2019, Book 6 ch. 7): a cell is in the
/// first class whose depth, speed and depth × speed limits it meets.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrClass {
    pub class: u8,
    pub max_depth_m: f64,
    pub max_speed_m_s: f64,
    pub max_depth_speed_m2_s: f64,
}

/// UK hazard rating (Defra/EA FD2320): HR = d (v + 0.5) + DF with a debris factor DF by
/// depth band; classes by HR.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UkRating {
    /// (depth up to, debris factor) bands in increasing depth.
    pub debris_factor: Vec<(f64, f64)>,
    /// Upper HR limit of classes 1, 2, 3; above the last, the next class.
    pub class_limits: Vec<f64>,
}

impl UkRating {
    /// Class of a flooded cell (1 …).
    pub fn class(&self, depth_m: f64, speed_m_s: f64) -> u8 {
        let df = self
            .debris_factor
            .iter()
            .find(|(d, _)| depth_m <= *d)
            .map_or(self.debris_factor.last().map_or(0.0, |b| b.1), |b| b.1);
        let hr = depth_m * (speed_m_s + 0.5) + df;
        self.class_limits
            .iter()
            .position(|&l| hr < l)
            .map_or(self.class_limits.len() + 1, |i| i + 1) as u8
    }
}

/// Class of a flooded cell (1 …) under the ARR limits; beyond the last class, one more.
pub fn arr_class(classes: &[ArrClass], depth_m: f64, speed_m_s: f64) -> u8 {
    let dv = depth_m * speed_m_s;
    classes
        .iter()
        .find(|c| {
            depth_m <= c.max_depth_m && speed_m_s <= c.max_speed_m_s && dv <= c.max_depth_speed_m2_s
        })
        .map_or(classes.len() as u8 + 1, |c| c.class)
}

/// How a flooded cell gets its hazard class.
#[derive(Clone, Debug, PartialEq)]
pub enum HazardRule {
    Arr(Vec<ArrClass>),
    Uk(UkRating),
}

impl HazardRule {
    /// Class of a cell known to be flooded (deeper than the wet depth).
    #[inline]
    pub fn class(&self, depth_m: f64, speed_m_s: f64) -> u8 {
        match self {
            HazardRule::Arr(classes) => arr_class(classes, depth_m, speed_m_s),
            HazardRule::Uk(rating) => rating.class(depth_m, speed_m_s),
        }
    }
}

/// What envelopes to track: the depth above which a cell counts as flooded (for the
/// hazard, the first inundation and the duration) and the hazard rule.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvelopeSpec {
    pub wet_depth_m: f64,
    pub hazard: HazardRule,
}

/// The envelopes, padded like the solver's arrays.
///
/// The maxima and the first inundation time are kept in f32, the precision result
/// rasters are written in: rounding is monotonic, so the maximum of the rounded values is
/// the rounded maximum. The duration is a sum of time steps and stays f64.
#[derive(Clone, Debug)]
pub(crate) struct EnvelopeState {
    pub spec: EnvelopeSpec,
    pub max_depth_m: Array2<f32>,
    pub max_speed_m_s: Array2<f32>,
    pub max_depth_speed_m2_s: Array2<f32>,
    pub max_hazard: Array2<f32>,
    /// NaN until the cell first exceeds the wet depth.
    pub first_inundation_s: Array2<f32>,
    /// Time under water in spells that have ended; a spell still going on is in the
    /// chunk's bound (see [`ChunkBound`]). Cells outside the bounds (point-source cells,
    /// hazard rules that are not nested) have every step added as it ends.
    pub duration_inundated_s: Array2<f64>,
    /// A [`ChunkBound`] for each [`LANES`] cells of a row (padded rows, `⌈cols / LANES⌉`
    /// chunks from the first inner column).
    pub bounds: Array2<ChunkBound>,
    /// The limits the bounds are made with, for the run's dry depth; `None` before
    /// [`EnvelopeState::rebuild_bounds`] and for a rule without bounds.
    pub table: Option<LimitTable>,
}

impl EnvelopeState {
    pub fn new(spec: EnvelopeSpec, padded_dim: (usize, usize)) -> Self {
        let chunks = padded_dim.1.saturating_sub(2).div_ceil(LANES);
        Self {
            bounds: Array2::from_elem((padded_dim.0, chunks), ChunkBound::NONE),
            table: None,
            spec,
            max_depth_m: Array2::zeros(padded_dim),
            max_speed_m_s: Array2::zeros(padded_dim),
            max_depth_speed_m2_s: Array2::zeros(padded_dim),
            max_hazard: Array2::zeros(padded_dim),
            first_inundation_s: Array2::from_elem(padded_dim, f32::NAN),
            duration_inundated_s: Array2::zeros(padded_dim),
        }
    }

    /// Work every chunk's bound out again from the envelopes, after they were written
    /// other than by the sweep (the first fold, a restore), with the spells of
    /// `spells`. Bounds are kept for nested hazard classes only
    /// ([`HazardRule::bounded`]); otherwise every chunk has none and no spell.
    pub fn rebuild_bounds(&mut self, active: &Array2<u8>, dry_depth_m: f64, spells: Spells<'_>) {
        let bounded = self.spec.hazard.bounded();
        let wet = self.spec.wet_depth_m;
        let table = self.spec.hazard.limit_table(wet.max(dry_depth_m));
        let (rows, cols) = (
            active.nrows().saturating_sub(2),
            active.ncols().saturating_sub(2),
        );
        // A saved spell that no chunk keeps here (a rule without bounds, a cell that is not
        // an ordinary one) ends at the state's time, in the cell's duration.
        if let Spells::Saved { since, t_s } = spells {
            for ((r, c), &t) in since.indexed_iter() {
                let kept = bounded && active[(r + 1, c + 1)] == 1;
                if !t.is_nan() && !kept {
                    self.duration_inundated_s[(r + 1, c + 1)] += t_s - t;
                }
            }
        }
        for ((r, j), b) in self.bounds.indexed_iter_mut() {
            // The ghost rows are never folded.
            if !bounded || r == 0 || r > rows {
                *b = ChunkBound::NONE;
                continue;
            }
            let (c0, c1) = (1 + j * LANES, (1 + (j + 1) * LANES).min(cols + 1));
            // The chunk's lanes; those past the row's end stay `empty`.
            let lanes = |a: &Array2<f32>, empty: f32| {
                let mut x = [empty; LANES];
                for (x, &v) in x.iter_mut().zip(a.slice(s![r, c0..c1])) {
                    *x = v;
                }
                x
            };
            let mut a = [0u8; LANES];
            for (x, &v) in a.iter_mut().zip(active.slice(s![r, c0..c1])) {
                *x = v;
            }
            *b = ChunkBound::of(
                &table,
                &a,
                &lanes(&self.max_depth_m, 0.0),
                &lanes(&self.max_speed_m_s, 0.0),
                &lanes(&self.max_depth_speed_m2_s, 0.0),
                &lanes(&self.max_hazard, 0.0),
                &lanes(&self.first_inundation_s, f32::NAN),
            );
            for (l, c) in (c0..c1).enumerate() {
                let since = match spells {
                    Spells::Now { h, t_s } => {
                        let d = h[(r, c)];
                        ((a[l] == 1) & (d > dry_depth_m) & (d > wet)).then_some(t_s)
                    }
                    Spells::Saved { since, .. } => (a[l] == 1)
                        .then(|| since.get((r - 1, c - 1)).copied())
                        .flatten()
                        .filter(|t| !t.is_nan()),
                };
                if let Some(t) = since {
                    b.spell |= 1 << l;
                    b.since_s = t;
                }
            }
        }
        self.table = bounded.then_some(table);
    }

    /// The first cell (padded row, column) of every chunk with a spell under water going
    /// on: its tile must be swept until a fold sees the spell end, even where the state
    /// set since shows no water there (the spell then ends at that fold's step).
    pub fn chunks_in_spell(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.bounds
            .indexed_iter()
            .filter(|(_, b)| b.spell != 0)
            .map(|((r, j), _)| (r, 1 + j * LANES))
    }

    /// When each cell's spell under water began (NaN: not in one), `rows × cols`.
    pub fn spells_since(&self) -> Array2<f64> {
        let (rows, cols) = self.max_depth_m.dim();
        let mut since = Array2::from_elem((rows - 2, cols - 2), f64::NAN);
        for ((r, j), b) in self.bounds.indexed_iter() {
            for l in 0..LANES {
                let c = j * LANES + l;
                if b.in_spell(l) && (1..rows - 1).contains(&r) && c < cols - 2 {
                    since[(r - 1, c)] = b.since_s;
                }
            }
        }
        since
    }

    /// The envelopes at `t_s`, the time of the last fold.
    pub fn view(&self, t_s: f64) -> Envelopes<'_> {
        Envelopes {
            max_depth_m: inner(&self.max_depth_m),
            max_speed_m_s: inner(&self.max_speed_m_s),
            max_depth_speed_m2_s: inner(&self.max_depth_speed_m2_s),
            max_hazard: inner(&self.max_hazard),
            first_inundation_s: inner(&self.first_inundation_s),
            duration_inundated_s: Durations {
                ended: inner(&self.duration_inundated_s),
                bounds: self.bounds.view(),
                t_s,
            },
        }
    }
}

/// Where the spells under water of a [`EnvelopeState::rebuild_bounds`] come from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Spells<'a> {
    /// The cells under in `h` (padded) start one at `t_s`.
    Now { h: &'a Array2<f64>, t_s: f64 },
    /// As saved ([`EnvelopeState::spells_since`]) in a state at `t_s`.
    Saved {
        since: ArrayView2<'a, f64>,
        t_s: f64,
    },
}

/// The cells of a padded array without its ghost ring.
fn inner<T>(a: &Array2<T>) -> ArrayView2<'_, T> {
    let (r, c) = a.dim();
    a.slice(s![1..r - 1, 1..c - 1])
}

/// The envelopes of a run so far, `rows × cols`.
#[derive(Clone, Copy, Debug)]
pub struct Envelopes<'a> {
    pub max_depth_m: ArrayView2<'a, f32>,
    pub max_speed_m_s: ArrayView2<'a, f32>,
    pub max_depth_speed_m2_s: ArrayView2<'a, f32>,
    /// Highest hazard class (0: never flooded).
    pub max_hazard: ArrayView2<'a, f32>,
    /// Time the depth first exceeded the wet depth (s); NaN if never.
    pub first_inundation_s: ArrayView2<'a, f32>,
    /// Time spent under water so far (s).
    pub duration_inundated_s: Durations<'a>,
}

/// The time each cell has spent under water so far (s), `rows × cols`: worked out when
/// read, from the spells that have ended and those still going on, so that reading it
/// takes no grid of its own (a writer reads it a row at a time).
#[derive(Clone, Copy, Debug)]
pub struct Durations<'a> {
    /// Spells that have ended (inner cells).
    ended: ArrayView2<'a, f64>,
    /// Chunk bounds, padded rows: the spells still going on.
    bounds: ArrayView2<'a, ChunkBound>,
    /// The time of the last fold.
    t_s: f64,
}

impl Durations<'_> {
    /// `(rows, cols)`.
    pub fn dim(&self) -> (usize, usize) {
        self.ended.dim()
    }

    /// Row `r` into `out` (`cols` long).
    pub fn row_into(&self, r: usize, out: &mut [f64]) {
        let ended = self.ended.row(r);
        assert_eq!(out.len(), ended.len(), "one value per column");
        for (o, &d) in out.iter_mut().zip(ended) {
            *o = d;
        }
        for (j, b) in self.bounds.row(r + 1).iter().enumerate() {
            if b.spell != 0 {
                for l in 0..LANES {
                    let c = j * LANES + l;
                    if b.in_spell(l) && c < out.len() {
                        out[c] += self.t_s - b.since_s;
                    }
                }
            }
        }
    }

    /// Cell `(r, c)`.
    pub fn get(&self, (r, c): (usize, usize)) -> f64 {
        let b = &self.bounds[(r + 1, c / LANES)];
        let open = if b.in_spell(c % LANES) {
            self.t_s - b.since_s
        } else {
            0.0
        };
        self.ended[(r, c)] + open
    }

    /// All of it as a new array.
    pub fn to_owned(&self) -> Array2<f64> {
        let mut out = Array2::zeros(self.dim());
        for (r, mut row) in out.rows_mut().into_iter().enumerate() {
            self.row_into(r, row.as_slice_mut().expect("a new array is contiguous"));
        }
        out
    }
}

/// The envelope rows of one row segment, and the numbers of the step that ended.
pub(crate) struct EnvelopeRow<'a> {
    pub max_depth_m: &'a mut [f32],
    pub max_speed_m_s: &'a mut [f32],
    pub max_depth_speed_m2_s: &'a mut [f32],
    pub max_hazard: &'a mut [f32],
    pub first_inundation_s: &'a mut [f32],
    pub duration_inundated_s: &'a mut [f64],
    /// The bounds of the row's chunks, when the row starts at a chunk's first cell and
    /// ends at a chunk's last cell or the grid's last column (the sweep's rows do); `None`
    /// folds every chunk in full and leaves the bounds alone, for cells outside the
    /// bounds (point-source cells) or before [`EnvelopeState::rebuild_bounds`].
    pub bounds: Option<RowBounds<'a>>,
}

/// The bounds of a row's chunks, with the limits they are made with
/// ([`EnvelopeState::table`]).
#[derive(Debug)]
pub(crate) struct RowBounds<'a> {
    pub table: &'a LimitTable,
    pub chunks: &'a mut [ChunkBound],
}

/// The limits of a chunk of [`LANES`] cells, from the least envelope values over its
/// tracked cells (flag 1) and the least hazard class of those ever flooded, and which of
/// its cells have ever been flooded: a step in which no tracked cell passes the least
/// maxima, every flooded cell meets the least hazard class and no cell goes under for the
/// first time changes nothing but the durations, so the chunk's envelope arrays need not
/// be read. A cell whose flag is not 1 is left out (flags only turn from 1 to 2, when a
/// point source is added, which leaves the least maxima a lower bound). The record may be
/// older than the envelopes (lower maxima and class, fewer cells ever flooded): a chunk
/// whose maxima grow keeps it until a fold changes nothing (see [`track_row_body`]), and
/// an older record only makes the test stricter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ChunkBound {
    /// The chunk's [`LimitTable`] limits, `[depth of a cell ever flooded, depth of one
    /// never flooded, speed, depth × speed]`, each as an f32 `s` with s (1 + 2⁻²⁵) at most
    /// the limit (see [`ChunkBound::limits`]): worked out when the record is, so that the
    /// test of a step takes one conversion of them.
    limits: [f32; 4],
    /// Bit l: cell l has been flooded (its first inundation time is set).
    ever: u8,
    /// Bit l: cell l is in a spell under water that began at `since_s` and is not yet
    /// in its duration (the time of each step is not added cell by cell: a spell's
    /// length is added when it ends, or when another cell of the chunk goes under or
    /// comes out, which starts a new spell for the cells still under).
    spell: u8,
    since_s: f64,
}

// The record's size is part of a run's memory per cell (4 B; see the crate's README).
const _: () = assert!(std::mem::size_of::<ChunkBound>() == 32);

impl ChunkBound {
    /// The bound of a chunk whose cells have seen nothing yet.
    pub const NONE: ChunkBound = ChunkBound {
        limits: [0.0; 4],
        ever: 0,
        spell: 0,
        since_s: 0.0,
    };

    /// The least maxima and the cells ever flooded of a chunk, keeping its spell.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn refresh(
        &mut self,
        table: &LimitTable,
        a: &[u8; LANES],
        md: &[f32; LANES],
        ms: &[f32; LANES],
        mdv: &[f32; LANES],
        mh: &[f32; LANES],
        fi: &[f32; LANES],
    ) {
        let (spell, since_s) = (self.spell, self.since_s);
        *self = ChunkBound {
            spell,
            since_s,
            ..ChunkBound::of(table, a, md, ms, mdv, mh, fi)
        };
    }

    /// The chunk's limits as [`ChunkBound::quiet`] takes them: `[seen_depth, never_depth,
    /// speed, q²]`, each kept limit s as s (1 + 2⁻²⁵) (exact), the last one squared.
    #[inline(always)]
    fn limits(&self) -> [f64; 4] {
        let x = self.limits.map(|s| f64::from(s) * F32_ROUNDS_DOWN);
        [x[0], x[1], x[2], x[3] * x[3]]
    }

    /// Whether cell `l` is in the chunk's spell.
    #[inline(always)]
    pub fn in_spell(&self, l: usize) -> bool {
        (self.spell >> l) & 1 == 1
    }

    /// End the chunk's spell if the cells under are no longer those in it (`flooded`,
    /// flag-1 cells only): its length up to `t_s` goes into the durations of its cells,
    /// and a new spell starts at `t_s` for the cells under now.
    #[inline(always)]
    fn follow_spell(&mut self, now: u8, t_s: f64, du: &mut [f64; LANES]) {
        if now != self.spell {
            let length = t_s - self.since_s;
            for (l, d) in du.iter_mut().enumerate() {
                *d += pick(self.in_spell(l), length, 0.0);
            }
            self.spell = now;
            self.since_s = t_s;
        }
    }

    /// The record of a chunk with these envelopes, its spell not yet known.
    #[inline(always)]
    fn of(
        table: &LimitTable,
        a: &[u8; LANES],
        md: &[f32; LANES],
        ms: &[f32; LANES],
        mdv: &[f32; LANES],
        mh: &[f32; LANES],
        fi: &[f32; LANES],
    ) -> ChunkBound {
        let least = |x: &[f32; LANES]| {
            lowest_lane(std::array::from_fn(|l| {
                pick(a[l] == 1, x[l], f32::INFINITY)
            }))
        };
        let ever = (0..LANES).fold(0u8, |m, l| m | (u8::from(!fi[l].is_nan()) << l));
        // The least class of the cells ever flooded: a cell never flooded has no class,
        // and a quiet step keeps it from being flooded.
        let least_class = lowest_lane(std::array::from_fn(|l| {
            pick((a[l] == 1) & !fi[l].is_nan(), mh[l], f32::INFINITY)
        }));
        ChunkBound {
            // Classes are small whole numbers; no flooded tracked cell: any class will do.
            limits: table.limits(
                [least(md), least(ms), least(mdv)],
                least_class.min(255.0) as u8,
            ),
            ever,
            spell: 0,
            since_s: 0.0,
        }
    }

    /// Whether folding a chunk's state changes nothing but the durations (see
    /// [`ChunkBound`]), for nested hazard classes; and which cells are flooded (deeper
    /// than `flood_depth`, flag 1), as bits. Each lane is tested against the chunk's
    /// [`ChunkBound::limits`] in a few vector operations. Discharges are compared squared
    /// with a relative margin of 4e-12, far above the few roundings of q = √q² and
    /// v = q / d in [`track_chunk`], and strictly, as the fold does, so that a margin lost
    /// in a subnormal square or an infinite discharge is not quiet; a lane at rest
    /// (q² = 0) passes them. A quiet lane could not have raised a maximum there. A NaN
    /// fails every comparison: a NaN state is never quiet.
    #[inline(always)]
    fn quiet(
        &self,
        flood_depth: f64,
        a: &[u8; LANES],
        d: &[f64; LANES],
        x: &[f64; LANES],
        y: &[f64; LANES],
    ) -> (bool, u8) {
        let [seen_depth, never_depth, speed, q_limit] = self.limits();
        let mut ok = 0u8;
        let mut flooded = 0u8;
        for l in 0..LANES {
            let tracked = a[l] == 1;
            let seen = (self.ever >> l) & 1 == 1;
            let depth = pick(seen, seen_depth, never_depth);
            let vd = speed * d[l];
            let q2 = (x[l] * x[l] + y[l] * y[l]) * QUIET_MARGIN;
            let slow = (q2 == 0.0) | ((q2 < vd * vd) & (q2 < q_limit));
            let lane = !tracked | ((d[l] <= depth) & slow);
            ok |= u8::from(lane) << l;
            flooded |= u8::from(tracked & (d[l] > flood_depth)) << l;
        }
        (ok == u8::MAX, flooded)
    }

    /// [`ChunkBound::quiet`] with the chunk's own [`ChunkBound::limits`], in AVX2: the
    /// limits converted in one vector, and the lanes two vectors of four, with the same
    /// comparisons of the same roundings (no fused multiply-add), so the same answer
    /// (tested). In a chunk whose cells have all been flooded, or none, every lane has
    /// the same depth limit.
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn quiet_avx2(
        &self,
        flood_depth: f64,
        a: &[u8; LANES],
        d: &[f64; LANES],
        x: &[f64; LANES],
        y: &[f64; LANES],
    ) -> (bool, u8) {
        use std::arch::x86_64::*;
        // SAFETY: the loads read the eight lanes of the arrays given, unaligned.
        unsafe {
            let tracked = tracked_bits(a);
            // As `ChunkBound::limits`: s (1 + 2⁻²⁵), exact, and the last one squared.
            let limits = _mm256_mul_pd(
                _mm256_cvtps_pd(_mm_loadu_ps(self.limits.as_ptr())),
                _mm256_set1_pd(F32_ROUNDS_DOWN),
            );
            let seen_depth = _mm256_permute4x64_pd::<0x00>(limits);
            let never_depth = _mm256_permute4x64_pd::<0x55>(limits);
            let speed = _mm256_permute4x64_pd::<0xaa>(limits);
            let q_limit = _mm256_permute4x64_pd::<0xff>(limits);
            let q_limit = _mm256_mul_pd(q_limit, q_limit);
            let depths = match self.ever {
                u8::MAX => [seen_depth; 2],
                0 => [never_depth; 2],
                ever => {
                    let ever = _mm256_set1_epi64x(i64::from(ever));
                    std::array::from_fn(|half| {
                        let o = 4 * half;
                        let bits = _mm256_setr_epi64x(1 << o, 2 << o, 4 << o, 8 << o);
                        let seen = _mm256_cmpeq_epi64(_mm256_and_si256(ever, bits), bits);
                        _mm256_blendv_pd(never_depth, seen_depth, _mm256_castsi256_pd(seen))
                    })
                }
            };
            let (margin, flood_depth) = (_mm256_set1_pd(QUIET_MARGIN), _mm256_set1_pd(flood_depth));
            let mut ok = 0u8;
            let mut deep = 0u8;
            for (half, depth) in depths.into_iter().enumerate() {
                let o = 4 * half;
                let d = _mm256_loadu_pd(d.as_ptr().add(o));
                let x = _mm256_loadu_pd(x.as_ptr().add(o));
                let y = _mm256_loadu_pd(y.as_ptr().add(o));
                let vd = _mm256_mul_pd(speed, d);
                let q2 = _mm256_mul_pd(
                    _mm256_add_pd(_mm256_mul_pd(x, x), _mm256_mul_pd(y, y)),
                    margin,
                );
                let slow = _mm256_or_pd(
                    _mm256_cmp_pd::<_CMP_EQ_OQ>(q2, _mm256_setzero_pd()),
                    _mm256_and_pd(
                        _mm256_cmp_pd::<_CMP_LT_OQ>(q2, _mm256_mul_pd(vd, vd)),
                        _mm256_cmp_pd::<_CMP_LT_OQ>(q2, q_limit),
                    ),
                );
                let lane = _mm256_and_pd(_mm256_cmp_pd::<_CMP_LE_OQ>(d, depth), slow);
                ok |= (_mm256_movemask_pd(lane) as u8) << o;
                deep |=
                    (_mm256_movemask_pd(_mm256_cmp_pd::<_CMP_GT_OQ>(d, flood_depth)) as u8) << o;
            }
            ((ok | !tracked) == u8::MAX, deep & tracked)
        }
    }

    /// [`ChunkBound::quiet_avx2`] in AVX-512: the eight lanes one vector, their answers
    /// mask registers, and a lane's depth limit picked by the record's `ever` bits as a
    /// mask. The same comparisons of the same roundings (no fused multiply-add), so the
    /// same answer (tested).
    ///
    /// # Safety
    /// The CPU has AVX-512 F, DQ and VL, and AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2")]
    #[inline]
    unsafe fn quiet_avx512(
        &self,
        flood_depth: f64,
        a: &[u8; LANES],
        d: &[f64; LANES],
        x: &[f64; LANES],
        y: &[f64; LANES],
    ) -> (bool, u8) {
        use std::arch::x86_64::*;
        // SAFETY: the loads read the eight lanes of the arrays given, unaligned.
        unsafe {
            let tracked = tracked_bits(a);
            // As `ChunkBound::limits`: s (1 + 2⁻²⁵), exact, and the last one squared.
            let limits = _mm512_castpd256_pd512(_mm256_mul_pd(
                _mm256_cvtps_pd(_mm_loadu_ps(self.limits.as_ptr())),
                _mm256_set1_pd(F32_ROUNDS_DOWN),
            ));
            let every = |i: i64| _mm512_permutexvar_pd(_mm512_set1_epi64(i), limits);
            let (seen_depth, never_depth, speed, q_limit) =
                (every(0), every(1), every(2), every(3));
            let q_limit = _mm512_mul_pd(q_limit, q_limit);
            let depth = _mm512_mask_blend_pd(self.ever, never_depth, seen_depth);
            let d = _mm512_loadu_pd(d.as_ptr());
            let x = _mm512_loadu_pd(x.as_ptr());
            let y = _mm512_loadu_pd(y.as_ptr());
            let vd = _mm512_mul_pd(speed, d);
            let q2 = _mm512_mul_pd(
                _mm512_add_pd(_mm512_mul_pd(x, x), _mm512_mul_pd(y, y)),
                _mm512_set1_pd(QUIET_MARGIN),
            );
            let slow = _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(q2, _mm512_setzero_pd())
                | (_mm512_cmp_pd_mask::<_CMP_LT_OQ>(q2, _mm512_mul_pd(vd, vd))
                    & _mm512_cmp_pd_mask::<_CMP_LT_OQ>(q2, q_limit));
            let ok = _mm512_cmp_pd_mask::<_CMP_LE_OQ>(d, depth) & slow;
            let deep = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(d, _mm512_set1_pd(flood_depth));
            ((ok | !tracked) == u8::MAX, deep & tracked)
        }
    }
}

/// The limits a chunk's cells are tested against in [`ChunkBound::quiet`], by the
/// chunk's least hazard class: worked out once per run for every class, so that a chunk's
/// limits take a table entry and four minima when its record is made.
///
/// A chunk's limits are the depth limit of a cell ever flooded and of one never flooded,
/// the speed limit and the limit of the squared discharge. For a cell ever flooded the
/// depth limit is its least maximum, and when the cell is flooded the least class's depth;
/// for a cell never flooded, also `flood_depth` (the larger of the dry and the wet
/// depth), so that it does not go under for the first time. The speed and discharge
/// limits are the least maxima and the least class's limits. A limit that holds for the
/// least of the chunk holds for every cell; the class limits are applied to cells not
/// flooded too, which only makes the test stricter.
#[derive(Clone, Debug)]
pub(crate) struct LimitTable {
    /// By least class (0 …; the last entry for every class past the last): what the
    /// least maxima are lowered to, [depth of a cell ever flooded, depth of one never
    /// flooded, speed, depth × speed], as [`ChunkBound::limits`] keeps them (each an f32
    /// `s` with s (1 + 2⁻²⁵) at most the limit).
    entries: [[f32; 4]; MAX_BOUNDED_CLASSES + 2],
}

impl LimitTable {
    /// The table for nested classes' `[depth, speed, depth × speed]` limits.
    fn new(classes: &[[f64; 3]], flood_depth: f64) -> LimitTable {
        // A flooded cell is deeper than `flood_depth`, so `d ≤ max(flood_depth, cd)` asks
        // a flooded cell to meet the class's depth and lets an unflooded one through.
        let entry = |[cd, cv, cdv]: [f64; 3]| {
            [
                if flood_depth > cd { flood_depth } else { cd },
                flood_depth,
                cv,
                cdv,
            ]
            .map(f32_under)
        };
        // Class 0 (a flooded cell never classified) lets no flooded cell through: its
        // depth limit is −∞ and the speeds are left to the maxima. A class past the last
        // passes them all.
        let mut entries = [entry([f64::INFINITY; 3]); MAX_BOUNDED_CLASSES + 2];
        entries[0] = entry([f64::NEG_INFINITY, f64::INFINITY, f64::INFINITY]);
        for (e, &c) in entries[1..].iter_mut().zip(classes) {
            *e = entry(c);
        }
        LimitTable { entries }
    }

    /// The limits of a chunk with least maxima `[depth, speed, depth × speed]` and least
    /// class `class`, as [`ChunkBound::limits`] keeps them. A least maximum m is kept as it
    /// is: every f64 below m (1 + 2⁻²⁵) rounds to m or below, so leaves it as it is.
    fn limits(&self, [md, ms, mdv]: [f32; 3], class: u8) -> [f32; 4] {
        let t = &self.entries[usize::from(class).min(MAX_BOUNDED_CLASSES + 1)];
        let least = [md, md, ms, mdv];
        std::array::from_fn(|i| if least[i] < t[i] { least[i] } else { t[i] })
    }
}

/// The largest f32 `s` with s (1 + 2⁻²⁵) ≤ `limit` (exact in f64: 24 bits times 26), so
/// that a test against the f64 s (1 + 2⁻²⁵) is never looser than one against `limit`.
fn f32_under(limit: f64) -> f32 {
    let mut s = (limit / F32_ROUNDS_DOWN) as f32;
    while f64::from(s) * F32_ROUNDS_DOWN > limit {
        s = s.next_down();
    }
    s
}

/// Every f64 below m (1 + 2⁻²⁵), for an f32 m ≥ 0, rounds to m or below: the halfway point
/// to the next f32 lies at least that far above m (and further for a subnormal m).
const F32_ROUNDS_DOWN: f64 = 1.0 + 1.0 / (1u64 << 25) as f64;

/// The relative margin of [`ChunkBound::quiet`]'s squared discharges.
const QUIET_MARGIN: f64 = 1.0 + 4e-12;

#[inline(always)]
fn pick<T>(cond: bool, a: T, b: T) -> T {
    if cond { a } else { b }
}

impl HazardRule {
    /// Whether the ARR classes are numbered 1, 2, … and nested (each limit at least the
    /// one before): a cell then meets every class from its own up, and its class is one
    /// more than the number of classes minus the number it meets, counted branch-free
    /// without picking ([`HazardRule::class_lanes_nested`]).
    fn nested(&self) -> bool {
        match self {
            HazardRule::Arr(classes) => {
                classes
                    .iter()
                    .enumerate()
                    .all(|(i, c)| usize::from(c.class) == i + 1)
                    && classes.windows(2).all(|w| {
                        w[0].max_depth_m <= w[1].max_depth_m
                            && w[0].max_speed_m_s <= w[1].max_speed_m_s
                            && w[0].max_depth_speed_m2_s <= w[1].max_depth_speed_m2_s
                    })
            }
            HazardRule::Uk(_) => false,
        }
    }

    /// Whether the fold keeps chunk bounds for this rule (see [`ChunkBound`]): nested
    /// classes, at most [`MAX_BOUNDED_CLASSES`] of them.
    fn bounded(&self) -> bool {
        self.nested()
            && matches!(self, HazardRule::Arr(classes) if classes.len() <= MAX_BOUNDED_CLASSES)
    }

    /// [`HazardRule::class_lanes`] for nested ARR classes, from the depth and the squared
    /// unit discharge q² = |q|² (no square root, no division): a cell meets a class when
    /// d ≤ D, q² ≤ (V·d)² and q² ≤ (DV)², i.e. v ≤ V and d·v ≤ DV up to rounding (a cell
    /// within a few ulps of a limit may fall on its other side than by the speed). The
    /// class is N + 1 − (classes met), counted in f64 lanes.
    #[inline(always)]
    fn class_lanes_nested(&self, d: &[f64; LANES], q2: &[f64; LANES]) -> [f32; LANES] {
        let HazardRule::Arr(classes) = self else {
            unreachable!("only nested ARR classes come here");
        };
        #[inline(always)]
        fn lower(a: f64, b: f64) -> f64 {
            if a < b { a } else { b }
        }
        let mut count = [classes.len() as f64 + 1.0; LANES];
        for c in classes {
            let dv2 = c.max_depth_speed_m2_s * c.max_depth_speed_m2_s;
            for l in 0..LANES {
                let vd = c.max_speed_m_s * d[l];
                let margin = lower(lower(c.max_depth_m - d[l], vd * vd - q2[l]), dv2 - q2[l]);
                count[l] -= pick(margin >= 0.0, 1.0, 0.0);
            }
        }
        count.map(|c| c as f32)
    }

    /// The [`LimitTable`] of a bounded rule for cells flooded deeper than `flood_depth`.
    fn limit_table(&self, flood_depth: f64) -> LimitTable {
        let mut limits = [[0.0; 3]; MAX_BOUNDED_CLASSES];
        let n = match self {
            HazardRule::Arr(classes) => {
                for (l, c) in limits.iter_mut().zip(classes) {
                    *l = [c.max_depth_m, c.max_speed_m_s, c.max_depth_speed_m2_s];
                }
                classes.len().min(MAX_BOUNDED_CLASSES)
            }
            HazardRule::Uk(_) => 0,
        };
        LimitTable::new(&limits[..n], flood_depth)
    }

    /// For nested ARR classes: whether every lane in `lanes` meets the limits of class
    /// `class` (1 …; beyond the last class, every cell does; 0, never classified: none).
    #[inline(always)]
    fn all_meet(
        &self,
        class: f32,
        d: &[f64; LANES],
        q2: &[f64; LANES],
        lanes: &[bool; LANES],
    ) -> bool {
        let HazardRule::Arr(classes) = self else {
            return false;
        };
        if class < 1.0 {
            return false;
        }
        let Some(c) = classes.get(class as usize - 1) else {
            return true;
        };
        let dv2 = c.max_depth_speed_m2_s * c.max_depth_speed_m2_s;
        // Lane-wise, then all at once (an array compare, not a chain of `&`).
        let ok: [bool; LANES] = std::array::from_fn(|l| {
            let vd = c.max_speed_m_s * d[l];
            ((d[l] <= c.max_depth_m) & (q2[l] <= vd * vd) & (q2[l] <= dv2)) | !lanes[l]
        });
        ok == [true; LANES]
    }

    /// Classes of [`LANES`] cells, held in registers while every limit is applied in a
    /// branch-free pass over the lanes; the last pass is for the first class.
    #[inline(always)]
    fn class_lanes(&self, d: &[f64; LANES], v: &[f64; LANES]) -> [f32; LANES] {
        match self {
            HazardRule::Arr(classes) => {
                let mut out = [f32::from(classes.len() as u8 + 1); LANES];
                for c in classes.iter().rev() {
                    let k = f32::from(c.class);
                    for l in 0..LANES {
                        // `&`, not `&&`: no branches.
                        let ok = (d[l] <= c.max_depth_m)
                            & (v[l] <= c.max_speed_m_s)
                            & (d[l] * v[l] <= c.max_depth_speed_m2_s);
                        out[l] = pick(ok, k, out[l]);
                    }
                }
                out
            }
            HazardRule::Uk(rating) => {
                let mut df = [rating.debris_factor.last().map_or(0.0, |b| b.1); LANES];
                for &(up_to, f) in rating.debris_factor.iter().rev() {
                    for l in 0..LANES {
                        df[l] = pick(d[l] <= up_to, f, df[l]);
                    }
                }
                let mut out = [f32::from(rating.class_limits.len() as u8 + 1); LANES];
                for (k, &limit) in rating.class_limits.iter().enumerate().rev() {
                    let k = f32::from(k as u8 + 1);
                    for l in 0..LANES {
                        let hr = d[l] * (v[l] + 0.5) + df[l];
                        out[l] = pick(hr < limit, k, out[l]);
                    }
                }
                out
            }
        }
    }
}

/// Fold the state of some cells at the end of a step (ending at `t_s`, lasting `dt_s`)
/// into their envelopes. Only cells whose `active` flag is 1 are folded: inactive cells
/// never change, and cells with a point source (flag 2) are folded after the sources.
#[allow(clippy::too_many_arguments)]
pub(crate) fn track_row(
    simd: Simd,
    spec: &EnvelopeSpec,
    dry_depth_m: f64,
    t_s: f64,
    dt_s: f64,
    active: &[u8],
    h: &[f64],
    qx: &[f64],
    qy: &[f64],
    env: EnvelopeRow<'_>,
) {
    let n = h.len();
    // Every row a separate slice argument of a function that is not inlined: the
    // compiler then knows that none of them overlap, and vectorises the passes.
    let a = (
        spec,
        [dry_depth_m, t_s, dt_s],
        &active[..n],
        h,
        &qx[..n],
        &qy[..n],
    );
    let (md, ms, mdv, mh, first, duration) = (
        &mut env.max_depth_m[..n],
        &mut env.max_speed_m_s[..n],
        &mut env.max_depth_speed_m2_s[..n],
        &mut env.max_hazard[..n],
        &mut env.first_inundation_s[..n],
        &mut env.duration_inundated_s[..n],
    );
    let mut none: [ChunkBound; 0] = [];
    let (table, bounds) = match env.bounds {
        Some(RowBounds { table, chunks }) => {
            assert_eq!(
                chunks.len(),
                n.div_ceil(LANES),
                "one bound per chunk of the row"
            );
            (Some(table), chunks)
        }
        None => (None, &mut none[..]),
    };
    match simd {
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => {
            // SAFETY: `Simd::detect` chose this only where the CPU has AVX2 and FMA.
            unsafe {
                track_row_avx2(
                    a.0, a.1, a.2, a.3, a.4, a.5, md, ms, mdv, mh, first, duration, table, bounds,
                )
            }
        }
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => {
            // SAFETY: `Simd::detect` chose this only where the CPU has AVX-512 F, DQ and
            // VL, AVX2 and FMA.
            unsafe {
                track_row_avx512(
                    a.0, a.1, a.2, a.3, a.4, a.5, md, ms, mdv, mh, first, duration, table, bounds,
                )
            }
        }
        _ => track_row_generic(
            a.0, a.1, a.2, a.3, a.4, a.5, md, ms, mdv, mh, first, duration, table, bounds,
        ),
    }
}

/// A copy of [`track_row_body`] for one [`Isa`], as `track_row` calls it: each row a
/// separate slice argument of a function that is not inlined (see `track_row`).
macro_rules! track_row_copy {
    ($(#[$attr:meta])* $name:ident, $isa:expr) => {
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        #[inline(never)]
        fn $name(
            spec: &EnvelopeSpec,
            numbers: [f64; 3],
            active: &[u8],
            h: &[f64],
            qx: &[f64],
            qy: &[f64],
            md: &mut [f32],
            ms: &mut [f32],
            mdv: &mut [f32],
            mh: &mut [f32],
            first: &mut [f32],
            duration: &mut [f64],
            table: Option<&LimitTable>,
            bounds: &mut [ChunkBound],
        ) {
            track_row_body::<{ $isa }>(
                spec, numbers, active, h, qx, qy, md, ms, mdv, mh, first, duration, table,
                bounds,
            );
        }
    };
}

track_row_copy!(
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    track_row_avx2,
    Isa::AVX2
);
track_row_copy!(
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
    track_row_avx512,
    Isa::AVX512
);
track_row_copy!(track_row_generic, Isa::PORTABLE);

/// Which copies of the chunk test and the busy chunk's fold [`track_row_body`] is
/// compiled with (a const parameter: the copies are chosen at compile time).
struct Isa;

impl Isa {
    const PORTABLE: u8 = 0;
    const AVX2: u8 = 1;
    const AVX512: u8 = 2;
}

/// Cells classified together in [`HazardRule::class_lanes`].
pub(crate) const LANES: usize = 8;

/// The most hazard classes the chunk bounds are used with (ARR has six).
const MAX_BOUNDED_CLASSES: usize = 16;

/// The row a chunk of [`LANES`] cells at a time, each chunk held in registers.
///
/// With bounds (nested hazard classes, rows of the sweep), a chunk is first tested
/// against its [`ChunkBound`] alone, from the state in cache: when nothing but the
/// durations can change, its envelope arrays are not touched at all, and its spell under
/// water carries the durations. The others are folded in full after their batch of
/// chunks has been tested. In a full fold, and for every chunk without bounds: the maxima
/// are computed branch-free, and stored only when one of them grew; the duration, the
/// first time under and the hazard class are looked at only in a chunk where a cell is
/// under. The cells past the last whole chunk take the same path, padded with untracked
/// lanes.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn track_row_body<const ISA: u8>(
    spec: &EnvelopeSpec,
    [dry_depth_m, t_s, dt_s]: [f64; 3],
    active: &[u8],
    h: &[f64],
    qx: &[f64],
    qy: &[f64],
    md: &mut [f32],
    ms: &mut [f32],
    mdv: &mut [f32],
    mh: &mut [f32],
    first: &mut [f32],
    duration: &mut [f64],
    table: Option<&LimitTable>,
    bounds: &mut [ChunkBound],
) {
    let n = h.len();
    let (active, qx, qy) = (&active[..n], &qx[..n], &qy[..n]);
    let (md, ms, mdv, mh, first, duration) = (
        &mut md[..n],
        &mut ms[..n],
        &mut mdv[..n],
        &mut mh[..n],
        &mut first[..n],
        &mut duration[..n],
    );
    let wet = spec.wet_depth_m;
    // A cell is flooded when deeper than both the dry and the wet depth.
    let flood_depth = wet.max(dry_depth_m);
    let nested = spec.hazard.nested();
    let (a_c, a_tail) = active.as_chunks::<LANES>();
    let (h_c, h_tail) = h.as_chunks::<LANES>();
    let (x_c, x_tail) = qx.as_chunks::<LANES>();
    let (y_c, y_tail) = qy.as_chunks::<LANES>();
    let (md_c, md_tail) = md.as_chunks_mut::<LANES>();
    let (ms_c, ms_tail) = ms.as_chunks_mut::<LANES>();
    let (mdv_c, mdv_tail) = mdv.as_chunks_mut::<LANES>();
    let (mh_c, mh_tail) = mh.as_chunks_mut::<LANES>();
    let (fi_c, fi_tail) = first.as_chunks_mut::<LANES>();
    let (du_c, du_tail) = duration.as_chunks_mut::<LANES>();
    let numbers = [dry_depth_m, wet, t_s, dt_s];
    // Bounds are used for nested classes only (only they have a table): other rules
    // classify every flooded cell.
    let table = table.filter(|_| !bounds.is_empty());
    // A spell under water ends, and the next begins, at the start of a step: the step
    // counts for the cells under at its end.
    let t_start = t_s - dt_s;
    // (A macro, not a closure: a closure would hold the arrays borrowed.)
    macro_rules! fold {
        ($k:expr, $count:expr) => {
            track_chunk(
                spec,
                nested,
                $count,
                numbers,
                &a_c[$k],
                &h_c[$k],
                &x_c[$k],
                &y_c[$k],
                &mut md_c[$k],
                &mut ms_c[$k],
                &mut mdv_c[$k],
                &mut mh_c[$k],
                &mut fi_c[$k],
                &mut du_c[$k],
            )
        };
    }
    if let Some(table) = table {
        // The chunks are tested a batch at a time, the busy ones listed without a
        // branch, and then only those are folded: the test runs as a loop with little to
        // mispredict (a chunk partly flooded ever, at a flood's edge, takes another way
        // to its depth limits), and a batch of the row's state stays in the first-level
        // cache for the folds.
        const BATCH: usize = 128;
        let mut busy = [0u16; BATCH];
        // The records lie row after row, so fetching ahead runs on into the next row's.
        let records = bounds.as_ptr();
        for k0 in (0..a_c.len()).step_by(BATCH) {
            let k1 = (k0 + BATCH).min(a_c.len());
            let mut listed = 0;
            for (k, b) in (k0..k1).zip(&mut bounds[k0..k1]) {
                fetch_line(records.wrapping_add(k + RECORDS_AHEAD));
                let (quiet, flooded) = match ISA {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: `ISA` names a copy only where the CPU has its features.
                    Isa::AVX512 => unsafe {
                        b.quiet_avx512(flood_depth, &a_c[k], &h_c[k], &x_c[k], &y_c[k])
                    },
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: as above.
                    Isa::AVX2 => unsafe {
                        b.quiet_avx2(flood_depth, &a_c[k], &h_c[k], &x_c[k], &y_c[k])
                    },
                    _ => b.quiet(flood_depth, &a_c[k], &h_c[k], &x_c[k], &y_c[k]),
                };
                b.follow_spell(flooded, t_start, &mut du_c[k]);
                // (`listed` < BATCH here: the remainder only spares a bounds check.)
                busy[listed % BATCH] = (k - k0) as u16;
                listed += usize::from(!quiet);
            }
            macro_rules! fetch {
                ($j:expr) => {
                    if let Some(&j) = busy[..listed].get($j) {
                        let k = k0 + usize::from(j);
                        fetch_chunk(&md_c[k], &ms_c[k], &mdv_c[k], &mh_c[k], &fi_c[k]);
                    }
                };
            }
            for j in 0..AHEAD {
                fetch!(j);
            }
            for i in 0..listed {
                fetch!(i + AHEAD);
                let k = k0 + usize::from(busy[i]);
                // Maxima only rise, classes too, and cells only become flooded: a bound
                // left from before a fold that changed something is still a lower bound,
                // and only makes the test stricter. So a chunk whose maxima are growing
                // keeps its old bound, and the bound is worked out again at the first
                // fold that changes nothing, after which the chunk can be quiet.
                let (a, d, x, y) = (&a_c[k], &h_c[k], &x_c[k], &y_c[k]);
                let (md, ms, mdv, mh, fi) = (
                    &mut md_c[k],
                    &mut ms_c[k],
                    &mut mdv_c[k],
                    &mut mh_c[k],
                    &mut fi_c[k],
                );
                let changed = match ISA {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: `ISA` names a copy only where the CPU has its features.
                    Isa::AVX512 => unsafe {
                        fold_growing_avx512(spec, numbers, a, d, x, y, md, ms, mdv, mh, fi)
                    },
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: as above.
                    Isa::AVX2 => unsafe {
                        fold_growing_avx2(spec, numbers, a, d, x, y, md, ms, mdv, mh, fi)
                    },
                    _ => fold_growing(spec, numbers, a, d, x, y, md, ms, mdv, mh, fi),
                };
                if !changed {
                    bounds[k].refresh(
                        table, &a_c[k], &md_c[k], &ms_c[k], &mdv_c[k], &mh_c[k], &fi_c[k],
                    );
                }
            }
        }
    } else {
        for k in 0..a_c.len() {
            let _ = fold!(k, true);
        }
    }
    // The cells past the last whole chunk, padded with untracked lanes (which change
    // nothing), so that a cell gets the same numbers whichever way a row is cut.
    let m = h_tail.len();
    if m > 0 {
        let mut a = [0u8; LANES];
        let (mut d, mut x, mut y) = ([0f64; LANES], [0f64; LANES], [0f64; LANES]);
        let (mut md, mut ms, mut mdv, mut mh) =
            ([0f32; LANES], [0f32; LANES], [0f32; LANES], [0f32; LANES]);
        let (mut fi, mut du) = ([f32::NAN; LANES], [0f64; LANES]);
        a[..m].copy_from_slice(a_tail);
        d[..m].copy_from_slice(h_tail);
        x[..m].copy_from_slice(x_tail);
        y[..m].copy_from_slice(y_tail);
        md[..m].copy_from_slice(md_tail);
        ms[..m].copy_from_slice(ms_tail);
        mdv[..m].copy_from_slice(mdv_tail);
        mh[..m].copy_from_slice(mh_tail);
        fi[..m].copy_from_slice(fi_tail);
        du[..m].copy_from_slice(du_tail);
        match table {
            // The way of a whole chunk: tested, folded only when busy, and its bound made
            // again at the first fold that changes nothing (the padding lanes are
            // untracked, so they pass the test and raise nothing).
            Some(table) => {
                let b = &mut bounds[a_c.len()];
                let (quiet, flooded) = b.quiet(flood_depth, &a, &d, &x, &y);
                b.follow_spell(flooded, t_start, &mut du);
                if !quiet {
                    let changed = fold_growing(
                        spec, numbers, &a, &d, &x, &y, &mut md, &mut ms, &mut mdv, &mut mh, &mut fi,
                    );
                    if !changed {
                        b.refresh(table, &a, &md, &ms, &mdv, &mh, &fi);
                    }
                }
            }
            None => {
                let _ = track_chunk(
                    spec, nested, true, numbers, &a, &d, &x, &y, &mut md, &mut ms, &mut mdv,
                    &mut mh, &mut fi, &mut du,
                );
            }
        }
        md_tail.copy_from_slice(&md[..m]);
        ms_tail.copy_from_slice(&ms[..m]);
        mdv_tail.copy_from_slice(&mdv[..m]);
        mh_tail.copy_from_slice(&mh[..m]);
        fi_tail.copy_from_slice(&fi[..m]);
        du_tail.copy_from_slice(&du[..m]);
    }
}

/// How many listed chunks ahead of its fold a chunk's envelope lines are fetched (twelve
/// since the fold without branches, which takes less time per chunk than the one six
/// were chosen for; the fold's share of the sweep's samples was 11.8 % and 12.2 % with
/// six, 11.7 % and 11.6 % with twelve, two profiles each: within the noise).
const AHEAD: usize = 12;

/// How many chunk records ahead of its test a record is fetched (the records of a row are
/// read in order, but the CPU's own fetching ahead starts too late at each row's start).
/// 1 KB: sixteen records (512 B) still left the test waiting on the record's first load,
/// 9 % of the fold's samples at that load.
const RECORDS_AHEAD: usize = 32;

/// Ask the CPU to start fetching the line at `at` (a hint: it never faults, wherever
/// `at` points).
#[inline(always)]
fn fetch_line<T>(at: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch does not access memory; any address will do.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(at.cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// Ask the CPU to start fetching a chunk's envelope lines (a hint; it never faults).
#[inline(always)]
fn fetch_chunk(
    md: &[f32; LANES],
    ms: &[f32; LANES],
    mdv: &[f32; LANES],
    mh: &[f32; LANES],
    fi: &[f32; LANES],
) {
    // A chunk's 32 bytes need not lie in one 64-byte line: its last lane is fetched too.
    for lanes in [md, ms, mdv, mh, fi] {
        fetch_line(lanes.as_ptr());
        fetch_line(lanes.as_ptr().wrapping_add(LANES - 1));
    }
}

/// Bit l: lane l's flag is 1 (a cell the fold tracks), from one load of the eight flags.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn tracked_bits(a: &[u8; LANES]) -> u8 {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of x86-64; the load reads the eight flags, unaligned.
    unsafe {
        _mm_movemask_epi8(_mm_cmpeq_epi8(
            _mm_loadl_epi64(a.as_ptr().cast()),
            _mm_set1_epi8(1),
        )) as u8
    }
}

/// The smallest of eight f32 lanes (none NaN), as [`lowest_lane`] on a vector.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline]
fn lowest_lane_avx(m: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    let m = _mm_min_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
    let m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    _mm_cvtss_f32(_mm_min_ss(m, _mm_movehdup_ps(m)))
}

/// Raise the hazard class of each `flooded` lane to its class now (nested classes);
/// whether one rose. The fold's last part, when not every flooded lane meets the least
/// class (`HazardRule::all_meet`).
#[inline(always)]
fn raise_classes(
    spec: &EnvelopeSpec,
    d: &[f64; LANES],
    q2: &[f64; LANES],
    flooded: [bool; LANES],
    mh: &mut [f32; LANES],
) -> bool {
    let class = spec.hazard.class_lanes_nested(d, q2);
    let nh: [f32; LANES] = std::array::from_fn(|l| mh[l].max(pick(flooded[l], class[l], 0.0)));
    let rose = nh != *mh;
    if rose {
        *mh = nh;
    }
    rose
}

/// The smallest of [`LANES`] values (none NaN), as a tree of pairwise minima rather than
/// a chain, so that its latency is three minima, not eight.
#[inline(always)]
fn lowest_lane(x: [f32; LANES]) -> f32 {
    #[inline(always)]
    fn lower(a: f32, b: f32) -> f32 {
        if a < b { a } else { b }
    }
    let a: [f32; 4] = std::array::from_fn(|l| lower(x[l], x[l + 4]));
    lower(lower(a[0], a[2]), lower(a[1], a[3]))
}

/// [`track_chunk`] for a chunk of the bounded path (nested classes, durations carried by
/// spells) that its bound did not find quiet: most such chunks raise a maximum (97 % of
/// them on the radial dam break, 70 % a speed), so the maxima and the first times under
/// are worked out for every lane without a branch on whether they may change: the square
/// root and the division every time, and each array kept or replaced by a select. The
/// same numbers as `track_chunk(spec, true, false, …)`, bit for bit (tested): a lane that
/// `track_chunk` leaves out could not have raised its maximum, so working it out keeps
/// the maximum as it is.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn fold_growing(
    spec: &EnvelopeSpec,
    [dry_depth_m, wet, t, _]: [f64; 4],
    a: &[u8; LANES],
    d: &[f64; LANES],
    x: &[f64; LANES],
    y: &[f64; LANES],
    md: &mut [f32; LANES],
    ms: &mut [f32; LANES],
    mdv: &mut [f32; LANES],
    mh: &mut [f32; LANES],
    fi: &mut [f32; LANES],
) -> bool {
    let t = t as f32;
    let mut flooded = [false; LANES];
    let mut new = [false; LANES];
    let (mut nd, mut nv, mut nq, mut nf) =
        ([0f32; LANES], [0f32; LANES], [0f32; LANES], [0f32; LANES]);
    let q2: [f64; LANES] = std::array::from_fn(|l| x[l] * x[l] + y[l] * y[l]);
    for l in 0..LANES {
        let tracked = a[l] == 1;
        let moving = tracked & (d[l] > dry_depth_m);
        flooded[l] = moving & (d[l] > wet);
        nd[l] = md[l].max(pick(tracked, d[l] as f32, 0.0));
        let q = q2[l].sqrt();
        // Dry lanes divide by a zero depth; their result is never used.
        let v = q / d[l];
        nv[l] = ms[l].max(pick(moving, v as f32, 0.0));
        nq[l] = mdv[l].max(pick(moving, q as f32, 0.0));
        new[l] = flooded[l] & fi[l].is_nan();
        nf[l] = pick(new[l], t, fi[l]);
    }
    // Whole arrays are replaced, as `track_chunk` does (a lane equal as a number keeps
    // its bits only when no lane changed).
    let depth = nd != *md;
    let speeds = (nv != *ms) | (nq != *mdv);
    let mut changed = depth | speeds | (new != [false; LANES]);
    for l in 0..LANES {
        md[l] = pick(depth, nd[l], md[l]);
        ms[l] = pick(speeds, nv[l], ms[l]);
        mdv[l] = pick(speeds, nq[l], mdv[l]);
    }
    *fi = nf;
    // Nested classes: when every flooded lane meets the class of the lowest maximum among
    // them, no class can rise (rare otherwise: 4 % of these chunks on the dam break).
    let lowest = lowest_lane(std::array::from_fn(|l| {
        pick(flooded[l], mh[l], f32::INFINITY)
    }));
    if flooded != [false; LANES] && !spec.hazard.all_meet(lowest, d, &q2, &flooded) {
        changed |= raise_classes(spec, d, &q2, flooded, mh);
    }
    changed
}

/// [`fold_growing`] in AVX2: the chunk's f32 arrays one vector each, its f64 state two
/// vectors of four lanes, and the same operations on the same roundings (no fused
/// multiply-add), so the same numbers (tested). A maximum is raised as `f32::max` does:
/// `max(x, m)` keeps `m` when `x` is NaN.
///
/// # Safety
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
#[inline]
unsafe fn fold_growing_avx2(
    spec: &EnvelopeSpec,
    [dry_depth_m, wet, t, _]: [f64; 4],
    a: &[u8; LANES],
    d: &[f64; LANES],
    x: &[f64; LANES],
    y: &[f64; LANES],
    md: &mut [f32; LANES],
    ms: &mut [f32; LANES],
    mdv: &mut [f32; LANES],
    mh: &mut [f32; LANES],
    fi: &mut [f32; LANES],
) -> bool {
    use std::arch::x86_64::*;
    // SAFETY: the loads and stores are of the eight lanes of the arrays given, unaligned.
    unsafe {
        // The eight lanes' flags as an f32 mask: a byte of all ones widened to 32 bits.
        let tracked = _mm256_castsi256_ps(_mm256_cvtepi8_epi32(_mm_cmpeq_epi8(
            _mm_loadl_epi64(a.as_ptr().cast()),
            _mm_set1_epi8(1),
        )));
        let (dry, wet) = (_mm256_set1_pd(dry_depth_m), _mm256_set1_pd(wet));
        // Two halves of four f64 lanes, narrowed to f32 and joined as one vector.
        let join = |lo: __m256d, hi: __m256d| {
            _mm256_insertf128_ps::<1>(
                _mm256_castps128_ps256(_mm256_cvtpd_ps(lo)),
                _mm256_cvtpd_ps(hi),
            )
        };
        let join_mask = |lo: __m256d, hi: __m256d| {
            // The masks' lanes are all ones or all zeros: keep one 32-bit half of each.
            let pick = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
            let lo = _mm256_permutevar8x32_ps(_mm256_castpd_ps(lo), pick);
            let hi = _mm256_permutevar8x32_ps(_mm256_castpd_ps(hi), pick);
            _mm256_blend_ps::<0xf0>(lo, hi)
        };
        let (d_lo, d_hi) = (
            _mm256_loadu_pd(d.as_ptr()),
            _mm256_loadu_pd(d.as_ptr().add(4)),
        );
        let q2 = |o: usize| {
            let x = _mm256_loadu_pd(x.as_ptr().add(o));
            let y = _mm256_loadu_pd(y.as_ptr().add(o));
            _mm256_add_pd(_mm256_mul_pd(x, x), _mm256_mul_pd(y, y))
        };
        let (q2_lo, q2_hi) = (q2(0), q2(4));
        let (q_lo, q_hi) = (_mm256_sqrt_pd(q2_lo), _mm256_sqrt_pd(q2_hi));
        // Dry lanes divide by a zero depth; their result is never used.
        let (v_lo, v_hi) = (_mm256_div_pd(q_lo, d_lo), _mm256_div_pd(q_hi, d_hi));
        let moving = _mm256_and_ps(
            tracked,
            join_mask(
                _mm256_cmp_pd::<_CMP_GT_OQ>(d_lo, dry),
                _mm256_cmp_pd::<_CMP_GT_OQ>(d_hi, dry),
            ),
        );
        let flooded = _mm256_and_ps(
            moving,
            join_mask(
                _mm256_cmp_pd::<_CMP_GT_OQ>(d_lo, wet),
                _mm256_cmp_pd::<_CMP_GT_OQ>(d_hi, wet),
            ),
        );
        let (old_d, old_s, old_q, old_h, old_f) = (
            _mm256_loadu_ps(md.as_ptr()),
            _mm256_loadu_ps(ms.as_ptr()),
            _mm256_loadu_ps(mdv.as_ptr()),
            _mm256_loadu_ps(mh.as_ptr()),
            _mm256_loadu_ps(fi.as_ptr()),
        );
        // `vmaxps x, m` gives m when x is NaN (and when they are equal).
        let nd = _mm256_max_ps(_mm256_and_ps(tracked, join(d_lo, d_hi)), old_d);
        let nv = _mm256_max_ps(_mm256_and_ps(moving, join(v_lo, v_hi)), old_s);
        let nq = _mm256_max_ps(_mm256_and_ps(moving, join(q_lo, q_hi)), old_q);
        let new = _mm256_and_ps(flooded, _mm256_cmp_ps::<_CMP_UNORD_Q>(old_f, old_f));
        let new_bits = _mm256_movemask_ps(new);
        _mm256_storeu_ps(
            fi.as_mut_ptr(),
            _mm256_blendv_ps(old_f, _mm256_set1_ps(t as f32), new),
        );
        // Whole arrays are replaced, as `track_chunk` does.
        let differs =
            |n: __m256, o: __m256| _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_NEQ_UQ>(n, o)) != 0;
        let depth = differs(nd, old_d);
        let speeds = differs(nv, old_s) | differs(nq, old_q);
        let all = |b: bool| _mm256_castsi256_ps(_mm256_set1_epi32(-i32::from(b)));
        _mm256_storeu_ps(md.as_mut_ptr(), _mm256_blendv_ps(old_d, nd, all(depth)));
        _mm256_storeu_ps(ms.as_mut_ptr(), _mm256_blendv_ps(old_s, nv, all(speeds)));
        _mm256_storeu_ps(mdv.as_mut_ptr(), _mm256_blendv_ps(old_q, nq, all(speeds)));
        let mut changed = depth | speeds | (new_bits != 0);
        let flooded_bits = _mm256_movemask_ps(flooded);
        if flooded_bits == 0 {
            return changed;
        }
        // The lowest class among the flooded lanes, and whether every flooded lane meets
        // it: `HazardRule::all_meet` on the vectors in hand (the property test holds the
        // two to the same answers through `track_chunk`).
        let lowest = lowest_lane_avx(_mm256_blendv_ps(
            _mm256_set1_ps(f32::INFINITY),
            old_h,
            flooded,
        ));
        let HazardRule::Arr(classes) = &spec.hazard else {
            unreachable!("only nested ARR classes are bounded");
        };
        let meet = lowest >= 1.0
            && match classes.get(lowest as usize - 1) {
                None => true,
                Some(c) => {
                    let (cd, cv) = (
                        _mm256_set1_pd(c.max_depth_m),
                        _mm256_set1_pd(c.max_speed_m_s),
                    );
                    let dv2 = _mm256_set1_pd(c.max_depth_speed_m2_s * c.max_depth_speed_m2_s);
                    let ok = |d: __m256d, q2: __m256d| {
                        let vd = _mm256_mul_pd(cv, d);
                        _mm256_and_pd(
                            _mm256_cmp_pd::<_CMP_LE_OQ>(d, cd),
                            _mm256_and_pd(
                                _mm256_cmp_pd::<_CMP_LE_OQ>(q2, _mm256_mul_pd(vd, vd)),
                                _mm256_cmp_pd::<_CMP_LE_OQ>(q2, dv2),
                            ),
                        )
                    };
                    let ok = _mm256_movemask_ps(join_mask(ok(d_lo, q2_lo), ok(d_hi, q2_hi)));
                    (ok | !flooded_bits) & 0xff == 0xff
                }
            };
        if !meet {
            let mut q2 = [0f64; LANES];
            _mm256_storeu_pd(q2.as_mut_ptr(), q2_lo);
            _mm256_storeu_pd(q2.as_mut_ptr().add(4), q2_hi);
            let flooded = std::array::from_fn(|l| (flooded_bits >> l) & 1 == 1);
            changed |= raise_classes(spec, d, &q2, flooded, mh);
        }
        changed
    }
}

/// [`fold_growing_avx2`] in AVX-512: the chunk's f64 state one vector of eight lanes, its
/// f32 arrays one 256-bit vector each, the lanes' flags mask registers; the same
/// operations on the same roundings (no fused multiply-add), so the same numbers (tested).
///
/// # Safety
/// The CPU has AVX-512 F, DQ and VL, and AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2")]
#[allow(clippy::too_many_arguments)]
#[inline]
unsafe fn fold_growing_avx512(
    spec: &EnvelopeSpec,
    [dry_depth_m, wet, t, _]: [f64; 4],
    a: &[u8; LANES],
    d: &[f64; LANES],
    x: &[f64; LANES],
    y: &[f64; LANES],
    md: &mut [f32; LANES],
    ms: &mut [f32; LANES],
    mdv: &mut [f32; LANES],
    mh: &mut [f32; LANES],
    fi: &mut [f32; LANES],
) -> bool {
    use std::arch::x86_64::*;
    // SAFETY: the loads and stores are of the eight lanes of the arrays given, unaligned.
    unsafe {
        let tracked = tracked_bits(a);
        let dd = _mm512_loadu_pd(d.as_ptr());
        let (xx, yy) = (_mm512_loadu_pd(x.as_ptr()), _mm512_loadu_pd(y.as_ptr()));
        let q2 = _mm512_add_pd(_mm512_mul_pd(xx, xx), _mm512_mul_pd(yy, yy));
        let q = _mm512_sqrt_pd(q2);
        // Dry lanes divide by a zero depth; their result is never used.
        let v = _mm512_div_pd(q, dd);
        let moving =
            _mm512_mask_cmp_pd_mask::<_CMP_GT_OQ>(tracked, dd, _mm512_set1_pd(dry_depth_m));
        let flooded = _mm512_mask_cmp_pd_mask::<_CMP_GT_OQ>(moving, dd, _mm512_set1_pd(wet));
        let (old_d, old_s, old_q, old_h, old_f) = (
            _mm256_loadu_ps(md.as_ptr()),
            _mm256_loadu_ps(ms.as_ptr()),
            _mm256_loadu_ps(mdv.as_ptr()),
            _mm256_loadu_ps(mh.as_ptr()),
            _mm256_loadu_ps(fi.as_ptr()),
        );
        // `vmaxps x, m` gives m when x is NaN (and when they are equal); a lane left out
        // is +0, as in the AVX2 copy.
        let nd = _mm256_max_ps(_mm256_maskz_mov_ps(tracked, _mm512_cvtpd_ps(dd)), old_d);
        let nv = _mm256_max_ps(_mm256_maskz_mov_ps(moving, _mm512_cvtpd_ps(v)), old_s);
        let nq = _mm256_max_ps(_mm256_maskz_mov_ps(moving, _mm512_cvtpd_ps(q)), old_q);
        let new = _mm256_mask_cmp_ps_mask::<_CMP_UNORD_Q>(flooded, old_f, old_f);
        _mm256_storeu_ps(
            fi.as_mut_ptr(),
            _mm256_mask_blend_ps(new, old_f, _mm256_set1_ps(t as f32)),
        );
        // Whole arrays are replaced, as `track_chunk` does.
        let differs = |n: __m256, o: __m256| _mm256_cmp_ps_mask::<_CMP_NEQ_UQ>(n, o) != 0;
        let depth = differs(nd, old_d);
        let speeds = differs(nv, old_s) | differs(nq, old_q);
        let all = |b: bool| u8::from(b).wrapping_neg();
        _mm256_storeu_ps(md.as_mut_ptr(), _mm256_mask_blend_ps(all(depth), old_d, nd));
        _mm256_storeu_ps(
            ms.as_mut_ptr(),
            _mm256_mask_blend_ps(all(speeds), old_s, nv),
        );
        _mm256_storeu_ps(
            mdv.as_mut_ptr(),
            _mm256_mask_blend_ps(all(speeds), old_q, nq),
        );
        let mut changed = depth | speeds | (new != 0);
        if flooded == 0 {
            return changed;
        }
        // The lowest class among the flooded lanes, and whether every flooded lane meets
        // it: `HazardRule::all_meet` on the vectors in hand (the property test holds the
        // two to the same answers through `track_chunk`).
        let lowest = lowest_lane_avx(_mm256_mask_blend_ps(
            flooded,
            _mm256_set1_ps(f32::INFINITY),
            old_h,
        ));
        let HazardRule::Arr(classes) = &spec.hazard else {
            unreachable!("only nested ARR classes are bounded");
        };
        let meet = lowest >= 1.0
            && match classes.get(lowest as usize - 1) {
                None => true,
                Some(c) => {
                    let vd = _mm512_mul_pd(_mm512_set1_pd(c.max_speed_m_s), dd);
                    let dv2 = c.max_depth_speed_m2_s * c.max_depth_speed_m2_s;
                    let ok = _mm512_cmp_pd_mask::<_CMP_LE_OQ>(dd, _mm512_set1_pd(c.max_depth_m))
                        & _mm512_cmp_pd_mask::<_CMP_LE_OQ>(q2, _mm512_mul_pd(vd, vd))
                        & _mm512_cmp_pd_mask::<_CMP_LE_OQ>(q2, _mm512_set1_pd(dv2));
                    ok | !flooded == u8::MAX
                }
            };
        if !meet {
            let mut q2s = [0f64; LANES];
            _mm512_storeu_pd(q2s.as_mut_ptr(), q2);
            let flooded = std::array::from_fn(|l| (flooded >> l) & 1 == 1);
            changed |= raise_classes(spec, d, &q2s, flooded, mh);
        }
        changed
    }
}

/// One chunk of [`LANES`] cells of [`track_row_body`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn track_chunk(
    spec: &EnvelopeSpec,
    nested: bool,
    count: bool,
    [dry_depth_m, wet, t, dt_s]: [f64; 4],
    a: &[u8; LANES],
    d: &[f64; LANES],
    x: &[f64; LANES],
    y: &[f64; LANES],
    md: &mut [f32; LANES],
    ms: &mut [f32; LANES],
    mdv: &mut [f32; LANES],
    mh: &mut [f32; LANES],
    fi: &mut [f32; LANES],
    du: &mut [f64; LANES],
) -> bool {
    let t = t as f32;
    let mut changed = false;
    let q2: [f64; LANES] = std::array::from_fn(|l| x[l] * x[l] + y[l] * y[l]);
    let mut nd = [0f32; LANES];
    let mut moving = [false; LANES];
    let mut flooded = [false; LANES];
    // Whether a lane's speed or discharge may pass its maximum: only then are the
    // square root and the division needed. A maximum m is kept when q² < (m·d)²
    // (resp. m²) with a relative margin of 1e-12, far above the few roundings of
    // q = √q² and v = q / d, so a skipped lane could not have raised it.
    let mut grows = [false; LANES];
    for l in 0..LANES {
        let tracked = a[l] == 1;
        moving[l] = tracked & (d[l] > dry_depth_m);
        flooded[l] = moving[l] & (d[l] > wet);
        nd[l] = md[l].max(pick(tracked, d[l] as f32, 0.0));
        let ms_d = f64::from(ms[l]) * d[l];
        let mq = f64::from(mdv[l]);
        let keeps = (q2[l] == 0.0)
            | ((q2[l] < ms_d * ms_d * (1.0 - 1e-12)) & (q2[l] < mq * mq * (1.0 - 1e-12)));
        grows[l] = moving[l] & !keeps;
    }
    // Array compares, not chains of `|`.
    let (any_flooded, may_grow) = (flooded != [false; LANES], grows != [false; LANES]);
    if nd != *md {
        *md = nd;
        changed = true;
    }
    // Speeds are needed for a maximum that may grow, or for hazard classes that are
    // not nested.
    let mut v = [0f64; LANES];
    if may_grow || (any_flooded && !nested) {
        let mut nv = [0f32; LANES];
        let mut nq = [0f32; LANES];
        for l in 0..LANES {
            let q = q2[l].sqrt();
            // Dry lanes divide by a zero depth; their result is never used.
            v[l] = q / d[l];
            nv[l] = ms[l].max(pick(moving[l], v[l] as f32, 0.0));
            nq[l] = mdv[l].max(pick(moving[l], q as f32, 0.0));
        }
        if nv != *ms || nq != *mdv {
            *ms = nv;
            *mdv = nq;
            changed = true;
        }
    }
    if !any_flooded {
        return changed;
    }
    if count {
        for l in 0..LANES {
            du[l] += pick(flooded[l], dt_s, 0.0);
        }
    }
    let new: [bool; LANES] = std::array::from_fn(|l| flooded[l] & fi[l].is_nan());
    if new != [false; LANES] {
        for l in 0..LANES {
            fi[l] = pick(flooded[l] & fi[l].is_nan(), t, fi[l]);
        }
        changed = true;
    }
    let class = if nested {
        // Nested classes: a cell that meets class k is in class k or a lower one. So
        // when every flooded lane meets the class of the lowest maximum among them, no
        // maximum can rise, and the classes need not be worked out.
        let lowest = lowest_lane(std::array::from_fn(|l| {
            pick(flooded[l], mh[l], f32::INFINITY)
        }));
        if spec.hazard.all_meet(lowest, d, &q2, &flooded) {
            return changed;
        }
        spec.hazard.class_lanes_nested(d, &q2)
    } else {
        spec.hazard.class_lanes(d, &v)
    };
    let mut nh = [0f32; LANES];
    for l in 0..LANES {
        nh[l] = mh[l].max(pick(flooded[l], class[l], 0.0));
    }
    if nh != *mh {
        *mh = nh;
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small xorshift generator: the property test below needs many varied chunks, not
    /// good randomness.
    struct Xorshift(u64);

    impl Xorshift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// Uniform in [0, 1).
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// The envelopes (max depth, speed, depth × speed, class, first time) a full fold
    /// of one chunk's state leaves, at t = 20 s after a step of 1 s.
    fn fold(
        spec: &EnvelopeSpec,
        dry: f64,
        (a, d, x, y): (&[u8; LANES], &[f64; LANES], &[f64; LANES], &[f64; LANES]),
        [mut md, mut ms, mut mdv, mut mh, mut fi]: [[f32; LANES]; 5],
    ) -> [[f32; LANES]; 5] {
        let numbers = [dry, spec.wet_depth_m, 20.0, 1.0];
        let du = &mut [0.0; LANES];
        let _ = track_chunk(
            spec, true, false, numbers, a, d, x, y, &mut md, &mut ms, &mut mdv, &mut mh, &mut fi,
            du,
        );
        [md, ms, mdv, mh, fi]
    }

    /// A chunk whose maxima grow keeps the bound it had before (still a lower bound);
    /// the first fold that changes nothing works it out again, and from the next step
    /// the chunk is quiet: not folded, its envelopes not even read (a class planted
    /// below the state's stays), with every maximum as the state's. Both copies of the
    /// fold.
    #[test]
    fn a_growing_chunk_is_bounded_again_once_it_stops_growing() {
        let rule = HazardRule::Arr(vec![ArrClass {
            class: 1,
            max_depth_m: 0.5,
            max_speed_m_s: 2.0,
            max_depth_speed_m2_s: 0.6,
        }]);
        let spec = EnvelopeSpec {
            wet_depth_m: 0.01,
            hazard: rule,
        };
        let mut simds = vec![Simd::Generic];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            simds.push(Simd::Avx2);
        }
        let table = spec.hazard.limit_table(spec.wet_depth_m.max(1e-4));
        for simd in simds {
            let (mut md, mut ms, mut mdv, mut mh) = ([0f32; 8], [0f32; 8], [0f32; 8], [0f32; 8]);
            let (mut fi, mut du) = ([f32::NAN; 8], [0f64; 8]);
            let mut bounds = [ChunkBound::NONE];
            let active = [1u8; 8];
            // (depth, discharge) of every cell at the end of steps 1, 2, … (1 s each):
            // rising twice, then steady.
            let states = [(1.0, 0.5), (1.2, 0.9), (1.2, 0.9), (1.2, 0.9), (1.2, 0.9)];
            for (i, &(d, q)) in states.iter().enumerate() {
                if i == 4 {
                    // A fold would raise it back to the state's class.
                    mh[3] = 1.0;
                }
                let before = (md, ms, mdv, mh, fi.map(f32::to_bits));
                track_row(
                    simd,
                    &spec,
                    1e-4,
                    (i + 1) as f64,
                    1.0,
                    &active,
                    &[d; 8],
                    &[q; 8],
                    &[0.0; 8],
                    EnvelopeRow {
                        max_depth_m: &mut md,
                        max_speed_m_s: &mut ms,
                        max_depth_speed_m2_s: &mut mdv,
                        max_hazard: &mut mh,
                        first_inundation_s: &mut fi,
                        duration_inundated_s: &mut du,
                        bounds: Some(RowBounds {
                            table: &table,
                            chunks: &mut bounds,
                        }),
                    },
                );
                let b = bounds[0];
                if i < 2 {
                    assert_eq!(
                        b.limits, [0.0; 4],
                        "{simd:?}: step {i}: the bound is the old one"
                    );
                    assert_ne!(before.0, md, "{simd:?}: step {i}: the depth grew");
                }
                if i == 2 {
                    // Class 2 lies past the last: the least maxima are the limits, and a
                    // cell never flooded must stay at the wet depth (0.01 m) or below.
                    let [seen, never, speed, depth_speed] = b.limits;
                    assert_eq!(
                        (seen, speed, depth_speed, b.ever),
                        (1.2f32, (0.9f64 / 1.2) as f32, 0.9f32, u8::MAX),
                        "{simd:?}: worked out again after a fold that changed nothing"
                    );
                    let never = f64::from(never) * F32_ROUNDS_DOWN;
                    assert!(never <= 0.01 && never > 0.01 * (1.0 - 1e-7), "{never}");
                }
                if i >= 3 {
                    assert_eq!(before, (md, ms, mdv, mh, fi.map(f32::to_bits)), "{simd:?}");
                }
            }
            assert_eq!(mh[3], 1.0, "{simd:?}: the quiet chunk was not folded");
            assert_eq!(
                (md[0], mdv[0], mh[0], fi[0]),
                (1.2, 0.9, 2.0, 1.0),
                "{simd:?}"
            );
            assert_eq!(ms[0], (0.9f64 / 1.2) as f32, "{simd:?}");
        }
    }

    /// Two states where a relative margin alone does not hold: a discharge whose square
    /// is subnormal (the margin rounds away) and an infinite one against infinite
    /// maxima. Neither is quiet, and the fold does raise a maximum in each.
    #[test]
    fn subnormal_and_infinite_discharges_are_not_quiet() {
        let rule = HazardRule::Arr(vec![ArrClass {
            class: 1,
            max_depth_m: 4.0,
            max_speed_m_s: 4.0,
            max_depth_speed_m2_s: 4.0,
        }]);
        let spec = EnvelopeSpec {
            wet_depth_m: 0.01,
            hazard: rule,
        };
        let table = spec.hazard.limit_table(spec.wet_depth_m);
        let dry = 1e-200;
        let smallest = f64::from_bits(1);
        // (depth, discharge, max depth, max speed, max depth × speed, class)
        for (d0, x0, md, ms, mdv, class) in [
            (1.6e-162, smallest.sqrt(), 5.0, 1.0, 5.0, 1.0),
            (1e140, 1e200, f32::INFINITY, 1e10, f32::INFINITY, 2.0),
        ] {
            let a = [1u8; LANES];
            let fi = [10.0f32; LANES];
            let (md, ms, mdv, mh) = ([md; LANES], [ms; LANES], [mdv; LANES], [class; LANES]);
            let bound = ChunkBound::of(&table, &a, &md, &ms, &mdv, &mh, &fi);
            let mut d = [0.0; LANES];
            let mut x = [0.0; LANES];
            (d[0], x[0]) = (d0, x0);
            let y = [0.0; LANES];
            let (quiet, _) = bound.quiet(spec.wet_depth_m, &a, &d, &x, &y);
            assert!(!quiet, "depth {d0:e}, discharge {x0:e}");
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (just checked).
                let (quiet, _) = unsafe { bound.quiet_avx2(spec.wet_depth_m, &a, &d, &x, &y) };
                assert!(!quiet, "AVX2: depth {d0:e}, discharge {x0:e}");
            }
            #[cfg(target_arch = "x86_64")]
            if Simd::detect() == Simd::Avx512 {
                // SAFETY: the CPU has AVX-512 F, DQ and VL (just checked), and AVX2.
                let (quiet, _) = unsafe { bound.quiet_avx512(spec.wet_depth_m, &a, &d, &x, &y) };
                assert!(!quiet, "AVX-512: depth {d0:e}, discharge {x0:e}");
            }
            let [_, ms2, ..] = fold(&spec, dry, (&a, &d, &x, &y), [md, ms, mdv, mh, fi]);
            assert!(
                ms2[0] > ms[0],
                "the fold raises the speed: {} > {}",
                ms2[0],
                ms[0]
            );
        }
    }

    /// The chunk test is sound: whenever it says a chunk is quiet, the full fold changes
    /// no bit of its envelopes; the AVX2 and AVX-512 copies (where the CPU has them) give
    /// the same answers as the portable one; and the flooded cells are those the fold
    /// counts. States are drawn at, just below and just above every maximum and class
    /// limit (by a rounding of f64 and by one of f32), with a wet depth above the dry one
    /// and none, a class 0 now and then, moving water thinner than the dry depth, and NaN
    /// and infinite states.
    #[test]
    fn a_quiet_chunk_is_one_the_fold_leaves_alone() {
        let rule = HazardRule::Arr(
            [
                (0.3, 2.0, 0.3),
                (0.5, 2.0, 0.6),
                (1.2, 2.0, 0.6),
                (2.0, 2.0, 1.0),
                (4.0, 4.0, 4.0),
            ]
            .iter()
            .enumerate()
            .map(|(i, &(d, v, dv))| ArrClass {
                class: i as u8 + 1,
                max_depth_m: d,
                max_speed_m_s: v,
                max_depth_speed_m2_s: dv,
            })
            .collect(),
        );
        assert!(rule.bounded());
        let specs = [0.01, 0.0].map(|wet_depth_m| EnvelopeSpec {
            wet_depth_m,
            hazard: rule.clone(),
        });
        let dry = 1e-4;
        let tables = specs
            .clone()
            .map(|spec| rule.limit_table(spec.wet_depth_m.max(dry)));
        let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
        // A value at, just below or just above `x`, or well below it.
        let near = |rng: &mut Xorshift, x: f64| match rng.below(7) {
            0 => x,
            1 => x * (1.0 - 1e-13),
            2 => x * (1.0 + 1e-13),
            3 => x * (1.0 - 1e-9),
            4 => x * (1.0 - 1.2e-7),
            5 => x * (1.0 + 1.2e-7),
            _ => x * rng.unit(),
        };
        let (mut quiet_chunks, mut busy_chunks) = (0, 0);
        #[cfg(target_arch = "x86_64")]
        let avx512 = Simd::detect() == Simd::Avx512;
        for i in 0..200_000 {
            let spec = &specs[i % 2];
            let flood_depth = spec.wet_depth_m.max(dry);
            let a: [u8; LANES] = std::array::from_fn(|_| match rng.below(20) {
                0 => 0,
                1 => 2,
                _ => 1,
            });
            // Chunks none of whose cells were ever flooded, all of them (often: one in
            // ten) and some.
            let never = rng.below(8) == 0;
            let fi: [f32; LANES] = std::array::from_fn(|_| {
                if never || rng.below(4) == 0 {
                    f32::NAN
                } else {
                    10.0
                }
            });
            // Maxima of a chunk lie close together, as they do in a flood, so that the
            // least of them is near every cell's own.
            let scale = [6.0 * rng.unit(), 6.0 * rng.unit(), 6.0 * rng.unit()];
            let mut spread = |m: f64| (m * (1.0 + 0.1 * rng.unit())) as f32;
            let md: [f32; LANES] = std::array::from_fn(|_| spread(scale[0]));
            let ms: [f32; LANES] = std::array::from_fn(|_| spread(scale[1]));
            let mdv: [f32; LANES] = std::array::from_fn(|_| spread(scale[2]));
            let class = 1 + rng.below(6);
            let mh: [f32; LANES] = std::array::from_fn(|l| {
                if fi[l].is_nan() || rng.below(500) == 0 {
                    0.0
                } else {
                    (class + rng.below(2)) as f32
                }
            });
            let bound = ChunkBound::of(&tables[i % 2], &a, &md, &ms, &mdv, &mh, &fi);
            // Depths and discharges about the chunk's limits and the cells' own maxima:
            // in most chunks all but one lane or so lie safely inside the limits.
            let lim = bound.limits();
            let edgy = if rng.below(2) == 0 { 8 } else { 1 };
            let d: [f64; LANES] = std::array::from_fn(|l| {
                if rng.below(8) >= edgy {
                    let seen = !fi[l].is_nan();
                    return rng.unit() * if seen { lim[0] } else { lim[1] }.max(0.0);
                }
                match rng.below(5) {
                    0 => 0.0,
                    1 => near(&mut rng, flood_depth),
                    2 => near(&mut rng, f64::from(md[l])),
                    3 if lim[0].is_finite() => near(&mut rng, lim[0]),
                    _ => near(&mut rng, lim[1].max(0.0)),
                }
            });
            let q: [f64; LANES] = std::array::from_fn(|l| {
                if d[l] <= dry {
                    return if rng.below(50) == 0 { 1e-3 } else { 0.0 };
                }
                if rng.below(8) >= edgy {
                    return rng.unit() * (lim[2] * d[l]).min(lim[3].sqrt());
                }
                match rng.below(4) {
                    0 => near(&mut rng, lim[2] * d[l]),
                    1 => near(&mut rng, lim[3].sqrt()),
                    2 => near(&mut rng, f64::from(ms[l]) * d[l]),
                    _ => near(&mut rng, f64::from(mdv[l])),
                }
            });
            let angle: [f64; LANES] = std::array::from_fn(|_| 6.3 * rng.unit());
            let mut x: [f64; LANES] = std::array::from_fn(|l| q[l] * angle[l].cos());
            let y: [f64; LANES] = std::array::from_fn(|l| q[l] * angle[l].sin());
            let mut d = d;
            if rng.below(100) == 0 {
                let l = rng.below(LANES as u64) as usize;
                match rng.below(3) {
                    0 => d[l] = f64::NAN,
                    1 => x[l] = f64::NAN,
                    _ => x[l] = f64::INFINITY,
                }
            }

            let (quiet, flooded) = bound.quiet(flood_depth, &a, &d, &x, &y);
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (just checked).
                let avx2 = unsafe { bound.quiet_avx2(flood_depth, &a, &d, &x, &y) };
                assert_eq!(
                    avx2,
                    (quiet, flooded),
                    "AVX2 against portable: {d:?} {x:?} {y:?}"
                );
            }
            #[cfg(target_arch = "x86_64")]
            if avx512 {
                // SAFETY: the CPU has AVX-512 F, DQ and VL, and AVX2 (checked above).
                let wide = unsafe { bound.quiet_avx512(flood_depth, &a, &d, &x, &y) };
                assert_eq!(
                    wide,
                    (quiet, flooded),
                    "AVX-512 against portable: a {a:?} d {d:?} x {x:?} y {y:?}"
                );
            }
            let counted = (0..LANES).fold(0u8, |m, l| {
                m | (u8::from((a[l] == 1) & (d[l] > dry) & (d[l] > spec.wet_depth_m)) << l)
            });
            assert_eq!(flooded, counted);
            let before = [md, ms, mdv, mh, fi];
            let after = fold(spec, dry, (&a, &d, &x, &y), before);
            let bits = |a: [f32; LANES]| a.map(f32::to_bits);
            let unchanged = after.map(bits) == before.map(bits);
            // The fold of a chunk found busy, without its branches: the same numbers.
            let numbers = [dry, spec.wet_depth_m, 20.0, 1.0];
            let [mut gd, mut gs, mut gq, mut gh, mut gf] = before;
            let grew = fold_growing(
                spec, numbers, &a, &d, &x, &y, &mut gd, &mut gs, &mut gq, &mut gh, &mut gf,
            );
            assert_eq!([gd, gs, gq, gh, gf].map(bits), after.map(bits));
            assert_eq!(grew, !unchanged, "changed: {d:?} {x:?} {y:?}");
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                let [mut gd, mut gs, mut gq, mut gh, mut gf] = before;
                // SAFETY: the CPU has AVX2 (just checked).
                let grew = unsafe {
                    fold_growing_avx2(
                        spec, numbers, &a, &d, &x, &y, &mut gd, &mut gs, &mut gq, &mut gh, &mut gf,
                    )
                };
                assert_eq!(
                    [gd, gs, gq, gh, gf].map(bits),
                    after.map(bits),
                    "AVX2 fold: a {a:?} d {d:?} x {x:?} y {y:?}"
                );
                assert_eq!(grew, !unchanged);
            }
            #[cfg(target_arch = "x86_64")]
            if avx512 {
                let [mut gd, mut gs, mut gq, mut gh, mut gf] = before;
                // SAFETY: the CPU has AVX-512 F, DQ and VL, and AVX2 (checked above).
                let grew = unsafe {
                    fold_growing_avx512(
                        spec, numbers, &a, &d, &x, &y, &mut gd, &mut gs, &mut gq, &mut gh, &mut gf,
                    )
                };
                assert_eq!(
                    [gd, gs, gq, gh, gf].map(bits),
                    after.map(bits),
                    "AVX-512 fold: a {a:?} d {d:?} x {x:?} y {y:?}"
                );
                assert_eq!(grew, !unchanged);
            }
            if quiet {
                quiet_chunks += 1;
                assert!(
                    unchanged,
                    "quiet, yet the fold changed it: a {a:?} d {d:?} q {q:?} md {md:?} \
                     ms {ms:?} mdv {mdv:?} mh {mh:?} fi {fi:?}"
                );
            } else {
                busy_chunks += 1;
            }
        }
        // Both answers come up often enough for the test to mean something.
        assert!(
            quiet_chunks > 1000 && busy_chunks > 1000,
            "{quiet_chunks} quiet, {busy_chunks} not"
        );
    }

    /// The lane classifier agrees with the one-cell classifier on a grid of depths and
    /// speeds around every limit.
    #[test]
    fn row_classes_match_cell_classes() {
        let arr = HazardRule::Arr(vec![
            ArrClass {
                class: 1,
                max_depth_m: 0.3,
                max_speed_m_s: 2.0,
                max_depth_speed_m2_s: 0.3,
            },
            ArrClass {
                class: 2,
                max_depth_m: 0.5,
                max_speed_m_s: 2.0,
                max_depth_speed_m2_s: 0.6,
            },
            ArrClass {
                class: 3,
                max_depth_m: 1.2,
                max_speed_m_s: 2.0,
                max_depth_speed_m2_s: 0.6,
            },
        ]);
        let uk = HazardRule::Uk(UkRating {
            debris_factor: vec![(0.25, 0.0), (0.75, 0.5), (f64::INFINITY, 1.0)],
            class_limits: vec![0.75, 1.25, 2.0],
        });
        let mut d = Vec::new();
        let mut v = Vec::new();
        for i in 0..60 {
            for j in 0..40 {
                d.push(0.02 + 0.025 * f64::from(i));
                v.push(0.1 * f64::from(j));
            }
        }
        let (d_lanes, _) = d.as_chunks::<LANES>();
        let (v_lanes, _) = v.as_chunks::<LANES>();
        assert!(arr.nested() && !uk.nested());
        for rule in [arr, uk] {
            let class: Vec<f32> = d_lanes
                .iter()
                .zip(v_lanes)
                .flat_map(|(d, v)| rule.class_lanes(d, v))
                .collect();
            if rule.nested() {
                // From q² = (d·v)²; the grid keeps clear of the limits by more than
                // rounding, so the classes are the same.
                let q2: Vec<f64> = d.iter().zip(&v).map(|(d, v)| (d * v) * (d * v)).collect();
                let (q2_lanes, _) = q2.as_chunks::<LANES>();
                let nested: Vec<f32> = d_lanes
                    .iter()
                    .zip(q2_lanes)
                    .flat_map(|(d, q2)| rule.class_lanes_nested(d, q2))
                    .collect();
                assert_eq!(nested, class);
            }
            assert_eq!(class.len(), d.len());
            for i in 0..d.len() {
                assert_eq!(
                    class[i],
                    f32::from(rule.class(d[i], v[i])),
                    "d {} v {}",
                    d[i],
                    v[i]
                );
            }
        }
    }
}
