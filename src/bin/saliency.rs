//! `saliency`: the native command line over the same core as the browser viewer.
//! Contract: docs/conventions.md. Every failure is one line on stderr and a
//! non-zero exit; output files are written whole or not at all.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    std::process::exit(cli::main());
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use clap::{Parser, Subcommand};
    use saliency::baseline::BaselineSpec;
    use saliency::request::Request;
    use saliency::{
        err, info, npy, preprocess, Baseline, Error, Explainer, Method, Model, Result, Sidecar,
    };
    use std::path::{Path, PathBuf};
    use std::time::Instant;
    use tract_onnx::prelude::tract_ndarray::ArrayD;

    #[derive(Parser)]
    #[command(
        name = "saliency",
        version,
        about = "Explain ONNX image classifiers (CAM, Grad-CAM, IG, LRP, ...)"
    )]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        /// Describe a model: input, preprocessing, nodes, numbered layers, applicable methods.
        Info {
            #[arg(long)]
            model: PathBuf,
            /// Sidecar JSON (default: the model's path with a .json extension, if present).
            #[arg(long)]
            sidecar: Option<PathBuf>,
            /// Print JSON instead of text.
            #[arg(long)]
            json: bool,
        },
        /// Classify one input (image file or .npy tensor); prints the top classes as JSON.
        Predict {
            #[arg(long)]
            model: PathBuf,
            #[arg(long)]
            input: PathBuf,
            #[arg(long)]
            sidecar: Option<PathBuf>,
            /// How many classes to print.
            #[arg(long, default_value_t = 5)]
            top: usize,
            /// Also write the raw scores (logits) as float32 .npy.
            #[arg(long)]
            logits_out: Option<PathBuf>,
        },
        /// Explain one input: writes the attribution as float32 .npy, prints one JSON line.
        Explain(ExplainArgs),
        /// Score an explanation: deletion/insertion curves and their areas, the CAM-paper box,
        /// the pointing game, the cascading-randomisation sanity check. Prints one JSON line.
        Evaluate(EvaluateArgs),
    }

    /// The model and the input every explaining command reads.
    #[derive(clap::Args)]
    struct InputArgs {
        #[arg(long)]
        model: PathBuf,
        /// An image file (preprocessed as the sidecar says) or a .npy tensor of the input's shape.
        #[arg(long)]
        input: PathBuf,
        /// Sidecar JSON (default: the model's path with a .json extension, if present).
        #[arg(long)]
        sidecar: Option<PathBuf>,
    }

    /// An explanation method and its parameters (docs/conventions.md).
    #[derive(clap::Args)]
    #[command(allow_negative_numbers = true)]
    struct MethodArgs {
        /// gradient, gradient-x-input, guided-backprop, integrated-gradients, smoothgrad, grad-cam, cam, lrp
        #[arg(long)]
        method: String,
        /// Class to explain (default: the top class).
        #[arg(long)]
        target: Option<usize>,
        // The defaults of the method parameters are the library's (saliency::catalog), applied
        // by the request parser: the CLI, the viewer and a JSON request share them.
        /// Integrated gradients: number of steps (default 50).
        #[arg(long)]
        steps: Option<usize>,
        /// Integrated gradients: riemann-left, riemann-right, riemann-middle, riemann-trapezoid,
        /// gauss-legendre (default).
        #[arg(long)]
        ig_rule: Option<String>,
        /// Integrated gradients: a constant (model-input units; default 0) or a .npy tensor of the
        /// input's shape.
        #[arg(long)]
        baseline: Option<String>,
        /// SmoothGrad: number of noisy samples (default 50).
        #[arg(long)]
        samples: Option<usize>,
        /// SmoothGrad: noise level, as a fraction of the input's value range (default 0.15).
        #[arg(long)]
        noise: Option<f32>,
        /// SmoothGrad: random seed (default 0).
        #[arg(long)]
        seed: Option<u64>,
        /// Grad-CAM / CAM: the ONNX tensor name of the layer.
        #[arg(long)]
        layer: Option<String>,
        /// LRP: LAYERS=RULE, repeatable. LAYERS: 3, 1-4, 5-, - or a comma list; RULE: zero,
        /// epsilon:E, gamma:G, alpha-beta:A,B, flat, w-square, zbox, zbox:L,H. Unassigned layers get
        /// epsilon:1e-6; later assignments override earlier ones and the composite.
        #[arg(long = "rule", allow_hyphen_values = true)]
        rules: Vec<String>,
        /// LRP preset: epsilon-gamma-box, epsilon-plus-flat, epsilon-alpha2-beta1-flat, layered[:LOWER_END,UPPER_START].
        #[arg(long)]
        composite: Option<String>,
        /// LRP z-box lowest input value (epsilon-gamma-box, layered; default: from the preprocessing).
        #[arg(long, allow_hyphen_values = true)]
        low: Option<f32>,
        /// LRP z-box highest input value.
        #[arg(long, allow_hyphen_values = true)]
        high: Option<f32>,
        /// LRP: also print the relevance entering and leaving each layer.
        #[arg(long)]
        per_layer: bool,
    }

    #[derive(clap::Args)]
    struct ExplainArgs {
        #[command(flatten)]
        input: InputArgs,
        #[command(flatten)]
        how: MethodArgs,
        /// Where to write the attribution (float32 .npy).
        #[arg(long)]
        out: PathBuf,
        /// Benchmarking: explain N times on the loaded model (the same result each time) and
        /// report the median time as `seconds` (each run's in `seconds_each`): the first run
        /// of a fresh process also pays for its first allocations.
        #[arg(long, default_value_t = 1)]
        repeat: usize,
    }

    #[derive(clap::Args)]
    #[command(allow_negative_numbers = true)]
    struct EvaluateArgs {
        #[command(flatten)]
        input: InputArgs,
        #[command(flatten)]
        how: MethodArgs,
        /// Evaluate this attribution (.npy) instead of computing the method's.
        #[arg(long)]
        attribution: Option<PathBuf>,
        /// Comma list of deletion, insertion, box, pointing, sanity.
        #[arg(long, default_value = "deletion,insertion")]
        metrics: String,
        /// Deletion/insertion: points on each curve after the start (one forward pass each).
        #[arg(long, default_value_t = 50)]
        curve_steps: usize,
        /// What deleted pixels become: black, white, blurred[:SIGMA], noise[:SEED] or a constant.
        #[arg(long)]
        deletion_baseline: Option<String>,
        /// Where inserted pixels go: the same choices (default blurred:5).
        #[arg(long)]
        insertion_baseline: Option<String>,
        /// The curves' score: probability (softmax) or logit.
        #[arg(long, default_value = "probability")]
        score: String,
        /// Box: the fraction of the map's maximum to threshold at.
        #[arg(long, default_value_t = 0.2)]
        box_threshold: f32,
        /// Ground-truth box x0,y0,x1,y1 in input pixels (pointing game; IoU of the box).
        #[arg(long)]
        truth: Option<String>,
        /// Pointing game: how far (pixels) outside the box still counts as a hit.
        #[arg(long, default_value_t = 0.0)]
        tolerance: f32,
        /// Sanity check: at most this many randomisation stages.
        #[arg(long, default_value_t = 8)]
        sanity_stages: usize,
        /// Sanity check: random seed for the new weights.
        #[arg(long = "sanity-seed", default_value_t = 0)]
        seed_sanity: u64,
    }

    /// The CLI's flags as the library's request (the viewer sends the same, as JSON); only
    /// a `--baseline PATH.npy` tensor is the CLI's own.
    fn parse_method(a: &MethodArgs, x: &ArrayD<f32>, sc: &Sidecar) -> Result<Method> {
        let (constant, tensor) = match a.baseline.as_deref().map(|b| (b, b.parse::<f32>())) {
            None => (None, None),
            Some((_, Ok(v))) if v.is_finite() => (Some(v), None),
            Some((_, Ok(_))) => return Err(err!(Parameter, "--baseline must be finite")),
            Some((path, Err(_))) => (
                None,
                Some(npy::read_f32(&read(Path::new(path), "baseline")?)?),
            ),
        };
        let req = Request {
            method: a.method.clone(),
            target: a.target,
            steps: a.steps,
            ig_rule: a.ig_rule.clone(),
            baseline: constant.map(|value| BaselineSpec::Constant { value }),
            samples: a.samples,
            noise: a.noise,
            seed: a.seed,
            layer: a.layer.clone(),
            part: None,
            rules: if a.rules.is_empty() {
                None
            } else {
                Some(
                    a.rules
                        .iter()
                        .map(|r| saliency::lrp::LrpSpec::split_assignment(r))
                        .collect::<Result<Vec<_>>>()?,
                )
            },
            composite: a.composite.clone(),
            low: a.low,
            high: a.high,
        };
        if a.method != "lrp"
            && (req.rules.is_some()
                || req.composite.is_some()
                || a.low.is_some()
                || a.high.is_some())
        {
            return Err(err!(
                Parameter,
                "--rule, --composite, --low and --high apply to --method lrp only"
            ));
        }
        let mut method = req.to_method(x, sc)?;
        if let (Method::IntegratedGradients { baseline, .. }, Some(t)) = (&mut method, tensor) {
            *baseline = Baseline::Tensor(t);
        }
        Ok(method)
    }

    /// Loads the model and input and parses the method: what `explain` and `evaluate` share.
    fn setup(input: &InputArgs, how: &MethodArgs) -> Result<(Explainer, ArrayD<f32>, Method)> {
        if !saliency::methods::METHODS.contains(&how.method.as_str()) {
            return Err(err!(
                Parameter,
                "unknown method '{}' (one of {})",
                how.method,
                saliency::methods::METHODS.join(", ")
            ));
        }
        let m = load_model(&input.model, input.sidecar.as_deref())?;
        let x = load_input(&input.input, &m)?;
        let method = parse_method(how, &x, &m.sidecar)?;
        Ok((Explainer::new(m), x, method))
    }

    fn explain(a: ExplainArgs) -> Result<()> {
        let (mut ex, x, method) = setup(&a.input, &a.how)?;
        let t0 = Instant::now();
        ex.prepare_for(&method)?;
        let plan_seconds = t0.elapsed().as_secs_f64();
        if a.repeat == 0 {
            return Err(err!(Parameter, "--repeat must be at least 1"));
        }
        let mut each = vec![];
        let mut last = None;
        for _ in 0..a.repeat {
            let t1 = Instant::now();
            last = Some(ex.explain(&x, &method, a.how.target)?);
            each.push(t1.elapsed().as_secs_f64());
        }
        let e = last.expect("at least one run");
        let mut sorted = each.clone();
        sorted.sort_by(f64::total_cmp);
        let seconds = sorted[sorted.len() / 2];
        write_atomic(&a.out, &npy::write_f32(&e.attribution)?)?;
        let mut json = serde_json::json!({
            "method": method.name(), "target": e.target, "label": ex.model().sidecar.label(e.target),
            "score": e.score, "seconds": seconds, "plan_seconds": plan_seconds,
        });
        if a.repeat > 1 {
            json["seconds_each"] = serde_json::json!(each);
        }
        if let Some(gap) = e.completeness_gap {
            json["completeness_gap"] = serde_json::json!(gap);
        }
        if let Some(c) = &e.lrp {
            json["relevance_sum"] = serde_json::json!(c.relevance_sum);
            json["absorbed"] = serde_json::json!(c.absorbed);
            json["absorbed_share"] = serde_json::json!(if c.score != 0.0 {
                c.absorbed / c.score
            } else {
                0.0
            });
            if !c.absorbed_where.is_empty() {
                json["absorbed_where"] = serde_json::json!(c.absorbed_where);
            }
            if a.how.per_layer {
                json["per_layer"] = serde_json::json!(c.per_layer);
            }
        }
        println!("{json}");
        Ok(())
    }

    fn evaluate(a: EvaluateArgs) -> Result<()> {
        use saliency::evaluate::{curves, localize, pixel_map, sanity};
        let metrics: Vec<&str> = a
            .metrics
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .collect();
        const KNOWN: [&str; 5] = ["deletion", "insertion", "box", "pointing", "sanity"];
        if let Some(bad) = metrics.iter().find(|m| !KNOWN.contains(m)) {
            return Err(err!(
                Parameter,
                "unknown metric '{bad}' (one of {})",
                KNOWN.join(", ")
            ));
        }
        if metrics.is_empty() {
            return Err(err!(
                Parameter,
                "--metrics needs at least one of {}",
                KNOWN.join(", ")
            ));
        }
        if metrics.contains(&"pointing") && a.truth.is_none() {
            return Err(err!(Parameter, "the pointing game needs --truth x0,y0,x1,y1 (the ground-truth box in input pixels)"));
        }
        let truth = a
            .truth
            .as_deref()
            .map(localize::PixelBox::parse)
            .transpose()?;
        let score: curves::Score =
            serde_json::from_value(serde_json::json!(a.score)).map_err(|_| {
                err!(
                    Parameter,
                    "--score must be probability or logit, got '{}'",
                    a.score
                )
            })?;
        let (mut ex, x, method) = setup(&a.input, &a.how)?;
        let (h, w) = saliency::evaluate::input_hw(x.shape())?;
        if let Some(t) = &truth {
            t.check(h, w)?;
        }
        let t0 = Instant::now();
        // The map: a given attribution file, or the method's explanation.
        let (shape, data, target) = match &a.attribution {
            Some(p) => {
                let t = npy::read_f32(&read(p, "attribution")?)?;
                let target = match a.how.target {
                    Some(t) => t,
                    None => saliency::methods::argmax(&ex.model().forward(&x)?),
                };
                (t.shape().to_vec(), t.into_raw_vec_and_offset().0, target)
            }
            None => {
                let e = ex.explain(&x, &method, a.how.target)?;
                (
                    e.attribution.shape().to_vec(),
                    e.attribution.into_raw_vec_and_offset().0,
                    e.target,
                )
            }
        };
        if target >= ex.model().classes {
            return Err(err!(
                Parameter,
                "target class {target} out of range (the model has {} classes)",
                ex.model().classes
            ));
        }
        let map = pixel_map(&shape, &data, h, w, saliency::render::Reduce::Sum)?;
        let mut json = serde_json::json!({
            "method": if a.attribution.is_some() { "file".to_string() } else { method.name().to_string() },
            "target": target, "label": ex.model().sidecar.label(target),
        });
        for kind in [curves::CurveKind::Deletion, curves::CurveKind::Insertion] {
            if !metrics.contains(&kind.name()) {
                continue;
            }
            let given = match kind {
                curves::CurveKind::Deletion => &a.deletion_baseline,
                curves::CurveKind::Insertion => &a.insertion_baseline,
            };
            let baseline = match given {
                Some(b) => parse_baseline(b)?,
                None => kind.default_baseline(),
            };
            let c = curves::curve(
                ex.model(),
                &x,
                &map,
                target,
                kind,
                a.curve_steps,
                &baseline,
                score,
                &mut |_, _| {},
            )?;
            json[format!("{}_auc", kind.name())] = serde_json::json!(c.auc);
            json[kind.name()] = serde_json::json!(c.scores);
        }
        if metrics.contains(&"box") {
            let l = localize::cam_box(&map, a.box_threshold)?;
            json["box"] = serde_json::json!(l.bbox);
            json["box_threshold"] = serde_json::json!(l.threshold);
            if let (Some(b), Some(t)) = (&l.bbox, &truth) {
                json["box_iou"] = serde_json::json!(b.iou(t));
            }
        }
        if let (true, Some(t)) = (metrics.contains(&"pointing"), &truth) {
            let p = localize::pointing_game(&map, t, a.tolerance)?;
            json["pointing"] = serde_json::json!(p);
        }
        if metrics.contains(&"sanity") {
            if a.attribution.is_some() {
                return Err(err!(
                    Parameter,
                    "the sanity check explains randomised models: give --method, not --attribution"
                ));
            }
            let proto = read_model_proto(&a.input.model)?;
            let r = sanity::cascade(
                &proto,
                &ex.model().sidecar,
                &x,
                &method,
                Some(target),
                a.sanity_stages,
                a.seed_sanity,
                &mut |_, _| {},
            )?;
            json["sanity"] = serde_json::json!(r);
        }
        json["seconds"] = serde_json::json!(t0.elapsed().as_secs_f64());
        println!("{json}");
        Ok(())
    }

    /// A curve baseline: black, white, blurred[:SIGMA], noise[:SEED] or a constant.
    fn parse_baseline(s: &str) -> Result<BaselineSpec> {
        let (name, arg) = s.split_once(':').map_or((s, None), |(a, b)| (a, Some(b)));
        let num = |what: &str| -> Result<Option<f64>> {
            arg.map(|v| {
                v.parse::<f64>()
                    .map_err(|_| err!(Parameter, "bad {what} in baseline '{s}'"))
            })
            .transpose()
        };
        Ok(match name {
            "black" => BaselineSpec::Black,
            "white" => BaselineSpec::White,
            "blurred" => BaselineSpec::Blurred { sigma: num("sigma")?.unwrap_or(5.0) as f32 },
            "noise" => BaselineSpec::Noise { seed: num("seed")?.unwrap_or(0.0) as u64 },
            _ => match s.parse::<f32>() {
                Ok(v) if v.is_finite() => BaselineSpec::Constant { value: v },
                _ => return Err(err!(Parameter, "baseline must be black, white, blurred[:SIGMA], noise[:SEED] or a number, got '{s}'")),
            },
        })
    }

    pub fn main() -> i32 {
        let cli = match Cli::try_parse() {
            Ok(c) => c,
            Err(e) => {
                use clap::error::ErrorKind as K;
                if matches!(
                    e.kind(),
                    K::DisplayHelp
                        | K::DisplayVersion
                        | K::DisplayHelpOnMissingArgumentOrSubcommand
                ) {
                    let _ = e.print();
                    return if e.kind() == K::DisplayHelpOnMissingArgumentOrSubcommand {
                        2
                    } else {
                        0
                    };
                }
                // One line: clap's first line, without its usage block.
                let text = e.render().to_string();
                let line: Vec<&str> = text
                    .lines()
                    .take_while(|l| !l.starts_with("Usage:"))
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect();
                let line = line.join(" ");
                eprintln!(
                    "error: {} (see saliency --help)",
                    line.trim_start_matches("error: ")
                );
                return 2;
            }
        };
        match run(cli) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e}");
                e.kind.exit_code()
            }
        }
    }

    fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
        std::fs::read(path).map_err(|e| err!(Io, "cannot read {what} '{}': {e}", path.display()))
    }

    /// Writes via a temporary file and a rename, so a failure never leaves a partial file.
    fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".{}.tmp{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
            std::process::id()
        ));
        let res = std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path));
        if res.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        res.map_err(|e| err!(Io, "cannot write '{}': {e}", path.display()))
    }

    fn read_model_proto(model: &Path) -> Result<saliency::load::Proto> {
        saliency::load::external::read_path(model)
    }

    fn load_model(model: &Path, sidecar: Option<&Path>) -> Result<Model> {
        let side_path = match sidecar {
            Some(p) => Some(p.to_path_buf()),
            // Beside the model, a JSON counts as its sidecar only if it has a `preprocess` block.
            None => Some(model.with_extension("json")).filter(|p| {
                std::fs::read_to_string(p)
                    .ok()
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                    .is_some_and(|v| v.get("preprocess").is_some())
            }),
        };
        let side = match side_path {
            Some(p) => {
                let text = String::from_utf8(read(&p, "sidecar")?)
                    .map_err(|_| err!(Sidecar, "sidecar '{}' is not UTF-8 text", p.display()))?;
                Some(
                    Sidecar::from_json(&text)
                        .map_err(|e| err!(Sidecar, "{} ('{}')", e, p.display()))?,
                )
            }
            None => None,
        };
        Model::from_proto(&read_model_proto(model)?, side)
    }

    /// An input is a `.npy` tensor (by its magic bytes) or an image file to preprocess.
    pub fn load_input(path: &Path, model: &Model) -> Result<ArrayD<f32>> {
        let bytes = read(path, "input")?;
        let x = if bytes.starts_with(b"\x93NUMPY") {
            model.to_nchw(npy::read_f32(&bytes)?)
        } else {
            preprocess::image_bytes_to_tensor(&bytes, &model.sidecar)?
        };
        model.check_input(&x)?;
        Ok(x)
    }

    fn run(cli: Cli) -> Result<()> {
        match cli.command {
            Command::Info {
                model,
                sidecar,
                json,
            } => {
                let m = load_model(&model, sidecar.as_deref())?;
                let i = info::describe(&m);
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&i).map_err(|e| err!(Io, "{e}"))?
                    );
                } else {
                    print!("{}", i.to_text());
                }
            }
            Command::Predict {
                model,
                input,
                sidecar,
                top,
                logits_out,
            } => {
                if top == 0 {
                    return Err(err!(Parameter, "--top must be at least 1"));
                }
                let m = load_model(&model, sidecar.as_deref())?;
                let x = load_input(&input, &m)?;
                let t0 = Instant::now();
                let logits = m.forward(&x)?;
                let seconds = t0.elapsed().as_secs_f64();
                if let Some(out) = logits_out {
                    let a = ArrayD::from_shape_vec(vec![1, logits.len()], logits.clone())
                        .map_err(|e| err!(Shape, "{e}"))?;
                    write_atomic(&out, &npy::write_f32(&a)?)?;
                }
                let p = saliency::Prediction::from_logits(&logits, top.min(m.classes), |i| {
                    m.sidecar.label(i)
                });
                let json = serde_json::json!({ "model": m.sidecar.name, "top": p.top, "seconds": seconds });
                println!("{json}");
            }
            Command::Explain(a) => explain(a)?,
            Command::Evaluate(a) => evaluate(a)?,
        }
        Ok(())
    }

    #[allow(dead_code)]
    fn _unused(_: Error) {}
}
