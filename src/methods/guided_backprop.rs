//! Guided backpropagation (Springenberg et al.): the gradient, except that every ReLU passes
//! back only positive gradients at positive inputs. The engine's `Mode::Guided` changes the
//! ReLU rule only (Clip / ReLU6 keep their gradient, as Captum hooks `nn.ReLU` alone).

use super::Subject;
use crate::array::Array;
use crate::engine::Mode;
use crate::error::Result;

pub(crate) fn explain(s: &Subject) -> Result<Array> {
    s.engine
        .gradient(s.model, s.tape()?, s.target, None, Mode::Guided)
}
