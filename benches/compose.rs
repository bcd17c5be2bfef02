//! What one composite output costs: decoding N VP8 inputs (real frames,
//! encoded by ffmpeg's libvpx from `testsrc2`), drawing the 1+7 scene
//! (scale, compose, names), and the OpenH264 encode — each timed apart,
//! per output picture, at 720p30 and 1080p15, for 1 to 8 inputs at 360p
//! (the layer a 1+7 tile needs: the stage tile of 720p is 960×540, the
//! small ones 320×180). CPU share of one core = time per picture × fps.
//! Each configuration runs in a child process of its own, so its memory is
//! its own: the peak resident set over its run less the set before its
//! output was made (the decoders, the scene, the encoder and what they
//! allocate while working).
//!
//! Then the same with three-layer simulcast inputs (720p, 360p, 180p
//! clips) each decoded at the layer its tile needs, and with two layouts
//! (1+7 and 3×3: two outputs with layouts of their own) drawn from the
//! same decoded inputs and encoded once each.
//!
//! Run: `cargo bench --bench compose` (needs ffmpeg, as the tests do).

use std::process::Command;
use std::time::{Duration, Instant};

use diemcau::compose::codec::{H264Encoder, Vp8Decoder};
use diemcau::compose::layers::wanted_layer;
use diemcau::compose::layout::Layout;
use diemcau::compose::scene::Scene;

/// One IVF clip → its VP8 frames.
fn clip(w: u32, h: u32) -> Vec<Vec<u8>> {
    let path = std::env::temp_dir().join(format!("diemcau-bench-{w}x{h}.ivf"));
    let bitrate = if h <= 180 {
        "150k"
    } else if h <= 360 {
        "500k"
    } else {
        "1500k"
    };
    if !path.exists() {
        let ok = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
            .args([
                "-f",
                "lavfi",
                "-i",
                &format!("testsrc2=size={w}x{h}:rate=30"),
            ])
            // About what a browser's simulcast layers carry at each size.
            .args(["-t", "4", "-c:v", "libvpx", "-b:v", bitrate, "-g", "60"])
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

/// The inputs of a configuration.
#[derive(Clone, Copy, PartialEq)]
enum Inputs {
    /// Every input at 360p, whatever its tile.
    All360,
    /// Three-layer simulcast publishers (720p, 360p, 180p): each input
    /// decoded at the smallest layer that fills its largest tile
    /// (`compose::layers::wanted_layer`), as the composer asks the engine.
    Simulcast,
}

/// The layer clips, lowest first (what a simulcast publisher sends).
const LAYERS: [(u32, u32); 3] = [(320, 180), (640, 360), (1280, 720)];

fn run(
    (width, height, fps): (u32, u32, u32),
    inputs: usize,
    mode: Inputs,
    layouts: &[Layout],
) -> Cost {
    let clips: Vec<Vec<Vec<u8>>> = LAYERS.iter().map(|&(w, h)| clip(w, h)).collect();
    // Each input's clip: the layer its largest tile (over the layouts) needs.
    let tallest = |i: usize| {
        layouts
            .iter()
            .filter_map(|l| l.tiles(width, height).get(i).map(|r| r.h))
            .max()
            .unwrap_or(0)
    };
    let layer_of: Vec<usize> = (0..inputs)
        .map(|i| match mode {
            Inputs::All360 => 1,
            Inputs::Simulcast => usize::from(wanted_layer(2, 720, tallest(i))),
        })
        .collect();
    let mut decoders: Vec<Vp8Decoder> = (0..inputs).map(|_| Vp8Decoder::new().unwrap()).collect();
    let sites: Vec<(u64, String)> = (0..inputs as u64)
        .map(|i| (i, format!("Điểm cầu xã số {i}")))
        .collect();
    let mut outputs: Vec<(Scene, H264Encoder)> = layouts
        .iter()
        .map(|&l| {
            let mut scene = Scene::new(l, width, height);
            scene.set_sites(&sites);
            scene.set_stage(&[0]);
            (
                scene,
                H264Encoder::new(width, height, 2500, fps, fps * 2).unwrap(),
            )
        })
        .collect();
    let mut c = Cost {
        decode: Duration::ZERO,
        draw: Duration::ZERO,
        encode: Duration::ZERO,
        pictures: 0,
    };
    // Ten seconds of output; every input sends at 30 fps, decoded whole
    // once and drawn by every layout's scene.
    let pictures = fps * 10;
    let mut next_in = 0usize;
    for p in 0..pictures {
        let now = Instant::now();
        let due = ((p + 1) * 30 / fps) as usize;
        while next_in < due {
            for (i, d) in decoders.iter_mut().enumerate() {
                let frames = &clips[layer_of[i]];
                let f = &frames[next_in % frames.len()];
                let t = Instant::now();
                let pic = d.decode(f);
                c.decode += t.elapsed();
                if let Ok(Some(pic)) = pic {
                    let t = Instant::now();
                    for (scene, _) in &mut outputs {
                        scene.on_frame(i as u64, pic.clone(), now);
                    }
                    c.draw += t.elapsed();
                }
            }
            next_in += 1;
        }
        for (scene, enc) in &mut outputs {
            let t = Instant::now();
            let pic = scene.compose(now).clone();
            c.draw += t.elapsed();
            let t = Instant::now();
            std::hint::black_box(enc.encode(&pic).unwrap());
            c.encode += t.elapsed();
        }
        c.pictures += 1;
    }
    c
}

/// A line of `/proc/self/status`, in bytes.
fn status_bytes(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        * 1024
}

/// The child: one configuration, its figures on one line.
fn one(args: &[String]) {
    let n: Vec<u32> = args[..4].iter().map(|a| a.parse().unwrap()).collect();
    let (w, h, fps, inputs) = (n[0], n[1], n[2], n[3] as usize);
    let (mode, layouts, label) = match args[4].as_str() {
        "360p" => (Inputs::All360, vec![Layout::OnePlus7], "360p, 1+7"),
        "simulcast" => (Inputs::Simulcast, vec![Layout::OnePlus7], "simulcast, 1+7"),
        _ => (
            Inputs::Simulcast,
            vec![Layout::OnePlus7, Layout::Grid3x3],
            "simulcast, 1+7 and 3×3",
        ),
    };
    for (lw, lh) in LAYERS {
        clip(lw, lh);
    }
    let before = status_bytes("VmRSS:");
    let c = run((w, h, fps), inputs, mode, &layouts);
    let peak = status_bytes("VmHWM:");
    let ms = |d: Duration| d.as_secs_f64() * 1000.0 / f64::from(c.pictures);
    let total = ms(c.decode) + ms(c.draw) + ms(c.encode);
    println!(
        "{:<10} {:>6} {:<24} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.1}% {:>8.1}",
        format!("{h}p{fps}"),
        inputs,
        label,
        ms(c.decode),
        ms(c.draw),
        ms(c.encode),
        total,
        total * f64::from(fps) / 10.0,
        peak.saturating_sub(before) as f64 / f64::from(1 << 20)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--one") {
        return one(&args[i + 1..i + 6]);
    }
    for (w, h) in LAYERS {
        clip(w, h);
    }
    println!("per output picture (ms), share of one core at the output's rate, memory (MiB)");
    println!(
        "{:<10} {:>6} {:<24} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8}",
        "output",
        "inputs",
        "inputs decoded, layouts",
        "decode",
        "draw",
        "encode",
        "total",
        "core %",
        "MiB"
    );
    let me = std::env::current_exe().unwrap();
    let mut configs = Vec::new();
    for (w, h, fps) in [(1280u32, 720u32, 30u32), (1920, 1080, 15)] {
        for inputs in [1usize, 2, 4, 8] {
            configs.push((w, h, fps, inputs, "360p"));
        }
        configs.push((w, h, fps, 8, "simulcast"));
        configs.push((w, h, fps, 8, "two"));
    }
    for (w, h, fps, inputs, mode) in configs {
        let ok = Command::new(&me)
            .arg("--one")
            .args([
                w.to_string(),
                h.to_string(),
                fps.to_string(),
                inputs.to_string(),
                mode.to_string(),
            ])
            .status()
            .unwrap();
        assert!(ok.success(), "{h}p{fps} with {inputs} inputs, {mode}");
    }
    page();
}

/// The presenter layout's page: an A4 page of text and a table drawn at
/// the 720p page tile's size, as on every page turn.
fn page() {
    let mut content = String::from("BT /F1 11 Tf 56 790 Td 14 TL ");
    for i in 0..48 {
        content.push_str(&format!(
            "(Dong {i}: Bao cao tinh hinh thuc hien Nghi quyet ve chuyen doi so cap xa) '\n"
        ));
    }
    content.push_str("ET 0.5 w ");
    for r in 0..12 {
        content.push_str(&format!("56 {} 483 14 re S ", 80 + r * 14));
    }
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman >>".to_string(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(b"xref\n0 6\n0000000000 65535 f \n");
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!("trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
    );
    let (w, h) = Layout::Presenter
        .page_tile(1280, 720)
        .map(|r| (r.w, r.h))
        .unwrap();
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        std::hint::black_box(diemcau::compose::page::render_page(&pdf, 1, w, h).unwrap());
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "presenter page (A4, 48 lines of text and a table) drawn at {w}x{h}: {:.1} ms median, {:.1} ms max of 20",
        times[10].as_secs_f64() * 1000.0,
        times[19].as_secs_f64() * 1000.0
    );
}
