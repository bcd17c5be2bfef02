//! PDF output: the per-reader watermark on downloaded documents (an
//! incremental update, [`stamp`]), the minutes export ([`minutes`]) and
//! table reports (the readiness board, the monthly unit report: [`table`]),
//! all writing Vietnamese text with an embedded, subset DejaVu Sans.

pub mod document;
pub mod font;
pub mod minutes;
pub mod results;
pub mod stamp;
pub mod table;
pub mod write;
