//! Placeholder (issue 4: minutes).
