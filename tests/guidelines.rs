//! The guidelines lab (issue 23): every table's networks hold the FLOPs the paper holds fixed,
//! and every backend's lab runs them as the plain reference does. Runs natively and in
//! headless Chrome. No test asserts that a guideline holds: that is a measurement.

mod common;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::assert_close;
use shufflenet_web::guidelines::paper::{Column, INPUT_SIDE, SCALES};
use shufflenet_web::guidelines::{self, reference, Lab, Settings, TABLES};

/// A side small enough for a software GPU, odd so no vector width divides a row.
const SIDE: usize = 7;
const BATCH: usize = 2;

suite_test!(
    fn every_table_holds_its_flops_within_two_percent() {
        for table in TABLES {
            for column in [Column::Gpu, Column::Arm] {
                for scale in SCALES {
                    let flops: Vec<u64> = guidelines::rows(table)
                        .iter()
                        .map(|r| r.build(column, scale, INPUT_SIDE).cost(1).flops)
                        .collect();
                    for (i, &f) in flops.iter().enumerate() {
                        let off = (f as f64 - flops[0] as f64).abs() / flops[0] as f64;
                        assert!(
                            off <= 0.02,
                            "table {table} {column:?} x{scale} row {i}: {f} FLOPs vs {} ({:.1} %)",
                            flops[0],
                            100.0 * off
                        );
                    }
                }
            }
        }
    }
);

suite_test!(
    fn settings_out_of_range_are_refused_in_words() {
        let bad = [
            Settings {
                side: 0,
                ..Settings::default()
            },
            Settings {
                runs: 0,
                ..Settings::default()
            },
            Settings {
                scales: vec![3],
                ..Settings::default()
            },
        ];
        for s in bad {
            let msg = s.check().unwrap_err().to_string();
            assert!(msg.contains("not") || msg.contains("none"), "{msg}");
        }
        assert!(Settings::default().check().is_ok());
    }
);

/// Every row of every table on `lab` against the reference, on a small map.
async fn agrees_with_reference(lab: &mut dyn Lab) {
    for table in TABLES {
        for (i, row) in guidelines::rows(table).iter().enumerate() {
            let net = row.build(lab.column(), 1, SIDE);
            let input = guidelines::input_for(&net, BATCH);
            lab.load(&net, BATCH, &input).await.unwrap();
            lab.time().await.unwrap();
            let got = lab.output().await.unwrap();
            let want = reference::run(&net, BATCH, &input);
            assert_close(
                &format!("{} table {table} row {i}", lab.name()),
                &got,
                &want,
                1e-4,
            );
        }
    }
}

suite_test!(
    async fn cpu_lab_matches_the_reference() {
        let mut lab = shufflenet_web::cpu::LabCpu::default();
        agrees_with_reference(&mut lab).await;
    }
);

#[cfg(feature = "gpu")]
suite_test!(
    async fn webgpu_lab_matches_the_reference() {
        let mut lab = shufflenet_web::gpu::LabGpu::new().await.unwrap();
        agrees_with_reference(&mut lab).await;
    }
);
