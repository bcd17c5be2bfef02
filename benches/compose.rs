//! What one composite output costs: decoding N VP8 inputs (real frames,
//! encoded by ffmpeg's libvpx from `testsrc2`), drawing the 1+7 scene
//! (scale, compose, names), and the OpenH264 encode — each timed apart,
//! per output picture, at 720p30 and 1080p15, for 1 to 8 inputs at 360p
//! (the layer a 1+7 tile needs: the stage tile of 720p is 960×540, the
//! small ones 320×180). CPU share of one core = time per picture × fps.
//!
//! Run: `cargo bench --bench compose` (needs ffmpeg, as the tests do).

use std::process::Command;
use std::time::{Duration, Instant};

use diemcau::compose::codec::{H264Encoder, Vp8Decoder};
use diemcau::compose::layout::Layout;
use diemcau::compose::scene::Scene;

/// One IVF clip → its VP8 frames.
fn clip(w: u32, h: u32) -> Vec<Vec<u8>> {
    let path = std::env::temp_dir().join(format!("diemcau-bench-{w}x{h}.ivf"));
    if !path.exists() {
        let ok = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
            .args([
                "-f",
                "lavfi",
                "-i",
                &format!("testsrc2=size={w}x{h}:rate=30"),
            ])
            .args(["-t", "4", "-c:v", "libvpx", "-b:v", "500k", "-g", "60"])
            .args(["-deadline", "realtime", "-cpu-used", "8", "-f", "ivf"])
            .arg(&path)
            .status()
            .expect("ffmpeg runs");
        assert!(ok.success(), "ffmpeg encoded the clip");
    }
    let data = std::fs::read(&path).unwrap();
    let mut frames = Vec::new();
    let mut i = 32;
    while i + 12 <= data.len() {
        let n = u32::from_le_bytes(data[i..i + 4].try_into().unwrap()) as usize;
        frames.push(data[i + 12..i + 12 + n].to_vec());
        i += 12 + n;
    }
    frames
}

struct Cost {
    decode: Duration,
    draw: Duration,
    encode: Duration,
    pictures: u32,
}

fn run(width: u32, height: u32, fps: u32, inputs: usize, frames: &[Vec<u8>]) -> Cost {
    let mut decoders: Vec<Vp8Decoder> = (0..inputs).map(|_| Vp8Decoder::new().unwrap()).collect();
    let mut scene = Scene::new(Layout::OnePlus7, width, height);
    let sites: Vec<(u64, String)> = (0..inputs as u64)
        .map(|i| (i, format!("Điểm cầu xã số {i}")))
        .collect();
    scene.set_sites(&sites);
    scene.set_stage(&[0]);
    let mut enc = H264Encoder::new(width, height, 2500, fps, fps * 2).unwrap();
    let mut c = Cost {
        decode: Duration::ZERO,
        draw: Duration::ZERO,
        encode: Duration::ZERO,
        pictures: 0,
    };
    // Ten seconds of output; every input sends at 30 fps, decoded whole.
    let pictures = fps * 10;
    let mut next_in = 0usize;
    for p in 0..pictures {
        let now = Instant::now();
        let due = ((p + 1) * 30 / fps) as usize;
        while next_in < due {
            let f = &frames[next_in % frames.len()];
            let t = Instant::now();
            for (i, d) in decoders.iter_mut().enumerate() {
                if let Ok(Some(pic)) = d.decode(f) {
                    scene.on_frame(i as u64, pic, now);
                }
            }
            c.decode += t.elapsed();
            next_in += 1;
        }
        let t = Instant::now();
        let pic = scene.compose(now).clone();
        c.draw += t.elapsed();
        let t = Instant::now();
        std::hint::black_box(enc.encode(&pic).unwrap());
        c.encode += t.elapsed();
        c.pictures += 1;
    }
    c
}

fn main() {
    let frames = clip(640, 360);
    println!("per output picture (ms) and share of one core at the output's rate");
    println!(
        "{:<10} {:>6} {:>10} {:>8} {:>8} {:>8} {:>9}",
        "output", "inputs", "decode", "draw", "encode", "total", "core %"
    );
    for (w, h, fps) in [(1280, 720, 30), (1920, 1080, 15)] {
        for inputs in [1usize, 2, 4, 8] {
            let c = run(w, h, fps, inputs, &frames);
            let ms = |d: Duration| d.as_secs_f64() * 1000.0 / f64::from(c.pictures);
            let total = ms(c.decode) + ms(c.draw) + ms(c.encode);
            println!(
                "{:<10} {:>6} {:>10.2} {:>8.2} {:>8.2} {:>8.2} {:>8.1}%",
                format!("{h}p{fps}"),
                inputs,
                ms(c.decode),
                ms(c.draw),
                ms(c.encode),
                total,
                total * f64::from(fps) / 10.0
            );
        }
    }
}
