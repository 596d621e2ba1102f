//! The one description of the methods (`saliency::catalog`): the CLI without flags, a JSON
//! request without fields and a request carrying every default the catalog states give the same
//! explanation; `info --json` carries the catalog; and the viewer's modules define no method,
//! parameter, default or option of their own (they build their controls from the catalog).

use saliency::catalog::{catalog, Kind, Param};
use saliency::request::Request;
use saliency::{npy, Explainer, Model};
use serde_json::{json, Map, Value};
use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const MODEL: &str = "models/mnist_cam.onnx";
const INPUT: &str = "tests/fixtures/mnist_cam.input.npy";

/// The value a parameter takes by default, as a request field (None: no default stated).
fn default_of(p: &Param, method: &Map<String, Value>, cam_layer: &str) -> Option<Value> {
    if let Some((k, v)) = p.show_if {
        if method.get(k).and_then(Value::as_str) != Some(v) {
            return None;
        }
    }
    match &p.kind {
        Kind::Int { default, .. } => default.map(|d| json!(d)),
        Kind::Float { default, .. } => default.map(|d| json!(d)),
        Kind::Choice { default, options } => {
            let o = options
                .iter()
                .find(|o| o.value == *default)
                .expect("default among options");
            if o.params.is_empty() && options.iter().all(|o| o.params.is_empty()) {
                Some(json!(default))
            } else {
                // A choice whose options take parameters (a baseline kind): { kind, ...them }.
                let mut spec = Map::new();
                spec.insert("kind".into(), json!(default));
                for q in &o.params {
                    spec.insert(
                        q.key.into(),
                        default_of(q, &Map::new(), cam_layer).expect("a default"),
                    );
                }
                Some(Value::Object(spec))
            }
        }
        Kind::Layer { required: true } => Some(json!(cam_layer)),
        Kind::Layer { required: false } | Kind::Tensor | Kind::Rules { .. } => None,
    }
}

fn explain(
    ex: &mut Explainer,
    x: &tract_onnx::prelude::tract_ndarray::ArrayD<f32>,
    req: &Value,
) -> Vec<f32> {
    let r = Request::from_json(&req.to_string()).unwrap();
    let m = r.to_method(x, &ex.model().sidecar).unwrap();
    ex.explain(x, &m, None)
        .unwrap()
        .attribution
        .iter()
        .copied()
        .collect()
}

#[test]
fn the_cli_the_request_parser_and_the_catalog_share_every_default() {
    let root = Path::new(ROOT);
    // With its sidecar, as the CLI reads it from beside the model (the z-box bounds of LRP's
    // default composite come from its preprocessing).
    let sidecar = std::fs::read_to_string(root.join(MODEL).with_extension("json")).unwrap();
    let model = Model::load(&std::fs::read(root.join(MODEL)).unwrap(), Some(&sidecar)).unwrap();
    let cam_layer = saliency::methods::cam_layer(&model).unwrap();
    let mut ex = Explainer::new(model);
    let x = npy::read_f32(&std::fs::read(root.join(INPUT)).unwrap()).unwrap();
    let c = catalog();
    for m in &c.methods {
        let mut explicit = Map::new();
        explicit.insert("method".into(), json!(m.id));
        for p in &m.params {
            if let Some(v) = default_of(p, &explicit, &cam_layer) {
                explicit.insert(p.key.into(), v);
            }
        }
        let mut bare = json!({ "method": m.id });
        if let Some(layer) = explicit.get("layer").filter(|_| {
            m.params
                .iter()
                .any(|p| matches!(p.kind, Kind::Layer { required: true }))
        }) {
            bare["layer"] = layer.clone();
        }
        let with_defaults = explain(&mut ex, &x, &Value::Object(explicit.clone()));
        let without = explain(&mut ex, &x, &bare);
        assert_eq!(
            with_defaults, without,
            "{}: the request parser's defaults are not the catalog's ({explicit:?})",
            m.id
        );
        // The CLI with no parameter flags.
        let out = std::env::temp_dir().join(format!("saliency-catalog-{}.npy", m.id));
        let mut args = vec![
            "explain",
            "--model",
            MODEL,
            "--input",
            INPUT,
            "--method",
            m.id,
            "--out",
            out.to_str().unwrap(),
        ];
        let layer = bare
            .get("layer")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(l) = &layer {
            args.extend(["--layer", l]);
        }
        let o = Command::new(env!("CARGO_BIN_EXE_saliency"))
            .current_dir(root)
            .args(&args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}: {}",
            m.id,
            String::from_utf8_lossy(&o.stderr)
        );
        let cli: Vec<f32> = npy::read_f32(&std::fs::read(&out).unwrap())
            .unwrap()
            .iter()
            .copied()
            .collect();
        assert_eq!(
            cli, with_defaults,
            "{}: the CLI's defaults are not the catalog's",
            m.id
        );
    }
}

#[test]
fn info_json_carries_the_catalog() {
    let o = Command::new(env!("CARGO_BIN_EXE_saliency"))
        .current_dir(ROOT)
        .args(["info", "--model", MODEL, "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let want: Value = serde_json::from_str(&serde_json::to_string(&catalog()).unwrap()).unwrap();
    assert_eq!(v["catalog"], want);
    // Every method the model lists has its description.
    for m in v["methods"].as_array().unwrap() {
        let id = m["method"].as_str().unwrap();
        assert!(catalog().method(id).is_some(), "{id}");
    }
}

/// The viewer's modules (not the lessons, which choose particular rules and settings to teach
/// them) name no option of the catalog and state no default: a grep over www/*.js.
#[test]
fn the_viewer_defines_no_method_parameter_or_option() {
    let c = catalog();
    let mut options: Vec<String> = vec![];
    for m in &c.methods {
        for p in &m.params {
            if let Kind::Choice { options: o, .. } = &p.kind {
                // (Baseline kinds are ordinary words the evaluation tools use too.)
                if o.iter().all(|o| o.params.is_empty()) {
                    options.extend(o.iter().map(|o| o.value.to_string()));
                }
            }
        }
    }
    options.extend(c.lrp_rules.iter().map(|r| r.name.to_string()));
    options.extend(c.display.colormaps.iter().map(|s| s.to_string()));
    options.extend(c.display.reduce.iter().map(|s| s.to_string()));
    options.extend(
        c.display
            .upsample
            .iter()
            .filter(|&&s| s != "nearest")
            .map(|s| s.to_string()),
    );
    // 'custom' is the viewer's own choice of "rules per layer", described in the catalog too.
    options.retain(|o| o != "custom");
    let www = Path::new(ROOT).join("www");
    let mut found = vec![];
    for entry in std::fs::read_dir(&www).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".js") || name.starts_with("learn-") || name == "embed-demo.js" {
            continue;
        }
        let text: String = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for o in &options {
            for q in ['\'', '"', '`'] {
                if text.contains(&format!("{q}{o}{q}")) {
                    found.push(format!("{name}: {q}{o}{q}"));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "options written in the viewer instead of read from the catalog: {found:?}"
    );
    // methods.js, which turns the catalog into controls, states no number of its own.
    let m = std::fs::read_to_string(www.join("methods.js")).unwrap();
    let code: String = m
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let numbers: Vec<&str> = code
        .split(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
        .filter(|t| t.chars().any(|ch| ch.is_ascii_digit()) && *t != "0" && *t != "1")
        .collect();
    assert!(numbers.is_empty(), "numbers in www/methods.js: {numbers:?}");
}

/// The viewer, the element and the teaching pages use only the JS API (www/saliency.js): no
/// page module sends the worker a command of its own or starts a worker. The API and the
/// modules under it (the worker, its client, the pool, methods.js's one catalog request) are
/// the only ones that speak the worker's protocol.
#[test]
fn pages_use_only_the_js_api() {
    const UNDER_THE_API: [&str; 5] = [
        "saliency.js",
        "worker.js",
        "worker-client.js",
        "pool.js",
        "methods.js",
    ];
    let www = Path::new(ROOT).join("www");
    let mut found = vec![];
    let mut pages = 0;
    for entry in std::fs::read_dir(&www).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".js") || UNDER_THE_API.contains(&name.as_str()) {
            continue;
        }
        pages += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in [
                "worker-client.js",
                "pool.js",
                "engine",
                ".call(",
                "new Worker(",
            ] {
                if code.contains(word) {
                    found.push(format!("{name}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(pages >= 15, "only {pages} page modules found in www/");
    assert!(
        found.is_empty(),
        "page modules that bypass the JS API: {found:?}"
    );
}
