//! How the host sends a component's outbound request once the allow-list has
//! passed it: HTTP/1.1 over a new TCP connection, within the request's
//! timeouts (connect, first byte, between bytes; 600 s each unless the
//! component set them, as wasmtime's own sender does).
//!
//! Plain HTTP only, unless built with the `https` feature: the host talks to
//! the local inbox, the tests' receivers and whatever else runs beside it,
//! and leaving TLS out keeps rustls and ring (about 30 s of a cold build on
//! two cores) out of every `cargo test`. An `https` URL is refused with a log
//! line that says so; `spin up` speaks TLS.

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant, Sleep};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// What [`send`] returns: the response, and a future that ends with the
/// connection (its error, if it failed after the response head).
pub(crate) type Sent = (
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
);

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

pub(crate) async fn send(
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<Sent, Error> {
    use http_body_util::BodyExt;
    let uri = request.uri().clone();
    if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
        #[cfg(feature = "https")]
        {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            return Ok((response.map(BodyExt::boxed_unsync), Box::new(io)));
        }
        #[cfg(not(feature = "https"))]
        {
            tracing::warn!(
                "outbound request to {uri} refused: this host sends plain HTTP only \
                 (build it with the `https` feature, or run the app on Spin)"
            );
            return Err(Error::ConnectionRefused);
        }
    }
    let authority = uri.authority().ok_or(Error::HttpRequestUriInvalid)?;
    let address = format!(
        "{}:{}",
        authority.host(),
        authority.port_u16().unwrap_or(80)
    );
    let limit = |set: fn(&RequestOptions) -> Option<Duration>| {
        options.as_ref().and_then(set).unwrap_or(DEFAULT_TIMEOUT)
    };
    let connect = limit(|o| o.connect_timeout);
    let stream = timeout(connect, TcpStream::connect(&address))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::Connect)?;
    let (mut sender, connection) = timeout(
        connect,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;
    let driver = tokio::spawn(connection);
    // The request line names the path; the authority travels in `host`.
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = path.parse().map_err(|_| Error::HttpRequestUriInvalid)?;
    let response = timeout(
        limit(|o| o.first_byte_timeout),
        sender.send_request(request),
    )
    .await
    .map_err(|_| Error::ConnectionReadTimeout)??;
    let between_bytes = limit(|o| o.between_bytes_timeout);
    let response = response.map(|incoming| {
        BetweenBytes {
            incoming,
            limit: between_bytes,
            deadline: Box::pin(tokio::time::sleep(between_bytes)),
        }
        .boxed_unsync()
    });
    let connection_end = async move {
        match driver.await {
            Ok(result) => result.map_err(Error::from),
            Err(_) => Err(Error::ConnectionTerminated),
        }
    };
    Ok((response, Box::new(connection_end)))
}

/// A response body that fails when its next frame is later than allowed.
struct BetweenBytes {
    incoming: Incoming,
    limit: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl Body for BetweenBytes {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(frame) => {
                let next = Instant::now() + this.limit;
                this.deadline.as_mut().reset(next);
                Poll::Ready(frame.map(|f| f.map_err(Error::from)))
            }
            Poll::Pending => {
                ready!(this.deadline.as_mut().poll(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Empty};

    fn get(url: &str) -> http::Request<WasiBody> {
        let body = Empty::<Bytes>::new().map_err(|never| match never {});
        http::Request::get(url).body(body.boxed_unsync()).unwrap()
    }

    #[cfg(not(feature = "https"))]
    #[tokio::test]
    async fn an_https_request_is_refused_without_the_feature() {
        let error = send(get("https://127.0.0.1:9/"), None).await.err();
        assert!(matches!(error, Some(Error::ConnectionRefused)), "{error:?}");
    }

    #[tokio::test]
    async fn a_server_that_never_answers_fails_at_the_first_byte_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let held = tokio::spawn(async move { listener.accept().await });
        let options = RequestOptions {
            first_byte_timeout: Some(Duration::from_millis(100)),
            ..RequestOptions::default()
        };
        let error = send(get(&url), Some(options)).await.err();
        assert!(
            matches!(error, Some(Error::ConnectionReadTimeout)),
            "{error:?}"
        );
        held.abort();
    }
}
