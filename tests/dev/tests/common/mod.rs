//! The app on the test host, a mail inbox, and a small HTTP client.
#![allow(dead_code)]

pub mod contract;
pub mod signature;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use invitations_dev::inbox::{Inbox, Mail};
use invitations_dev::{wasm, COMPONENTS, DEV_SECRET, DEV_SWEEP_TOKEN, DEV_WEBHOOK_SECRET};
use invitations_edge::auth::{mint_hs256, DevClaims};
use serde_json::Value;
use spin_test_host::TestHost;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub struct App {
    pub host: TestHost,
    pub base: String,
    pub inbox: Inbox,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    _dir: tempfile::TempDir,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The problem `code`, for error answers.
    pub fn code(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text()
        );
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }
}

pub struct Options {
    pub variables: Vec<(&'static str, String)>,
}

impl App {
    pub async fn start() -> App {
        Self::start_with(Options {
            variables: Vec::new(),
        })
        .await
    }

    pub async fn start_with(options: Options) -> App {
        let dir = tempfile::tempdir().unwrap();
        let inbox = Inbox::start("127.0.0.1:0").await.unwrap();
        let mut b = TestHost::builder()
            .manifest(invitations_dev::manifest())
            .environment(Vec::<(String, String)>::new())
            .store_path(dir.path().join("kv.db"))
            .variable("auth_hs256_secret", DEV_SECRET)
            .variable("mail_api_url", inbox.url())
            .variable("mail_api_token", "test-token")
            .variable("mail_from", "Invitations <invitations@example.com>")
            .variable("public_base_url", "https://invite.example")
            .variable("sweep_token", DEV_SWEEP_TOKEN)
            .variable("webhook_url", format!("{}/webhooks", inbox.url()))
            .variable("webhook_secret", DEV_WEBHOOK_SECRET)
            .variable("webhook_origin", inbox.url())
            .manual_cron();
        for c in COMPONENTS {
            b = b.component_source(c, wasm(c));
        }
        for (k, v) in options.variables {
            b = b.variable(k, v);
        }
        let host = b.build().unwrap();
        let addr = host.serve("127.0.0.1:0").await.unwrap();
        App {
            host,
            base: format!("http://{addr}"),
            inbox,
            client: Client::builder(TokioExecutor::new()).build_http(),
            _dir: dir,
        }
    }

    pub fn now_secs(&self) -> u64 {
        self.host.clock().unix_seconds()
    }

    pub fn advance(&self, secs: u64) {
        self.host.clock().advance(Duration::from_secs(secs));
    }

    /// A token for a person with a verified `{sub}@example.com`, valid at the host's time.
    pub fn token(&self, sub: &str) -> String {
        self.token_with(sub, Some(&format!("{sub}@example.com")), true, None)
    }

    pub fn token_with(
        &self,
        sub: &str,
        email: Option<&str>,
        verified: bool,
        kind: Option<&str>,
    ) -> String {
        let claims = DevClaims {
            sub: sub.to_owned(),
            email: email.map(str::to_owned),
            email_verified: verified,
            name: Some(format!("{sub} Name")),
            principal_type: kind.map(str::to_owned),
            issuer: None,
            audience: "invitations".to_owned(),
        };
        mint_hs256(DEV_SECRET, &claims, self.now_secs(), 7 * 24 * 3600).unwrap()
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let resp = self.client.request(req).await.expect("the host answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
        contract::check(method, path, status, content_type, &body);
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send("GET", path, token, None, &[]).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(
            "POST",
            path,
            token,
            Some(serde_json::to_vec(&body).unwrap()),
            &[],
        )
        .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send("DELETE", path, token, None, &[]).await
    }

    /// Creates an account owned by `owner`; returns its id.
    pub async fn account(&self, owner: &str) -> String {
        let r = self
            .post(
                "/v1/accounts",
                Some(&self.token(owner)),
                serde_json::json!({"name": format!("{owner}'s team")}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["id"].as_str().unwrap().to_owned()
    }

    /// Invites addresses as `by`; returns the reply.
    pub async fn invite(&self, by: &str, acc: &str, emails: &[&str]) -> Reply {
        self.post(
            &format!("/v1/accounts/{acc}/invitations"),
            Some(&self.token(by)),
            serde_json::json!({"emails": emails}),
        )
        .await
    }

    /// `POST /v1/internal/sweep` with the sweep token; returns the counts.
    pub async fn sweep(&self) -> Value {
        let r = self
            .send(
                "POST",
                "/v1/internal/sweep",
                Some(DEV_SWEEP_TOKEN),
                None,
                &[("x-test-tag", "sweep")],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// Sweeps until a run says nothing more is due; returns the summed counts.
    pub async fn sweep_all(&self) -> SweepTotals {
        let mut t = SweepTotals::default();
        for _ in 0..100 {
            let r = self.sweep().await;
            let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"));
            t.expired += n("expired");
            t.mailed += n("mailed");
            t.purged += n("purged");
            t.webhooks += n("webhooks");
            t.runs += 1;
            if r["more"] == false {
                return t;
            }
        }
        panic!("the sweep never finished");
    }

    /// Webhook deliveries received so far, each checked against its signature.
    pub fn hooks(&self) -> Vec<invitations_dev::inbox::Hook> {
        let hooks = self.inbox.hooks();
        for h in &hooks {
            signature::assert_signed(h, DEV_WEBHOOK_SECRET);
        }
        hooks
    }

    /// Types of the distinct events received (first delivery order).
    pub fn hook_kinds(&self) -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        self.hooks()
            .into_iter()
            .filter(|h| seen.insert(h.id.clone()))
            .map(|h| h.kind())
            .collect()
    }

    /// The newest mail to `to`.
    pub fn last_mail(&self, to: &str) -> Mail {
        self.inbox
            .mails_to(to)
            .pop()
            .unwrap_or_else(|| panic!("no mail to {to}"))
    }

    pub async fn accept(&self, who: &str, token: &str) -> Reply {
        self.post(
            "/v1/invitations/accept",
            Some(&self.token(who)),
            serde_json::json!({"token": token}),
        )
        .await
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SweepTotals {
    pub expired: u64,
    pub mailed: u64,
    pub purged: u64,
    pub webhooks: u64,
    pub runs: u64,
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
