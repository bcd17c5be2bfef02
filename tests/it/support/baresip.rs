//! baresip (Debian `baresip-core`), an independent SIP user agent, as a
//! room codec: its own config directory, a tone file as its microphone,
//! the `sndfile` module dumping what it hears, commands on its stdin.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct Baresip {
    child: Child,
    pub dir: PathBuf,
}

/// How a baresip room codec is set up beyond its account.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// H.264 (avcodec, Debian `baresip-ffmpeg`) from a synthetic source;
    /// what it receives is counted in its status line.
    pub video: bool,
    /// PEM of the CA that signed the server's TLS certificate (its
    /// `sip_cafile`), for calls over TLS.
    pub ca_pem: Option<String>,
    /// `mediaenc=srtp-mand` (module `srtp`): RTP/SAVP with SDES keys only.
    pub srtp: bool,
    /// Its audio codec module; `g711.so` when `None`.
    pub audio_module: Option<&'static str>,
}

/// A mono 8 kHz 16-bit WAV of a sine at `hz`, `secs` long.
pub fn write_tone(path: &Path, hz: f32, secs: u32) {
    write_tone_at(path, hz, secs, 8000);
}

/// The same at `rate` samples a second (baresip's `aufile` takes only
/// its codec's rate).
pub fn write_tone_at(path: &Path, hz: f32, secs: u32, rate: u32) {
    let n = rate as usize * secs as usize;
    let mut data = Vec::with_capacity(44 + 2 * n);
    let pcm_bytes = (2 * n) as u32;
    data.extend_from_slice(b"RIFF");
    data.extend_from_slice(&(36 + pcm_bytes).to_le_bytes());
    data.extend_from_slice(b"WAVEfmt ");
    data.extend_from_slice(&16u32.to_le_bytes());
    data.extend_from_slice(&1u16.to_le_bytes()); // PCM
    data.extend_from_slice(&1u16.to_le_bytes()); // mono
    data.extend_from_slice(&rate.to_le_bytes());
    data.extend_from_slice(&(2 * rate).to_le_bytes());
    data.extend_from_slice(&2u16.to_le_bytes());
    data.extend_from_slice(&16u16.to_le_bytes());
    data.extend_from_slice(b"data");
    data.extend_from_slice(&pcm_bytes.to_le_bytes());
    for i in 0..n {
        let x = 0.3 * (i as f32 * 2.0 * std::f32::consts::PI * hz / rate as f32).sin();
        data.extend_from_slice(&((x * 32767.0) as i16).to_le_bytes());
    }
    std::fs::write(path, data).expect("write tone");
}

impl Baresip {
    /// Start baresip in `dir` as SIP user `user`, listening on
    /// 127.0.0.1:`port` (it also takes `port`+1 for TLS: space them).
    pub fn start(
        dir: &Path,
        user: &str,
        password: &str,
        registrar: &str,
        port: u16,
        tone_hz: f32,
    ) -> Baresip {
        Self::start_with(dir, user, password, registrar, port, tone_hz, false)
    }

    /// A codec that registers with `registrar` and answers every call by
    /// itself (a room codec on auto-answer), for dial-out.
    pub fn start_registered(
        dir: &Path,
        user: &str,
        password: &str,
        registrar: &str,
        port: u16,
    ) -> Baresip {
        Self::start_registered_opts(dir, user, password, registrar, port, &Options::default())
    }

    /// [`Baresip::start_registered`] with options: with a CA it registers
    /// over TLS (`registrar` is then the TLS address), with `srtp` it
    /// answers only RTP/SAVP.
    pub fn start_registered_opts(
        dir: &Path,
        user: &str,
        password: &str,
        registrar: &str,
        port: u16,
        opts: &Options,
    ) -> Baresip {
        std::fs::create_dir_all(dir).unwrap();
        let transport = if opts.ca_pem.is_some() {
            ";transport=tls"
        } else {
            ""
        };
        let mediaenc = if opts.srtp { ";mediaenc=srtp-mand" } else { "" };
        std::fs::write(
            dir.join("accounts"),
            format!(
                "<sip:{user}@{registrar}{transport}>;auth_pass={password};answermode=auto{mediaenc}\n"
            ),
        )
        .unwrap();
        Self::start_opts(dir, user, password, registrar, port, 440.0, opts)
    }

    /// With `video`: see [`Options::video`].
    pub fn start_with(
        dir: &Path,
        user: &str,
        password: &str,
        registrar: &str,
        port: u16,
        tone_hz: f32,
        video: bool,
    ) -> Baresip {
        let opts = Options {
            video,
            ..Default::default()
        };
        Self::start_opts(dir, user, password, registrar, port, tone_hz, &opts)
    }

    pub fn start_opts(
        dir: &Path,
        user: &str,
        password: &str,
        registrar: &str,
        port: u16,
        tone_hz: f32,
        opts: &Options,
    ) -> Baresip {
        let video = opts.video;
        std::fs::create_dir_all(dir.join("snd")).unwrap();
        let mut extra = String::new();
        if let Some(pem) = &opts.ca_pem {
            let ca = dir.join("ca.pem");
            std::fs::write(&ca, pem).unwrap();
            extra += &format!("sip_cafile {}\n", ca.display());
        }
        if opts.srtp {
            // Before `account`: an account's mediaenc names a loaded module.
            extra += "module srtp.so\n";
        }
        let tone = dir.join("tone.wav");
        // G.722 samples at 16 kHz, G.711 at 8.
        let rate = if opts.audio_module == Some("g722.so") {
            16000
        } else {
            8000
        };
        write_tone_at(&tone, tone_hz, 60, rate);
        let config = format!(
            "sip_listen 127.0.0.1:{port}\n\
             audio_player aufile,{d}/played.wav\n\
             audio_source aufile,{t}\n\
             module_path /usr/lib/baresip/modules\n\
             module stdio.so\nmodule {codec}\nmodule aufile.so\nmodule sndfile.so\n\
             snd_path {d}/snd\n{extra}\
             module account.so\nmodule menu.so\n{v}",
            codec = opts.audio_module.unwrap_or("g711.so"),
            d = dir.display(),
            t = tone.display(),
            v = if video {
                "module avcodec.so\nmodule fakevideo.so\nvideo_source fakevideo,nil\n\
                 video_display fakevideo,nil\nvideo_size 352x288\nvideo_bitrate 300000\nvideo_fps 15\n"
            } else {
                ""
            },
        );
        std::fs::write(dir.join("config"), config).unwrap();
        // A dialling codec does not register (`start_registered` wrote
        // its own account line first).
        if !dir.join("accounts").exists() {
            std::fs::write(
                dir.join("accounts"),
                format!(
                    "<sip:{user}@{registrar}>;auth_pass={password};regint=0{}\n",
                    if opts.srtp { ";mediaenc=srtp-mand" } else { "" }
                ),
            )
            .unwrap();
        }
        // Unbuffered (coreutils' stdbuf): its status line, ended by "\r"
        // not a newline, reaches out.log as it is printed, so a test can
        // wait on what it receives instead of sleeping (`log`).
        let child = Command::new("stdbuf")
            .args(["-o0", "baresip", "-4", "-n", "127.0.0.1", "-f"])
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(std::fs::File::create(dir.join("out.log")).unwrap())
            .stderr(std::fs::File::create(dir.join("err.log")).unwrap())
            .spawn()
            .expect("run baresip (apt: baresip-core)");
        Baresip {
            child,
            dir: dir.to_path_buf(),
        }
    }

    pub fn command(&mut self, line: &str) {
        if let Some(stdin) = self.child.stdin.as_mut() {
            let _ = writeln!(stdin, "{line}");
            let _ = stdin.flush();
        }
    }

    pub fn dial(&mut self, uri: &str) {
        self.command(&format!("/dial {uri}"));
    }

    /// Hang up, quit, and wait for it (killed by its pid if it lingers).
    pub fn stop(&mut self) -> String {
        self.command("/hangup");
        std::thread::sleep(std::time::Duration::from_millis(500));
        self.command("/quit");
        for _ in 0..30 {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(self.dir.join("out.log")).unwrap_or_default()
            + &std::fs::read_to_string(self.dir.join("err.log")).unwrap_or_default()
    }

    /// What it printed so far (its status line carries the video it
    /// receives and decodes).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("out.log")).unwrap_or_default()
            + &std::fs::read_to_string(self.dir.join("err.log")).unwrap_or_default()
    }

    /// The audio it received (the sndfile dump), mono 16-bit samples.
    pub fn heard(&self) -> Vec<i16> {
        self.heard_at().0
    }

    /// [`Baresip::heard`] and its sample rate (16 kHz for G.722).
    pub fn heard_at(&self) -> (Vec<i16>, u32) {
        let dump = std::fs::read_dir(self.dir.join("snd"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with("-dec.wav"));
        let Some(bytes) = dump.and_then(|p| std::fs::read(p).ok()) else {
            return (Vec::new(), 8000);
        };
        let rate = bytes
            .get(24..28)
            .map_or(8000, |r| u32::from_le_bytes([r[0], r[1], r[2], r[3]]));
        let samples = bytes
            .get(44..)
            .unwrap_or_default()
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        (samples, rate)
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// From baresip's status line "video=<tx>/<rx> (bit/s)": the video
/// bitrate it received last.
pub fn video_rx_bps(log: &str) -> u64 {
    log.rsplit_once("video=")
        .and_then(|(_, t)| t.split('/').nth(1))
        .and_then(|r| r.split(' ').next())
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// From its "efps=<encoded>/<decoded>": the frames a second it decoded.
pub fn decoded_fps(log: &str) -> f64 {
    log.rsplit_once("efps=")
        .and_then(|(_, t)| t.split('/').nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|r| r.parse().ok())
        .unwrap_or(0.0)
}

/// RMS of 8 kHz samples.
pub fn rms(s: &[i16]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    (s.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
}

/// The dominant frequency of a sine in 8 kHz samples, by zero crossings.
pub fn frequency(s: &[i16]) -> f64 {
    frequency_at(s, 8000)
}

/// A 20 ms window is the tone when it is at least this share of the
/// loudest window's RMS (a steady tone's windows are all alike).
const VOICED_SHARE: f64 = 0.7;

/// The same at `rate` samples a second, over the 20 ms windows that carry
/// the whole tone only: a gap (a frame late or lost under load, played as
/// silence or concealed) has few crossings, and counted as time it pulled
/// the estimate down — 400 Hz measured for a 440 Hz tone with ~130 ms of
/// gaps in 1.5 s, the cause of `sip_tls`'s failures on a loaded machine;
/// a window only partly the tone, or the decoder's noise in a gap, would
/// push it up.
pub fn frequency_at(s: &[i16], rate: u32) -> f64 {
    let window = (rate / 50).max(2) as usize;
    let windows: Vec<&[i16]> = s.chunks(window).filter(|w| w.len() == window).collect();
    let loudest = windows.iter().map(|w| rms(w)).fold(0.0, f64::max);
    let (mut crossings, mut intervals) = (0usize, 0usize);
    for w in windows {
        if loudest == 0.0 || rms(w) < VOICED_SHARE * loudest {
            continue;
        }
        crossings += w.windows(2).filter(|p| (p[0] < 0) != (p[1] < 0)).count();
        intervals += w.len() - 1;
    }
    if intervals == 0 {
        return 0.0;
    }
    crossings as f64 / 2.0 / (intervals as f64 / f64::from(rate))
}
