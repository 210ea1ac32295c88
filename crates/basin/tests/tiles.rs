//! The active-tile sweep against the dense reference on every bundled preset, with the
//! preset's own scheme and with fv2: the same state and envelopes, bit for bit, after the
//! first 400 steps (short runs; the solver's own tests cover long ones).

use std::path::PathBuf;
use std::sync::Arc;

use basin::{Basin, Run, Scenario};
use hydro::{Scheme, Sweep};

#[test]
fn dense_and_tiled_agree_on_every_bundled_preset() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../basins");
    let mut presets = 0;
    for entry in std::fs::read_dir(&root).expect("basins") {
        let dir = entry.expect("entry").path();
        let basin = Arc::new(Basin::load(&dir).expect("basin"));
        for name in basin.scenario_names() {
            let path = dir.join("scenarios").join(format!("{name}.toml"));
            let own = Scenario::load(&path, &basin).expect("scenario");
            let mut fv2 = own.clone();
            fv2.file.solver.scheme = Scheme::Fv2;
            for scenario in [own, fv2] {
                let scenario = Arc::new(scenario);
                let scheme = scenario.file.solver.scheme;
                let mut runs = [Sweep::Dense, Sweep::Active].map(|sweep| {
                    let mut run = Run::new(basin.clone(), scenario.clone()).expect("run");
                    run.solver_mut().set_sweep(sweep);
                    run
                });
                for _ in 0..400 {
                    for run in &mut runs {
                        run.step(None).expect("step");
                    }
                }
                let [dense, tiled] = &runs;
                let what = format!("{}/{name} ({scheme:?})", dir.display());
                let (a, b) = (dense.solver(), tiled.solver());
                assert_eq!(a.sim_time_s(), b.sim_time_s(), "{what}: time");
                assert!(a.depth_m() == b.depth_m(), "{what}: depth");
                assert!(a.qx_m2_s() == b.qx_m2_s(), "{what}: qx");
                assert!(a.qy_m2_s() == b.qy_m2_s(), "{what}: qy");
                assert_eq!(a.balance(), b.balance(), "{what}: balance");
                for layer in &basin::results::RESULT_LAYERS {
                    let bits = |run: &Run| layer.values(run.solver()).mapv(f64::to_bits);
                    assert!(bits(dense) == bits(tiled), "{what}: {}", layer.key);
                }
                // The tiled run skipped something on the presets with dry ground.
                assert!(
                    b.swept_cells() <= a.swept_cells(),
                    "{what}: swept more than dense"
                );
                presets += 1;
            }
        }
    }
    assert_eq!(
        presets,
        2 * 19,
        "the bundled presets, each with fv1 and fv2"
    );
}
