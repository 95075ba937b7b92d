//! Hands a response to the host whole: head and body in one piece.
//!
//! spin-sdk's `ResponseOutparam::set_with_body` (and the `-> Response`
//! handlers its macro wraps) sets the head first and writes the body after.
//! The host's HTTP server then flushes the head alone; on a socket without
//! `TCP_NODELAY` (Spin 4.0.2 sets none) Nagle's algorithm holds the body
//! until the client acknowledges the head, and a client delays that
//! acknowledgement by up to 40 ms. Measured on a keep-alive connection: p90
//! 44 ms instead of 2 ms (`docs/design.md`, "keep-alive"). Writing the whole
//! body and finishing it before the head is handed over lets the host write
//! both at once, so no segment waits on an acknowledgement.

use spin_sdk::http::{Headers, OutgoingBody, OutgoingResponse, Response, ResponseOutparam};
use wasi::io::streams::OutputStream;

/// Statuses that carry no body, so no `content-length` either.
fn bodiless(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

/// Sends `response` with its body (given a `content-length` when it has none)
/// written before the head is handed to the host.
pub fn send(out: ResponseOutparam, mut response: Response) {
    let body = std::mem::take(response.body_mut());
    let status = *response.status();
    let mut headers: Vec<(String, Vec<u8>)> = response
        .headers()
        .map(|(name, value)| (name.to_owned(), value.as_bytes().to_vec()))
        .collect();
    let declared = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| String::from_utf8_lossy(v).trim().parse::<usize>().ok());
    // A HEAD answer declares the length of a body it does not carry.
    let head_only = bodiless(status) || declared.is_some_and(|n| n != Some(body.len()));
    if declared.is_none() && !bodiless(status) {
        headers.push(("content-length".to_owned(), body.len().to_string().into()));
    }
    let outgoing = match Headers::from_list(&headers) {
        Ok(fields) => OutgoingResponse::new(fields),
        Err(e) => {
            eprintln!("response headers refused: {e:?}");
            OutgoingResponse::new(Headers::new())
        }
    };
    if outgoing.set_status_code(status).is_err() {
        eprintln!("status {status} refused");
    }
    if head_only {
        out.set(outgoing);
        return;
    }
    let Ok(outgoing_body) = outgoing.body() else {
        out.set(outgoing);
        return;
    };
    let Ok(stream) = outgoing_body.write() else {
        out.set(outgoing);
        return;
    };
    // What the host takes now (on Spin and wasmtime: up to 1 MiB in one
    // write) goes before the head; a longer body's rest follows it.
    let now = match stream.check_write() {
        Ok(permit) => body
            .len()
            .min(usize::try_from(permit).unwrap_or(usize::MAX)),
        Err(_) => 0,
    };
    let first_written = now == 0 || stream.write(&body[..now]).is_ok();
    if now == body.len() && first_written {
        drop(stream);
        finish(outgoing_body);
        out.set(outgoing);
        return;
    }
    out.set(outgoing);
    let rest = if first_written {
        &body[now..]
    } else {
        &body[..]
    };
    if write_all(&stream, rest) {
        drop(stream);
        finish(outgoing_body);
    }
}

fn write_all(stream: &OutputStream, bytes: &[u8]) -> bool {
    for chunk in bytes.chunks(4096) {
        if let Err(e) = stream.blocking_write_and_flush(chunk) {
            eprintln!("could not send the response body: {e:?}");
            return false;
        }
    }
    true
}

fn finish(body: OutgoingBody) {
    if let Err(e) = OutgoingBody::finish(body, None) {
        eprintln!("could not finish the response body: {e:?}");
    }
}
