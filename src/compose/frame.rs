//! A YUV 4:2:0 picture (BT.601, limited range as our decoders and encoder
//! use it) and the two operations the compositor needs: fill a rectangle,
//! and draw a picture scaled into one. All integer arithmetic, so the same
//! inputs give the same bytes on every CPU.

// The rectangle is the layouts' unit (diemcau-live), drawn into here.
pub use super::layout::Rect;

/// A colour as (Y, Cb, Cr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Yuv(pub u8, pub u8, pub u8);

impl Yuv {
    /// From sRGB, BT.601 limited range, integer.
    pub const fn rgb(r: u8, g: u8, b: u8) -> Yuv {
        let (r, g, b) = (r as i32, g as i32, b as i32);
        let y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
        let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
        let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
        Yuv(y as u8, u as u8, v as u8)
    }
}

/// An I420 picture: full-size luma, half-size chroma planes, no padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

impl Frame {
    /// A picture of one colour; `width` and `height` are rounded down to even.
    pub fn new(width: u32, height: u32, c: Yuv) -> Frame {
        let (w, h) = (width & !1, height & !1);
        let (cw, ch) = (w / 2, h / 2);
        Frame {
            width: w,
            height: h,
            y: vec![c.0; (w * h) as usize],
            u: vec![c.1; (cw * ch) as usize],
            v: vec![c.2; (cw * ch) as usize],
        }
    }

    /// From three planes with strides (what a decoder hands out).
    pub fn from_planes(
        width: u32,
        height: u32,
        planes: [&[u8]; 3],
        strides: [usize; 3],
    ) -> Option<Frame> {
        let (w, h) = (width as usize & !1, height as usize & !1);
        if w == 0 || h == 0 {
            return None;
        }
        let copy = |plane: &[u8], stride: usize, pw: usize, ph: usize| -> Option<Vec<u8>> {
            let mut out = Vec::with_capacity(pw * ph);
            for row in 0..ph {
                out.extend_from_slice(plane.get(row * stride..row * stride + pw)?);
            }
            Some(out)
        };
        Some(Frame {
            width: w as u32,
            height: h as u32,
            y: copy(planes[0], strides[0], w, h)?,
            u: copy(planes[1], strides[1], w / 2, h / 2)?,
            v: copy(planes[2], strides[2], w / 2, h / 2)?,
        })
    }

    /// The rectangle clipped to the picture.
    fn clip(&self, r: Rect) -> Rect {
        let x = r.x.min(self.width);
        let y = r.y.min(self.height);
        Rect::new(x, y, r.w.min(self.width - x), r.h.min(self.height - y))
    }

    pub fn fill(&mut self, r: Rect, c: Yuv) {
        let r = self.clip(r);
        let w = self.width as usize;
        for row in r.y..r.y + r.h {
            let at = row as usize * w + r.x as usize;
            self.y[at..at + r.w as usize].fill(c.0);
        }
        let cw = w / 2;
        for row in r.y / 2..(r.y + r.h) / 2 {
            let at = row as usize * cw + r.x as usize / 2;
            let n = r.w as usize / 2;
            self.u[at..at + n].fill(c.1);
            self.v[at..at + n].fill(c.2);
        }
    }

    /// Darken (a frozen picture under its "signal lost" label): luma
    /// halved towards black, chroma towards grey.
    pub fn dim(&mut self, r: Rect) {
        let r = self.clip(r);
        let w = self.width as usize;
        for row in r.y..r.y + r.h {
            let at = row as usize * w + r.x as usize;
            for p in &mut self.y[at..at + r.w as usize] {
                *p = 16 + (p.saturating_sub(16)) / 2;
            }
        }
        let cw = w / 2;
        for row in r.y / 2..(r.y + r.h) / 2 {
            let at = row as usize * cw + r.x as usize / 2;
            for p in self.u[at..at + r.w as usize / 2]
                .iter_mut()
                .chain(self.v[at..at + r.w as usize / 2].iter_mut())
            {
                *p = ((u16::from(*p) + 128) / 2) as u8;
            }
        }
    }

    /// Draw `src` scaled (bilinear, 8-bit fixed point) to fill `dst`.
    pub fn blit_scaled(&mut self, src: &Frame, dst: Rect) {
        let dst = self.clip(dst);
        if dst.w == 0 || dst.h == 0 || src.width == 0 || src.height == 0 {
            return;
        }
        scale_plane(
            (&src.y, src.width as usize, src.height as usize),
            (&mut self.y, self.width as usize),
            (
                dst.x as usize,
                dst.y as usize,
                dst.w as usize,
                dst.h as usize,
            ),
        );
        let (sw, sh) = (src.width as usize / 2, src.height as usize / 2);
        let d = (
            dst.x as usize / 2,
            dst.y as usize / 2,
            dst.w as usize / 2,
            dst.h as usize / 2,
        );
        let cw = self.width as usize / 2;
        scale_plane((&src.u, sw, sh), (&mut self.u, cw), d);
        scale_plane((&src.v, sw, sh), (&mut self.v, cw), d);
    }

    /// Mean luma of a rectangle (tests and the "is it black" check).
    pub fn mean_luma(&self, r: Rect) -> u8 {
        let r = self.clip(r);
        if r.w == 0 || r.h == 0 {
            return 0;
        }
        let w = self.width as usize;
        let mut sum = 0u64;
        for row in r.y..r.y + r.h {
            let at = row as usize * w + r.x as usize;
            sum += self.y[at..at + r.w as usize]
                .iter()
                .map(|p| u64::from(*p))
                .sum::<u64>();
        }
        (sum / (u64::from(r.w) * u64::from(r.h))) as u8
    }

    /// The colour at the centre of a rectangle (Y, U, V).
    pub fn at(&self, x: u32, y: u32) -> Yuv {
        let (x, y) = (
            x.min(self.width - 1) as usize,
            y.min(self.height - 1) as usize,
        );
        let cw = self.width as usize / 2;
        Yuv(
            self.y[y * self.width as usize + x],
            self.u[(y / 2) * cw + x / 2],
            self.v[(y / 2) * cw + x / 2],
        )
    }
}

/// Bilinear scale of one plane region, 8-bit fixed-point weights.
fn scale_plane(
    src: (&[u8], usize, usize),
    dst: (&mut [u8], usize),
    (dx, dy, dw, dh): (usize, usize, usize, usize),
) {
    let (s, sw, sh) = src;
    let (d, dstride) = dst;
    if dw == 0 || dh == 0 || sw == 0 || sh == 0 {
        return;
    }
    // Source position of each destination pixel centre, in 1/256 pixels.
    let pos = |i: usize, dn: usize, sn: usize| -> (usize, u32) {
        let p = ((2 * i + 1) * sn * 256 / (2 * dn)).saturating_sub(128);
        let p = p.min((sn - 1) * 256);
        (p / 256, (p % 256) as u32)
    };
    let xs: Vec<(usize, u32)> = (0..dw).map(|i| pos(i, dw, sw)).collect();
    for j in 0..dh {
        let (y0, fy) = pos(j, dh, sh);
        let y1 = (y0 + 1).min(sh - 1);
        let (r0, r1) = (&s[y0 * sw..y0 * sw + sw], &s[y1 * sw..y1 * sw + sw]);
        let out = &mut d[(dy + j) * dstride + dx..(dy + j) * dstride + dx + dw];
        for (o, &(x0, fx)) in out.iter_mut().zip(&xs) {
            let x1 = (x0 + 1).min(sw - 1);
            let top = u32::from(r0[x0]) * (256 - fx) + u32::from(r0[x1]) * fx;
            let bot = u32::from(r1[x0]) * (256 - fx) + u32::from(r1[x1]) * fx;
            *o = ((top * (256 - fy) + bot * fy + (1 << 15)) >> 16) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RED: Yuv = Yuv::rgb(255, 0, 0);
    const BLUE: Yuv = Yuv::rgb(0, 0, 255);

    #[test]
    fn a_scaled_picture_fills_its_rectangle_and_nothing_else() {
        let mut canvas = Frame::new(64, 32, Yuv::rgb(0, 0, 0));
        let red = Frame::new(10, 6, RED);
        canvas.blit_scaled(&red, Rect::new(4, 4, 20, 12));
        assert_eq!(canvas.at(10, 10), RED);
        assert_eq!(canvas.at(2, 2), Yuv::rgb(0, 0, 0));
        assert_eq!(canvas.at(30, 10), Yuv::rgb(0, 0, 0));
    }

    #[test]
    fn scaling_keeps_a_two_colour_split_in_place() {
        let mut src = Frame::new(40, 20, RED);
        src.fill(Rect::new(20, 0, 20, 20), BLUE);
        let mut canvas = Frame::new(100, 50, Yuv::rgb(0, 0, 0));
        canvas.blit_scaled(&src, Rect::new(0, 0, 100, 50));
        assert_eq!(canvas.at(20, 25), RED);
        assert_eq!(canvas.at(80, 25), BLUE);
    }

    #[test]
    fn fit_keeps_the_aspect_and_centres() {
        let r = Rect::new(0, 0, 400, 300).fit(16, 9);
        assert_eq!(r, Rect::new(0, 36, 400, 224));
    }

    #[test]
    fn a_rectangle_outside_the_picture_is_clipped_not_a_panic() {
        let mut c = Frame::new(16, 16, RED);
        c.fill(Rect::new(10, 10, 100, 100), BLUE);
        c.blit_scaled(&Frame::new(4, 4, BLUE), Rect::new(200, 200, 8, 8));
        c.dim(Rect::new(8, 8, 100, 100));
        assert_eq!(c.at(0, 0), RED);
    }
}
