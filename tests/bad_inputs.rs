//! The bad-input corpus (tests/fixtures/bad/cases.json) through the CLI: every case exits with
//! its error kind's status (`ErrorKind::exit_code`), prints exactly one line on stderr, panics
//! nowhere and leaves no output file. The same corpus runs through the JS API in tests/wasm.rs.

use saliency::ErrorKind;
use std::path::PathBuf;
use std::process::Command;

const KINDS: [ErrorKind; 11] = [
    ErrorKind::Io,
    ErrorKind::CorruptModel,
    ErrorKind::UnsupportedOperator,
    ErrorKind::Shape,
    ErrorKind::Image,
    ErrorKind::Sidecar,
    ErrorKind::Parameter,
    ErrorKind::Limit,
    ErrorKind::NonFinite,
    ErrorKind::Npy,
    ErrorKind::Runtime,
];

fn kind(name: &str) -> ErrorKind {
    *KINDS
        .iter()
        .find(|k| k.name() == name)
        .unwrap_or_else(|| panic!("unknown kind {name}"))
}

#[test]
fn exit_codes_are_distinct() {
    let mut codes: Vec<i32> = KINDS.iter().map(|k| k.exit_code()).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), KINDS.len());
    assert!(codes.iter().all(|&c| c > 2 && c < 64));
}

#[test]
fn every_bad_input_gets_its_kind_one_line_and_no_output() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cases: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/fixtures/bad/cases.json")).unwrap(),
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("saliency-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut ran = 0;
    for c in cases["cases"].as_array().unwrap() {
        let Some(args) = c["cli"].as_array() else {
            continue;
        };
        let name = c["name"].as_str().unwrap();
        let want = kind(c["kind"].as_str().unwrap());
        let out = dir.join(format!("out{ran}.npy"));
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                a.as_str()
                    .unwrap()
                    .replace("{bad}", root.join("tests/fixtures/bad").to_str().unwrap())
                    .replace("{models}", root.join("models").to_str().unwrap())
                    .replace("{out}", out.to_str().unwrap())
            })
            .collect();
        let o = Command::new(env!("CARGO_BIN_EXE_saliency"))
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            o.status.code(),
            Some(want.exit_code()),
            "{name}: expected {} ({}), got {:?}: {stderr}",
            want.name(),
            want.exit_code(),
            o.status.code()
        );
        assert_eq!(
            stderr.lines().count(),
            1,
            "{name}: one stderr line, got:\n{stderr}"
        );
        assert!(
            stderr.starts_with("error: ") && !stderr.contains("panicked"),
            "{name}: {stderr}"
        );
        assert!(
            o.stdout.is_empty(),
            "{name}: printed {}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(!out.exists(), "{name}: left an output file");
        assert!(
            std::fs::read_dir(&dir).unwrap().count() == 0,
            "{name}: left a temporary file"
        );
        ran += 1;
    }
    assert!(ran >= 30, "only {ran} CLI cases");
}
