//! LRP rule strings as typed on the CLI (`LAYERS=RULE`) or in the viewer's rule table, and
//! composite names: parsed, resolved against a 5-layer net, or refused with a clean error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use saliency::lrp::{LayerSelection, LrpSpec};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.lines();
    let composite = lines.next().filter(|c| !c.is_empty());
    let rules: Vec<(String, String)> = lines.filter_map(|l| LrpSpec::split_assignment(l).ok()).collect();
    let _ = LrpSpec::parse(&rules, composite, Some(-1.0), Some(1.0));
    if let Ok(sel) = LayerSelection::parse(text) {
        for n in [0, 1, 5] {
            if let Ok(v) = sel.layers(n) {
                assert!(v.iter().all(|&i| i < n));
            }
        }
    }
    let _ = saliency::lrp::rules::LrpRule::parse(text);
});
