//! Placeholder (issue 4).
