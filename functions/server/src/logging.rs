//! The server's plain-text log. Field values can carry request text (a
//! repository name from a URL), so control characters are escaped: a
//! newline in a value can never start a forged log line. (The Lambda
//! functions log JSON, which escapes them by itself.)

use std::fmt::Write as _;
use std::io::IsTerminal;
use tracing::field::Field;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{Writer, debug_fn};

pub fn init() {
    let fields = debug_fn(
        |writer: &mut Writer<'_>, field: &Field, value: &dyn std::fmt::Debug| {
            let text = escape_controls(&format!("{value:?}"));
            match field.name() {
                "message" => write!(writer, "{text}"),
                // Quoted when it could pass for more fields (`a=b c=d`).
                name if text.contains('=') => {
                    write!(writer, "{name}={text:?}")
                }
                name => write!(writer, "{name}={text}"),
            }
        },
    )
    .delimited(" ");
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .fmt_fields(fields)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, not in log files.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// `text` with every control character (newline, carriage return, escape…),
/// line or paragraph separator and bidirectional override written as a
/// Rust escape.
fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let invisible = matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        );
        if c.is_control() || invisible {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_start_a_line() {
        let forged =
            "main\n2026-01-01T00:00:00Z INFO crateyard::access outcome=\"allowed\"\r\x1b[0m";
        let escaped = escape_controls(forged);
        assert!(!escaped.contains(['\n', '\r', '\x1b']), "{escaped}");
        assert!(escaped.starts_with("main\\n2026"), "{escaped}");
        assert_eq!(escape_controls("plain é text"), "plain é text");
        assert_eq!(
            escape_controls("a\u{2028}b\u{202e}c"),
            "a\\u{2028}b\\u{202e}c"
        );
    }
}
