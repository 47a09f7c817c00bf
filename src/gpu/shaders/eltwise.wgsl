// The guidelines' element-wise ops (G4), each a pass of its own over a whole buffer, as an
// unfused ReLU or AddTensor is: `relu_main` dst = max(dst, 0), `add_main` dst += src.
// Invocations stride over the buffer's vec4s, so any length fits the workgroup limit.

#import Elt

@group(0) @binding(0) var<uniform> e: Elt;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(256)
fn relu_main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = id.x; i < e.len4; i += groups.x * 256u) {
        dst[i] = max(dst[i], vec4<f32>(0.0));
    }
}

@compute @workgroup_size(256)
fn add_main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = id.x; i < e.len4; i += groups.x * 256u) {
        dst[i] += src[i];
    }
}
