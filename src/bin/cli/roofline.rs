//! `shufflenet bench --layers`: the frame's stages against this machine's roofline. The
//! stages' times are the bench's; their multiply-adds and bytes come from the network
//! (`Network::costs`); peak and bandwidth are measured here on one thread (`Roofline`).
//! Layer kinds inside a stage run fused, so they get their share of work, not a time.

use shufflenet_web::cpu::Roofline;
use shufflenet_web::model::{Cost, Network, Stage};
use std::fmt::Write;

pub struct LayerReport {
    pub table: String,
    pub json: serde_json::Value,
}

/// `stage_ms`: each stage's mean time for `batch` images of `size` x `size`.
pub fn report(net: &Network, size: usize, batch: usize, stage_ms: &[f64; 5]) -> LayerReport {
    let roof = Roofline::measure(300.0);
    let rows = net.costs(size, size);
    let mut table = format!(
        "roofline, one thread: peak {:.1} GMAC/s, read {:.1} GB/s\n  {:7} {:14} {:>8} {:>9} {:>10} {:>9} {:>8}\n",
        roof.gmacs, roof.read_gbps, "stage", "kind", "MMAC", "bytes/MAC", "attainable", "achieved", "of peak"
    );
    let mut stages = Vec::new();
    for stage in Stage::ALL {
        let mine: Vec<_> = rows.iter().filter(|r| r.stage == stage).collect();
        let total = mine.iter().fold(Cost::default(), |a, r| Cost {
            macs: a.macs + r.cost.macs,
            bytes: a.bytes + r.cost.bytes,
        });
        let ms = stage_ms[stage as usize];
        let achieved = (total.macs * batch as u64) as f64 / (ms.max(1e-9) * 1e6);
        let mut kinds = Vec::new();
        for r in &mine {
            let c = r.cost;
            // The pools move bytes and do no multiply-adds: no rate to bound.
            let (per_mac, bound) = match c.macs {
                0 => ("-".to_string(), "-".to_string()),
                _ => (
                    format!("{:.3}", c.bytes_per_mac()),
                    format!("{:.1}", roof.attainable(c.bytes_per_mac())),
                ),
            };
            let _ = writeln!(
                table,
                "  {:7} {:14} {:8.2} {:>9} {:>10}",
                stage.name(),
                r.kind,
                c.macs as f64 / 1e6,
                per_mac,
                bound,
            );
            kinds.push(serde_json::json!({"kind": r.kind, "macs": c.macs, "bytes": c.bytes,
                "bytes_per_mac": c.bytes_per_mac(), "attainable_gmacs": roof.attainable(c.bytes_per_mac())}));
        }
        let _ = writeln!(
            table,
            "  {:7} {:14} {:8.2} {:9.3} {:10.1} {:9.1} {:7.0}%",
            stage.name(),
            "(all)",
            total.macs as f64 / 1e6,
            total.bytes_per_mac(),
            roof.attainable(total.bytes_per_mac()),
            achieved,
            achieved / roof.gmacs * 100.0
        );
        stages.push(
            serde_json::json!({"stage": stage.name(), "ms": ms, "macs": total.macs,
            "bytes_per_mac": total.bytes_per_mac(), "achieved_gmacs": achieved,
            "of_peak": achieved / roof.gmacs, "kinds": kinds}),
        );
    }
    LayerReport {
        table,
        json: serde_json::json!({"peak_gmacs": roof.gmacs, "read_gbps": roof.read_gbps, "stages": stages}),
    }
}
