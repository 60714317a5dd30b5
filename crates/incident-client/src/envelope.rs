//! The fast path for a frame's envelope: the top-level `type` and `id` strings and the byte range
//! of `payload`, found without validating the payload. serde_json's `RawValue` would validate the
//! whole payload (a full JSON pass over every event) only for the subscriber's decode to validate
//! it again; here the payload's end is found by matching brackets outside strings, and the
//! subscriber's decode stays the one full pass. Anything unusual (an escape in a key or in the
//! `type`/`id` strings, a repeated key, text after the object) returns `None`, and the caller
//! parses the frame with serde_json as before, so this path only ever accepts what that one would.
//! A payload with broken JSON inside is still caught: by that one full decode.
//!
//! Servers put `payload` last (async-graphql and graphql-ws send `type`, `id`, `payload`). When
//! `type` and `id` came first, the payload is taken to run to the frame's closing brace without
//! scanning it at all: the range is *tentative*. If a member followed after all, the subscriber's
//! decode fails on the trailing text and [`RawPayload`](crate::protocol::RawPayload) falls back to
//! the exact range from the full parser, so the guess costs nothing when right and is never
//! wrong in effect.

use std::ops::Range;

/// The envelope of one frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Scanned<'a> {
    pub(crate) kind: &'a str,
    pub(crate) id: Option<&'a str>,
    pub(crate) payload: Option<Range<usize>>,
    /// Whether `payload` was taken to run to the end of the frame without being scanned.
    pub(crate) tentative: bool,
}

/// Scans `text` as a JSON object; `None` means "use the full parser".
pub(crate) fn scan(text: &str) -> Option<Scanned<'_>> {
    let bytes = text.as_bytes();
    let mut at = whitespace(bytes, 0);
    if *bytes.get(at)? != b'{' {
        return None;
    }
    at = whitespace(bytes, at + 1);
    let (mut kind, mut id, mut payload) = (None, None, None);
    if *bytes.get(at)? != b'}' {
        loop {
            let key = plain_string(bytes, at)?;
            at = whitespace(bytes, key.end + 1);
            if *bytes.get(at)? != b':' {
                return None;
            }
            at = whitespace(bytes, at + 1);
            let value_end = match &text[key.clone()] {
                "type" => string_into(bytes, text, at, &mut kind)?,
                "id" => string_into(bytes, text, at, &mut id)?,
                "payload" if kind.is_some() && id.is_some() => {
                    let end = at + text[at..closing_brace(bytes)?].trim_end().len();
                    if end <= at {
                        return None;
                    }
                    return Some(Scanned {
                        kind: kind?,
                        id,
                        payload: Some(at..end),
                        tentative: true,
                    });
                }
                "payload" => {
                    let end = skip_value(bytes, at)?;
                    if payload.replace(at..end).is_some() {
                        return None;
                    }
                    end
                }
                _ => skip_value(bytes, at)?,
            };
            at = whitespace(bytes, value_end);
            match *bytes.get(at)? {
                b',' => at = whitespace(bytes, at + 1),
                b'}' => break,
                _ => return None,
            }
        }
    }
    if whitespace(bytes, at + 1) != bytes.len() {
        return None;
    }
    Some(Scanned {
        kind: kind?,
        id,
        payload,
        tentative: false,
    })
}

/// The position of the frame's closing brace (after which only whitespace follows).
fn closing_brace(bytes: &[u8]) -> Option<usize> {
    let last = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))?;
    (bytes[last] == b'}').then_some(last)
}

/// Reads a plain string value into `slot` (once); returns where it ends.
fn string_into<'a>(
    bytes: &[u8],
    text: &'a str,
    at: usize,
    slot: &mut Option<&'a str>,
) -> Option<usize> {
    let range = plain_string(bytes, at)?;
    if slot.replace(&text[range.clone()]).is_some() {
        return None;
    }
    Some(range.end + 1)
}

fn whitespace(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// The contents of a string without escapes starting at `at` (the quote); `None` if it has
/// escapes or control characters, or does not end.
fn plain_string(bytes: &[u8], at: usize) -> Option<Range<usize>> {
    if *bytes.get(at)? != b'"' {
        return None;
    }
    let start = at + 1;
    let end = start + memchr::memchr2(b'"', b'\\', &bytes[start..])?;
    if bytes[end] == b'\\' || bytes[start..end].iter().any(|b| *b < 0x20) {
        return None;
    }
    Some(start..end)
}

/// Where the string starting at `at` (the quote) ends, past its closing quote.
fn skip_string(bytes: &[u8], at: usize) -> Option<usize> {
    let mut from = at + 1;
    loop {
        let found = from + memchr::memchr2(b'"', b'\\', bytes.get(from..)?)?;
        if bytes[found] == b'\\' {
            from = found + 2;
            continue;
        }
        return Some(found + 1);
    }
}

/// Where the value starting at `at` ends: a string, an object or array (brackets matched outside
/// strings), or a scalar (up to the next delimiter).
fn skip_value(bytes: &[u8], at: usize) -> Option<usize> {
    match *bytes.get(at)? {
        b'"' => skip_string(bytes, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match *bytes.get(i)? {
                    b'"' => {
                        i = skip_string(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let rest = &bytes[at..];
            let end = rest
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(rest.len());
            (end > 0).then_some(at + end)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload_of(text: &str) -> Option<&str> {
        scan(text)?.payload.map(|range| &text[range])
    }

    #[test]
    fn finds_type_id_and_payload_in_any_order() {
        let text =
            r#"{"id":"7","payload":{"data":{"t":"a \"}\" b","n":[1,{"x":null}]}},"type":"next"}"#;
        let scanned = scan(text).unwrap();
        assert_eq!((scanned.kind, scanned.id), ("next", Some("7")));
        assert!(
            !scanned.tentative,
            "id came first, type after the payload: scanned"
        );
        assert_eq!(
            payload_of(text),
            Some(r#"{"data":{"t":"a \"}\" b","n":[1,{"x":null}]}}"#)
        );
        let spaced = " { \"type\" : \"next\" ,\n \"payload\" : [ 1 , 2 ] , \"id\":\"x\" , \"extra\": 12.5e3 } ";
        assert_eq!(payload_of(spaced), Some("[ 1 , 2 ]"));
        assert_eq!(
            scan(r#"{"type":"connection_ack"}"#).unwrap().kind,
            "connection_ack"
        );
    }

    #[test]
    fn a_payload_after_type_and_id_is_not_scanned() {
        let text = "{\"type\":\"next\",\"id\":\"1\",\"payload\": {\"data\":{\"x\":\"}\"}} \n} ";
        let scanned = scan(text).unwrap();
        assert!(scanned.tentative);
        assert_eq!(payload_of(text), Some(r#"{"data":{"x":"}"}}"#));
        // A member after the payload ends up in the tentative range; the decode catches it.
        let odd = r#"{"type":"next","id":"1","payload":{"data":null},"extra":1}"#;
        assert_eq!(payload_of(odd), Some(r#"{"data":null},"extra":1"#));
    }

    #[test]
    fn unusual_frames_go_to_the_full_parser() {
        for text in [
            r#"{"type":"ne\u0078t","id":"1","payload":{}}"#,
            r#"{"type":"next","type":"next","payload":{}}"#,
            r#"{"type":"next","payload":{},"payload":{}}"#,
            r#"{"type":"next","payload":{"a":"unterminated}"#,
            r#"{"type":"next"} trailing"#,
            r#"{"id":"1"}"#,
            r#"["type","next"]"#,
            "",
            r#"{"type":"next","payload":}"#,
        ] {
            assert_eq!(scan(text), None, "{text}");
        }
    }

    #[test]
    fn agrees_with_serde_json_on_what_it_accepts() {
        let frames = [
            r#"{"type":"next","id":"1","payload":{"data":{"newIncidents":{"id":"a","title":"x\\y"}}}}"#,
            r#"{"payload":{"errors":[{"message":"m"}]},"id":"2","type":"next"}"#,
            r#"{"type":"complete","id":"3"}"#,
        ];
        for text in frames {
            let scanned = scan(text).unwrap();
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(value["type"], scanned.kind);
            assert_eq!(value["id"].as_str(), scanned.id);
            if let Some(range) = scanned.payload {
                let payload: serde_json::Value = serde_json::from_str(&text[range]).unwrap();
                assert_eq!(payload, value["payload"]);
            }
        }
    }
}
