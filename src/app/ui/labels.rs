//! Labels over the 3D view (gauges, watched places, structures, boundary segments,
//! breaches) laid out so that none covers another: a place watched beside a gauge would
//! otherwise put its name under the gauge's reading, and neither could be read on a
//! projector.

use std::sync::Arc;

use bevy_egui::egui;
use egui::{Align2, Color32, FontId, Galley, Painter, Pos2, Rect, Stroke, vec2};

/// How many of its own heights a label may be moved up or down from its place.
const MAX_SHIFT: usize = 4;

/// Space kept between two labels, in points.
const GAP: f32 = 3.0;

/// One label on a filled box, its bottom centre (or the corner `align` names) at
/// `anchor` where there is room.
pub struct Tag {
    pub anchor: Pos2,
    pub align: Align2,
    pub galley: Arc<Galley>,
    pub fill: Color32,
    pub colour: Color32,
}

impl Tag {
    pub fn new(
        painter: &Painter,
        anchor: Pos2,
        text: String,
        font: FontId,
        fill: Color32,
        colour: Color32,
    ) -> Tag {
        Tag {
            anchor,
            align: Align2::CENTER_BOTTOM,
            galley: painter.layout_no_wrap(text, font, colour),
            fill,
            colour,
        }
    }

    /// The same label with another corner at its anchor.
    pub fn aligned(self, align: Align2) -> Tag {
        Tag { align, ..self }
    }

    /// The label's box at its own place, padding included.
    fn wanted(&self) -> Rect {
        self.align
            .anchor_size(self.anchor, self.galley.size())
            .expand(2.0)
    }
}

/// Draw `tags`, the most important first: each keeps its place unless it would cover
/// one placed before it (see [`spread`]). A label moved away from its place gets a thin
/// line back to its anchor. The most important are drawn last, on top of any overlap
/// left.
pub fn draw_tags(painter: &Painter, tags: &[Tag], within: Rect) {
    let wanted: Vec<Rect> = tags.iter().map(Tag::wanted).collect();
    let placed = spread(&wanted, within);
    for ((tag, want), rect) in tags.iter().zip(&wanted).zip(&placed).rev() {
        if rect != want {
            let end = if rect.center().y < tag.anchor.y {
                rect.center_bottom()
            } else {
                rect.center_top()
            };
            painter.line_segment([tag.anchor, end], Stroke::new(1.5, tag.fill));
        }
        painter.rect_filled(*rect, 3.0, tag.fill);
        painter.galley(rect.min + vec2(2.0, 2.0), tag.galley.clone(), tag.colour);
    }
}

/// Boxes for labels that want the boxes `wanted`, the most important first, so that no
/// two of them overlap (with [`GAP`] between them) where that can be done by moving
/// labels up or down: a label keeps its own box when that covers none placed before it;
/// otherwise it takes the nearest free box 1, 2, … [`MAX_SHIFT`] steps (its height and the
/// gap) above or below (above first at the same distance), inside `within`. Where there
/// is none, it keeps its own box.
fn spread(wanted: &[Rect], within: Rect) -> Vec<Rect> {
    let mut placed: Vec<Rect> = Vec::with_capacity(wanted.len());
    for &want in wanted {
        // Half the gap around each: boxes a whole step apart do not touch.
        let free = |r: &Rect| placed.iter().all(|p| !p.expand(GAP / 2.0).intersects(*r));
        let step = want.height() + GAP;
        let candidates = (1..=MAX_SHIFT).flat_map(|k| [-(k as f32), k as f32]);
        let rect = if free(&want) {
            want
        } else {
            candidates
                .map(|k| want.translate(vec2(0.0, k * step)))
                .find(|r| within.contains_rect(*r) && free(r))
                .unwrap_or(want)
        };
        placed.push(rect);
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui::pos2;

    fn boxed(x: f32, y: f32, w: f32, h: f32) -> Rect {
        Rect::from_min_size(pos2(x, y), vec2(w, h))
    }

    fn overlaps(rects: &[Rect]) -> usize {
        let mut n = 0;
        for (i, a) in rects.iter().enumerate() {
            n += rects[i + 1..].iter().filter(|b| a.intersects(**b)).count();
        }
        n
    }

    const SCREEN: Rect = Rect {
        min: Pos2::ZERO,
        max: Pos2 {
            x: 1600.0,
            y: 900.0,
        },
    };

    #[test]
    fn labels_apart_keep_their_places() {
        let wanted = [
            boxed(100.0, 100.0, 80.0, 20.0),
            boxed(300.0, 100.0, 80.0, 20.0),
        ];
        assert_eq!(spread(&wanted, SCREEN), wanted);
    }

    #[test]
    fn a_label_over_a_more_important_one_moves_and_the_first_stays() {
        // As on Merewether: a watched yard's name where the gauge beside it has its
        // reading, a few points apart.
        let gauge = boxed(600.0, 400.0, 110.0, 22.0);
        let yard = boxed(590.0, 408.0, 150.0, 18.0);
        let placed = spread(&[gauge, yard], SCREEN);
        assert_eq!(placed[0], gauge);
        assert_eq!(overlaps(&placed), 0);
        // One step up still covers the gauge; one step down is the nearest free place.
        assert_eq!(placed[1], yard.translate(vec2(0.0, yard.height() + GAP)));
    }

    #[test]
    fn a_pile_of_labels_at_one_place_is_spread_without_overlaps() {
        let wanted: Vec<Rect> = (0..5)
            .map(|i| boxed(400.0 + i as f32 * 5.0, 300.0, 120.0, 20.0))
            .collect();
        let placed = spread(&wanted, SCREEN);
        assert_eq!(overlaps(&placed), 0);
        assert!(placed.iter().all(|r| SCREEN.contains_rect(*r)));
    }

    #[test]
    fn a_label_at_the_top_of_the_view_moves_down_not_off_it() {
        let gauge = boxed(10.0, 0.0, 100.0, 20.0);
        let place = boxed(20.0, 5.0, 100.0, 20.0);
        let placed = spread(&[gauge, place], SCREEN);
        assert_eq!(overlaps(&placed), 0);
        assert!(placed[1].min.y > gauge.max.y);
        assert!(SCREEN.contains_rect(placed[1]));
    }

    #[test]
    fn with_no_free_place_a_label_keeps_its_own() {
        // A view only as tall as one label: nowhere to go.
        let within = boxed(0.0, 0.0, 200.0, 20.0);
        let wanted = [boxed(0.0, 0.0, 100.0, 20.0), boxed(50.0, 0.0, 100.0, 20.0)];
        assert_eq!(spread(&wanted, within), wanted);
    }
}
