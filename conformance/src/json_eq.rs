//! Comparing JSON values as the vectors require, from `uhome-spec`.

pub use uhome_spec::json_eq::*;
