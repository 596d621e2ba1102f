//! Tensors an ONNX file keeps outside itself ("external data").
//!
//! Today's default PyTorch export (`torch.onnx.export(model, x, "m.onnx")`, the torch.export
//! based exporter) writes the graph to `m.onnx` and the weights to `m.onnx.data` beside it; each
//! initializer then names a `location` (a file relative to the model's folder), an `offset` and
//! a `length`. [`locations`] lists the files a model needs, [`inline`] copies the bytes into the
//! tensors, so that the rest of the loader sees a self-contained model, and [`self_contained`]
//! writes that model as one file (the viewer keeps it for the checks that rewrite weights).
//!
//! Nothing here reads the file system: the caller (the CLI, the worker) fetches the files by
//! the names [`locations`] returns. A `location` that is absolute or climbs out of the model's
//! folder (`..`) is refused, and so are offsets and lengths past a file's end, a length that is
//! not what the tensor's shape needs, and a total larger than [`MAX_MODEL_BYTES`].

use crate::err;
use crate::error::Result;
use crate::load::limits::MAX_MODEL_BYTES;
use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::{DataLocation, DataType};

/// Every tensor of the graph that may carry external data: initializers and Constant values.
fn tensors_mut(graph: &mut pb::GraphProto) -> impl Iterator<Item = &mut pb::TensorProto> {
    graph.initializer.iter_mut().chain(
        graph
            .node
            .iter_mut()
            .flat_map(|n| n.attribute.iter_mut())
            .flat_map(|a| a.t.iter_mut().chain(a.tensors.iter_mut())),
    )
}

fn tensors(graph: &pb::GraphProto) -> impl Iterator<Item = &pb::TensorProto> {
    graph.initializer.iter().chain(
        graph
            .node
            .iter()
            .flat_map(|n| n.attribute.iter())
            .flat_map(|a| a.t.iter().chain(a.tensors.iter())),
    )
}

fn is_external(t: &pb::TensorProto) -> bool {
    t.data_location == Some(DataLocation::External as i32)
}

fn entry<'a>(t: &'a pb::TensorProto, key: &str) -> Option<&'a str> {
    t.external_data
        .iter()
        .find(|e| e.key == key)
        .map(|e| e.value.as_str())
}

/// A tensor's `location`, checked: relative, inside the model's folder.
fn location(t: &pb::TensorProto) -> Result<&str> {
    let loc = entry(t, "location").ok_or_else(|| {
        err!(
            CorruptModel,
            "cannot read model: tensor '{}' is stored outside the file but names no location",
            t.name
        )
    })?;
    let windows_drive = loc.len() >= 2 && loc.as_bytes()[1] == b':';
    if loc.is_empty()
        || loc.starts_with('/')
        || loc.starts_with('\\')
        || windows_drive
        || loc.split(['/', '\\']).any(|c| c == "..")
    {
        return Err(err!(
            CorruptModel,
            "cannot read model: tensor '{}' is stored in '{loc}', outside the model's folder (external data must be a file beside the model)",
            t.name
        ));
    }
    Ok(loc)
}

/// The files (as the model names them, relative to its folder) that hold its external tensors,
/// each once, in the order first used. Empty for a self-contained model.
pub fn locations(proto: &pb::ModelProto) -> Result<Vec<String>> {
    let mut out: Vec<String> = vec![];
    let Some(graph) = proto.graph.as_ref() else {
        return Ok(out);
    };
    for t in tensors(graph).filter(|t| is_external(t)) {
        let loc = location(t)?;
        if !out.iter().any(|l| l == loc) {
            out.push(loc.to_string());
        }
    }
    Ok(out)
}

/// Bytes per element of the types a raw tensor may have (those tract reads raw).
fn element_size(data_type: i32) -> Option<usize> {
    Some(match DataType::try_from(data_type).ok()? {
        DataType::Uint8 | DataType::Int8 | DataType::Bool => 1,
        DataType::Uint16 | DataType::Int16 | DataType::Float16 | DataType::Bfloat16 => 2,
        DataType::Float | DataType::Int32 | DataType::Uint32 => 4,
        DataType::Double | DataType::Int64 | DataType::Uint64 => 8,
        _ => return None,
    })
}

fn number(t: &pb::TensorProto, key: &str) -> Result<Option<u64>> {
    entry(t, key)
        .map(|v| {
            v.trim().parse::<u64>().map_err(|_| {
                err!(
                    CorruptModel,
                    "cannot read model: tensor '{}' has external-data {key} '{v}', not a whole number",
                    t.name
                )
            })
        })
        .transpose()
}

/// The error for a model whose weights file `loc` was not given with it.
pub fn not_given(loc: &str) -> crate::Error {
    err!(
        Io,
        "the model keeps its weights in a separate file, '{loc}', which was not given: put it beside the model (or drop both files together)"
    )
}

/// The bytes tensor `t`'s shape needs at `size` bytes per element (None: a negative dimension
/// or an overflow).
fn shape_bytes(t: &pb::TensorProto, size: u64) -> Option<u64> {
    t.dims.iter().try_fold(size, |acc, &d| {
        u64::try_from(d).ok().and_then(|d| acc.checked_mul(d))
    })
}

/// The error for a model whose weights come to `bytes`, over [`MAX_MODEL_BYTES`].
fn too_large(bytes: u64) -> crate::Error {
    err!(
        Limit,
        "model too large: its weights come to {} MiB (at most {} MiB here; loading it would need about {} MiB of memory)",
        bytes >> 20,
        MAX_MODEL_BYTES >> 20,
        2 * (bytes >> 20)
    )
}

/// Copies every external tensor's bytes into the model. `file` returns the bytes of one file
/// named by [`locations`], or `None` when the caller does not have it (the error then names the
/// missing file). `model_bytes` is the size of the `.onnx` itself, counted in the total.
pub fn inline<'a>(
    proto: &mut pb::ModelProto,
    model_bytes: usize,
    file: &dyn Fn(&str) -> Option<&'a [u8]>,
) -> Result<()> {
    let Some(graph) = proto.graph.as_mut() else {
        return Ok(());
    };
    // What the tensors declare, first: a model over the limit is refused with the memory it
    // would need before any file is read (the checks below still bound what is copied).
    let declared = tensors_mut(graph)
        .filter(|t| is_external(t))
        .filter_map(|t| shape_bytes(t, element_size(t.data_type)? as u64))
        .fold(model_bytes as u64, u64::saturating_add);
    if declared > MAX_MODEL_BYTES as u64 {
        return Err(too_large(declared));
    }
    let mut total = model_bytes as u64;
    for t in tensors_mut(graph).filter(|t| is_external(t)) {
        let loc = location(t)?.to_string();
        let data = file(&loc).ok_or_else(|| not_given(&loc))?;
        let size = element_size(t.data_type).ok_or_else(|| {
            err!(
                CorruptModel,
                "cannot read model: tensor '{}' is stored outside the file with a type that cannot be loaded ({})",
                t.name,
                t.data_type
            )
        })?;
        let needed = shape_bytes(t, size as u64).ok_or_else(|| {
            err!(
                CorruptModel,
                "cannot read model: tensor '{}' has shape {:?}",
                t.name,
                t.dims
            )
        })?;
        let offset = number(t, "offset")?.unwrap_or(0);
        let length = number(t, "length")?.unwrap_or(needed);
        if length != needed {
            return Err(err!(
                CorruptModel,
                "cannot read model: tensor '{}' declares {length} bytes in '{loc}' but its shape {:?} needs {needed}",
                t.name,
                t.dims
            ));
        }
        let end = offset
            .checked_add(length)
            .filter(|&e| e <= data.len() as u64);
        let Some(end) = end else {
            return Err(err!(
                CorruptModel,
                "cannot read model: tensor '{}' lies at bytes {offset}..{} of '{loc}', past the end of that file ({} bytes; is it truncated, or from another export?)",
                t.name,
                offset.saturating_add(length),
                data.len()
            ));
        };
        total += length;
        if total > MAX_MODEL_BYTES as u64 {
            return Err(too_large(total));
        }
        t.raw_data = data[offset as usize..end as usize].to_vec();
        t.external_data.clear();
        t.data_location = Some(DataLocation::Default as i32);
    }
    Ok(())
}

/// Reads a model file and the files beside it that hold its external tensors (native only: the
/// CLI and the tests; the viewer passes the bytes it was given to [`inline`]).
#[cfg(not(target_arch = "wasm32"))]
pub fn read_path(model: &std::path::Path) -> Result<pb::ModelProto> {
    let read = |p: &std::path::Path, what: &str| {
        std::fs::read(p).map_err(|e| err!(Io, "cannot read {what} '{}': {e}", p.display()))
    };
    let bytes = read(model, "model")?;
    let mut proto = crate::Model::read_proto(&bytes)?;
    let names = locations(&proto)?;
    if names.is_empty() {
        return Ok(proto);
    }
    let dir = model.parent().unwrap_or(std::path::Path::new(""));
    let mut files = Vec::with_capacity(names.len());
    for n in &names {
        let p = dir.join(n);
        let len = std::fs::metadata(&p)
            .map_err(|e| {
                err!(
                    Io,
                    "the model keeps its weights in a separate file, '{}', which cannot be read: {e}",
                    p.display()
                )
            })?
            .len();
        if len > MAX_MODEL_BYTES as u64 {
            return Err(err!(
                Limit,
                "model too large: its weights file '{}' has {} MiB (at most {} MiB)",
                p.display(),
                len >> 20,
                MAX_MODEL_BYTES >> 20
            ));
        }
        files.push(read(&p, "the model's weights file")?);
    }
    inline(&mut proto, bytes.len(), &|n| {
        names.iter().position(|m| m == n).map(|i| &files[i][..])
    })?;
    Ok(proto)
}

/// The model with its external tensors inlined, as one ONNX file.
pub fn self_contained(proto: &pb::ModelProto) -> Vec<u8> {
    prost::Message::encode_to_vec(proto)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(name: &str, loc: &str, offset: &str, length: &str) -> pb::TensorProto {
        let kv = |k: &str, v: &str| pb::StringStringEntryProto {
            key: k.into(),
            value: v.into(),
        };
        pb::TensorProto {
            name: name.into(),
            dims: vec![2],
            data_type: DataType::Float as i32,
            data_location: Some(DataLocation::External as i32),
            external_data: vec![
                kv("location", loc),
                kv("offset", offset),
                kv("length", length),
            ],
            ..Default::default()
        }
    }

    fn model(ts: Vec<pb::TensorProto>) -> pb::ModelProto {
        pb::ModelProto {
            graph: Some(pb::GraphProto {
                initializer: ts,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn inlines_at_offsets() {
        let mut m = model(vec![
            tensor("a", "m.data", "8", "8"),
            tensor("b", "m.data", "0", "8"),
        ]);
        assert_eq!(locations(&m).unwrap(), vec!["m.data".to_string()]);
        let bytes: Vec<u8> = (0..16).collect();
        inline(&mut m, 0, &|n| (n == "m.data").then_some(&bytes[..])).unwrap();
        let g = m.graph.unwrap();
        assert_eq!(g.initializer[0].raw_data, (8..16).collect::<Vec<u8>>());
        assert_eq!(g.initializer[1].raw_data, (0..8).collect::<Vec<u8>>());
        assert!(g.initializer.iter().all(|t| !is_external(t)));
    }

    #[test]
    fn refuses_paths_outside_the_folder() {
        for loc in [
            "../w.data",
            "/etc/passwd",
            "a/../../w",
            "C:\\w.data",
            "\\\\host\\w",
            "",
        ] {
            let e = locations(&model(vec![tensor("a", loc, "0", "8")])).unwrap_err();
            assert!(
                e.message().contains("outside the model's folder"),
                "{loc}: {e}"
            );
        }
        assert!(locations(&model(vec![tensor("a", "sub/w.data", "0", "8")])).is_ok());
    }

    #[test]
    fn names_the_missing_file_and_bad_ranges() {
        let bytes = [0u8; 12];
        let have = |n: &str| (n == "m.data").then_some(&bytes[..]);
        let e = inline(&mut model(vec![tensor("a", "x.data", "0", "8")]), 0, &have).unwrap_err();
        assert!(e.message().contains("'x.data', which was not given"), "{e}");
        let e = inline(&mut model(vec![tensor("a", "m.data", "8", "8")]), 0, &have).unwrap_err();
        assert!(
            e.message().contains("past the end of that file (12 bytes"),
            "{e}"
        );
        let e = inline(&mut model(vec![tensor("a", "m.data", "0", "12")]), 0, &have).unwrap_err();
        assert!(e.message().contains("declares 12 bytes"), "{e}");
        let e = inline(&mut model(vec![tensor("a", "m.data", "-1", "8")]), 0, &have).unwrap_err();
        assert!(e.message().contains("not a whole number"), "{e}");
        let e = inline(
            &mut model(vec![tensor("a", "m.data", "18446744073709551615", "8")]),
            0,
            &have,
        )
        .unwrap_err();
        assert!(e.message().contains("past the end"), "{e}");
    }

    #[test]
    fn a_model_over_the_limit_is_refused_with_the_memory_it_needs_before_any_file_is_read() {
        // VGG-11's 507 MB in the browser, say: 3 x 2^27 floats (1536 MiB) declared here.
        let mut t = tensor("a", "m.data", "0", &(3u64 << 29).to_string());
        t.dims = vec![3, 1 << 27];
        let e = inline(&mut model(vec![t]), 0, &|_| panic!("no file is read")).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Limit);
        assert!(
            e.message().contains("weights come to 1536 MiB")
                && e.message().contains("would need about 3072 MiB"),
            "{e}"
        );
    }
}
