//! Hands a response to the host whole: head and body in one piece.
//!
//! spin-sdk's `ResponseOutparam::set_with_body` (and the `-> Response`
//! handlers its macro wraps) sets the head first and writes the body after.
//! The host's HTTP server then flushes the head alone; on a socket without
//! `TCP_NODELAY` (Spin 4.0.2 sets none) Nagle's algorithm holds the body
//! until the client acknowledges the head, and a client delays that
//! acknowledgement by up to 40 ms. Measured on a keep-alive connection: p90
//! 44 ms instead of 2 ms (`docs/design.md`, "keep-alive"). So the body is
//! written ([`body::write_now`]) and finished before the head is handed over.

use crate::body;
use spin_sdk::http::{Headers, OutgoingBody, OutgoingResponse, Response, ResponseOutparam};

/// Statuses that carry no body, so no `content-length` either.
fn bodiless(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

/// Sends `response` with its body (given a `content-length` when it has none)
/// written before the head is handed to the host.
pub fn send(out: ResponseOutparam, mut response: Response) {
    let bytes = std::mem::take(response.body_mut());
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
    let head_only = bodiless(status) || declared.is_some_and(|n| n != Some(bytes.len()));
    if declared.is_none() && !bodiless(status) {
        headers.push(("content-length".to_owned(), bytes.len().to_string().into()));
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
    let written = body::write_now(&stream, &bytes);
    if written.as_ref().is_ok_and(|n| *n == bytes.len()) {
        drop(stream);
        finish(outgoing_body);
        out.set(outgoing);
        return;
    }
    out.set(outgoing);
    let rest = &bytes[written.unwrap_or(0)..];
    match body::write_rest(&stream, rest) {
        Ok(()) => {
            drop(stream);
            finish(outgoing_body);
        }
        Err(e) => eprintln!("could not send the response body: {e:?}"),
    }
}

fn finish(body: OutgoingBody) {
    if let Err(e) = OutgoingBody::finish(body, None) {
        eprintln!("could not finish the response body: {e:?}");
    }
}
