//! Terrain hydrology of a bundled basin against an established implementation: on the
//! filled DEM kept as a fixture, rivertwin's flow accumulation equals pysheds' cell for
//! cell, and each gauge's catchment equals pysheds' accumulation at its outlet (pysheds'
//! own `catchment` drops the cells on the grid's edge, exactly the difference). The
//! written folder: Cloud-Optimized GeoTIFFs, a GeoPackage whose catchment polygons have
//! the catchments' areas, and refusals of bad input with nothing written.

use std::path::{Path, PathBuf};

use basin::hydrology::{HydrologyOptions, derive, run};
use basin::raster::read_raster;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn trinity() -> basin::Basin {
    basin::Basin::load(&repo().join("basins/trinity_storm")).expect("the bundled basin loads")
}

#[test]
fn accumulation_and_catchments_equal_pysheds_on_the_same_filled_dem() {
    let b = trinity();
    let d = derive(&b, &HydrologyOptions::default()).expect("derived");
    let fixtures = repo().join("tests/data/hydrology");
    // The fill is the one the reference was made on, bit for bit.
    let filled = read_raster(&fixtures.join("trinity_filled_dem_m.tif")).expect("fixture");
    for (cell, &active) in b.active.indexed_iter() {
        if active {
            assert_eq!(
                d.filled_m[cell].to_bits(),
                filled.data[cell].to_bits(),
                "filled DEM at {cell:?}"
            );
        }
    }
    // Accumulation: identical in every cell.
    let reference =
        read_raster(&fixtures.join("trinity_accumulation_pysheds.tif")).expect("fixture");
    let mut compared = 0;
    for (cell, &active) in b.active.indexed_iter() {
        if active {
            assert_eq!(
                f64::from(d.accumulation_cells[cell]),
                reference.data[cell],
                "accumulation at {cell:?}"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 20_715);
    // Catchments: ours is pysheds' accumulation at the outlet; pysheds' `catchment`
    // leaves out exactly our catchment's cells on the grid's outermost rows and columns.
    let text =
        std::fs::read_to_string(fixtures.join("trinity_catchments_pysheds.csv")).expect("fixture");
    let (rows, cols) = b.active.dim();
    let mut checked = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let k = d
            .catchments
            .iter()
            .position(|c| c.gauge == f[0])
            .expect("gauge");
        let ours = &d.catchments[k];
        assert_eq!(
            (ours.outlet_row, ours.outlet_col),
            (f[1].parse().expect("row"), f[2].parse().expect("col"))
        );
        let pysheds_catchment: usize = f[3].parse().expect("cells");
        let pysheds_accumulation: usize = f[4].parse().expect("cells");
        assert_eq!(ours.cells, pysheds_accumulation, "{}", ours.gauge);
        let on_edge = d.catchment_masks[k]
            .indexed_iter()
            .filter(|&((r, c), &m)| m && (r == 0 || c == 0 || r + 1 == rows || c + 1 == cols))
            .count();
        assert_eq!(ours.cells - on_edge, pysheds_catchment, "{}", ours.gauge);
        // Within one cell's area, as the issue asks, where the edge plays no part: the
        // area is the cells × 90 m × 90 m.
        assert!((ours.area_km2 - ours.cells as f64 * 0.0081).abs() < 1e-9);
        checked += 1;
    }
    assert_eq!(checked, 3);
    // Nested: Upper inside Middle inside Lower.
    let [lower, middle, upper] = ["Lower", "Middle", "Upper"]
        .map(|g| &d.catchment_masks[d.catchments.iter().position(|c| c.gauge == g).expect(g)]);
    for ((u, m), l) in upper.iter().zip(middle).zip(lower) {
        assert!(!*u || *m, "Upper's catchment lies inside Middle's");
        assert!(!*m || *l, "Middle's catchment lies inside Lower's");
    }
}

#[test]
fn the_folder_holds_cogs_a_geopackage_and_the_csv() {
    let b = trinity();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("h");
    let report = run(&b, &out, &HydrologyOptions::default()).expect("written");
    for name in [
        "filled_dem_m.tif",
        "flow_direction_d8.tif",
        "flow_accumulation_cells.tif",
        "flow_accumulation_km2.tif",
        "streams_strahler.tif",
    ] {
        let ds = gdal::Dataset::open(out.join(name)).expect(name);
        assert_eq!(
            gdal::Metadata::metadata_item(&ds, "LAYOUT", "IMAGE_STRUCTURE").as_deref(),
            Some("COG"),
            "{name}"
        );
        assert_eq!(
            ds.spatial_ref().expect("crs").auth_code().expect("epsg"),
            32614
        );
    }
    // Directions are ESRI codes (or 0 where water leaves the grid) on data cells.
    let dirs = read_raster(&out.join("flow_direction_d8.tif")).expect("read");
    for (cell, &a) in b.active.indexed_iter() {
        if a {
            let v = dirs.data[cell];
            assert!(
                [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0].contains(&v),
                "{v}"
            );
        }
    }
    // Streams: every stream cell drains at least the threshold; orders start at 1.
    let acc = read_raster(&out.join("flow_accumulation_cells.tif")).expect("read");
    let streams = read_raster(&out.join("streams_strahler.tif")).expect("read");
    let threshold = f64::from(report.stream_threshold_cells);
    assert_eq!(report.stream_threshold_cells, 124, "1 km² of 90 m cells");
    let mut stream_cells = 0;
    for (cell, &a) in b.active.indexed_iter() {
        if a {
            assert_eq!(
                streams.data[cell] > 0.0,
                acc.data[cell] >= threshold,
                "{cell:?}"
            );
            stream_cells += usize::from(streams.data[cell] > 0.0);
        }
    }
    assert_eq!(stream_cells, report.stream_cells);
    assert!(
        report.max_strahler_order >= 3,
        "{}",
        report.max_strahler_order
    );
    // The GeoPackage: a line per reach, a polygon per gauge with the catchment's area
    // (fields: inside, gauge, area_km2).
    use gdal::vector::LayerAccess;
    let gpkg = gdal::Dataset::open(out.join("hydrology.gpkg")).expect("gpkg");
    let reaches = gpkg
        .layer_by_name("streams")
        .expect("streams")
        .feature_count();
    assert_eq!(reaches as usize, report.stream_reaches);
    let mut layer = gpkg.layer_by_name("catchments").expect("catchments");
    let mut names = Vec::new();
    for f in layer.features() {
        let gauge = f.field_as_string(1).expect("field").expect("set");
        let area = f.field_as_double(2).expect("field").expect("set");
        let polygon_km2 = f.geometry().expect("geometry").area() / 1e6;
        let summary = report
            .catchments
            .iter()
            .find(|c| c.gauge == gauge)
            .expect("gauge");
        assert_eq!(area, summary.area_km2);
        // The polygon covers exactly the catchment's cells (each of Trinity's three is
        // one 4-connected piece, so one polygon each).
        assert!(
            (polygon_km2 - area).abs() <= area * 1e-9,
            "{gauge}: {polygon_km2} vs {area}"
        );
        names.push(gauge);
    }
    names.sort();
    assert_eq!(names, ["Lower", "Middle", "Upper"], "one polygon per gauge");
    let csv = std::fs::read_to_string(out.join("catchments.csv")).expect("csv");
    assert_eq!(csv.lines().count(), 1 + 3);
    assert!(out.join("hydrology.json").is_file());

    // An existing folder is not overwritten; a bad threshold is refused before writing.
    let err = run(&b, &out, &HydrologyOptions::default()).expect_err("exists");
    assert!(err.to_string().contains("exists"), "{err}");
    let bad = HydrologyOptions {
        stream_threshold_km2: -1.0,
        ..HydrologyOptions::default()
    };
    let err = run(&b, &dir.path().join("bad"), &bad)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("--stream-km2") && err.contains("> 0"), "{err}");
    assert!(!dir.path().join("bad").exists());
}

/// A basin smaller than 100 km² gets a stream threshold of its size: Merewether's 13 ha
/// show no stream at 1 km², and their overland flow paths at the 1 000 m² it gets. A
/// larger basin keeps 1 km².
#[test]
fn a_small_basin_gets_streams_at_a_threshold_of_its_size() {
    let merewether =
        basin::Basin::load(&repo().join("basins/merewether")).expect("the bundled basin loads");
    let options = HydrologyOptions::for_basin(&merewether);
    assert_eq!(options.stream_threshold_km2, 0.001);
    let top = |d: &basin::hydrology::Drainage| d.strahler.iter().copied().max().unwrap_or(0);
    let at_1_km2 = derive(&merewether, &HydrologyOptions::default()).expect("derived");
    assert_eq!(top(&at_1_km2), 0, "no cell of 13 ha drains 1 km²");
    let own = derive(&merewether, &options).expect("derived");
    assert!(
        top(&own) >= 2,
        "streams with confluences: order {}",
        top(&own)
    );
    assert_eq!(
        HydrologyOptions::for_basin(&trinity()).stream_threshold_km2,
        HydrologyOptions::default().stream_threshold_km2
    );
}
