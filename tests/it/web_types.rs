//! The page scripts' event types are generated from the server's
//! (`diemcau::api::jsdoc`): the checked-in `web/lib/types.js` must be what
//! the server's types generate today, so a script type-checked against it
//! reads what the server sends.

use std::path::Path;

#[test]
fn web_types_js_is_what_the_server_event_types_generate() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/lib/types.js");
    let generated = diemcau::api::jsdoc::web_types();
    if std::env::var_os("DIEMCAU_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "web/lib/types.js is not what the server's event types generate; \
         run DIEMCAU_BLESS=1 cargo nextest run -E 'test(web_types)' and commit it"
    );
}

#[test]
fn every_event_type_the_server_sends_is_in_web_types_js() {
    let generated = diemcau::api::jsdoc::web_types();
    // A few from each side: the live meeting's and the server's own.
    for tag in [
        "\"site_connected\"",
        "\"stage_changed\"",
        "\"locked\"",
        "\"link_stats\"",
        "\"sip_call\"",
        "\"agenda_current\"",
        "\"meeting_closed\"",
    ] {
        assert!(generated.contains(tag), "{tag} missing from the types");
    }
    assert!(generated.contains("@typedef {LiveEvent | ServerEvent} MeetingEvent"));
}
