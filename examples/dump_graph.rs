//! Prints a model's decluttered tract graph (what the explanation engine walks):
//! `cargo run --release --example dump_graph -- NET.onnx [SIDECAR.json]`.
use saliency::Model;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bytes = std::fs::read(&args[1]).expect("model");
    let side = args
        .get(2)
        .map(|p| std::fs::read_to_string(p).expect("sidecar"));
    let m = Model::load(&bytes, side.as_deref()).expect("load");
    for n in m.typed.nodes() {
        let ins: Vec<String> = n
            .inputs
            .iter()
            .map(|i| format!("{}/{}", i.node, i.slot))
            .collect();
        let k = n.outputs[0].fact.konst.is_some();
        println!(
            "{:>4} {:<40} {:<60} in={:?} out={:?}{}",
            n.id,
            n.name,
            format!("{:?}", n.op).chars().take(60).collect::<String>(),
            ins,
            n.outputs[0].fact.shape,
            if k { " CONST" } else { "" }
        );
    }
}
