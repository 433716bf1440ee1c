//! The main event stream and the dead-letter stream.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

/// Names and limits of the event streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsSettings {
    /// Name of the main stream, `CERTS` by default.
    pub stream: String,
    /// First subject token(s) of every event, `certs` by default. The stream captures
    /// `<subject_prefix>.>`.
    pub subject_prefix: String,
    /// Name of the dead-letter stream, `<stream>_DLQ` by default.
    pub dead_letter_stream: String,
    /// First subject token(s) of dead letters, `<subject_prefix>_dlq` by default. It must
    /// not overlap `subject_prefix`.
    pub dead_letter_prefix: String,
    /// JetStream drops a message whose `Nats-Msg-Id` it saw within this window (2 minutes).
    pub duplicate_window: Duration,
    /// How long the main stream keeps an event (30 days).
    pub max_age: Duration,
    /// How long the dead-letter stream keeps a dead letter (90 days).
    pub dead_letter_max_age: Duration,
    /// Copies of each message: 1 on a single server, 3 in a production cluster.
    pub replicas: usize,
}

impl Default for EventsSettings {
    fn default() -> Self {
        Self::new("CERTS", "certs")
    }
}

impl EventsSettings {
    /// Settings for `stream` and `subject_prefix`, with the dead-letter names derived from them
    /// and the default limits.
    pub fn new(stream: impl Into<String>, subject_prefix: impl Into<String>) -> Self {
        let stream = stream.into();
        let subject_prefix = subject_prefix.into();
        Self {
            dead_letter_stream: format!("{stream}_DLQ"),
            dead_letter_prefix: format!("{subject_prefix}_dlq"),
            stream,
            subject_prefix,
            duplicate_window: Duration::from_secs(2 * 60),
            max_age: Duration::from_secs(30 * 24 * 60 * 60),
            dead_letter_max_age: Duration::from_secs(90 * 24 * 60 * 60),
            replicas: 1,
        }
    }

    /// Checks the names: stream names without `.`, `*`, `>`, `/`, `\` or whitespace, prefixes
    /// of literal subject tokens, and a dead-letter prefix outside the main prefix.
    pub fn validate(&self) -> Result<(), StreamError> {
        validate_stream_name("stream", &self.stream)?;
        validate_stream_name("dead_letter_stream", &self.dead_letter_stream)?;
        validate_prefix("subject_prefix", &self.subject_prefix)?;
        validate_prefix("dead_letter_prefix", &self.dead_letter_prefix)?;
        if prefixes_overlap(&self.subject_prefix, &self.dead_letter_prefix) {
            return Err(StreamError::Overlap {
                subject_prefix: self.subject_prefix.clone(),
                dead_letter_prefix: self.dead_letter_prefix.clone(),
            });
        }
        if self.stream == self.dead_letter_stream {
            return Err(StreamError::SameStream(self.stream.clone()));
        }
        Ok(())
    }

    /// Returns the subject filter of the main stream: `<subject_prefix>.>`.
    pub fn subjects(&self) -> String {
        format!("{}.>", self.subject_prefix)
    }

    /// Returns the subject filter of the dead-letter stream: `<dead_letter_prefix>.>`.
    pub fn dead_letter_subjects(&self) -> String {
        format!("{}.>", self.dead_letter_prefix)
    }

    fn stream_config(&self, name: &str, subjects: String, max_age: Duration) -> stream::Config {
        stream::Config {
            name: name.to_owned(),
            subjects: vec![subjects],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            discard: stream::DiscardPolicy::Old,
            duplicate_window: self.duplicate_window,
            max_age,
            num_replicas: self.replicas,
            max_messages: -1,
            max_bytes: -1,
            max_messages_per_subject: -1,
            max_consumers: -1,
            ..stream::Config::default()
        }
    }
}

/// A stream setting or stream operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// A stream name contains a character NATS forbids.
    #[error("invalid {field} {value:?}: use letters, digits, - and _ only")]
    InvalidStreamName { field: &'static str, value: String },

    /// A subject prefix is empty, has an empty token or a wildcard.
    #[error("invalid {field} {value:?}: use dot-separated tokens of letters, digits, - and _")]
    InvalidPrefix { field: &'static str, value: String },

    /// The dead-letter prefix lies inside the main prefix or the other way round.
    #[error(
        "dead_letter_prefix {dead_letter_prefix:?} overlaps subject_prefix {subject_prefix:?}; \
         choose one that is neither equal to it nor starts with it, such as \
         {subject_prefix}_dlq"
    )]
    Overlap {
        subject_prefix: String,
        dead_letter_prefix: String,
    },

    /// The main and dead-letter streams have the same name.
    #[error(
        "stream and dead_letter_stream are both {0:?}; give the dead-letter stream its own name"
    )]
    SameStream(String),

    /// JetStream rejected creating or updating a stream.
    #[error("creating or updating stream {stream} failed")]
    Create {
        stream: String,
        #[source]
        source: jetstream::context::CreateStreamError,
    },
}

/// Creates the main and dead-letter streams, or updates them to `settings` when they exist.
/// Safe to call from every replica at start.
pub async fn ensure_streams(
    jetstream: &jetstream::Context,
    settings: &EventsSettings,
) -> Result<(), StreamError> {
    settings.validate()?;
    let main = settings.stream_config(&settings.stream, settings.subjects(), settings.max_age);
    let dead_letters = settings.stream_config(
        &settings.dead_letter_stream,
        settings.dead_letter_subjects(),
        settings.dead_letter_max_age,
    );
    for config in [main, dead_letters] {
        let stream = config.name.clone();
        jetstream
            .create_or_update_stream(config)
            .await
            .map_err(|source| StreamError::Create { stream, source })?;
    }
    Ok(())
}

fn validate_stream_name(field: &'static str, value: &str) -> Result<(), StreamError> {
    if is_token(value) {
        Ok(())
    } else {
        Err(StreamError::InvalidStreamName {
            field,
            value: value.to_owned(),
        })
    }
}

fn validate_prefix(field: &'static str, value: &str) -> Result<(), StreamError> {
    if value.split('.').all(is_token) {
        Ok(())
    } else {
        Err(StreamError::InvalidPrefix {
            field,
            value: value.to_owned(),
        })
    }
}

fn is_token(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn prefixes_overlap(a: &str, b: &str) -> bool {
    let inside =
        |outer: &str, inner: &str| inner == outer || inner.starts_with(&format!("{outer}."));
    inside(a, b) || inside(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_name_separate_dead_letter_stream() {
        let settings = EventsSettings::default();

        assert_eq!(settings.dead_letter_stream, "CERTS_DLQ");
        assert_eq!(settings.dead_letter_subjects(), "certs_dlq.>");
        assert!(settings.validate().is_ok());
    }

    #[test]
    fn dead_letter_prefix_inside_main_prefix_is_rejected() {
        let settings = EventsSettings {
            dead_letter_prefix: "certs.dlq".to_owned(),
            ..EventsSettings::default()
        };

        assert!(matches!(
            settings.validate(),
            Err(StreamError::Overlap { .. })
        ));
    }

    #[test]
    fn wildcard_in_prefix_is_rejected() {
        let settings = EventsSettings::new("CERTS", "certs.*");

        assert!(matches!(
            settings.validate(),
            Err(StreamError::InvalidPrefix { .. })
        ));
    }

    #[test]
    fn dotted_stream_name_is_rejected() {
        let settings = EventsSettings::new("CERTS.main", "certs");

        assert!(matches!(
            settings.validate(),
            Err(StreamError::InvalidStreamName { .. })
        ));
    }
}
