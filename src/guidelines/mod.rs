//! The paper's four guidelines (ShuffleNet V2, section 2), measured on our own kernels: the
//! benchmark networks of Tables 1 to 4 (`net`), the paper's figures (`paper`), a plain
//! reference (`reference`), and the measurement every backend shares (`Lab`, `measure`).
//!
//! The CPU backend is compared with the paper's ARM column and uses its sizes; WebGPU with
//! its GPU column and sizes. Nothing here decides whether a guideline holds: `verdict`
//! only says what the figures show.

pub mod net;
pub mod paper;
pub mod reference;

use crate::backend::LocalFuture;
use crate::{Error, Result};
use net::{Cost, LabNet};
use paper::Column;

/// A backend that runs benchmark networks.
pub trait Lab {
    /// The backend, as the results name it ("cpu-native", "webgpu: llvmpipe ...").
    fn name(&self) -> String;
    /// The paper's column it is compared with.
    fn column(&self) -> Column;
    /// Loads `net` for a batch of `batch` images and `input` (NCHW, the input buffer's
    /// channels).
    fn load<'a>(
        &'a mut self,
        net: &'a LabNet,
        batch: usize,
        input: &'a [f32],
    ) -> LocalFuture<'a, Result<()>>;
    /// Runs the loaded network once and returns its duration in ms, finished (GPU: fenced).
    fn time(&mut self) -> LocalFuture<'_, Result<f64>>;
    /// The loaded network's output buffer after the last run, NCHW.
    fn output(&mut self) -> LocalFuture<'_, Result<Vec<f32>>>;
}

/// What a lab answers when asked to run before a network was loaded.
pub fn not_loaded() -> Error {
    Error::Input("no benchmark network loaded".into())
}

/// The guidelines, as the paper states them.
pub const GUIDELINES: [(&str, &str); 4] = [
    (
        "G1",
        "Equal channel width minimizes memory access cost (MAC)",
    ),
    ("G2", "Excessive group convolution increases MAC"),
    ("G3", "Network fragmentation reduces degree of parallelism"),
    ("G4", "Element-wise operations are non-negligible"),
];

/// What to run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Input side (the paper's: 56).
    pub side: usize,
    /// Images per batch.
    pub batch: usize,
    /// Timed runs per row (after one untimed warm-up); the median is reported.
    pub runs: usize,
    /// Width scales (the paper's x1, x2, x4).
    pub scales: Vec<usize>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            side: paper::INPUT_SIDE,
            batch: 1,
            runs: 7,
            scales: vec![1],
        }
    }
}

/// Settings a visitor or a flag may give; anything else is a clear error.
pub const MAX_SIDE: usize = 224;
pub const MAX_BATCH: usize = 64;
pub const MAX_RUNS: usize = 1000;

impl Settings {
    pub fn check(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Input(what));
        if !(1..=MAX_SIDE).contains(&self.side) {
            return bad(format!(
                "input side {} is not within 1..={MAX_SIDE}",
                self.side
            ));
        }
        if !(1..=MAX_BATCH).contains(&self.batch) {
            return bad(format!(
                "batch {} is not within 1..={MAX_BATCH}",
                self.batch
            ));
        }
        if !(1..=MAX_RUNS).contains(&self.runs) {
            return bad(format!("runs {} is not within 1..={MAX_RUNS}", self.runs));
        }
        if self.scales.is_empty() {
            return bad("no width scale given".into());
        }
        for &s in &self.scales {
            if paper::scale_index(s).is_none() {
                return bad(format!("width scale {s} is none of the paper's (1, 2, 4)"));
            }
        }
        Ok(())
    }
}

/// One row of a table: what it varies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Variant {
    /// G1: `(c1, c2)` at x1, GPU and ARM.
    Widths {
        ratio: &'static str,
        sizes: [(usize, usize); 2],
    },
    /// G2: groups and channels at x1, GPU and ARM.
    Groups { g: usize, c: [usize; 2] },
    /// G3: fragments in series or in parallel.
    Fragments {
        n: usize,
        parallel: bool,
        label: &'static str,
    },
    /// G4: the bottleneck with or without its ReLUs and shortcut.
    Bottleneck { relu: bool, shortcut: bool },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    pub variant: Variant,
    /// The paper's speeds, `[column][scale]`.
    pub paper: paper::Speeds,
}

/// Table `t` (1 to 4)'s rows.
pub fn rows(t: usize) -> Vec<Row> {
    match t {
        1 => paper::TABLE1
            .iter()
            .map(|&(ratio, sizes, paper)| Row {
                variant: Variant::Widths { ratio, sizes },
                paper,
            })
            .collect(),
        2 => paper::TABLE2
            .iter()
            .map(|&(g, c, paper)| Row {
                variant: Variant::Groups { g, c },
                paper,
            })
            .collect(),
        3 => paper::TABLE3
            .iter()
            .map(|&(label, n, parallel, paper)| Row {
                variant: Variant::Fragments { n, parallel, label },
                paper,
            })
            .collect(),
        4 => paper::TABLE4
            .iter()
            .map(|&(relu, shortcut, paper)| Row {
                variant: Variant::Bottleneck { relu, shortcut },
                paper,
            })
            .collect(),
        _ => Vec::new(),
    }
}

pub const TABLES: [usize; 4] = [1, 2, 3, 4];

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

impl Row {
    pub fn label(&self) -> String {
        match self.variant {
            Variant::Widths { ratio, .. } => ratio.to_string(),
            Variant::Groups { g, .. } => format!("g={g}"),
            Variant::Fragments { label, .. } => label.to_string(),
            Variant::Bottleneck { relu, shortcut } => {
                format!("ReLU {}, shortcut {}", yes(relu), yes(shortcut))
            }
        }
    }

    /// The network of this row for `column`'s sizes at width `scale`.
    pub fn build(&self, column: Column, scale: usize, side: usize) -> LabNet {
        let at = paper::col(column);
        let r = paper::REPEAT;
        let seed = 1 + scale as u64;
        match self.variant {
            Variant::Widths { sizes, .. } => {
                let (c1, c2) = g1_widths(sizes, at);
                net::widths(side, c1 * scale, c2 * scale, r, seed)
            }
            Variant::Groups { g, c } => net::groups(side, c[at] * scale, g, r, seed),
            Variant::Fragments { n, parallel, .. } => {
                let c = paper::TABLE3_C[at] * scale;
                let c = if parallel { c } else { series_width(c, n) };
                net::fragments(side, c, n, parallel, r, seed)
            }
            Variant::Bottleneck { relu, shortcut } => {
                net::bottleneck(side, paper::TABLE4_C * scale, relu, shortcut, r, seed)
            }
        }
    }

    /// The configuration as the table prints it.
    pub fn config(&self, net: &LabNet) -> String {
        let first_conv = net.ops.iter().find_map(|op| match op {
            net::Op::Conv { conv, .. } => Some(conv),
            _ => None,
        });
        let (cin, cout) = first_conv.map_or((0, 0), |c| (c.in_ch, c.out_ch));
        match self.variant {
            Variant::Widths { .. } => format!("(c1,c2)=({cin},{cout})"),
            Variant::Groups { g, .. } if cin == cout => format!("c={cin}, g={g}"),
            Variant::Groups { g, .. } => format!("c={cin}/{cout} alternating, g={g}"),
            Variant::Fragments { n, parallel, .. } if parallel => {
                format!("c={cin}, {n} x (1x1 {cin}->{cout}), concat")
            }
            Variant::Fragments { n, .. } => format!("c={cin}, {n} x 1x1 in series"),
            Variant::Bottleneck { .. } => format!("c={cin}"),
        }
    }
}

/// G1's widths: the paper's c1, and c2 from the FLOPs its first row fixes. The printed c2
/// misses them by up to 5.5 % ((36,432): -5.1 %; (22,44): -5.5 %).
pub fn g1_widths(sizes: [(usize, usize); 2], at: usize) -> (usize, usize) {
    let (f1, f2) = paper::TABLE1[0].1[at];
    let c1 = sizes[at].0;
    (c1, ((f1 * f2) as f64 / c1 as f64).round() as usize)
}

/// G3's series width: `n` convs of `c / sqrt(n)` channels have the FLOPs of one of `c`.
pub fn series_width(c: usize, n: usize) -> usize {
    (c as f64 / (n as f64).sqrt()).round() as usize
}

/// A measured row.
#[derive(Clone, Debug, PartialEq)]
pub struct RowResult {
    pub label: String,
    pub config: String,
    pub median_ms: f64,
    /// Batches/s (GPU column) or images/s (ARM column): `batch / median` for images.
    pub throughput: f64,
    pub cost: Cost,
    /// The paper's figure for this row at this scale, in its unit.
    pub paper: f64,
}

/// A measured table at one scale.
#[derive(Clone, Debug, PartialEq)]
pub struct TableResult {
    pub table: usize,
    pub scale: usize,
    pub backend: String,
    pub column: Column,
    pub side: usize,
    pub batch: usize,
    pub runs: usize,
    pub rows: Vec<RowResult>,
}

/// Deterministic input values in [-1, 1).
pub fn input_for(net: &LabNet, batch: usize) -> Vec<f32> {
    let mut rng = net::Rng(0x5EED_F1AB);
    (0..batch * net.image_len(0)).map(|_| rng.unit()).collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Times row `row` of table `table` at `scale` on `lab`: one warm-up run, then the median.
pub async fn measure(
    lab: &mut dyn Lab,
    table: usize,
    row: usize,
    scale: usize,
    s: &Settings,
) -> Result<RowResult> {
    let spec = rows(table)
        .get(row)
        .copied()
        .ok_or_else(|| Error::Input(format!("table {table} has no row {row}")))?;
    let column = lab.column();
    let net = spec.build(column, scale, s.side);
    let input = input_for(&net, s.batch);
    lab.load(&net, s.batch, &input).await?;
    lab.time().await?;
    let mut times = Vec::with_capacity(s.runs);
    for _ in 0..s.runs {
        times.push(lab.time().await?);
    }
    let median_ms = median(times);
    let per_second = 1000.0 / median_ms.max(1e-9);
    let throughput = match column {
        Column::Gpu => per_second,
        Column::Arm => per_second * s.batch as f64,
    };
    let si = paper::scale_index(scale).unwrap_or(0);
    Ok(RowResult {
        label: spec.label(),
        config: spec.config(&net),
        median_ms,
        throughput,
        cost: net.cost(s.batch),
        paper: spec.paper[paper::col(column)][si],
    })
}

/// Every row of `table` at `scale`; `progress` is told after each row.
pub async fn measure_table(
    lab: &mut dyn Lab,
    table: usize,
    scale: usize,
    s: &Settings,
    progress: &mut dyn FnMut(&RowResult),
) -> Result<TableResult> {
    s.check()?;
    if !TABLES.contains(&table) {
        return Err(Error::Input(format!(
            "no table {table}: the paper's are 1 to 4"
        )));
    }
    let mut results = Vec::new();
    for row in 0..rows(table).len() {
        let r = measure(lab, table, row, scale, s).await?;
        progress(&r);
        results.push(r);
    }
    Ok(TableResult {
        table,
        scale,
        backend: lab.name(),
        column: lab.column(),
        side: s.side,
        batch: s.batch,
        runs: s.runs,
        rows: results,
    })
}

/// Below this speed difference a comparison is called even.
const EVEN: f64 = 0.03;

impl TableResult {
    pub fn guideline(&self) -> (&'static str, &'static str) {
        GUIDELINES[self.table - 1]
    }

    /// Speed of row `i` against the first row (> 1: faster).
    pub fn ratio(&self, i: usize) -> f64 {
        self.rows[i].throughput / self.rows[0].throughput
    }

    pub fn paper_ratio(&self, i: usize) -> f64 {
        self.rows[i].paper / self.rows[0].paper
    }

    /// The rows the guideline says should be fastest and slowest: (favoured, other).
    fn compared(&self) -> (usize, usize) {
        let last = self.rows.len() - 1;
        match self.table {
            // The fewest fragments against the most, in series or in parallel (the slower).
            3 => {
                let worst = if self.rows[2].throughput < self.rows[last].throughput {
                    2
                } else {
                    last
                };
                (0, worst)
            }
            // Without ReLU and shortcut against the full unit.
            4 => (last, 0),
            _ => (0, last),
        }
    }

    /// One sentence: whether the favoured configuration ran faster here, by how much, and
    /// what the paper measured on its device.
    pub fn verdict(&self) -> String {
        let (g, _) = self.guideline();
        let (a, b) = self.compared();
        let ours = self.rows[a].throughput / self.rows[b].throughput;
        let theirs = self.rows[a].paper / self.rows[b].paper;
        let (la, lb) = (&self.rows[a].label, &self.rows[b].label);
        let device = self.column.device();
        let said = if ours >= 1.0 + EVEN {
            format!("{g} held here: {la} ran {ours:.2}x the speed of {lb}")
        } else if ours <= 1.0 - EVEN {
            format!("{g} did not hold here: {la} ran at {ours:.2}x the speed of {lb}")
        } else {
            format!("{g} did not show here: {la} and {lb} ran within 3 % ({ours:.2}x)")
        };
        format!("{said} (paper, {device}: {theirs:.2}x).")
    }

    /// Markdown: one line per row, ours beside the paper's.
    pub fn markdown(&self) -> String {
        let (g, claim) = self.guideline();
        let unit = self.column.unit();
        let mut s = format!(
            "Table {} ({g}: {claim}), {}, x{}, {side}x{side}, batch {}, median of {} runs\n\n\
             | row | configuration | ms | {unit} | FLOPs | MAC bytes | ratio | paper {unit} | paper ratio |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
            self.table,
            self.backend,
            self.scale,
            self.batch,
            self.runs,
            side = self.side,
        );
        for (i, r) in self.rows.iter().enumerate() {
            s.push_str(&format!(
                "| {} | {} | {:.3} | {:.1} | {} | {} | {:.2} | {} | {:.2} |\n",
                r.label,
                r.config,
                r.median_ms,
                r.throughput,
                r.cost.flops,
                r.cost.mac_bytes,
                self.ratio(i),
                r.paper,
                self.paper_ratio(i),
            ));
        }
        s.push('\n');
        s.push_str(&self.verdict());
        s.push('\n');
        s
    }

    pub fn to_json(&self) -> serde_json::Value {
        let (g, claim) = self.guideline();
        let rows: Vec<_> = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                serde_json::json!({
                    "label": r.label,
                    "config": r.config,
                    "median_ms": r.median_ms,
                    "throughput": r.throughput,
                    "flops": r.cost.flops,
                    "mac_bytes": r.cost.mac_bytes,
                    "ratio": self.ratio(i),
                    "paper": r.paper,
                    "paper_ratio": self.paper_ratio(i),
                })
            })
            .collect();
        serde_json::json!({
            "table": self.table,
            "guideline": g,
            "claim": claim,
            "backend": self.backend,
            "paper_column": self.column.device(),
            "unit": self.column.unit(),
            "scale": self.scale,
            "side": self.side,
            "batch": self.batch,
            "runs": self.runs,
            "rows": rows,
            "verdict": self.verdict(),
        })
    }
}
