//! Sealing time of a 40-page minutes PDF (issue 16): render the minutes,
//! then seal them (PAdES B-B: parse, new revision with the visible block
//! and its font subsets, SHA-256 of the byte ranges, signed attributes,
//! signature, CMS, embed) with an RSA-2048 and an ECDSA P-256 key file —
//! the CPU a finalise costs the server beside the database write.
//! Run: `cargo bench --bench seal` (`-- --runs N`, default 20).

use std::time::{Duration, Instant};

use diemcau::control::minutes::Minutes;
use diemcau::sign::appearance::BlockText;
use diemcau::sign::keys::FileKey;

fn minutes(pages_hint: usize) -> Minutes {
    // About 40 pages: long conclusions and proceedings, as a congress has.
    let para = "Hội nghị đã thảo luận kỹ các nội dung trình, thống nhất đánh giá kết quả \
                thực hiện nhiệm vụ chính trị, những hạn chế và nguyên nhân, đề ra nhiệm vụ, \
                giải pháp trọng tâm trong thời gian tới. ";
    let text = para.repeat(pages_hint * 18);
    serde_json::from_value(serde_json::json!({
        "header": {
            "meeting_id": "mtg_bench", "title": "Hội nghị Ban Chấp hành Đảng bộ tỉnh",
            "kind": "bch", "kind_label": "Hội nghị Ban Chấp hành",
            "starts_at_ms": 1_767_225_600_000i64, "ends_at_ms": 1_767_232_800_000i64,
            "started_at_ms": null, "ended_at_ms": null,
            "local_date": "2026-01-01", "local_start": "07:00", "local_end": "09:00",
            "chair": "Nguyễn Văn Chủ", "secretary": "Trần Thị Thư"
        },
        "attendance": null, "agenda": [], "floor": [], "motions": [],
        "notes": text, "conclusions": "Hội nghị thống nhất thông qua.",
        "generated_at_ms": 1_767_232_800_000i64
    }))
    .expect("minutes")
}

fn key(dir: &std::path::Path, rsa: bool) -> FileKey {
    let alg = if rsa {
        rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
    } else {
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
    }
    .expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Văn phòng Tỉnh ủy");
    let cert = params.self_signed(&alg).expect("cert");
    let k = dir.join(if rsa { "rsa.key" } else { "ec.key" });
    let c = dir.join(if rsa { "rsa.pem" } else { "ec.pem" });
    std::fs::write(&k, alg.serialize_pem()).expect("key file");
    std::fs::write(&c, cert.pem()).expect("cert file");
    FileKey::open(&k, &c).expect("key opens")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::args()
        .skip_while(|a| a != "--runs")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().expect("tmp");
    let m = minutes(40);
    let mut render = Vec::new();
    let mut pdf = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        pdf = diemcau::pdf::minutes::render(&m, None).expect("render");
        render.push(t.elapsed());
    }
    let pages = lopdf::Document::load_mem(&pdf)
        .expect("parses")
        .get_pages()
        .len();
    println!(
        "minutes: {pages} pages, {} KiB; render median {:.1} ms",
        pdf.len() / 1024,
        median(render).as_secs_f64() * 1e3
    );
    for (name, rsa) in [("RSA-2048", true), ("ECDSA P-256", false)] {
        let k = key(dir.path(), rsa);
        let mut seal = Vec::new();
        let mut out = 0;
        for _ in 0..runs {
            let block = BlockText {
                signer: "Văn phòng Tỉnh ủy".into(),
                organization: None,
                role: "Dấu của cơ quan".into(),
                signed_at_ms: 1_767_232_800_000,
            };
            let t = Instant::now();
            let signed =
                diemcau::sign::make::sign_with(&pdf, &k, "seal", "Đóng dấu", block).expect("seals");
            seal.push(t.elapsed());
            out = signed.len() - pdf.len();
        }
        println!(
            "seal ({name}, key file): median {:.1} ms over {runs} runs; the revision adds {} KiB",
            median(seal).as_secs_f64() * 1e3,
            out / 1024
        );
    }
}
