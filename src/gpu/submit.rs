//! One frame on the GPU: record every stage into one command buffer, submit it, and read
//! the logits, pooled features and stage timestamps back in one copy.

use super::plan::{Kernel, Plan};
use super::timing::Estimate;
use super::{FrameInput, GpuBackend, GpuFault, GpuStats, TIMESTAMP_BYTES};
use crate::backend::{FrameCounts, Output, StageTimes, TimingMethod};
use crate::model::Stage;
use crate::{Error, Result};

/// What a frame's readback held, before stage times are estimated.
pub(super) struct RawFrame {
    logits: Vec<f32>,
    features: Vec<f32>,
    batch: usize,
    /// Stage times already measured (fenced or frame-only), or the timestamps in ns.
    times: Result<[f64; 5], [u64; 10]>,
    stats: GpuStats,
}

impl GpuBackend {
    /// Injected faults and earlier device errors stop a frame before it starts.
    pub(super) fn before_frame(&mut self) -> Result<()> {
        if self.options.fault() == Some(GpuFault::DeviceLost { frame: self.frames }) {
            self.ctx.device.destroy();
            self.ctx
                .health
                .mark_lost(format!("device lost before frame {} (forced)", self.frames));
        }
        self.ctx.health.check()
    }

    fn pipeline(&self, kernel: Kernel) -> &wgpu::ComputePipeline {
        match kernel {
            Kernel::Stem => &self.pipes.stem,
            Kernel::Dw => &self.pipes.dw,
            Kernel::Pw => &self.pipes.pw,
            Kernel::Head => &self.pipes.head,
            Kernel::Fc => &self.pipes.fc,
            Kernel::Conv => &self.pipes.conv,
            Kernel::Copy => &self.pipes.copy,
        }
    }

    /// The query set and its resolve buffer, when stages are timed with timestamps.
    fn timestamp_queries(&self) -> Option<&(wgpu::QuerySet, wgpu::Buffer)> {
        self.queries
            .as_ref()
            .filter(|_| self.timing_method() == TimingMethod::GpuTimestamps)
    }

    /// Records one stage's dispatches into a compute pass of its own.
    pub(super) fn record_stage(
        &self,
        enc: &mut wgpu::CommandEncoder,
        plan: &Plan,
        stage: usize,
        pre: Option<&wgpu::BindGroup>,
    ) {
        let timestamp_writes =
            self.timestamp_queries()
                .map(|(set, _)| wgpu::ComputePassTimestampWrites {
                    query_set: set,
                    beginning_of_pass_write_index: Some(2 * stage as u32),
                    end_of_pass_write_index: Some(2 * stage as u32 + 1),
                });
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(Stage::ALL[stage].name()),
            timestamp_writes,
        });
        // Preprocessing is timed with the stem.
        if let Some(bind) = pre.filter(|_| stage == 0) {
            let [x, y, z] = FrameInput::groups();
            pass.set_pipeline(&self.pipes.pre);
            pass.set_bind_group(0, bind, &[]);
            pass.dispatch_workgroups(x, y, z);
        }
        for d in &plan.stages[stage] {
            pass.set_pipeline(self.pipeline(d.kernel));
            pass.set_bind_group(0, &d.bind, &[]);
            pass.dispatch_workgroups(d.groups[0], d.groups[1], d.groups[2]);
        }
    }

    pub(super) async fn execute(
        &self,
        plan: &Plan,
        pre: Option<&wgpu::BindGroup>,
    ) -> Result<RawFrame> {
        let start = web_time::Instant::now();
        let device = &self.ctx.device;
        let new_encoder = || device.create_command_encoder(&Default::default());
        let method = self.timing_method();
        let fenced = method == TimingMethod::GpuFenced;
        let mut ms = [0.0; 5];
        let mut submits = 0;
        let mut enc = new_encoder();
        for (stage, stage_ms) in ms.iter_mut().enumerate() {
            self.record_stage(&mut enc, plan, stage, pre);
            if fenced {
                // The precise mode: a submit and a wait per stage.
                let lap = web_time::Instant::now();
                self.ctx.queue.submit([enc.finish()]);
                submits += 1;
                self.ctx.wait_idle().await?;
                *stage_ms = lap.elapsed().as_secs_f64() * 1e3;
                enc = new_encoder();
            }
        }
        if let Some((set, resolve)) = self.timestamp_queries() {
            enc.resolve_query_set(set, 0..10, resolve, 0);
            enc.copy_buffer_to_buffer(resolve, 0, &plan.staging, 0, TIMESTAMP_BYTES);
        }
        enc.copy_buffer_to_buffer(
            &plan.logits,
            0,
            &plan.staging,
            TIMESTAMP_BYTES,
            plan.logits_bytes,
        );
        // The features ride in the same readback, after the logits.
        enc.copy_buffer_to_buffer(
            &plan.pooled,
            0,
            &plan.staging,
            TIMESTAMP_BYTES + plan.logits_bytes,
            plan.pooled_bytes,
        );
        self.ctx.queue.submit([enc.finish()]);
        submits += 1;
        let bytes = self.read_back(&plan.staging).await?;

        let times = match method {
            TimingMethod::GpuTimestamps => {
                let ticks: &[u64] = bytemuck::cast_slice(&bytes[..TIMESTAMP_BYTES as usize]);
                let period = f64::from(self.ctx.queue.get_timestamp_period());
                let mut ns = [0u64; 10];
                for (n, &t) in ns.iter_mut().zip(ticks) {
                    *n = (t as f64 * period).round() as u64;
                }
                Err(ns)
            }
            // The whole frame is charged to the head, where the readback waits.
            TimingMethod::FrameOnly => {
                ms[4] = start.elapsed().as_secs_f64() * 1e3;
                Ok(ms)
            }
            _ => Ok(ms),
        };
        let stats = GpuStats {
            counts: FrameCounts {
                dispatches_per_frame: plan.dispatches() + usize::from(pre.is_some()),
                submits_per_frame: submits,
                readbacks_per_frame: 1,
                bytes_read_back_per_frame: bytes.len() as u64,
                ..self.last.counts
            },
            shape: plan.work,
            ..self.last
        };
        let (logits, features) =
            bytes[TIMESTAMP_BYTES as usize..].split_at(plan.logits_bytes as usize);
        Ok(RawFrame {
            logits: bytemuck::pod_collect_to_vec(logits),
            features: bytemuck::pod_collect_to_vec(features),
            batch: plan.shape[0],
            times,
            stats,
        })
    }

    /// Turns a frame's readback into its output: timestamps go through the estimator,
    /// which averages them when the clock is quantized.
    pub(super) fn finish_frame(&mut self, frame: RawFrame, upload: u64) -> Result<Output> {
        let estimate = match frame.times {
            Ok(ms) => Estimate {
                ms,
                resolution_ms: None,
                frames_averaged: 1,
            },
            Err(stamps) => self.estimator.add(&stamps),
        };
        self.last = GpuStats {
            counts: FrameCounts {
                bytes_uploaded_per_frame: upload,
                ..frame.stats.counts
            },
            ..frame.stats
        };
        Ok(Output {
            batch: frame.batch,
            classes: self.classes,
            logits: frame.logits,
            threads: 1,
            feature_len: self.feature_len,
            features: frame.features,
            times: StageTimes {
                ms: estimate.ms,
                method: self.timing_method(),
                resolution_ms: estimate.resolution_ms,
                frames_averaged: estimate.frames_averaged,
            },
        })
    }

    /// Maps the staging buffer and copies it out: the frame's one readback.
    pub(super) async fn read_back(&self, staging: &wgpu::Buffer) -> Result<Vec<u8>> {
        let (tx, rx) = futures_channel::oneshot::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.ctx.poll()?;
        let mapped = rx
            .await
            .map_err(|_| Error::Gpu("the GPU dropped the readback".into()))?;
        self.ctx.health.check()?;
        mapped.map_err(|e| Error::Gpu(format!("reading results back failed: {e}")))?;
        let bytes = staging
            .get_mapped_range(..)
            .map_err(|e| Error::Gpu(format!("reading results back failed: {e}")))?
            .to_vec();
        staging.unmap();
        self.ctx.health.check()?;
        Ok(bytes)
    }
}
