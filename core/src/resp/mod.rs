//! RESP2 and RESP3: an incremental, zero-copy decoder and an allocation-free command encoder.
//!
//! - [`Decoder::parse`] returns a borrowed [`Frame`] over the caller's buffer.
//! - [`Decoder::decode`] splits a complete frame off a `BytesMut` and returns an owned [`Value`]
//!   whose strings are [`ByteStr`]s: short ones copied inline, long ones `Bytes` slices of the
//!   same allocation.
//! - [`Cmd`] writes a command as an array of bulk strings straight into a `BytesMut`.

mod bytestr;
mod decoder;
mod encode;
mod error;
mod error_reply;
mod frame;
mod from_frame;
mod limits;
mod one_pass;
mod scan;
mod value;

pub use bytestr::ByteStr;
pub use decoder::{Decoder, Parsed};
pub use encode::{cmd, encode_command, Arg, Cmd, Words};
pub use error::{ProtocolError, ProtocolErrorKind};
pub use error_reply::ErrorReply;
pub use frame::{Aggregate, AttributedIter, Element, Frame, Iter, Pairs};
pub use limits::Limits;
pub use value::Value;
