//! # uhome-protocol
//!
//! The µHome wire protocol (`spec/protocol.md`, version 1.3.0) as a sans-IO codec:
//! `#![no_std]`, no allocation, no `unsafe`, no panics on any input.
//!
//! ```text
//! bytes ──Frame::decode──▶ Frame<'a> ──Frame::message──▶ Message<'a> / Event<'a>
//!                                                    (borrowed, strict JSON)
//! Event ──encode_event──▶ bytes in the caller's buffer
//! ```
//!
//! - [`Frame::decode`] delimits a frame: `Complete(frame, consumed)` or
//!   `Partial { needed }`, in the manner of httparse.
//! - [`Frame::message`] checks version, UTF-8, JSON (strict RFC 8259, depth ≤ 128, without
//!   recursion) and the envelope, and borrows every member from the payload.
//! - [`core_events`] reads the core events' `data`; [`reply`] builds the spec's replies.
//! - [`FrameBuffer`] reassembles a stream in a fixed buffer.
//! - `auth` (cargo feature `auth`, off by default): signed frames, origin signatures and a
//!   replay cache, from section 14 of `spec/protocol.md` (`UH-AUTH`), with Ed25519 from
//!   `ed25519-dalek` and SHA-512 from `sha2`, both no_std without allocation. Without the
//!   feature neither crate is built and the codec's code size is unchanged; `auth-fast`
//!   adds the curve's precomputed tables (faster, about 30 KiB more flash).
//!
//! ```
//! use uhome_protocol::{Frame, Message, Decoded};
//!
//! let bytes = b"\x00\x49\x00\x02\x01{\"id\":\"1\",\"timestamp\":\"t\",\"source\":\"me\",\"type\":\"\xc2\xb5Home.core.healthcheck\"}";
//! let Decoded::Complete(frame, used) = Frame::decode(bytes) else { panic!("need more") };
//! assert_eq!(used, bytes.len());
//! let Ok(Message::Event(event)) = frame.message() else { panic!("bad payload") };
//! assert_eq!(event.event_type, "µHome.core.healthcheck");
//! ```

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "auth")]
pub mod auth;
pub mod buffer;
pub mod code;
pub mod core_events;
pub mod decoded;
pub mod encode;
pub mod error;
pub mod event;
pub mod exchange;
pub mod frame;
pub mod header;
pub mod json;
pub mod reply;
pub mod status;

pub use buffer::{FrameBuffer, Next};
pub use code::{Code, CodeKind};
pub use decoded::Decoded;
pub use encode::{encode_event, encode_frame, Body, Envelope, Json, WriteJson};
pub use error::{Error, EventFault, Member};
pub use event::{decode_payload, Event, Message, V1, V2};
pub use frame::Frame;
pub use header::{Header, HEADER_LEN, MAX_FRAME_LEN, MAX_PAYLOAD_LEN};
pub use json::{JsonStr, RawJson};
pub use status::Status;

/// The version of `spec/protocol.md` this crate implements.
pub const SPEC_VERSION: &str = "1.3.0";
