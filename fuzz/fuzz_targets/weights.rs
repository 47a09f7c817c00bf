//! Any bytes through every weights reader: safetensors, torch zip and legacy .pth.
//! Finding: a panic, a hang, or an allocation far beyond the input's size.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = shufflenet_web::weights::load(data);
});
