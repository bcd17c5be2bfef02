//! The decoders and the encoder behind the compositor: VP8 through libvpx
//! (Debian `libvpx-dev`, BSD), H.264 both ways through OpenH264 (BSD, built
//! from the crate's bundled source). No GPL codec is linked.
//!
//! Every call is contained: a decoder that fails on garbage reports an
//! error and is reset by its owner; nothing here panics on input.

use std::ptr;

use openh264::OpenH264API;
use openh264::decoder::{Decoder as H264Dec, DecoderConfig};
use openh264::encoder::{
    BitRate, Encoder as H264Enc, EncoderConfig, FrameRate, IntraFramePeriod, Profile,
    RateControlMode, SpsPpsStrategy, UsageType,
};
use openh264::formats::{YUVSlices, YUVSource};

use super::frame::Frame;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("the VP8 decoder could not start (libvpx error {0})")]
    Vp8Init(i32),
    #[error("the VP8 frame did not decode (libvpx error {0})")]
    Vp8Decode(i32),
    #[error("H.264: {0}")]
    H264(String),
    #[error("a frame of {0} bytes is too large")]
    TooLarge(usize),
}

/// Frames larger than this are not plausible at 1080p (libvpx takes a u32).
const MAX_FRAME_BYTES: usize = 4 << 20;

/// A VP8 decoder (one per input track).
pub struct Vp8Decoder {
    ctx: Box<vpx_sys::vpx_codec_ctx_t>,
}

// SAFETY: the libvpx context is owned by this value alone and only used
// through `&mut self`; libvpx contexts may move between threads.
unsafe impl Send for Vp8Decoder {}

impl Vp8Decoder {
    pub fn new() -> Result<Vp8Decoder, CodecError> {
        // SAFETY: a zeroed context is what vpx_codec_dec_init_ver expects
        // to fill; the interface pointer is libvpx's static VP8 decoder.
        unsafe {
            let mut ctx: Box<vpx_sys::vpx_codec_ctx_t> = Box::new(std::mem::zeroed());
            let err = vpx_sys::vpx_codec_dec_init_ver(
                &mut *ctx,
                vpx_sys::vpx_codec_vp8_dx(),
                ptr::null(),
                0,
                vpx_sys::VPX_DECODER_ABI_VERSION as i32,
            );
            if err != vpx_sys::VPX_CODEC_OK {
                return Err(CodecError::Vp8Init(err as i32));
            }
            Ok(Vp8Decoder { ctx })
        }
    }

    /// Decode one whole VP8 frame; the picture it shows, if any.
    pub fn decode(&mut self, data: &[u8]) -> Result<Option<Frame>, CodecError> {
        if data.len() > MAX_FRAME_BYTES {
            return Err(CodecError::TooLarge(data.len()));
        }
        // SAFETY: `data` outlives the call; the image libvpx returns is
        // valid until the next decode on this context, and is copied out
        // (bounded by its own strides and display size) before that.
        unsafe {
            let err = vpx_sys::vpx_codec_decode(
                &mut *self.ctx,
                data.as_ptr(),
                data.len() as u32,
                ptr::null_mut(),
                0,
            );
            if err != vpx_sys::VPX_CODEC_OK {
                return Err(CodecError::Vp8Decode(err as i32));
            }
            let mut iter: vpx_sys::vpx_codec_iter_t = ptr::null();
            let mut last = None;
            loop {
                let img = vpx_sys::vpx_codec_get_frame(&mut *self.ctx, &mut iter);
                if img.is_null() {
                    break;
                }
                let img = &*img;
                if img.fmt != vpx_sys::vpx_img_fmt::VPX_IMG_FMT_I420 {
                    continue;
                }
                let (w, h) = (img.d_w as usize, img.d_h as usize);
                let strides = [
                    img.stride[0].max(0) as usize,
                    img.stride[1].max(0) as usize,
                    img.stride[2].max(0) as usize,
                ];
                let plane = |i: usize, rows: usize| {
                    std::slice::from_raw_parts(img.planes[i], strides[i] * rows)
                };
                let (ch, _) = (h.div_ceil(2), 0);
                last = Frame::from_planes(
                    w as u32,
                    h as u32,
                    [plane(0, h), plane(1, ch), plane(2, ch)],
                    strides,
                );
            }
            Ok(last)
        }
    }
}

impl Drop for Vp8Decoder {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once here.
        unsafe {
            vpx_sys::vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

/// An H.264 decoder (one per input track): Annex B in, pictures out.
pub struct H264Decoder {
    dec: H264Dec,
}

impl H264Decoder {
    pub fn new() -> Result<H264Decoder, CodecError> {
        let dec = H264Dec::with_api_config(OpenH264API::from_source(), DecoderConfig::new())
            .map_err(|e| CodecError::H264(e.to_string()))?;
        Ok(H264Decoder { dec })
    }

    /// Decode one access unit in Annex B (start codes, parameter sets
    /// before a keyframe).
    pub fn decode(&mut self, annex_b: &[u8]) -> Result<Option<Frame>, CodecError> {
        if annex_b.len() > MAX_FRAME_BYTES {
            return Err(CodecError::TooLarge(annex_b.len()));
        }
        let yuv = self
            .dec
            .decode(annex_b)
            .map_err(|e| CodecError::H264(e.to_string()))?;
        Ok(yuv.and_then(|p| {
            let (w, h) = p.dimensions();
            let (sy, su, sv) = p.strides();
            Frame::from_planes(w as u32, h as u32, [p.y(), p.u(), p.v()], [sy, su, sv])
        }))
    }
}

/// The composite's encoder: H.264 constrained baseline, one per output.
pub struct H264Encoder {
    enc: H264Enc,
    width: u32,
    height: u32,
}

impl H264Encoder {
    /// `kbps` target, `fps` frames a second, a keyframe every `gop` frames
    /// (HLS cuts segments on them).
    pub fn new(
        width: u32,
        height: u32,
        kbps: u32,
        fps: u32,
        gop: u32,
    ) -> Result<H264Encoder, CodecError> {
        let cfg = EncoderConfig::new()
            .bitrate(BitRate::from_bps(kbps * 1000))
            .max_frame_rate(FrameRate::from_hz(fps as f32))
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
            .profile(Profile::Baseline)
            .sps_pps_strategy(SpsPpsStrategy::ConstantId)
            .intra_frame_period(IntraFramePeriod::from_num_frames(gop))
            .skip_frames(false)
            .num_threads(1);
        let enc = H264Enc::with_api_config(OpenH264API::from_source(), cfg)
            .map_err(|e| CodecError::H264(e.to_string()))?;
        Ok(H264Encoder { enc, width, height })
    }

    /// The next keyframe comes now (a new consumer, a lost one).
    pub fn force_keyframe(&mut self) {
        self.enc.force_intra_frame();
    }

    /// Encode one picture of the output's size: Annex B, and whether it
    /// is a keyframe.
    pub fn encode(&mut self, f: &Frame) -> Result<(Vec<u8>, bool), CodecError> {
        if f.width != self.width || f.height != self.height {
            return Err(CodecError::H264(format!(
                "a {}x{} picture for a {}x{} encoder",
                f.width, f.height, self.width, self.height
            )));
        }
        let (w, h) = (f.width as usize, f.height as usize);
        let src = YUVSlices::new((&f.y, &f.u, &f.v), (w, h), (w, w / 2, w / 2));
        let bits = self
            .enc
            .encode(&src)
            .map_err(|e| CodecError::H264(e.to_string()))?;
        let key = matches!(
            bits.frame_type(),
            openh264::encoder::FrameType::IDR | openh264::encoder::FrameType::I
        );
        Ok((bits.to_vec(), key))
    }
}

/// NAL units between start codes (3- or 4-byte), as an encoder writes
/// them: the composite's samples and the SIP rooms' packets are cut from it.
pub fn nal_units(annex_b: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= annex_b.len() {
        if annex_b[i] == 0 && annex_b[i + 1] == 0 && annex_b[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(annex_b.len(), |n| n - 3);
        while k + 1 < starts.len() && end > s && annex_b[end - 1] == 0 {
            end -= 1;
        }
        if end > s {
            out.push(&annex_b[s..end]);
        }
    }
    out
}

/// AVC length-prefixed NAL units (what our depacketizer assembles) to
/// Annex B, with the parameter sets first when given (a keyframe).
pub fn avcc_to_annex_b(avcc: &[u8], params: Option<(&[u8], &[u8])>) -> Option<Vec<u8>> {
    const START: [u8; 4] = [0, 0, 0, 1];
    let mut out = Vec::with_capacity(avcc.len() + 64);
    if let Some((sps, pps)) = params {
        for p in [sps, pps] {
            out.extend_from_slice(&START);
            out.extend_from_slice(p);
        }
    }
    let mut rest = avcc;
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let nal = rest.get(4..4 + len)?;
        out.extend_from_slice(&START);
        out.extend_from_slice(nal);
        rest = &rest[4 + len..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::frame::{Rect, Yuv};
    use super::*;

    #[test]
    fn an_encoded_picture_decodes_back_to_its_colours() {
        let mut f = Frame::new(320, 180, Yuv::rgb(220, 20, 20));
        f.fill(Rect::new(160, 0, 160, 180), Yuv::rgb(20, 20, 220));
        let mut enc = H264Encoder::new(320, 180, 500, 15, 30).unwrap();
        let (bits, key) = enc.encode(&f).unwrap();
        assert!(key, "the first picture is a keyframe");
        let mut dec = H264Decoder::new().unwrap();
        let back = dec.decode(&bits).unwrap().expect("a picture");
        assert_eq!((back.width, back.height), (320, 180));
        let near = |a: Yuv, b: Yuv| {
            a.0.abs_diff(b.0) < 12 && a.1.abs_diff(b.1) < 12 && a.2.abs_diff(b.2) < 12
        };
        assert!(near(back.at(80, 90), f.at(80, 90)), "{:?}", back.at(80, 90));
        assert!(
            near(back.at(240, 90), f.at(240, 90)),
            "{:?}",
            back.at(240, 90)
        );
    }

    #[test]
    fn garbage_is_an_error_for_both_decoders_not_a_crash() {
        let junk: Vec<u8> = (0..4000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let mut vp8 = Vp8Decoder::new().unwrap();
        assert!(vp8.decode(&junk).is_err() || vp8.decode(&junk).unwrap().is_none());
        let mut h264 = H264Decoder::new().unwrap();
        let mut annex = vec![0, 0, 0, 1, 0x65];
        annex.extend_from_slice(&junk);
        let _ = h264.decode(&annex);
    }

    #[test]
    fn length_prefixed_nal_units_become_annex_b_with_parameter_sets() {
        let avcc = [0, 0, 0, 2, 0x65, 0xaa, 0, 0, 0, 1, 0x41];
        let out = avcc_to_annex_b(&avcc, Some((&[0x67, 1], &[0x68, 2]))).unwrap();
        assert_eq!(
            out,
            [
                0, 0, 0, 1, 0x67, 1, 0, 0, 0, 1, 0x68, 2, 0, 0, 0, 1, 0x65, 0xaa, 0, 0, 0, 1, 0x41
            ]
        );
        assert!(
            avcc_to_annex_b(&[0, 0, 0, 9, 1], None).is_none(),
            "a cut unit"
        );
    }
}
