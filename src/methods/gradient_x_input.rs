//! Gradient times input: x * dy_c/dx.

use super::Subject;
use crate::array::Array;
use crate::engine::Mode;
use crate::error::Result;

pub(crate) fn explain(s: &Subject) -> Result<Array> {
    Ok(s.engine
        .gradient(s.model, s.tape()?, s.target, None, Mode::Gradient)?
        * s.x)
}
