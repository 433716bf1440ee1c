//! One-line text of an error and its causes, safe for a NATS header and a log field.

use std::error::Error;
use std::fmt::Write;

/// Returns `error`'s message followed by each cause's (`outer: inner: root`), with control
/// characters replaced by spaces and cut to `max_len` bytes, so it fits in one header line.
pub(crate) fn error_text(error: &(dyn Error + 'static), max_len: usize) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        write!(text, ": {cause}").ok();
        source = cause.source();
    }

    let mut text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.len() > max_len {
        let mut end = max_len;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("handling order failed")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn text_names_every_cause_on_one_line() {
        let error = Outer(std::io::Error::other("disk\nfull"));

        assert_eq!(error_text(&error, 200), "handling order failed: disk full");
    }

    #[test]
    fn text_is_cut_at_a_character_boundary() {
        let error = std::io::Error::other("ééé");

        assert_eq!(error_text(&error, 3), "é");
    }
}
