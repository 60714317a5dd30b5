//! Code written by `cargo xtask codegen`; do not edit the files in this folder by hand.

pub mod enums;
pub mod inputs;
