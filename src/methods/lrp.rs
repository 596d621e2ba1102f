use super::Subject;
use crate::array::Array;
use crate::error::Result;
use crate::lrp::linear::Plans;
use crate::lrp::{propagate, Conservation, LrpGraph, LrpSpec};

/// Layer-wise relevance propagation (Zennit's conventions): relevance with the input's shape.
pub(super) fn explain(
    s: &Subject,
    graph: &LrpGraph,
    plans: &mut Plans,
    spec: &LrpSpec,
) -> Result<(Array, Conservation)> {
    let rules = spec.resolve(&graph.kinds())?;
    let (r, c) = propagate::explain(s.model, s.engine, graph, plans, s.tape()?, s.target, &rules)?;
    Ok((
        r.into_shape_with_order(s.x.raw_dim())
            .map_err(|e| crate::err!(Runtime, "LRP output shape: {e}"))?,
        c,
    ))
}
