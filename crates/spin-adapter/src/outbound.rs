//! Outgoing HTTP through `wasi:http`, for mail providers and webhook receivers.

use invitations_edge::mail::OutgoingRequest;
use spin_sdk::http::{Method, Request, Response};

/// Sends `request`; `Err` says what `peer` answered or why it could not be reached.
pub async fn send(request: OutgoingRequest, peer: &str) -> Result<(), String> {
    let mut b = Request::builder();
    b.method(Method::Post).uri(request.url);
    for (k, v) in request.headers {
        b.header(k, v);
    }
    let outgoing = b.body(request.body).build();
    match spin_sdk::http::send::<_, Response>(outgoing).await {
        Ok(resp) if (200..300).contains(resp.status()) => Ok(()),
        Ok(resp) => {
            let excerpt: String = String::from_utf8_lossy(resp.body())
                .chars()
                .take(200)
                .collect();
            Err(format!("{peer} answered {}: {excerpt}", resp.status()))
        }
        Err(e) => Err(format!("{peer} unreachable: {e}")),
    }
}
