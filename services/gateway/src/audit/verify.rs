//! Verification of the audit chain: recomputes every row's hash in sequence order and compares
//! the end of the chain with `audit_chain_head` and, when given, a head anchored outside the
//! database.

use std::fmt;
use std::str::FromStr;

use sqlx::PgPool;

use super::chain::{AuditRow, ChainHead, GENESIS_HASH};

/// Rows read per query while walking the chain.
const BATCH_SIZE: i64 = 1_000;

/// A head recorded outside the database, such as from the gateway's log, as `SEQUENCE:HASH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchoredHead {
    pub sequence: i64,
    pub hash: String,
}

impl FromStr for AnchoredHead {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let invalid = || {
            format!(
                "{value:?} is not an anchored head: expected SEQUENCE:HASH as the gateway logs \
                 it in audit.anchor, a sequence number, a colon and 64 hexadecimal digits"
            )
        };
        let (sequence, hash) = value.trim().split_once(':').ok_or_else(invalid)?;
        let sequence: i64 = sequence.parse().map_err(|_| invalid())?;
        let hash = hash.to_ascii_lowercase();
        let hash_valid = hash.len() == 64 && hash.bytes().all(|byte| byte.is_ascii_hexdigit());
        if sequence < 0 || !hash_valid {
            return Err(invalid());
        }
        Ok(Self { sequence, hash })
    }
}

/// An intact chain: its number of rows and its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub count: i64,
    pub head: ChainHead,
}

/// The first fault found in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainFault {
    /// The first row is not sequence 1: the rows before it were deleted.
    MissingStart { first_sequence: i64 },
    /// A row's fields do not hash to its stored hash: it was edited after it was written.
    EditedRow { sequence: i64 },
    /// Sequences jump: the rows in between were deleted.
    SequenceGap { previous: i64, next: i64 },
    /// A row's `prev_hash` is not the previous row's hash: a row before it was replaced.
    PrevHashMismatch { sequence: i64 },
    /// The chain ends before the anchored sequence: rows at the end were deleted.
    Truncated { last_sequence: i64, anchored: i64 },
    /// The row at the anchored sequence has another hash than the anchored one.
    AnchorMismatch { sequence: i64, stored_hash: String },
    /// `audit_chain_head` does not name the last row.
    HeadMismatch {
        last_row: ChainHead,
        stored_head: ChainHead,
    },
}

impl fmt::Display for ChainFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainFault::MissingStart { first_sequence } => write!(
                f,
                "{}: the first row has sequence {first_sequence}",
                rows_with_state(1, first_sequence - 1, "missing")
            ),
            ChainFault::EditedRow { sequence } => write!(
                f,
                "row {sequence} was edited: its fields do not match its stored hash"
            ),
            ChainFault::SequenceGap { previous, next } => write!(
                f,
                "{}: sequence {previous} is followed by {next}",
                rows_with_state(previous + 1, next - 1, "missing")
            ),
            ChainFault::PrevHashMismatch { sequence } => write!(
                f,
                "row {sequence} does not follow row {}: its prev_hash is not that row's hash, \
                 so a row was replaced or removed",
                sequence - 1
            ),
            ChainFault::Truncated {
                last_sequence,
                anchored,
            } => write!(
                f,
                "the chain ends at sequence {last_sequence}, before the anchored head at \
                 sequence {anchored}: {}",
                rows_with_state(last_sequence + 1, *anchored, "deleted")
            ),
            ChainFault::AnchorMismatch {
                sequence,
                stored_hash,
            } => write!(
                f,
                "row {sequence} has hash {stored_hash}, not the anchored hash: the chain up to \
                 it was rewritten"
            ),
            ChainFault::HeadMismatch {
                last_row,
                stored_head,
            } => write!(
                f,
                "the last row {last_row} is not the head {stored_head} that audit_chain_head \
                 records: rows at the end were deleted or the head was changed"
            ),
        }
    }
}

/// Describes rows `first` to `last` as `missing` or `deleted`: `row 3 is missing`, or
/// `rows 3 to 5 were deleted`.
fn rows_with_state(first: i64, last: i64, state: &str) -> String {
    let (verb_one, verb_many) = if state == "deleted" {
        ("was", "were")
    } else {
        ("is", "are")
    };
    if first == last {
        format!("row {first} {verb_one} {state}")
    } else {
        format!("rows {first} to {last} {verb_many} {state}")
    }
}

/// The result of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Intact(ChainReport),
    Broken(ChainFault),
}

/// Walks the whole chain in one read-only snapshot and returns its report or its first fault.
///
/// # Errors
/// The database error; a broken chain is an `Ok(Verification::Broken)`.
pub async fn verify_chain(
    pool: &PgPool,
    anchored: Option<&AnchoredHead>,
) -> Result<Verification, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *transaction)
        .await?;
    let stored_head: ChainHead =
        sqlx::query_as("SELECT sequence, hash FROM audit_chain_head WHERE singleton")
            .fetch_one(&mut *transaction)
            .await?;

    let mut walk = Walk::new(anchored);
    loop {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT * FROM audit_log WHERE sequence > $1 ORDER BY sequence LIMIT $2",
        )
        .bind(walk.head.sequence)
        .bind(BATCH_SIZE)
        .fetch_all(&mut *transaction)
        .await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            if let Err(fault) = walk.check(row) {
                return Ok(Verification::Broken(fault));
            }
        }
    }
    transaction.commit().await?;

    Ok(walk.finish(&stored_head))
}

/// The state of a walk along the chain.
struct Walk<'a> {
    head: ChainHead,
    count: i64,
    anchored: Option<&'a AnchoredHead>,
}

impl<'a> Walk<'a> {
    fn new(anchored: Option<&'a AnchoredHead>) -> Self {
        Self {
            head: ChainHead {
                sequence: 0,
                hash: GENESIS_HASH.to_owned(),
            },
            count: 0,
            anchored,
        }
    }

    fn check(&mut self, row: &AuditRow) -> Result<(), ChainFault> {
        let expected_sequence = self.head.sequence + 1;
        if row.sequence != expected_sequence {
            return Err(if self.head.sequence == 0 {
                ChainFault::MissingStart {
                    first_sequence: row.sequence,
                }
            } else {
                ChainFault::SequenceGap {
                    previous: self.head.sequence,
                    next: row.sequence,
                }
            });
        }
        if row.compute_hash() != row.hash {
            return Err(ChainFault::EditedRow {
                sequence: row.sequence,
            });
        }
        if row.prev_hash != self.head.hash {
            return Err(ChainFault::PrevHashMismatch {
                sequence: row.sequence,
            });
        }
        if let Some(anchor) = self.anchored
            && anchor.sequence == row.sequence
            && anchor.hash != row.hash
        {
            return Err(ChainFault::AnchorMismatch {
                sequence: row.sequence,
                stored_hash: row.hash.clone(),
            });
        }

        self.head = ChainHead {
            sequence: row.sequence,
            hash: row.hash.clone(),
        };
        self.count += 1;
        Ok(())
    }

    fn finish(self, stored_head: &ChainHead) -> Verification {
        if let Some(anchor) = self.anchored
            && anchor.sequence > self.head.sequence
        {
            return Verification::Broken(ChainFault::Truncated {
                last_sequence: self.head.sequence,
                anchored: anchor.sequence,
            });
        }
        if stored_head != &self.head {
            return Verification::Broken(ChainFault::HeadMismatch {
                last_row: self.head,
                stored_head: stored_head.clone(),
            });
        }
        Verification::Intact(ChainReport {
            count: self.count,
            head: self.head,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_head_parses() {
        let hash = "ab".repeat(32);
        let head: AnchoredHead = format!("42:{hash}").parse().unwrap();

        assert_eq!(head.sequence, 42);
        assert_eq!(head.hash, hash);
    }

    #[test]
    fn fault_messages_name_row_ranges() {
        let single = ChainFault::SequenceGap {
            previous: 2,
            next: 4,
        };
        let many = ChainFault::SequenceGap {
            previous: 2,
            next: 6,
        };
        let cut = ChainFault::Truncated {
            last_sequence: 4,
            anchored: 5,
        };

        assert_eq!(
            single.to_string(),
            "row 3 is missing: sequence 2 is followed by 4"
        );
        assert_eq!(
            many.to_string(),
            "rows 3 to 5 are missing: sequence 2 is followed by 6"
        );
        assert!(cut.to_string().ends_with(": row 5 was deleted"));
    }

    #[test]
    fn malformed_anchored_head_is_rejected() {
        let hash = "ab".repeat(32);
        for value in [
            "",
            "42",
            &format!("x:{hash}"),
            "42:abc",
            &format!("-1:{hash}"),
        ] {
            assert!(
                value.parse::<AnchoredHead>().is_err(),
                "{value:?} is rejected"
            );
        }
    }
}
