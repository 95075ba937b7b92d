// <invitations-admin>: a drop-in members-and-invitations admin for one account.
//
//   <script src="https://invites.example.com/ui/invitations-admin.js"></script>
//   <invitations-admin account="acc_..." api="https://invites.example.com"></invitations-admin>
//
// Optional: page-size="20" (rows per page of each list, 1 to 100; "Show more"
// loads the next).
//   <script>
//     document.querySelector("invitations-admin").getToken = async () => myApp.freshJwt();
//   </script>
//
// The signed-in user's JWT comes from `el.getToken` (a function returning it,
// called before every request) or `el.token`; never from an attribute or URL.
// Plain JavaScript, no build step, no dependencies. Everything the API returns
// is shown with textContent, never parsed as HTML.
(() => {
  "use strict";

  const STATES = ["pending", "accepted", "cancelled", "declined", "expired"];
  // The API's largest page: a 100-member account renders from one answer.
  const PAGE = 100;
  const OUTCOMES = {
    created: "Invited",
    already_invited: "Already has an open invitation",
    already_member: "Already a member",
    invalid_email: "Not a valid email address",
    domain_not_allowed: "Its domain is not allowed in this account",
    duplicate_in_request: "Listed more than once",
    seat_limit_reached: "No seat left",
  };

  const STYLE = `
:host {
  --ia-bg: #ffffff; --ia-fg: #1a1a1a; --ia-muted: #555555; --ia-border: #c8c8c8;
  --ia-surface: #f4f4f4; --ia-accent: #0b5cad; --ia-accent-fg: #ffffff;
  --ia-danger: #a4001d; --ia-danger-fg: #ffffff; --ia-ok: #1d6b2f; --ia-error-bg: #fdecee;
  --ia-radius: 6px; --ia-font: system-ui, -apple-system, "Segoe UI", sans-serif;
  display: block; color-scheme: light dark; font: 14px/1.45 var(--ia-font);
  color: var(--ia-fg); background: var(--ia-bg);
}
@media (prefers-color-scheme: dark) {
  :host {
    --ia-bg: #161616; --ia-fg: #ececec; --ia-muted: #b4b4b4; --ia-border: #4a4a4a;
    --ia-surface: #222222; --ia-accent: #7db8ff; --ia-accent-fg: #0d0d0d;
    --ia-danger: #ff9a91; --ia-danger-fg: #1a0000; --ia-ok: #8fdc9e; --ia-error-bg: #3a1418;
  }
}
:host([hidden]) { display: none; }
* { box-sizing: border-box; }
section { margin: 0 0 1.5em; }
h2 { font-size: 1.25em; margin: 0 0 .2em; }
h3 { font-size: 1.05em; margin: 0 0 .5em; }
p { margin: .2em 0; }
.muted { color: var(--ia-muted); }
.badge { display: inline-block; padding: 0 .45em; border: 1px solid var(--ia-danger);
  border-radius: var(--ia-radius); color: var(--ia-danger); font-weight: 600; }
.bar { display: flex; flex-wrap: wrap; gap: .6em; align-items: end; margin-bottom: .6em; }
label { display: block; font-weight: 600; margin-bottom: .2em; }
input, select, textarea, button { font: inherit; color: inherit; }
input, select, textarea {
  background: var(--ia-bg); border: 1px solid var(--ia-border); border-radius: var(--ia-radius);
  padding: .35em .5em;
}
textarea { width: 100%; min-height: 4.5em; resize: vertical; }
button {
  cursor: pointer; border: 1px solid var(--ia-accent); border-radius: var(--ia-radius);
  background: var(--ia-accent); color: var(--ia-accent-fg); padding: .35em .8em;
}
button.quiet { background: transparent; color: var(--ia-fg); border-color: var(--ia-border); }
button.danger { background: var(--ia-danger); color: var(--ia-danger-fg); border-color: var(--ia-danger); }
button:disabled { cursor: not-allowed; opacity: .6; }
:focus-visible { outline: 3px solid var(--ia-accent); outline-offset: 2px; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: .4em .5em; border-bottom: 1px solid var(--ia-border); vertical-align: top; }
th { font-weight: 600; background: var(--ia-surface); }
td.actions { white-space: nowrap; }
td.actions button { margin: 0 .3em .2em 0; }
.error {
  border: 1px solid var(--ia-danger); background: var(--ia-error-bg); color: var(--ia-fg);
  border-radius: var(--ia-radius); padding: .5em .8em; margin-bottom: .8em;
}
.error strong { color: var(--ia-fg); }
.status { color: var(--ia-ok); min-height: 1.4em; }
ul.outcomes { margin: .4em 0; padding-left: 1.2em; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;

  /** Makes an element; `text` is always set as text, never as HTML. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") node.textContent = String(v);
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) node.append(c);
    return node;
  }

  // One formatter for every date: making one per call costs more than the rest of a row.
  const DATES = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? String(iso) : DATES.format(d);
  }

  /** The JWT's claims, only to know who is signed in (the API verifies the token). */
  function claims(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const bytes = Uint8Array.from(atob(part + "=".repeat((4 - (part.length % 4)) % 4)), (c) => c.charCodeAt(0));
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      return {};
    }
  }

  /** An API problem (problem+json), or a failure to reach the API. */
  class Problem extends Error {
    constructor(title, detail, code, status, body) {
      super(detail || title);
      Object.assign(this, { title, detail, code, status, body });
    }
  }

  class InvitationsAdmin extends HTMLElement {
    static get observedAttributes() {
      return ["account", "api", "page-size"];
    }

    constructor() {
      super();
      this.token = null;
      this.getToken = null;
      this._filter = "";
      this._me = null;
      this._load = 0;
      const root = this.attachShadow({ mode: "open" });
      root.append(el("style", { text: STYLE }));
      this._header = el("header", { part: "header" });
      this._status = el("p", { class: "status", part: "status", role: "status", "aria-live": "polite", tabindex: "-1" });
      this._error = el("div", { part: "error", "aria-live": "assertive" });
      this._invite = el("section", { part: "invite", "aria-labelledby": "ia-invite-h" });
      this._invitations = el("section", { part: "invitations", "aria-labelledby": "ia-inv-h" });
      this._members = el("section", { part: "members", "aria-labelledby": "ia-mem-h" });
      this._links = el("section", { part: "join-links", "aria-labelledby": "ia-links-h" });
      root.append(this._header, this._error, this._status, this._invite, this._invitations, this._members, this._links);
    }

    connectedCallback() {
      this._schedule();
    }

    attributeChangedCallback() {
      if (this.isConnected) this._schedule();
    }

    /** Reloads everything (for the host page, after it changes the token). */
    refresh() {
      return this._reload();
    }

    _schedule() {
      // Attributes and the token property are often set one after another.
      clearTimeout(this._timer);
      this._timer = setTimeout(() => this._reload(), 0);
    }

    get _account() {
      return this.getAttribute("account") || "";
    }

    get _pageSize() {
      const n = Number.parseInt(this.getAttribute("page-size") || "", 10);
      return n >= 1 && n <= PAGE ? n : PAGE;
    }

    get _api() {
      return (this.getAttribute("api") || "").replace(/\/+$/, "");
    }

    async _token() {
      const t = typeof this.getToken === "function" ? await this.getToken() : this.token;
      if (!t) throw new Problem("Not signed in", "The page has not given this widget a token (el.getToken or el.token).", "no_token", 0);
      return String(t);
    }

    async _call(method, path, body) {
      const token = await this._token();
      const headers = { authorization: `Bearer ${token}` };
      if (body !== undefined) headers["content-type"] = "application/json";
      let resp;
      try {
        resp = await fetch(this._api + path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          credentials: "omit",
        });
      } catch {
        throw new Problem("Cannot reach the invitations service", "Check the connection, then try again.", "network", 0);
      }
      const type = resp.headers.get("content-type") || "";
      const data = type.includes("json") ? await resp.json().catch(() => null) : null;
      if (!resp.ok) {
        if (data && data.title) throw new Problem(data.title, data.detail, data.code, resp.status, data);
        throw new Problem("The invitations service did not answer as expected", "Try again in a moment.", "unexpected", resp.status);
      }
      return data;
    }

    _acc(path) {
      return `/v1/accounts/${encodeURIComponent(this._account)}${path}`;
    }

    _say(text) {
      this._status.textContent = text;
    }

    _fail(problem) {
      this._error.replaceChildren();
      if (!problem) return;
      const p = problem instanceof Problem ? problem : new Problem("Something went wrong", String(problem && problem.message), "script", 0);
      this._error.append(
        el("div", { class: "error", role: "alert" },
          el("strong", { text: p.title }),
          p.detail ? el("p", { text: p.detail }) : "",
        ),
      );
    }

    async _reload() {
      const load = ++this._load;
      this._fail(null);
      if (!this._account) {
        this._fail(new Problem("No account", "Set the account attribute to an account id (acc_...).", "no_account", 0));
        return;
      }
      try {
        const token = await this._token();
        const who = claims(token);
        const service = who.principal_type === "service";
        const [account, me] = await Promise.all([
          this._call("GET", this._acc("")),
          service || !who.sub ? null : this._call("GET", this._acc(`/members/${encodeURIComponent(who.sub)}`)),
        ]);
        if (load !== this._load) return;
        this._me = { id: who.sub || "", role: me ? me.role : null, service };
        this._renderHeader(account);
        this._renderInvite();
        if (this._manages() || service) {
          await Promise.all([this._loadInvitations(false), this._loadMembers(false), this._loadLinks(false)]);
          this._loaded();
        } else {
          this._invitations.replaceChildren();
          this._links.replaceChildren();
          this._members.replaceChildren(el("p", { class: "muted", text: "Only owners and admins can see and manage this account's members and invitations." }));
        }
      } catch (e) {
        if (load === this._load) this._fail(e);
      }
    }

    _manages() {
      return !!this._me && (this._me.role === "owner" || this._me.role === "admin");
    }

    _renderHeader(account) {
      const seats = account.seats;
      const line = seats
        ? `${seats.members} member${seats.members === 1 ? "" : "s"}, ${seats.pending} pending` +
          (seats.limit === null ? "" : ` of ${seats.limit} seats`)
        : "";
      const role = this._me.service ? "a service (read only)" : this._me.role || "not a member";
      this._header.replaceChildren(
        el("h2", { text: account.name }),
        el("p", { class: "muted", text: line }),
        el("p", { class: "muted", text: `You are ${role}.` }),
      );
    }

    _renderInvite() {
      if (!this._manages()) {
        this._invite.replaceChildren();
        return;
      }
      const emails = el("textarea", { id: "ia-emails", name: "emails", required: true, placeholder: "ann@example.com, ben@example.com" });
      const role = el("select", { id: "ia-role", name: "role" },
        el("option", { value: "member", text: "Member" }),
        el("option", { value: "admin", text: "Admin" }));
      const groups = el("input", { id: "ia-groups", name: "access_groups", placeholder: "eng, billing" });
      // "none": no mail; the answer holds each link once, to hand over yourself.
      const delivery = el("select", { id: "ia-delivery", name: "delivery" },
        el("option", { value: "mail", text: "Mail each link" }),
        el("option", { value: "none", text: "Give me the links (no mail)" }));
      const submit = el("button", { type: "submit", part: "button", text: "Send invitations" });
      delivery.addEventListener("change", () => {
        submit.textContent = delivery.value === "none" ? "Create links" : "Send invitations";
      });
      const outcomes = el("div", { "aria-live": "polite" });
      const form = el("form", { part: "form", novalidate: true },
        el("label", { for: "ia-emails", text: "Email addresses (one per line, or separated by commas)" }),
        emails,
        el("div", { class: "bar" },
          el("div", {}, el("label", { for: "ia-role", text: "Role" }), role),
          el("div", {}, el("label", { for: "ia-groups", text: "Access groups (comma-separated)" }), groups),
          el("div", {}, el("label", { for: "ia-delivery", text: "Delivery" }), delivery),
          submit),
        outcomes);
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const list = emails.value.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);
        const access = groups.value.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
        this._fail(null);
        this._say("");
        outcomes.replaceChildren();
        if (!list.length) {
          this._fail(new Problem("No addresses", "Write at least one email address.", "empty", 0));
          emails.focus();
          return;
        }
        submit.disabled = true;
        try {
          let answer;
          try {
            answer = await this._call("POST", this._acc("/invitations"),
              { emails: list, role: role.value, access_groups: access, delivery: delivery.value });
          } catch (e) {
            if (!(e instanceof Problem) || !e.body || !e.body.results) throw e;
            answer = e.body;
            this._fail(e);
          }
          const created = answer.results.filter((r) => r.status === "created").length;
          outcomes.append(
            el("p", { text: `${created} of ${answer.results.length} invited.` }),
            el("ul", { class: "outcomes" }, ...answer.results.map((r) => {
              const item = el("li", { text: `${r.email}: ${OUTCOMES[r.status] || r.status}` });
              const url = r.invitation && r.invitation.accept_url;
              if (url) item.append(" ", ...this._linkToCopy(url, r.email));
              return item;
            })),
          );
          if (created) {
            emails.value = "";
            this._say(delivery.value === "none"
              ? `${created} link${created === 1 ? "" : "s"} made: copy ${created === 1 ? "it" : "them"} now, ${created === 1 ? "it is" : "they are"} shown once.`
              : `${created} invitation${created === 1 ? "" : "s"} sent.`);
            await this._after();
          }
        } catch (e) {
          this._fail(e);
        } finally {
          submit.disabled = false;
        }
      });
      this._invite.replaceChildren(el("h3", { id: "ia-invite-h", text: "Invite people" }), form);
    }

    /** After a change: the lists and the seat count as they are now. */
    async _after() {
      const account = await this._call("GET", this._acc(""));
      this._renderHeader(account);
      await Promise.all([this._loadInvitations(false), this._loadMembers(false), this._loadLinks(false)]);
      this._loaded();
    }

    /** Join links: a form to make one (its URL shown once), and the list with uses left. */
    async _loadLinks(more) {
      const query = new URLSearchParams({ limit: String(this._pageSize) });
      if (more && this._linkCursor) query.set("cursor", this._linkCursor);
      const page = await this._call("GET", this._acc(`/join-links?${query}`));
      this._linkCursor = page.next_cursor;
      if (!this._linkBody || !this._links.contains(this._linkBody)) {
        this._linkBody = el("tbody");
        this._linkMore = el("div");
        this._links.replaceChildren(
          el("h3", { id: "ia-links-h", text: "Join links" }),
          this._manages() ? this._linkForm() : "",
          el("table", { part: "table" },
            el("caption", { class: "sr", text: "Join links" }),
            el("thead", {}, el("tr", {}, ...["Role", "Used", "Status", "Domains", "Expires", "Actions"].map((h) => el("th", { scope: "col", text: h })))),
            this._linkBody),
          this._linkMore);
      }
      if (!more) this._linkBody.replaceChildren();
      for (const link of page.data) this._linkBody.append(this._linkRow(link));
      if (!this._linkBody.children.length) {
        this._linkBody.append(el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No join links." })));
      }
      this._linkMore.replaceChildren(this._linkCursor
        ? el("button", { class: "quiet", part: "button", text: "Show more join links", onclick: () => this._loadLinks(true).catch((e) => this._fail(e)) })
        : "");
    }

    _linkForm() {
      const role = el("select", { id: "ia-link-role", name: "role" },
        el("option", { value: "member", text: "Member" }),
        el("option", { value: "admin", text: "Admin" }));
      const uses = el("input", { id: "ia-link-uses", name: "max_uses", type: "number", min: "1", max: "10000", value: "10", required: true });
      const days = el("input", { id: "ia-link-days", name: "days", type: "number", min: "1", max: "30", value: "7", required: true });
      const domains = el("input", { id: "ia-link-domains", name: "allowed_domains", placeholder: "example.com" });
      const made = el("div", { "aria-live": "polite" });
      const submit = el("button", { type: "submit", part: "button", text: "Make a join link" });
      const form = el("form", { part: "form", novalidate: true },
        el("div", { class: "bar" },
          el("div", {}, el("label", { for: "ia-link-role", text: "Role" }), role),
          el("div", {}, el("label", { for: "ia-link-uses", text: "People (uses)" }), uses),
          el("div", {}, el("label", { for: "ia-link-days", text: "Days valid" }), days),
          el("div", {}, el("label", { for: "ia-link-domains", text: "Only these domains (comma-separated)" }), domains),
          submit),
        made);
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        this._fail(null);
        made.replaceChildren();
        submit.disabled = true;
        try {
          const body = {
            role: role.value,
            max_uses: Number(uses.value),
            ttl_seconds: Math.round(Number(days.value) * 24 * 3600),
            allowed_domains: domains.value.split(/[\s,]+/).map((d) => d.trim()).filter(Boolean),
          };
          const link = await this._call("POST", this._acc("/join-links"), body);
          made.append(el("p", {}, "Share this link; it is shown once. ", ...this._linkToCopy(link.url, "the new join link")));
          this._say("A join link is made: copy it now, it is shown once.");
          await this._loadLinks(false);
        } catch (e) {
          this._fail(e);
        } finally {
          submit.disabled = false;
        }
      });
      return form;
    }

    _linkRow(link) {
      const actions = el("td", { class: "actions" });
      const what = `the ${link.role} join link made ${when(link.created_at)}`;
      if (this._manages() && link.status === "active") {
        actions.append(this._confirmButton("Revoke", `Revoke ${what}`, async () => {
          await this._call("DELETE", this._acc(`/join-links/${link.id}`));
          this._say("The join link is revoked: it lets nobody else in.");
        }));
      }
      return el("tr", { part: "row" },
        el("td", { text: link.role }),
        el("td", { text: `${link.uses} of ${link.max_uses}` }),
        el("td", { text: link.status.replace("_", " ") }),
        el("td", { text: link.allowed_domains.join(", ") || "any allowed" }),
        el("td", { text: link.status === "active" ? when(link.expires_at) : "" }),
        actions);
    }

    /** Tells the page the lists are shown (`invitations-admin:load`). */
    _loaded() {
      const detail = {
        members: this._memBody ? this._memBody.querySelectorAll("tr[part=row]").length : 0,
        invitations: this._invBody ? this._invBody.querySelectorAll("tr[part=row]").length : 0,
      };
      this.dispatchEvent(new CustomEvent("invitations-admin:load", { detail, bubbles: true }));
    }

    async _loadInvitations(more) {
      const query = new URLSearchParams({ limit: String(this._pageSize) });
      if (this._filter) query.set("state", this._filter);
      if (more && this._invCursor) query.set("cursor", this._invCursor);
      const page = await this._call("GET", this._acc(`/invitations?${query}`));
      this._invCursor = page.next_cursor;
      this._renderInvitations(page.data, more);
    }

    _renderInvitations(rows, more) {
      if (!this._invBody || !this._invitations.contains(this._invBody)) {
        const filter = el("select", { id: "ia-filter" },
          el("option", { value: "", text: "All" }),
          ...STATES.map((s) => el("option", { value: s, text: s[0].toUpperCase() + s.slice(1) })));
        filter.value = this._filter;
        filter.addEventListener("change", () => {
          this._filter = filter.value;
          this._loadInvitations(false).catch((e) => this._fail(e));
        });
        this._invBody = el("tbody");
        this._invMore = el("div");
        this._invitations.replaceChildren(
          el("h3", { id: "ia-inv-h", text: "Invitations" }),
          el("div", { class: "bar" }, el("div", {}, el("label", { for: "ia-filter", text: "Show" }), filter)),
          el("table", { part: "table" },
            el("caption", { class: "sr", text: "Invitations" }),
            el("thead", {}, el("tr", {}, ...["Email", "Role", "State", "Delivery", "Expires", "Sent", "Actions"].map((h) => el("th", { scope: "col", text: h })))),
            this._invBody),
          this._invMore);
      }
      if (!more) this._invBody.replaceChildren();
      const frag = document.createDocumentFragment();
      for (const inv of rows) frag.append(this._invitationRow(inv));
      this._invBody.append(frag);
      if (!this._invBody.children.length) {
        this._invBody.append(el("tr", {}, el("td", { colspan: 7, class: "muted", text: "No invitations." })));
      }
      this._invMore.replaceChildren(this._invCursor
        ? el("button", { class: "quiet", part: "button", text: "Show more invitations", onclick: () => this._loadInvitations(true).catch((e) => this._fail(e)) })
        : "");
    }

    _invitationRow(inv) {
      const d = inv.delivery || {};
      const delivery = el("td", {});
      // The provider reported the address takes no mail: the admin should see it.
      const stopped = { bounced: "Bounced", complained: "Marked as spam" }[d.status];
      if (stopped) delivery.append(el("span", { class: "badge", part: "badge", text: stopped }));
      else delivery.append(el("span", { text: d.status || "" }));
      if (d.last_error) delivery.append(el("br"), el("span", { class: "muted", text: d.last_error }));
      const actions = el("td", { class: "actions" });
      if (this._manages()) {
        if ((inv.state === "pending" || inv.state === "expired") && d.status === "none") {
          // Handed over by the caller: a new link to copy, no mail.
          actions.append(this._button("New link", `Make a new link for ${inv.email}`, "quiet", async () => {
            const answer = await this._call("POST", this._acc(`/invitations/${inv.id}/resend`), { delivery: "none" });
            this._status.replaceChildren(`A new link for ${inv.email} (the old one stops working), shown once: `,
              ...this._linkToCopy(answer.accept_url, inv.email));
          }));
        } else if (inv.state === "pending" || inv.state === "expired") {
          actions.append(this._button("Resend", `Resend the invitation to ${inv.email}`, "quiet", async () => {
            await this._call("POST", this._acc(`/invitations/${inv.id}/resend`), {});
            this._say(`A new link went to ${inv.email}.`);
          }));
        }
        if (inv.state === "pending") {
          actions.append(this._confirmButton("Cancel", `Cancel the invitation to ${inv.email}`, async () => {
            await this._call("DELETE", this._acc(`/invitations/${inv.id}`));
            this._say(`The invitation to ${inv.email} is cancelled.`);
          }));
        }
      }
      return el("tr", { part: "row" },
        el("td", { text: inv.email }),
        el("td", { text: inv.role }),
        el("td", { text: inv.state }),
        delivery,
        el("td", { text: inv.state === "pending" || inv.state === "expired" ? when(inv.expires_at) : "" }),
        el("td", { text: String(inv.sent_count) }),
        actions);
    }

    async _loadMembers(more) {
      const query = new URLSearchParams({ limit: String(this._pageSize) });
      if (more && this._memCursor) query.set("cursor", this._memCursor);
      const page = await this._call("GET", this._acc(`/members?${query}`));
      this._memCursor = page.next_cursor;
      if (!this._memBody || !this._members.contains(this._memBody)) {
        this._memBody = el("tbody");
        this._memMore = el("div");
        this._members.replaceChildren(
          el("h3", { id: "ia-mem-h", text: "Members" }),
          el("table", { part: "table" },
            el("caption", { class: "sr", text: "Members" }),
            el("thead", {}, el("tr", {}, ...["Member", "Role", "Access groups", "Joined", "Actions"].map((h) => el("th", { scope: "col", text: h })))),
            this._memBody),
          this._memMore);
      }
      if (!more) this._memBody.replaceChildren();
      const frag = document.createDocumentFragment();
      for (const m of page.data) frag.append(this._memberRow(m));
      this._memBody.append(frag);
      this._memMore.replaceChildren(this._memCursor
        ? el("button", { class: "quiet", part: "button", text: "Show more members", onclick: () => this._loadMembers(true).catch((e) => this._fail(e)) })
        : "");
    }

    _memberRow(m) {
      const name = m.email || m.user_id;
      const me = m.user_id === this._me.id;
      const actions = el("td", { class: "actions" });
      const mayChange = this._manages() && (m.role !== "owner" || this._me.role === "owner");
      const role = el("td", {}, el("span", { text: m.role }));
      if (mayChange) {
        // The select is made when asked for: 100 of them cost more than the rest of the rows.
        const change = el("button", { type: "button", class: "quiet", part: "button", "aria-label": `Change the role of ${name}`, text: "Change" });
        change.addEventListener("click", () => {
          const select = el("select", { "aria-label": `Role of ${name}` },
            ...["member", "admin"].concat(this._me.role === "owner" ? ["owner"] : []).map((r) =>
              el("option", { value: r, text: r[0].toUpperCase() + r.slice(1) })));
          select.value = m.role;
          select.addEventListener("change", () => this._act(select, async () => {
            await this._call("PATCH", this._acc(`/members/${encodeURIComponent(m.user_id)}`), { role: select.value });
            this._say(`${name} is now ${select.value}.`);
          }));
          role.replaceChildren(select);
          select.focus();
        });
        role.append(" ", change);
        if (!me) {
          actions.append(this._confirmButton("Remove", `Remove ${name} from the account`, async () => {
            await this._call("DELETE", this._acc(`/members/${encodeURIComponent(m.user_id)}`));
            this._say(`${name} was removed.`);
          }));
        }
      }
      return el("tr", { part: "row" },
        el("td", { text: me ? `${name} (you)` : name }),
        role,
        el("td", { text: (m.access_groups || []).join(", ") }),
        el("td", { text: when(m.joined_at) }),
        actions);
    }

    _button(label, description, kind, action) {
      const b = el("button", { type: "button", class: kind, part: kind === "danger" ? "danger-button" : "button", "aria-label": description, text: label });
      b.addEventListener("click", () => this._act(b, action));
      return b;
    }

    /** A link handed over once: a read-only field and a Copy button. */
    _linkToCopy(url, email) {
      const field = el("input", { readonly: true, value: url, "aria-label": `Link for ${email}` });
      const copy = el("button", { type: "button", class: "quiet", part: "button", "aria-label": `Copy the link for ${email}`, text: "Copy" });
      copy.addEventListener("click", async () => {
        field.select();
        let copied = false;
        try {
          await navigator.clipboard.writeText(url);
          copied = true;
        } catch (_) {
          // No clipboard permission (an embedding page may withhold it): the
          // older command copies the selected field.
          copied = document.execCommand && document.execCommand("copy");
        }
        this._say(copied ? `The link for ${email} is copied.` : `Select the link for ${email} and copy it.`);
      });
      return [field, copy];
    }

    /** A button that asks once more before it acts (no modal dialog). */
    _confirmButton(label, description, action) {
      const b = el("button", { type: "button", class: "danger", part: "danger-button", "aria-label": description, text: label });
      let timer = null;
      const reset = () => {
        clearTimeout(timer);
        timer = null;
        b.textContent = label;
        b.setAttribute("aria-label", description);
      };
      b.addEventListener("click", () => {
        if (timer === null) {
          b.textContent = `Confirm ${label.toLowerCase()}`;
          b.setAttribute("aria-label", `Confirm: ${description}`);
          timer = setTimeout(reset, 6000);
          return;
        }
        reset();
        this._act(b, action);
      });
      return b;
    }

    async _act(control, action) {
      this._fail(null);
      this._say("");
      control.disabled = true;
      try {
        await action();
        await this._after();
      } catch (e) {
        this._fail(e);
      } finally {
        control.disabled = false;
        // The row may be gone: keep keyboard focus in the widget.
        if (!control.isConnected) this._status.focus();
      }
    }
  }

  if (!customElements.get("invitations-admin")) {
    customElements.define("invitations-admin", InvitationsAdmin);
  }
})();
