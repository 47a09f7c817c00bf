//! Preprocessing (being written).
