//! Trace context for HTTP requests: the current `tracing` span's OpenTelemetry context as a W3C
//! `traceparent`, with the `trace-context` feature and a `tracing-opentelemetry` layer in the
//! application's subscriber. Without either, requests carry none and the REST
//! `X-Parent-Span-Id` is a random UUID, as the server requires one.

/// The span context of the caller's current span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpanContext {
    trace_id: u128,
    span_id: u64,
    sampled: bool,
}

impl SpanContext {
    /// `00-<trace id>-<span id>-<flags>`.
    pub(crate) fn traceparent(&self) -> String {
        format!(
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id,
            self.span_id,
            u8::from(self.sampled)
        )
    }

    /// The span id as the UUID the REST endpoint wants: its last 16 hex digits are the span id.
    pub(crate) fn span_uuid(&self) -> uuid::Uuid {
        uuid::Uuid::from_u64_pair(0, self.span_id)
    }
}

/// The current span's context, if it has a valid one.
#[cfg(feature = "trace-context")]
pub(crate) fn current() -> Option<SpanContext> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context.is_valid().then(|| SpanContext {
        trace_id: u128::from_be_bytes(span_context.trace_id().to_bytes()),
        span_id: u64::from_be_bytes(span_context.span_id().to_bytes()),
        sampled: span_context.is_sampled(),
    })
}

/// Without the `trace-context` feature there is no context to carry.
#[cfg(not(feature = "trace-context"))]
pub(crate) fn current() -> Option<SpanContext> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_and_span_uuid_follow_the_w3c_layout() {
        let context = SpanContext {
            trace_id: 0x4bf92f3577b34da6a3ce929d0e0e4736,
            span_id: 0x00f067aa0ba902b7,
            sampled: true,
        };
        assert_eq!(
            context.traceparent(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        assert_eq!(
            context.span_uuid().to_string(),
            "00000000-0000-0000-00f0-67aa0ba902b7"
        );
    }
}
