//! Which JSON parser decodes this stream's payloads fastest into the SDK's types: serde_json
//! (what the SDK and a hand-written reader use), sonic-rs and simd-json (SIMD parsers that drive
//! the same serde `Deserialize` impls), on the flood's payload (`{"data":{"newIncidents":...}}`,
//! about 1.2 KB) decoded into `GraphQlResponse<NewIncidents>`, in this process, best of five
//! passes over 50,000 distinct payloads.

use std::time::Instant;

use anyhow::{Result, ensure};
use incident_client::operations::NewIncidents;

type Response = cynic::GraphQlResponse<NewIncidents>;

/// Nanoseconds per payload for each parser, fastest first, after checking they decode alike.
pub fn compare(payloads: usize) -> Result<Vec<(&'static str, f64)>> {
    let texts: Vec<String> = (0..payloads).map(crate::sender::incident_payload).collect();
    let reference: Response = serde_json::from_str(&texts[0])?;
    let sonic: Response = sonic_rs::from_str(&texts[0])?;
    let mut bytes = texts[0].clone().into_bytes();
    let simd: Response = simd_json::serde::from_slice(&mut bytes)?;
    let expected = format!("{:?}", reference.data);
    ensure!(
        format!("{:?}", sonic.data) == expected,
        "sonic-rs decodes differently"
    );
    ensure!(
        format!("{:?}", simd.data) == expected,
        "simd-json decodes differently"
    );
    let mut results = vec![
        (
            "serde_json",
            best(&texts, |t| Ok(serde_json::from_str(t)?))?,
        ),
        ("sonic-rs", best(&texts, |t| Ok(sonic_rs::from_str(t)?))?),
        // simd-json parses in place: the copy is part of what a client pays.
        (
            "simd-json",
            best(&texts, |t| {
                let mut bytes = t.as_bytes().to_vec();
                Ok(simd_json::serde::from_slice(&mut bytes)?)
            })?,
        ),
    ];
    results.sort_by(|a, b| a.1.total_cmp(&b.1));
    Ok(results)
}

/// The best of five passes, in nanoseconds per payload.
fn best(texts: &[String], decode: impl Fn(&str) -> Result<Response>) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let started = Instant::now();
        let mut titles = 0;
        for text in texts {
            titles += decode(text)?
                .data
                .map_or(0, |d| d.new_incidents.title.len());
        }
        std::hint::black_box(titles);
        best = best.min(started.elapsed().as_secs_f64() * 1e9 / texts.len() as f64);
    }
    Ok(best)
}
