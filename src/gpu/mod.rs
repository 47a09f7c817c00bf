//! WebGPU backend (being written).
