// The activations the kernels apply, by code (`ACT_*`, generated from params.rs).

#import act_codes

fn activate(v: f32, act: u32) -> f32 {
    if act == ACT_RELU {
        return max(v, 0.0);
    }
    if act == ACT_RELU6 {
        return clamp(v, 0.0, 6.0);
    }
    return v;
}

fn activate4(v: vec4<f32>, act: u32) -> vec4<f32> {
    if act == ACT_RELU {
        return max(v, vec4<f32>(0.0));
    }
    if act == ACT_RELU6 {
        return clamp(v, vec4<f32>(0.0), vec4<f32>(6.0));
    }
    return v;
}
