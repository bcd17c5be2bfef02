//! Uploaded PDFs arrive from the network and their signatures are checked
//! at once: the signature dictionaries, byte ranges and CMS blobs of a
//! hostile file must give a status, never a panic or a hang.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let trust = diemcau::sign::trust::Trust::default();
    let _ = diemcau::sign::verify::verify_pdf(data, &trust, 1_800_000_000_000);
    // The CMS parser alone, on raw bytes (what a /Contents may hold).
    let _ = diemcau::sign::cms_check::check(data, |alg| alg.digest(b""));
});
