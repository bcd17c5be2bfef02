//! The composite picture, encoded once per output: continuous presence for
//! the internal live stream (HLS), built like an MCU's — each site's video
//! decoded, scaled into its tile of the layout, named, the stage and the
//! active speaker marked, encoded in H.264 — with the program mix as its
//! sound.
//!
//! `frame`, `layout`, `label`, `scene`, `fmp4` and `hls` are pure (the
//! scene takes its clock from the caller); `codec` wraps libvpx and
//! OpenH264 (`vp8enc`: libvpx's VP8 encoder, for a SIP room's VP8
//! rendition); `page` draws a PDF page for the presenter layout (hayro);
//! `service` is the thread that runs it all on the engine's taps;
//! `screen` feeds hall screens (WHEP) through the room's engine.

pub mod codec;
pub mod fmp4;
pub mod frame;
pub mod hls;
pub mod label;
pub mod layers;
// Layouts are part of the live meeting's state (diemcau-live).
pub use diemcau_live::layout;
pub mod output;
pub mod page;
pub mod render;
pub mod scene;
pub mod screen;
pub mod service;
pub mod sinks;
pub mod vp8enc;

pub use crate::config::LiveStreamConfig as ComposeConfig;
pub use service::{Composer, Live};
