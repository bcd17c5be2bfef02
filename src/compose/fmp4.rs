//! A small fragmented-MP4 writer (ISO/IEC 14496-12, CMAF-style) for the
//! live stream: one H.264 video track and one Opus audio track (Opus in
//! ISOBMFF, `dOps`), an init segment, then media segments of whole
//! samples. Only what HLS players and ffprobe need; no edit lists.

/// Track ids in the init segment.
pub const VIDEO_TRACK: u32 = 1;
pub const AUDIO_TRACK: u32 = 2;
pub const VIDEO_TIMESCALE: u32 = 90_000;
pub const AUDIO_TIMESCALE: u32 = 48_000;

/// One box: size, type, body.
fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + body.len());
    out.extend_from_slice(&((8 + body.len()) as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

/// A full box: version and flags before the body.
fn full(kind: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(4 + body.len());
    b.push(version);
    b.extend_from_slice(&flags.to_be_bytes()[1..]);
    b.extend_from_slice(body);
    bx(kind, &b)
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

fn matrix() -> Vec<u8> {
    MATRIX.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// The init segment: `ftyp` + `moov` for a `width`×`height` H.264 video
/// described by `avcc` (an AVCDecoderConfigurationRecord) and mono Opus.
pub fn init_segment(width: u32, height: u32, avcc: &[u8]) -> Vec<u8> {
    let ftyp = bx(
        b"ftyp",
        &[b"iso6".as_slice(), &[0, 0, 2, 0], b"iso6cmfcmp41"].concat(),
    );
    let mut mvhd = vec![0u8; 8]; // creation, modification
    mvhd.extend_from_slice(&1000u32.to_be_bytes()); // timescale
    mvhd.extend_from_slice(&0u32.to_be_bytes()); // duration (fragmented)
    mvhd.extend_from_slice(&0x0001_0000u32.to_be_bytes()); // rate
    mvhd.extend_from_slice(&0x0100u16.to_be_bytes()); // volume
    mvhd.extend_from_slice(&[0u8; 10]);
    mvhd.extend_from_slice(&matrix());
    mvhd.extend_from_slice(&[0u8; 24]);
    mvhd.extend_from_slice(&3u32.to_be_bytes()); // next track id
    let moov = bx(
        b"moov",
        &cat(&[
            full(b"mvhd", 0, 0, &mvhd),
            video_trak(width, height, avcc),
            audio_trak(),
            bx(b"mvex", &cat(&[trex(VIDEO_TRACK), trex(AUDIO_TRACK)])),
        ]),
    );
    cat(&[ftyp, moov])
}

fn trex(track: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&track.to_be_bytes());
    b.extend_from_slice(&1u32.to_be_bytes()); // sample description index
    b.extend_from_slice(&[0u8; 12]); // duration, size, flags
    full(b"trex", 0, 0, &b)
}

fn tkhd(track: u32, width: u32, height: u32, audio: bool) -> Vec<u8> {
    let mut b = vec![0u8; 8];
    b.extend_from_slice(&track.to_be_bytes());
    b.extend_from_slice(&[0u8; 4]); // reserved
    b.extend_from_slice(&0u32.to_be_bytes()); // duration
    b.extend_from_slice(&[0u8; 8]);
    b.extend_from_slice(&0u16.to_be_bytes()); // layer
    b.extend_from_slice(&u16::from(audio).to_be_bytes()); // alternate group
    b.extend_from_slice(&(if audio { 0x0100u16 } else { 0 }).to_be_bytes());
    b.extend_from_slice(&[0u8; 2]);
    b.extend_from_slice(&matrix());
    b.extend_from_slice(&(width << 16).to_be_bytes());
    b.extend_from_slice(&(height << 16).to_be_bytes());
    full(b"tkhd", 0, 3, &b) // enabled, in movie
}

fn mdhd(timescale: u32) -> Vec<u8> {
    let mut b = vec![0u8; 8];
    b.extend_from_slice(&timescale.to_be_bytes());
    b.extend_from_slice(&0u32.to_be_bytes());
    b.extend_from_slice(&0x55c4u16.to_be_bytes()); // language "und"
    b.extend_from_slice(&[0u8; 2]);
    full(b"mdhd", 0, 0, &b)
}

fn hdlr(kind: &[u8; 4], name: &str) -> Vec<u8> {
    let mut b = vec![0u8; 4];
    b.extend_from_slice(kind);
    b.extend_from_slice(&[0u8; 12]);
    b.extend_from_slice(name.as_bytes());
    b.push(0);
    full(b"hdlr", 0, 0, &b)
}

fn dinf() -> Vec<u8> {
    let url = full(b"url ", 0, 1, &[]);
    let mut dref = 1u32.to_be_bytes().to_vec();
    dref.extend_from_slice(&url);
    bx(b"dinf", &full(b"dref", 0, 0, &dref))
}

/// The empty sample tables of a fragmented track, around its `stsd` entry.
fn stbl(entry: Vec<u8>) -> Vec<u8> {
    let mut stsd = 1u32.to_be_bytes().to_vec();
    stsd.extend_from_slice(&entry);
    let empty = |k: &[u8; 4]| full(k, 0, 0, &0u32.to_be_bytes());
    bx(
        b"stbl",
        &cat(&[
            full(b"stsd", 0, 0, &stsd),
            empty(b"stts"),
            empty(b"stsc"),
            full(b"stsz", 0, 0, &[0u8; 8]),
            empty(b"stco"),
        ]),
    )
}

fn video_trak(width: u32, height: u32, avcc: &[u8]) -> Vec<u8> {
    let mut avc1 = vec![0u8; 6];
    avc1.extend_from_slice(&1u16.to_be_bytes()); // data reference index
    avc1.extend_from_slice(&[0u8; 16]);
    avc1.extend_from_slice(&(width as u16).to_be_bytes());
    avc1.extend_from_slice(&(height as u16).to_be_bytes());
    avc1.extend_from_slice(&0x0048_0000u32.to_be_bytes()); // 72 dpi
    avc1.extend_from_slice(&0x0048_0000u32.to_be_bytes());
    avc1.extend_from_slice(&[0u8; 4]);
    avc1.extend_from_slice(&1u16.to_be_bytes()); // frame count
    avc1.extend_from_slice(&[0u8; 32]); // compressor name
    avc1.extend_from_slice(&0x0018u16.to_be_bytes()); // depth
    avc1.extend_from_slice(&0xffffu16.to_be_bytes());
    avc1.extend_from_slice(&bx(b"avcC", avcc));
    let vmhd = full(b"vmhd", 0, 1, &[0u8; 8]);
    let minf = bx(b"minf", &cat(&[vmhd, dinf(), stbl(bx(b"avc1", &avc1))]));
    let mdia = bx(
        b"mdia",
        &cat(&[mdhd(VIDEO_TIMESCALE), hdlr(b"vide", "diemcau video"), minf]),
    );
    bx(
        b"trak",
        &cat(&[tkhd(VIDEO_TRACK, width, height, false), mdia]),
    )
}

fn audio_trak() -> Vec<u8> {
    let mut opus = vec![0u8; 6];
    opus.extend_from_slice(&1u16.to_be_bytes());
    opus.extend_from_slice(&[0u8; 8]);
    opus.extend_from_slice(&1u16.to_be_bytes()); // channels: the mix is mono
    opus.extend_from_slice(&16u16.to_be_bytes());
    opus.extend_from_slice(&[0u8; 4]);
    opus.extend_from_slice(&(AUDIO_TIMESCALE << 16).to_be_bytes());
    // dOps (Opus in ISOBMFF §4.3.2): version 0, 1 channel, pre-skip 312,
    // 48 kHz, gain 0, mapping family 0.
    let mut dops = vec![0u8, 1];
    dops.extend_from_slice(&312u16.to_be_bytes());
    dops.extend_from_slice(&AUDIO_TIMESCALE.to_be_bytes());
    dops.extend_from_slice(&0i16.to_be_bytes());
    dops.push(0);
    opus.extend_from_slice(&bx(b"dOps", &dops));
    let smhd = full(b"smhd", 0, 0, &[0u8; 4]);
    let minf = bx(b"minf", &cat(&[smhd, dinf(), stbl(bx(b"Opus", &opus))]));
    let mdia = bx(
        b"mdia",
        &cat(&[
            mdhd(AUDIO_TIMESCALE),
            hdlr(b"soun", "diemcau program mix"),
            minf,
        ]),
    );
    bx(b"trak", &cat(&[tkhd(AUDIO_TRACK, 0, 0, true), mdia]))
}

/// One sample of a fragment.
#[derive(Debug, Clone)]
pub struct Sample {
    pub data: Vec<u8>,
    /// In the track's timescale.
    pub duration: u32,
    /// A sync sample (a video keyframe; every Opus frame).
    pub sync: bool,
}

/// One track's run in a media segment.
pub struct Run<'a> {
    pub track: u32,
    /// Decode time of its first sample, in its timescale.
    pub base_time: u64,
    pub samples: &'a [Sample],
}

/// A media segment: `moof` (one `traf` per run) + `mdat`.
pub fn media_segment(sequence: u32, runs: &[Run<'_>]) -> Vec<u8> {
    // The moof's size is needed for the data offsets: build it twice.
    let build = |moof_len: u32| {
        let mut trafs = Vec::new();
        let mut offset = moof_len + 8;
        for r in runs {
            let mut tfhd = r.track.to_be_bytes().to_vec();
            tfhd.truncate(4);
            // default-base-is-moof
            let tfhd = full(b"tfhd", 0, 0x020000, &tfhd);
            let tfdt = full(b"tfdt", 1, 0, &r.base_time.to_be_bytes());
            let mut trun = (r.samples.len() as u32).to_be_bytes().to_vec();
            trun.extend_from_slice(&offset.to_be_bytes());
            for s in r.samples {
                trun.extend_from_slice(&s.duration.to_be_bytes());
                trun.extend_from_slice(&(s.data.len() as u32).to_be_bytes());
                // sample_depends_on / is_non_sync_sample
                let flags: u32 = if s.sync { 0x0200_0000 } else { 0x0101_0000 };
                trun.extend_from_slice(&flags.to_be_bytes());
                offset += s.data.len() as u32;
            }
            // data-offset, duration, size, flags present
            let trun = full(b"trun", 0, 0x000701, &trun);
            trafs.push(bx(b"traf", &cat(&[tfhd, tfdt, trun])));
        }
        let mfhd = full(b"mfhd", 0, 0, &sequence.to_be_bytes());
        bx(b"moof", &cat(&[vec![mfhd], trafs].concat()))
    };
    let moof = build(build(0).len() as u32);
    let body: Vec<u8> = runs
        .iter()
        .flat_map(|r| r.samples.iter().flat_map(|s| s.data.iter().copied()))
        .collect();
    cat(&[moof, bx(b"mdat", &body)])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walk top-level boxes: (type, size).
    fn boxes(b: &[u8]) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i + 8 <= b.len() {
            let size = u32::from_be_bytes(b[i..i + 4].try_into().unwrap()) as usize;
            out.push((String::from_utf8_lossy(&b[i + 4..i + 8]).into_owned(), size));
            assert!(size >= 8, "box at {i}");
            i += size;
        }
        assert_eq!(i, b.len(), "boxes tile the segment");
        out
    }

    #[test]
    fn the_init_segment_is_ftyp_then_moov() {
        let init = init_segment(1280, 720, &[1, 0x42, 0xc0, 0x1f, 0xff, 0xe0, 0x00, 0x00]);
        let kinds: Vec<String> = boxes(&init).into_iter().map(|b| b.0).collect();
        assert_eq!(kinds, ["ftyp", "moov"]);
    }

    #[test]
    fn a_media_segments_data_offset_points_into_its_mdat() {
        let v = [Sample {
            data: vec![1, 2, 3],
            duration: 3000,
            sync: true,
        }];
        let a = [Sample {
            data: vec![9; 5],
            duration: 960,
            sync: true,
        }];
        let seg = media_segment(
            7,
            &[
                Run {
                    track: VIDEO_TRACK,
                    base_time: 90_000,
                    samples: &v,
                },
                Run {
                    track: AUDIO_TRACK,
                    base_time: 48_000,
                    samples: &a,
                },
            ],
        );
        let b = boxes(&seg);
        assert_eq!((b[0].0.as_str(), b[1].0.as_str()), ("moof", "mdat"));
        // The first trun's data offset: the byte after mdat's header.
        let at = seg.windows(4).position(|w| w == b"trun").unwrap();
        let offset = u32::from_be_bytes(seg[at + 12..at + 16].try_into().unwrap()) as usize;
        assert_eq!(&seg[offset..offset + 3], &[1, 2, 3]);
        assert_eq!(offset, b[0].1 + 8);
    }
}
