//! Text shown to people: HTML-escaped, and dates as people read them.

use invitations::time::Timestamp;
use time::{OffsetDateTime, PrimitiveDateTime};

/// Escapes the five characters that matter in HTML text and attribute values.
pub fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// `2026-12-22 14:03 UTC`. Instants outside years 1 to 9999 show the nearest end.
pub fn human_utc(at: Timestamp) -> String {
    let secs = at.unix_millis().div_euclid(1000);
    let t = OffsetDateTime::from_unix_timestamp(secs).unwrap_or_else(|_| {
        if secs < 0 {
            PrimitiveDateTime::MIN.assume_utc()
        } else {
            PrimitiveDateTime::MAX.assume_utc()
        }
    });
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-22 14:03:27 UTC.
    const EXPIRES_UNIX: i64 = 1_797_948_207;

    #[test]
    fn escape_html_covers_the_five_characters() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape_html("plain ünïcode"), "plain ünïcode");
    }

    #[test]
    fn human_dates_are_civil_utc() {
        let at = |secs: i64| human_utc(Timestamp::from_unix_millis(secs * 1000 + 999));
        assert_eq!(at(0), "1970-01-01 00:00 UTC");
        assert_eq!(at(EXPIRES_UNIX), "2026-12-22 14:03 UTC");
        assert_eq!(at(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(at(4_107_542_399), "2100-02-28 23:59 UTC");
        assert_eq!(at(4_107_542_400), "2100-03-01 00:00 UTC");
        assert_eq!(at(-1), "1969-12-31 23:59 UTC");
        // The far ends of the range render instead of overflowing.
        assert!(human_utc(Timestamp::from_unix_millis(i64::MAX)).ends_with(" UTC"));
        assert!(human_utc(Timestamp::from_unix_millis(i64::MIN)).ends_with(" UTC"));
    }
}
