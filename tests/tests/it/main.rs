//! Cross-crate tests, one binary: schema drift failing the build, the SDK from a user's crate,
//! and trace context with a real OpenTelemetry tracer.

mod compile_fail;
mod downstream;
mod trace_context;
