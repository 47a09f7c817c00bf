// The classifier kernels' bindings (fc.wgsl, fc_split.wgsl, fc_subgroup.wgsl).

#import Fc

@group(0) @binding(0) var<uniform> f: Fc;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
