//! Real VP8 for test publishers: clips encoded by Debian's `ffmpeg`
//! (libvpx) at test time and cached; reading, packetizing and fingerprinting
//! them is the test client's (`diemcau_testkit::rtc_client::vp8`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use diemcau_testkit::rtc_client::vp8::{ClipPlayer, IvfClip, packetize_vp8};

use super::rtc_client::LayerSpec;

/// Clip length: two keyframe intervals, then the clip loops.
const CLIP_SECONDS: u32 = 4;
/// One keyframe every 60 frames = 2 s at 30 fps; the clip's first frame is
/// always a keyframe, so a restart (on PLI) starts decodable.
const CLIP_KEYFRAME_INTERVAL_FRAMES: u32 = 60;

/// Where generated clips are cached (`target/test-fixtures/`).
pub fn fixtures_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-fixtures");
    std::fs::create_dir_all(&dir).expect("create target/test-fixtures");
    dir
}

/// A `testsrc2` VP8 clip of `width`×`height` at `kbps`, generated with
/// ffmpeg (libvpx) on first use and cached by name. Panics (never skips)
/// when ffmpeg is missing or fails.
pub fn testsrc_clip(width: u16, height: u16, kbps: u32) -> PathBuf {
    let name = format!(
        "testsrc2-{width}x{height}-{kbps}k-g{CLIP_KEYFRAME_INTERVAL_FRAMES}-{CLIP_SECONDS}s.ivf"
    );
    encode_clip(
        &name,
        &format!("testsrc2=size={width}x{height}:rate=30"),
        kbps,
    )
}

/// A clip of one solid colour (an ffmpeg colour name, e.g. `red`): what a
/// composite test looks for in a tile.
pub fn solid_clip(color: &str, width: u16, height: u16) -> PathBuf {
    let name = format!("solid-{color}-{width}x{height}-g{CLIP_KEYFRAME_INTERVAL_FRAMES}.ivf");
    encode_clip(
        &name,
        &format!("color=c={color}:size={width}x{height}:rate=30"),
        200,
    )
}

fn encode_clip(name: &str, source: &str, kbps: u32) -> PathBuf {
    let path = fixtures_dir().join(name);
    if path.exists() {
        return path;
    }
    // Tests run as parallel processes: encode to a private name, then rename
    // (atomic), so nobody reads a half-written clip.
    let tmp = fixtures_dir().join(format!(".{name}.{}.tmp", std::process::id()));
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(["-f", "lavfi", "-i"])
        .arg(source)
        .args(["-t", &CLIP_SECONDS.to_string()])
        .args(["-c:v", "libvpx", "-b:v", &format!("{kbps}k")])
        .args(["-g", &CLIP_KEYFRAME_INTERVAL_FRAMES.to_string()])
        .args(["-keyint_min", &CLIP_KEYFRAME_INTERVAL_FRAMES.to_string()])
        .args(["-deadline", "realtime", "-cpu-used", "8"])
        .args(["-auto-alt-ref", "0", "-lag-in-frames", "0"])
        .args(["-f", "ivf"])
        .arg(&tmp)
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "ffmpeg is not installed: real-VP8 tests encode their clips with Debian's `ffmpeg` \
             (libvpx). Run `.ci/setup` (it installs ffmpeg) and try again"
        ),
        Err(e) => panic!("run ffmpeg: {e}"),
    };
    assert!(
        out.status.success(),
        "ffmpeg failed to encode {name} ({}): {}\nRun `.ci/setup` to install Debian's ffmpeg \
         with libvpx",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, &path)
        .unwrap_or_else(|e| panic!("rename {} -> {}: {e}", tmp.display(), path.display()));
    path
}

/// One clip per layer, sized and rated like the layer.
pub fn testsrc_clips(layers: &[LayerSpec]) -> Vec<PathBuf> {
    layers
        .iter()
        .map(|l| testsrc_clip(l.width, l.height, l.kbps))
        .collect()
}

/// Fingerprints of every frame of every clip: what a receiver matches its
/// frame starts against to know they came from a publisher of these clips.
pub fn clip_fingerprints(paths: &[PathBuf]) -> HashSet<u64> {
    paths
        .iter()
        .flat_map(|p| {
            IvfClip::open(p)
                .unwrap_or_else(|e| panic!("{e}"))
                .fingerprints()
        })
        .collect()
}
