//! Saliency as the plain gradient: dy_c/dx (signed).

use super::Subject;
use crate::array::Array;
use crate::engine::Mode;
use crate::error::Result;

pub(crate) fn explain(s: &Subject) -> Result<Array> {
    s.engine
        .gradient(s.model, s.tape()?, s.target, None, Mode::Gradient)
}
