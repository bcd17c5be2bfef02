//! VP8 encoding through libvpx (Debian `libvpx-dev`, BSD), for the VP8
//! rendition of a SIP room's H.264 (`sip::transcode`): realtime mode, one
//! thread, constant bitrate, no lag, error resilient (a subscriber on a
//! lossy link recovers at the next keyframe), keyframes when asked.
//!
//! Contained like the decoders in `codec`: an error is returned, nothing
//! panics; a picture of a new size restarts the encoder.

use std::ptr;

use super::codec::CodecError;
use super::frame::Frame;

/// libvpx's speed for VP8 in realtime mode (-16..16: higher is faster and
/// coarser). 8 keeps a 720p30 picture well under one core of this machine
/// (BENCHMARKS.md §15) at a quality a wall or a laptop shows well.
const CPU_USED: i32 = 8;
/// A keyframe at least this often (frames) even unasked: a subscriber
/// whose keyframe request was lost still recovers (10 s at 30 fps).
const KEYFRAME_MAX_FRAMES: u32 = 300;
/// The encoder's clock: RTP's 90 kHz, so a picture's RTP timestamp is its pts.
const TIMEBASE_HZ: i32 = 90_000;

/// One encoded picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vp8Frame {
    pub data: Vec<u8>,
    pub keyframe: bool,
}

/// A VP8 encoder (one per rendition).
pub struct Vp8Encoder {
    ctx: Option<Box<vpx_sys::vpx_codec_ctx_t>>,
    width: u32,
    height: u32,
    kbps: u32,
    force_key: bool,
}

// SAFETY: the libvpx context is owned by this value alone and only used
// through `&mut self`; libvpx contexts may move between threads.
unsafe impl Send for Vp8Encoder {}

impl Vp8Encoder {
    /// An encoder for `kbps`; it starts at the first picture's size.
    pub fn new(kbps: u32) -> Vp8Encoder {
        Vp8Encoder {
            ctx: None,
            width: 0,
            height: 0,
            kbps: kbps.max(100),
            force_key: true,
        }
    }

    /// The next picture is a keyframe (a subscriber lost one, or joined).
    pub fn force_keyframe(&mut self) {
        self.force_key = true;
    }

    fn start(&mut self, width: u32, height: u32) -> Result<(), CodecError> {
        self.ctx = None;
        // SAFETY: libvpx fills the whole default configuration (read only
        // after it said so: it holds enums with no zero value); the context
        // is zeroed as vpx_codec_enc_init_ver expects, and destroyed in
        // `Drop` once initialised.
        unsafe {
            let iface = vpx_sys::vpx_codec_vp8_cx();
            let mut cfg = std::mem::MaybeUninit::<vpx_sys::vpx_codec_enc_cfg_t>::uninit();
            let err = vpx_sys::vpx_codec_enc_config_default(iface, cfg.as_mut_ptr(), 0);
            if err != vpx_sys::VPX_CODEC_OK {
                return Err(CodecError::Vp8Init(err as i32));
            }
            let mut cfg = cfg.assume_init();
            cfg.g_w = width;
            cfg.g_h = height;
            cfg.g_threads = 1;
            cfg.g_timebase = vpx_sys::vpx_rational {
                num: 1,
                den: TIMEBASE_HZ,
            };
            cfg.g_lag_in_frames = 0;
            cfg.g_error_resilient = vpx_sys::VPX_ERROR_RESILIENT_DEFAULT as _;
            cfg.rc_end_usage = vpx_sys::vpx_rc_mode::VPX_CBR;
            cfg.rc_target_bitrate = self.kbps;
            cfg.rc_min_quantizer = 4;
            cfg.rc_max_quantizer = 56;
            cfg.rc_undershoot_pct = 100;
            cfg.rc_overshoot_pct = 15;
            cfg.rc_buf_sz = 1000;
            cfg.rc_buf_initial_sz = 500;
            cfg.rc_buf_optimal_sz = 600;
            cfg.rc_dropframe_thresh = 0;
            cfg.kf_mode = vpx_sys::vpx_kf_mode::VPX_KF_AUTO;
            cfg.kf_max_dist = KEYFRAME_MAX_FRAMES;
            let mut ctx: Box<vpx_sys::vpx_codec_ctx_t> = Box::new(std::mem::zeroed());
            let err = vpx_sys::vpx_codec_enc_init_ver(
                &mut *ctx,
                iface,
                &cfg,
                0,
                vpx_sys::VPX_ENCODER_ABI_VERSION as i32,
            );
            if err != vpx_sys::VPX_CODEC_OK {
                return Err(CodecError::Vp8Init(err as i32));
            }
            vpx_sys::vpx_codec_control_(
                &mut *ctx,
                vpx_sys::vp8e_enc_control_id::VP8E_SET_CPUUSED as i32,
                CPU_USED,
            );
            self.ctx = Some(ctx);
        }
        self.width = width;
        self.height = height;
        self.force_key = true;
        Ok(())
    }

    /// Encode one picture taken at `pts` (90 kHz). `None`: the encoder
    /// produced nothing for it (it never drops here, but libvpx may).
    pub fn encode(&mut self, f: &Frame, pts: i64) -> Result<Option<Vp8Frame>, CodecError> {
        let (w, h) = (f.width, f.height);
        let (cw, ch) = (w / 2, h / 2);
        if w < 16
            || h < 16
            || f.y.len() < (w * h) as usize
            || f.u.len() < (cw * ch) as usize
            || f.v.len() < (cw * ch) as usize
        {
            return Err(CodecError::TooLarge(f.y.len()));
        }
        if self.ctx.is_none() || (w, h) != (self.width, self.height) {
            self.start(w, h)?;
        }
        let Some(ctx) = self.ctx.as_mut() else {
            return Ok(None);
        };
        let flags = if std::mem::take(&mut self.force_key) {
            vpx_sys::VPX_EFLAG_FORCE_KF as vpx_sys::vpx_enc_frame_flags_t
        } else {
            0
        };
        // SAFETY: the image only borrows the frame's planes (checked above
        // to hold w×h and (w/2)×(h/2) bytes) for the duration of the encode
        // call, which copies what it needs; the packets libvpx returns are
        // valid until the next encode and copied out before it.
        unsafe {
            // vpx_img_wrap sets every field of the image it describes.
            let mut img = std::mem::MaybeUninit::<vpx_sys::vpx_image_t>::uninit();
            let wrapped = vpx_sys::vpx_img_wrap(
                img.as_mut_ptr(),
                vpx_sys::vpx_img_fmt::VPX_IMG_FMT_I420,
                w,
                h,
                1,
                f.y.as_ptr() as *mut u8,
            );
            if wrapped.is_null() {
                return Err(CodecError::Vp8Init(-1));
            }
            let mut img = img.assume_init();
            img.planes[0] = f.y.as_ptr() as *mut u8;
            img.planes[1] = f.u.as_ptr() as *mut u8;
            img.planes[2] = f.v.as_ptr() as *mut u8;
            img.stride[0] = w as i32;
            img.stride[1] = cw as i32;
            img.stride[2] = cw as i32;
            let err = vpx_sys::vpx_codec_encode(
                &mut **ctx,
                &img,
                pts,
                1,
                flags,
                vpx_sys::VPX_DL_REALTIME as _,
            );
            if err != vpx_sys::VPX_CODEC_OK {
                return Err(CodecError::Vp8Decode(err as i32));
            }
            let mut iter: vpx_sys::vpx_codec_iter_t = ptr::null();
            let mut out: Option<Vp8Frame> = None;
            loop {
                let pkt = vpx_sys::vpx_codec_get_cx_data(&mut **ctx, &mut iter);
                if pkt.is_null() {
                    break;
                }
                let pkt = &*pkt;
                if pkt.kind != vpx_sys::vpx_codec_cx_pkt_kind::VPX_CODEC_CX_FRAME_PKT {
                    continue;
                }
                let fr = pkt.data.frame;
                let bytes = std::slice::from_raw_parts(fr.buf as *const u8, fr.sz as usize);
                let key = fr.flags & vpx_sys::VPX_FRAME_IS_KEY != 0;
                match &mut out {
                    Some(o) => {
                        o.data.extend_from_slice(bytes);
                        o.keyframe |= key;
                    }
                    None => {
                        out = Some(Vp8Frame {
                            data: bytes.to_vec(),
                            keyframe: key,
                        })
                    }
                }
            }
            Ok(out)
        }
    }
}

impl Drop for Vp8Encoder {
    fn drop(&mut self) {
        if let Some(ctx) = self.ctx.as_mut() {
            // SAFETY: initialised in `start`, destroyed once here.
            unsafe {
                vpx_sys::vpx_codec_destroy(&mut **ctx);
            }
        }
    }
}

impl Vp8Encoder {
    /// Drop the codec state now (the rendition is no longer wanted); the
    /// next picture starts it again.
    pub fn reset(&mut self) {
        if let Some(mut ctx) = self.ctx.take() {
            // SAFETY: initialised in `start`, destroyed once here (taken).
            unsafe {
                vpx_sys::vpx_codec_destroy(&mut *ctx);
            }
        }
        self.force_key = true;
    }
}

#[cfg(test)]
mod tests {
    use super::super::codec::Vp8Decoder;
    use super::super::frame::{Rect, Yuv};
    use super::*;

    #[test]
    fn an_encoded_picture_decodes_back_to_its_colours_and_keyframes_come_when_asked() {
        let mut f = Frame::new(320, 180, Yuv::rgb(220, 20, 20));
        f.fill(Rect::new(160, 0, 160, 180), Yuv::rgb(20, 20, 220));
        let mut enc = Vp8Encoder::new(500);
        let mut dec = Vp8Decoder::new().unwrap();
        let first = enc.encode(&f, 0).unwrap().expect("a frame");
        assert!(first.keyframe, "the first picture is a keyframe");
        let back = dec.decode(&first.data).unwrap().expect("a picture");
        assert_eq!((back.width, back.height), (320, 180));
        let near = |a: Yuv, b: Yuv| {
            a.0.abs_diff(b.0) < 16 && a.1.abs_diff(b.1) < 16 && a.2.abs_diff(b.2) < 16
        };
        assert!(near(back.at(80, 90), f.at(80, 90)), "{:?}", back.at(80, 90));
        assert!(near(back.at(240, 90), f.at(240, 90)));
        let second = enc.encode(&f, 3000).unwrap().expect("a frame");
        assert!(!second.keyframe, "then a delta frame");
        assert!(dec.decode(&second.data).unwrap().is_some());
        enc.force_keyframe();
        assert!(enc.encode(&f, 6000).unwrap().unwrap().keyframe);
        // A new size restarts the encoder with a keyframe.
        let small = Frame::new(160, 90, Yuv::rgb(0, 200, 0));
        let k = enc.encode(&small, 9000).unwrap().unwrap();
        assert!(k.keyframe);
        let back = dec.decode(&k.data).unwrap().unwrap();
        assert_eq!((back.width, back.height), (160, 90));
    }
}
