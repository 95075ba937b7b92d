//! A local mail inbox that speaks the Resend (`POST /emails`) and Postmark
//! (`POST /email`) APIs, keeps what it receives, and shows it on a page with
//! the links in each mail. It is also a webhook receiver (`POST /webhooks`)
//! that keeps each delivery as it came. Both can refuse on purpose, for tests.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use invitations_edge::mail::escape_html as escape;
use serde::Serialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

#[derive(Clone, Debug, Serialize)]
pub struct Mail {
    pub provider: &'static str,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The headers the provider's API would have checked (auth).
    pub auth: String,
}

impl Mail {
    /// The first `/join?token=` link in the text body.
    pub fn link(&self) -> Option<String> {
        self.text
            .split_whitespace()
            .find(|w| w.contains("/join?token="))
            .map(|w| w.trim_end_matches(['.', ',', ')', '>']).to_owned())
    }

    pub fn token(&self) -> Option<String> {
        self.link()?.split("token=").nth(1).map(str::to_owned)
    }
}

/// One webhook delivery as it arrived; the signature is left to the reader to check.
#[derive(Clone, Debug, Serialize)]
pub struct Hook {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
}

impl Hook {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The event type, e.g. `invitation.created`.
    pub fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }
}

#[derive(Default)]
struct State {
    hooks: Vec<Hook>,
    hooks_down: bool,
    mails: Vec<Mail>,
    /// Requests to refuse with 503 before accepting again.
    refuse: u32,
    down: bool,
}

#[derive(Clone)]
pub struct Inbox {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Inbox {
    /// Starts serving on `addr` (e.g. `127.0.0.1:0`) in the background.
    pub async fn start(addr: &str) -> std::io::Result<Inbox> {
        let listener = TcpListener::bind(addr).await?;
        let inbox = Inbox {
            addr: listener.local_addr()?,
            state: Arc::default(),
        };
        let served = inbox.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let inbox = served.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let inbox = inbox.clone();
                        async move { Ok::<_, hyper::Error>(inbox.handle(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(inbox)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.state.lock().unwrap().mails.clone()
    }

    /// Mails sent to `to`, oldest first.
    pub fn mails_to(&self, to: &str) -> Vec<Mail> {
        self.mails()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .collect()
    }

    /// Webhook deliveries received, oldest first (retries included).
    pub fn hooks(&self) -> Vec<Hook> {
        self.state.lock().unwrap().hooks.clone()
    }

    /// While down, every webhook delivery gets 503.
    pub fn set_webhooks_down(&self, down: bool) {
        self.state.lock().unwrap().hooks_down = down;
    }

    pub fn clear(&self) {
        self.state.lock().unwrap().mails.clear();
    }

    /// Answers the next `n` sends with 503.
    pub fn refuse_next(&self, n: u32) {
        self.state.lock().unwrap().refuse = n;
    }

    /// While down, every send gets 503.
    pub fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let (auth_bearer, auth_postmark) =
            (header("authorization"), header("x-postmark-server-token"));
        let hook = (
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
        );
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return respond(400, "text/plain", "unreadable body".into()),
        };
        match (method.as_str(), path.as_str()) {
            ("GET", "/") => respond(200, "text/html; charset=utf-8", self.page()),
            ("GET", "/api/mails") => respond(
                200,
                "application/json",
                serde_json::to_string(&self.mails()).unwrap_or_default(),
            ),
            ("GET", "/api/webhooks") => respond(
                200,
                "application/json",
                serde_json::to_string(&self.hooks()).unwrap_or_default(),
            ),
            ("POST", "/webhooks") => {
                let mut s = self.state.lock().unwrap();
                if s.hooks_down {
                    return respond(503, "text/plain", "receiver down on purpose".into());
                }
                let (id, timestamp, signature) = hook;
                s.hooks.push(Hook {
                    id,
                    timestamp,
                    signature,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                respond(204, "text/plain", String::new())
            }
            ("POST", "/emails") | ("POST", "/email") => {
                {
                    let mut s = self.state.lock().unwrap();
                    if s.down || s.refuse > 0 {
                        s.refuse = s.refuse.saturating_sub(1);
                        return respond(
                            503,
                            "application/json",
                            json!({"message": "inbox refusing on purpose"}).to_string(),
                        );
                    }
                }
                let Ok(v) = serde_json::from_slice::<Value>(&body) else {
                    return respond(
                        422,
                        "application/json",
                        json!({"message": "invalid JSON"}).to_string(),
                    );
                };
                let mail = if path == "/emails" {
                    resend(&v, auth_bearer)
                } else {
                    postmark(&v, auth_postmark)
                };
                let Some(mail) = mail else {
                    return respond(
                        422,
                        "application/json",
                        json!({"message": "missing fields"}).to_string(),
                    );
                };
                let id = {
                    let mut s = self.state.lock().unwrap();
                    s.mails.push(mail);
                    s.mails.len()
                };
                let answer = if path == "/emails" {
                    json!({"id": format!("local-{id}")})
                } else {
                    json!({"MessageID": format!("local-{id}"), "ErrorCode": 0})
                };
                respond(200, "application/json", answer.to_string())
            }
            _ => respond(404, "text/plain", "not found".into()),
        }
    }

    fn page(&self) -> String {
        let mails = self.mails();
        let mut rows = String::new();
        for m in mails.iter().rev() {
            let link = m.link().unwrap_or_default();
            rows.push_str(&format!(
                "<li><strong>{}</strong> to {}<br><a href=\"{}\">{}</a></li>",
                escape(&m.subject),
                escape(&m.to.join(", ")),
                escape(&link),
                escape(&link),
            ));
        }
        let hooks = self.hooks();
        let mut hook_rows = String::new();
        for h in hooks.iter().rev() {
            hook_rows.push_str(&format!(
                "<li><code>{}</code> {}</li>",
                escape(&h.id),
                escape(&h.kind())
            ));
        }
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Local inbox</title></head>\
<body><h1>Local inbox</h1><p>{} mail(s). Newest first. JSON at <a href=\"/api/mails\">/api/mails</a>.</p><ol>{rows}</ol>\
<h2>Webhooks</h2><p>{} event(s) received. Newest first. JSON at <a href=\"/api/webhooks\">/api/webhooks</a>.</p><ol>{hook_rows}</ol></body></html>",
            mails.len(),
            hooks.len()
        )
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => s.split(',').map(|s| s.trim().to_owned()).collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn resend(v: &Value, auth: String) -> Option<Mail> {
    Some(Mail {
        provider: "resend",
        from: v.get("from")?.as_str()?.to_owned(),
        to: strings(v.get("to")?),
        subject: v.get("subject")?.as_str()?.to_owned(),
        text: v
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        html: v
            .get("html")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        auth,
    })
}

fn postmark(v: &Value, auth: String) -> Option<Mail> {
    Some(Mail {
        provider: "postmark",
        from: v.get("From")?.as_str()?.to_owned(),
        to: strings(v.get("To")?),
        subject: v.get("Subject")?.as_str()?.to_owned(),
        text: v
            .get("TextBody")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        html: v
            .get("HtmlBody")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        auth,
    })
}

fn respond(status: u16, content_type: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}
