//! PDF output: the per-reader watermark on downloaded documents (an
//! incremental update, [`stamp`]) and the minutes export ([`minutes`]),
//! both writing Vietnamese text with an embedded, subset DejaVu Sans.

pub mod font;
pub mod minutes;
pub mod results;
pub mod stamp;
pub mod write;
