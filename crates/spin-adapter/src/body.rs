//! Writing a whole body to the host before the message that carries it is
//! handed over (`respond` for answers, `outbound` for requests), so the host
//! writes head and body at once. Written after, the head goes alone and, on a
//! socket without `TCP_NODELAY` (Spin 4.0.2 sets none), Nagle holds the body
//! until the peer's delayed ACK, up to 40 ms (`docs/design.md`, "keep-alive").

use wasi::io::streams::{OutputStream, StreamError};

/// Writes as much of `bytes` as the host takes in one write (on Spin and
/// wasmtime up to 1 MiB, which holds all we send); returns how much that was.
pub fn write_now(stream: &OutputStream, bytes: &[u8]) -> Result<usize, StreamError> {
    let permit = stream.check_write()?;
    let now = bytes
        .len()
        .min(usize::try_from(permit).unwrap_or(usize::MAX));
    if now > 0 {
        stream.write(&bytes[..now])?;
    }
    Ok(now)
}

/// Writes the rest after the message was handed over, waiting for the host.
pub fn write_rest(stream: &OutputStream, bytes: &[u8]) -> Result<(), StreamError> {
    for chunk in bytes.chunks(4096) {
        stream.blocking_write_and_flush(chunk)?;
    }
    Ok(())
}
