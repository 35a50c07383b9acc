//! What std's prelude gives and a `no_std` crate must import: the `alloc`
//! types and macros every module uses (`use crate::prelude::*`).

pub use alloc::borrow::ToOwned;
pub use alloc::boxed::Box;
pub use alloc::string::{String, ToString};
pub use alloc::vec::Vec;
pub use alloc::vec;
