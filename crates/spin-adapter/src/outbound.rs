//! Outgoing HTTP through `wasi:http`, for mail providers and webhook receivers.
//!
//! Every request carries `content-length` (some providers and proxies refuse
//! chunked bodies), a `user-agent` naming the service and its version, and a
//! timeout; a request, a sweep run or anything else never has more than
//! `outbound_max_in_flight` calls open at once. spin-sdk's `send` can set
//! neither timeouts nor a bound, so this drives `wasi:http` itself: requests
//! are started in order as slots free up, and `wasi:io/poll` waits for the
//! first answer or the earliest deadline.

use invitations_edge::outgoing::{Answer, OutgoingRequest};
use wasi::clocks::monotonic_clock;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    Fields, FutureIncomingResponse, IncomingResponse, Method, OutgoingBody, RequestOptions, Scheme,
};
use wasi::io::poll::{poll, Pollable};
use wasi::io::streams::StreamError;

pub const USER_AGENT: &str = concat!("invitations-for-spin/", env!("CARGO_PKG_VERSION"));

/// Answers longer than this are cut: we only read statuses and short JSON.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Calls open at once.
    pub max_in_flight: usize,
    /// From sending to the whole answer, per call.
    pub timeout_ms: u64,
}

/// One call on its way. Fields drop in order: the pollable before its future.
struct InFlight {
    index: usize,
    ready: Pollable,
    future: FutureIncomingResponse,
    deadline: u64,
}

/// Sends every request, at most `limits.max_in_flight` at a time, starting
/// them in order; answers in the same order. `Err` says why there is no
/// answer (refused by the host, unreachable, timed out).
pub fn send_all(requests: &[OutgoingRequest], limits: Limits) -> Vec<Result<Answer, String>> {
    let mut answers: Vec<Option<Result<Answer, String>>> = vec![None; requests.len()];
    let mut in_flight: Vec<InFlight> = Vec::new();
    let mut next = 0;
    let timeout_ns = limits.timeout_ms * 1_000_000;
    loop {
        while in_flight.len() < limits.max_in_flight.max(1) && next < requests.len() {
            match start(&requests[next], timeout_ns) {
                Ok(future) => in_flight.push(InFlight {
                    index: next,
                    ready: future.subscribe(),
                    future,
                    deadline: monotonic_clock::now() + timeout_ns,
                }),
                Err(e) => answers[next] = Some(Err(e)),
            }
            next += 1;
        }
        let Some(earliest) = in_flight.iter().map(|f| f.deadline).min() else {
            break;
        };
        let timer = monotonic_clock::subscribe_instant(earliest);
        let mut waiting: Vec<&Pollable> = in_flight.iter().map(|f| &f.ready).collect();
        waiting.push(&timer);
        poll(&waiting);
        let now = monotonic_clock::now();
        let mut i = 0;
        while i < in_flight.len() {
            let outcome = match in_flight[i].future.get() {
                Some(Ok(Ok(response))) => Some(read(response)),
                Some(Ok(Err(code))) => Some(Err(format!("{code:?}"))),
                Some(Err(())) => Some(Err("answer already taken".to_owned())),
                None if now >= in_flight[i].deadline => Some(Err(format!(
                    "no answer within {} s",
                    limits.timeout_ms / 1000
                ))),
                None => None,
            };
            match outcome {
                Some(outcome) => {
                    // Dropping an unanswered call cancels it.
                    let done = in_flight.remove(i);
                    answers[done.index] = Some(outcome);
                }
                None => i += 1,
            }
        }
    }
    answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err("not sent".to_owned())))
        .collect()
}

/// Starts one call: headers, timeouts, then the body.
fn start(request: &OutgoingRequest, timeout_ns: u64) -> Result<FutureIncomingResponse, String> {
    let (scheme, rest) = request
        .url
        .split_once("://")
        .ok_or_else(|| format!("not an absolute URL: {}", request.url))?;
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_owned()),
    };
    let mut headers: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .filter(|(name, _)| {
            !name.eq_ignore_ascii_case("content-length") && !name.eq_ignore_ascii_case("user-agent")
        })
        .map(|(name, value)| (name.to_ascii_lowercase(), value.as_bytes().to_vec()))
        .collect();
    headers.push((
        "content-length".to_owned(),
        request.body.len().to_string().into_bytes(),
    ));
    headers.push(("user-agent".to_owned(), USER_AGENT.as_bytes().to_vec()));
    let fields = Fields::from_list(&headers).map_err(|e| format!("header refused: {e:?}"))?;
    let outgoing = wasi::http::types::OutgoingRequest::new(fields);
    let method = match request.method {
        "GET" => Method::Get,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        _ => Method::Post,
    };
    let set = |ok: Result<(), ()>, what: &str| ok.map_err(|()| format!("{what} refused"));
    set(outgoing.set_method(&method), "method")?;
    set(outgoing.set_scheme(Some(&scheme)), "scheme")?;
    set(outgoing.set_authority(Some(authority)), "authority")?;
    set(outgoing.set_path_with_query(Some(&path)), "path")?;
    let body = outgoing
        .body()
        .map_err(|()| "request body taken".to_owned())?;
    let options = RequestOptions::new();
    // A host that does not support a timeout says so; the deadline here still holds.
    let _ = options.set_connect_timeout(Some(timeout_ns));
    let _ = options.set_first_byte_timeout(Some(timeout_ns));
    let _ = options.set_between_bytes_timeout(Some(timeout_ns));
    let stream = body
        .write()
        .map_err(|()| "request body stream taken".to_owned())?;
    // Written and finished before the request is handed over, so the host
    // sends head and body at once (`crate::body`).
    let sending = |e: StreamError| format!("sending the body: {}", stream_error(e));
    let now = crate::body::write_now(&stream, &request.body).map_err(sending)?;
    if now == request.body.len() {
        drop(stream);
        OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}"))?;
        return outgoing_handler::handle(outgoing, Some(options)).map_err(|e| format!("{e:?}"));
    }
    let future = outgoing_handler::handle(outgoing, Some(options)).map_err(|e| format!("{e:?}"))?;
    crate::body::write_rest(&stream, &request.body[now..]).map_err(sending)?;
    drop(stream);
    OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}"))?;
    Ok(future)
}

/// Status, headers (lower-case names) and up to [`MAX_ANSWER_BYTES`] of body.
fn read(response: IncomingResponse) -> Result<Answer, String> {
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| {
            (
                name.to_ascii_lowercase(),
                String::from_utf8_lossy(&value).into_owned(),
            )
        })
        .collect();
    let mut bytes = Vec::new();
    if let Ok(body) = response.consume() {
        if let Ok(stream) = body.stream() {
            while bytes.len() < MAX_ANSWER_BYTES {
                match stream.blocking_read(16 * 1024) {
                    Ok(chunk) => bytes.extend_from_slice(&chunk),
                    Err(StreamError::Closed) => break,
                    Err(e) => return Err(format!("reading the answer: {}", stream_error(e))),
                }
            }
        }
    }
    bytes.truncate(MAX_ANSWER_BYTES);
    Ok(Answer {
        status,
        headers,
        body: bytes,
    })
}

fn stream_error(e: StreamError) -> String {
    match e {
        StreamError::Closed => "closed".to_owned(),
        StreamError::LastOperationFailed(e) => e.to_debug_string(),
    }
}
