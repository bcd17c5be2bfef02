//! Signalling state: versioned WebSocket wire types (`wire`), the hub that
//! fans engine events out to connected clients (`hub`), the running
//! live rooms (`live`) and the one type of their consoles' events (`event`). The HTTP and WebSocket adapters are in `api`
//! (`api::ws`, `api::whip`); who may connect is decided in `conference`.

pub mod event;
pub mod hub;
pub mod live;
pub mod wire;
