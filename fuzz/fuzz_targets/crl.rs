//! CRLs are uploaded by admins (`POST /api/v1/signatures/crls`) and read
//! from PDFs' document security stores.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = diemcau::sign::trust::parse_crl(data);
    let _ = diemcau::sign::trust::parse_certificates(data);
});
