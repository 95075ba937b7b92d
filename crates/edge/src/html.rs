//! The one look of every HTML document the service makes: the invitation
//! mail and the invitee's /join page. Styles are written inline, on each
//! element, because mail clients drop `<style>` blocks; the page uses the
//! same ones so the two look alike.

use crate::text::escape_html;

/// The body: a readable column in the reader's system font.
pub(crate) const BODY: &str = "font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, \
     sans-serif; line-height: 1.5; color: #1a1a1a; max-width: 36em; margin: 0 auto; padding: 1em;";

pub(crate) const HEADING: &str = "font-size: 1.4em;";

/// The one thing to do: a link drawn as a button.
pub(crate) const BUTTON: &str = "display: inline-block; padding: 0.6em 1.2em; \
     background: #1a56db; color: #ffffff; text-decoration: none; border-radius: 4px;";

/// A form's quieter choice (Decline).
pub(crate) const SECONDARY_BUTTON: &str = "font: inherit; padding: 0.5em 1.1em; \
     background: #ffffff; color: #1a1a1a; border: 1px solid #52606d; border-radius: 4px; \
     cursor: pointer;";

/// The inviter's note.
pub(crate) const QUOTE: &str = "margin: 0 0 1em; padding-left: 1em; border-left: 3px solid #ccc;";

/// A whole document. `title` is escaped here; `body` is HTML its caller escaped.
pub(crate) fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <link rel=\"icon\" href=\"data:,\">\n\
         <title>{}</title>\n</head>\n<body style=\"{BODY}\">\n{body}</body>\n</html>\n",
        escape_html(title)
    )
}

/// A heading in the shared style; `text` is escaped here.
pub(crate) fn heading(text: &str) -> String {
    format!("<h1 style=\"{HEADING}\">{}</h1>\n", escape_html(text))
}

/// A link drawn as the shared button; `href` and `label` are escaped here.
pub(crate) fn button(href: &str, label: &str) -> String {
    format!(
        "<p><a href=\"{}\" style=\"{BUTTON}\">{}</a></p>\n",
        escape_html(href),
        escape_html(label)
    )
}
