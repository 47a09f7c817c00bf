//! `shufflenet guidelines`: the paper's Tables 1 to 4 measured on our kernels, natively, on
//! the CPU (against the paper's ARM column) and on WebGPU (against its GPU column).

use shufflenet_web::guidelines::{self, Lab, Settings, TableResult};
use shufflenet_web::{Error, Result};

/// What `--backend` names: the labs to run, in order.
fn backends(name: &str) -> Result<Vec<&'static str>> {
    match name {
        "cpu" => Ok(vec!["cpu"]),
        "webgpu" => Ok(vec!["webgpu"]),
        "all" => Ok(vec!["cpu", "webgpu"]),
        _ => Err(Error::Usage(format!(
            "unknown backend {name:?} for guidelines: expected cpu, webgpu or all"
        ))),
    }
}

fn lab(name: &str) -> Result<Box<dyn Lab>> {
    match name {
        "cpu" => Ok(Box::new(shufflenet_web::cpu::LabCpu::default())),
        #[cfg(feature = "gpu")]
        _ => Ok(Box::new(pollster::block_on(
            shufflenet_web::gpu::LabGpu::new(),
        )?)),
        #[cfg(not(feature = "gpu"))]
        _ => Err(Error::Gpu("this build has no WebGPU backend".into())),
    }
}

/// Runs `tables` at every scale of `settings` on each backend; prints each table when done
/// (markdown, or one JSON object a line).
pub fn run(backend: &str, tables: &[usize], settings: &Settings, json: bool) -> Result<()> {
    settings.check()?;
    let tables = if tables.is_empty() {
        &guidelines::TABLES[..]
    } else {
        tables
    };
    let names = backends(backend)?;
    for name in names {
        let mut lab = lab(name)?;
        for &table in tables {
            for &scale in &settings.scales {
                let result: TableResult = pollster::block_on(guidelines::measure_table(
                    lab.as_mut(),
                    table,
                    scale,
                    settings,
                    &mut |_| {},
                ))?;
                if json {
                    println!("{}", result.to_json());
                } else {
                    println!("{}", result.markdown());
                }
            }
        }
    }
    Ok(())
}
