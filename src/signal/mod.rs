//! Signalling: WebSocket (`/ws`) and WHIP/WHEP. Versioned wire types in
//! `wire`; the hub fans engine events out to connected clients.

pub mod gate;
pub mod hub;
pub mod live;
pub mod whip;
pub mod wire;
pub mod ws;
