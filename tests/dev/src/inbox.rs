//! A local mail inbox that speaks the Resend (`POST /emails`, `POST
//! /emails/batch`) and Postmark (`POST /email`, `POST /email/batch`) APIs,
//! keeps what it receives, and shows it on a page with the links in each mail.
//! It is also a webhook receiver (`POST /webhooks`) that keeps each delivery
//! as it came. Both can refuse on purpose, for tests; the mail API can act
//! like Resend's rate limit (`429` with `retry-after` and `ratelimit-*`
//! headers beyond N calls per second); and it counts calls and how many were
//! open at once. Each mail gets a message id, as a provider gives one, and its
//! page buttons report it delivered, bounced or complained to the app, as
//! Resend would (`send_events_to`, [`crate::provider_events`]).

use crate::provider_events::{resend_body, svix_headers, News};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use hyper_util::rt::TokioIo;
use invitations_edge::text::escape_html as escape;
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
    /// The id the inbox gave it, as a provider would (its delivery events name it).
    pub message_id: String,
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

/// One call to the mail API, as it arrived.
#[derive(Clone, Debug, Serialize)]
pub struct Call {
    pub path: String,
    /// Messages it carried (0 when refused before reading).
    pub messages: usize,
    pub status: u16,
    pub content_length: Option<String>,
    pub user_agent: Option<String>,
}

/// Counts since the inbox started.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Calls to the mail API, refused ones included.
    pub mail_calls: usize,
    /// Of those, refused by the rate limit.
    pub rate_limited: usize,
    /// Webhook deliveries, refused ones included.
    pub webhook_calls: usize,
    /// The most requests (mail and webhooks) open at once.
    pub max_in_flight: usize,
}

#[derive(Default)]
struct State {
    hooks: Vec<Hook>,
    hooks_down: bool,
    mails: Vec<Mail>,
    calls: Vec<Call>,
    counts: Counts,
    in_flight: usize,
    /// Requests to refuse with 503 before accepting again.
    refuse: u32,
    down: bool,
    /// Mail API calls allowed per second; more get 429.
    rate_limit: Option<u32>,
    /// When recent mail API calls were accepted or refused.
    recent: std::collections::VecDeque<std::time::Instant>,
    latency: std::time::Duration,
    /// Makes message ids unique across inboxes (apps may share a store).
    nonce: String,
    /// Where the page's buttons send delivery events: the app's base URL and
    /// its `resend_webhook_secret`.
    events_to: Option<(String, String)>,
}

/// Decrements the open-request count when a request is answered.
struct Open(Arc<Mutex<State>>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.lock().unwrap().in_flight -= 1;
    }
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
        let addr = listener.local_addr()?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let state = State {
            nonce: format!("{:x}", nanos ^ u128::from(addr.port()) << 64),
            ..State::default()
        };
        let inbox = Inbox {
            addr,
            state: Arc::new(Mutex::new(state)),
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

    /// The link token of the newest mail to `to`, without copying the inbox
    /// (for load, where the inbox holds thousands of mails).
    pub fn newest_token_to(&self, to: &str) -> Option<String> {
        let s = self.state.lock().unwrap();
        let mail = s
            .mails
            .iter()
            .rev()
            .find(|m| m.to.iter().any(|t| t == to))?;
        mail.token()
    }

    /// Webhook deliveries received, oldest first (retries included).
    pub fn hooks(&self) -> Vec<Hook> {
        self.state.lock().unwrap().hooks.clone()
    }

    /// While down, every webhook delivery gets 503.
    pub fn set_webhooks_down(&self, down: bool) {
        self.state.lock().unwrap().hooks_down = down;
    }

    /// Lets the page's buttons report deliveries, bounces and complaints of
    /// its mails to the app at `app_url`, signed as Resend signs them.
    pub fn send_events_to(&self, app_url: &str, resend_webhook_secret: &str) {
        self.state.lock().unwrap().events_to =
            Some((app_url.to_owned(), resend_webhook_secret.to_owned()));
    }

    /// Reports `news` about mail `index` (0-based, oldest first) to the app
    /// as Resend would; the app's answer status.
    pub async fn report(&self, index: usize, news: News) -> Result<u16, String> {
        let (mail, target) = {
            let s = self.state.lock().unwrap();
            (s.mails.get(index).cloned(), s.events_to.clone())
        };
        let mail = mail.ok_or("no such mail")?;
        let (app, secret) = target.ok_or("no app to report to (send_events_to)")?;
        let to = mail.to.first().cloned().unwrap_or_default();
        let body = resend_body(news, &mail.message_id, &to).to_string();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        let event_id = format!("evt-{}-{index}-{now}", self.state.lock().unwrap().nonce);
        let mut req = Request::post(format!("{app}/v1/mail-events/resend"))
            .header("content-type", "application/json");
        for (name, value) in svix_headers(&secret, &event_id, now, body.as_bytes()) {
            req = req.header(name, value);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let answer = client.request(req).await.map_err(|e| e.to_string())?;
        Ok(answer.status().as_u16())
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

    /// Acts like Resend's rate limit: beyond `per_second` mail API calls in
    /// any second, `429` with `retry-after` and `ratelimit-*` headers.
    /// A new limit starts a fresh one-second window.
    pub fn set_rate_limit(&self, per_second: Option<u32>) {
        let mut s = self.state.lock().unwrap();
        s.rate_limit = per_second;
        s.recent.clear();
    }

    /// Waits this long before answering anything, as a distant peer would.
    pub fn set_latency(&self, latency: std::time::Duration) {
        self.state.lock().unwrap().latency = latency;
    }

    /// Calls to the mail API, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// Requests received so far (mail and webhooks), and how many are open now.
    pub fn activity(&self) -> (usize, usize) {
        let s = self.state.lock().unwrap();
        (s.counts.mail_calls + s.counts.webhook_calls, s.in_flight)
    }

    pub fn counts(&self) -> Counts {
        self.state.lock().unwrap().counts
    }

    /// Whether the rate limit refuses a mail API call now; counts it.
    fn over_rate_limit(&self) -> Option<u32> {
        let mut s = self.state.lock().unwrap();
        let limit = s.rate_limit?;
        let now = std::time::Instant::now();
        while s
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= std::time::Duration::from_secs(1))
        {
            s.recent.pop_front();
        }
        // Refused calls count too, as they do at Resend.
        s.recent.push_back(now);
        (s.recent.len() > limit as usize).then_some(limit)
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let latency = {
            let mut s = self.state.lock().unwrap();
            s.in_flight += 1;
            s.counts.max_in_flight = s.counts.max_in_flight.max(s.in_flight);
            s.latency
        };
        let _open = Open(self.state.clone());
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
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
        let optional = |name: &str| Some(header(name)).filter(|v| !v.is_empty());
        let (content_length, user_agent) = (optional("content-length"), optional("user-agent"));
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
                s.counts.webhook_calls += 1;
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
            ("POST", "/emails" | "/email" | "/emails/batch" | "/email/batch") => {
                let call = Call {
                    path: path.clone(),
                    messages: 0,
                    status: 0,
                    content_length,
                    user_agent,
                };
                let (status, answer, extra, messages) =
                    self.mail_call(&path, &body, auth_bearer, auth_postmark);
                let mut s = self.state.lock().unwrap();
                s.counts.mail_calls += 1;
                s.calls.push(Call {
                    status,
                    messages,
                    ..call
                });
                drop(s);
                let mut response = respond(status, "application/json", answer.to_string());
                for (name, value) in extra {
                    if let Ok(value) = value.parse() {
                        response.headers_mut().insert(name, value);
                    }
                }
                response
            }
            ("POST", report) if report.starts_with("/mails/") => {
                let mut parts = report.trim_start_matches("/mails/").split('/');
                let index = parts.next().and_then(|i| i.parse::<usize>().ok());
                let news = parts.next().and_then(News::parse);
                let (Some(index), Some(news)) = (index, news) else {
                    return respond(404, "text/plain", "no such report".into());
                };
                match self.report(index, news).await {
                    Ok(_) => {
                        let mut r = respond(303, "text/plain", String::new());
                        r.headers_mut().insert("location", "/".parse().unwrap());
                        r
                    }
                    Err(e) => respond(502, "text/plain", e),
                }
            }
            _ => respond(404, "text/plain", "not found".into()),
        }
    }

    /// Answers one call to the mail API: status, JSON, extra headers.
    fn mail_call(
        &self,
        path: &str,
        body: &[u8],
        auth_bearer: String,
        auth_postmark: String,
    ) -> (u16, Value, Vec<(&'static str, String)>, usize) {
        if let Some(limit) = self.over_rate_limit() {
            self.state.lock().unwrap().counts.rate_limited += 1;
            let headers = vec![
                ("retry-after", "1".to_owned()),
                ("ratelimit-limit", limit.to_string()),
                ("ratelimit-remaining", "0".to_owned()),
                ("ratelimit-reset", "1".to_owned()),
            ];
            let answer = json!({"statusCode": 429, "name": "rate_limit_exceeded",
                "message": format!("Too many requests. You can only make {limit} requests per second.")});
            return (429, answer, headers, 0);
        }
        {
            let mut s = self.state.lock().unwrap();
            if s.down || s.refuse > 0 {
                s.refuse = s.refuse.saturating_sub(1);
                return (
                    503,
                    json!({"message": "inbox refusing on purpose"}),
                    Vec::new(),
                    0,
                );
            }
        }
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return (422, json!({"message": "invalid JSON"}), Vec::new(), 0);
        };
        let resend_api = path.starts_with("/emails");
        let items: Vec<Value> = if path.ends_with("/batch") {
            match v {
                Value::Array(items) => items,
                _ => {
                    return (
                        422,
                        json!({"message": "a batch is a JSON array"}),
                        Vec::new(),
                        0,
                    )
                }
            }
        } else {
            vec![v]
        };
        let mut mails = Vec::new();
        for item in &items {
            let mail = if resend_api {
                resend(item, auth_bearer.clone())
            } else {
                postmark(item, auth_postmark.clone())
            };
            match mail {
                Some(mail) => mails.push(mail),
                None => return (422, json!({"message": "missing fields"}), Vec::new(), 0),
            }
        }
        let mut s = self.state.lock().unwrap();
        let first = s.mails.len() + 1;
        let count = mails.len();
        let id_of = |i: usize| format!("local-{}-{i}", s.nonce);
        let ids: Vec<String> = (first..first + count).map(id_of).collect();
        for (mail, id) in mails.iter_mut().zip(&ids) {
            mail.message_id = id.clone();
        }
        s.mails.extend(mails);
        drop(s);
        let ids = ids.into_iter();
        let answer = match (resend_api, path.ends_with("/batch")) {
            (true, false) => json!({"id": ids.clone().next()}),
            (true, true) => json!({"data": ids.map(|id| json!({"id": id})).collect::<Vec<_>>()}),
            (false, false) => {
                json!({"MessageID": ids.clone().next(), "ErrorCode": 0, "Message": "OK"})
            }
            (false, true) => Value::Array(
                ids.map(|id| json!({"MessageID": id, "ErrorCode": 0, "Message": "OK"}))
                    .collect(),
            ),
        };
        (200, answer, Vec::new(), count)
    }

    fn page(&self) -> String {
        let mails = self.mails();
        let reports = self.state.lock().unwrap().events_to.is_some();
        let mut rows = String::new();
        for (i, m) in mails.iter().enumerate().rev() {
            let link = m.link().unwrap_or_default();
            // What the provider would report later: the app hears it as
            // Resend's signed event (POST /v1/mail-events/resend).
            let buttons = if reports {
                [
                    ("delivered", "Delivered"),
                    ("bounced", "Bounce"),
                    ("soft-bounced", "Soft bounce"),
                    ("complained", "Spam complaint"),
                ]
                .iter()
                .map(|(news, label)| {
                    format!(
                        "<form method=\"post\" action=\"/mails/{i}/{news}\" style=\"display:inline\"><button>{label}</button></form> "
                    )
                })
                .collect::<String>()
            } else {
                String::new()
            };
            rows.push_str(&format!(
                "<li><strong>{}</strong> to {} <code>{}</code><br><a href=\"{}\">{}</a><br>{buttons}</li>",
                escape(&m.subject),
                escape(&m.to.join(", ")),
                escape(&m.message_id),
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
        message_id: String::new(),
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
        message_id: String::new(),
    })
}

fn respond(status: u16, content_type: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}
