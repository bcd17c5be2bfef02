//! The one integration-test binary: real server, real UDP, real WebRTC peers.
//!
//! Every test that moves media first enters a fresh network namespace with
//! only `lo` up (see `support::netns`), so no WebRTC stack can reach this
//! machine's other interfaces.

mod agenda;
mod api;
mod audit;
mod backup;
mod ballot_files;
mod browser;
mod browser_red;
mod browser_stage;
mod browser_tcp;
mod cascade_registry;
mod cascade_scope;
mod check_browser;
mod compose_output;
mod console;
mod console_cascade;
mod console_closed;
mod delegate;
mod delegate_signatures;
mod document_bounds;
mod documents;
mod endpoints;
mod engine;
mod engine_quality;
mod engine_red;
mod hardening;
mod ice_tcp;
mod install_check;
mod interop;
mod invariants;
mod landing;
mod live;
mod live_stream;
mod meetings;
mod membership;
mod minutes;
mod mute_on_entry;
mod objects_s3;
mod org;
mod packaging;
mod people;
mod permissions;
mod portal;
mod quality;
mod random_json;
mod readiness;
mod record;
mod recording;
mod relay;
mod room_app;
mod signature_check;
mod signed_documents;
mod signing;
mod sip;
mod sip_bad_input;
mod sip_dialout;
mod sip_store;
mod stage_voice;
mod store;
mod support;
mod voting;
mod whip;
