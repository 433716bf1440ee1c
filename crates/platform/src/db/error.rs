//! The errors of the database layer, classified so that the edges can map them: a unique
//! violation is a conflict (HTTP 409, gRPC `ALREADY_EXISTS`), an exhausted pool, a lost
//! connection or a statement timeout is unavailability (HTTP 503, gRPC `UNAVAILABLE`).

/// An error of the database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A schema or role name is not a plain lowercase SQL identifier.
    #[error(
        "invalid {kind} name {name:?}: use 1 to 63 characters from a-z, 0-9 and _, \
         starting with a letter or _"
    )]
    InvalidName {
        /// Kind of name: `schema` or `role`.
        kind: &'static str,
        name: String,
    },

    /// The connection URL does not parse.
    #[error("invalid database URL; expected postgres://user[:password]@host:port/database")]
    InvalidUrl {
        #[source]
        source: sqlx::Error,
    },

    /// A unique constraint rejected the write (SQLSTATE 23505).
    #[error("unique constraint {} violated", .constraint.as_deref().unwrap_or("(unnamed)"))]
    Conflict {
        /// Name of the violated constraint, when Postgres reported it.
        constraint: Option<String>,
        #[source]
        source: sqlx::Error,
    },

    /// Postgres could not serve the request now, but a later retry may succeed.
    #[error("database unavailable")]
    Unavailable {
        #[source]
        source: sqlx::Error,
    },

    /// Any other failure of a query.
    #[error("database query failed")]
    Query {
        #[source]
        source: sqlx::Error,
    },

    /// The connection's `search_path` names no schema the role may use.
    #[error(
        "the connection has no usable schema in its search_path; \
         provision the service's schema and role before migrating"
    )]
    NoSchema,

    /// Applying the migrations of a schema failed.
    #[error("applying the {set} migrations to schema {schema} failed")]
    Migrate {
        schema: String,
        /// The failed set of migrations: `platform` or `service`.
        set: &'static str,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
}

impl DbError {
    /// Returns whether the error is a unique violation.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }

    /// Returns whether the error is transient unavailability.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

impl From<sqlx::Error> for DbError {
    fn from(source: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &source {
            if db.is_unique_violation() {
                let constraint = db.constraint().map(str::to_owned);
                return Self::Conflict { constraint, source };
            }
            if db.code().is_some_and(|code| is_transient_sqlstate(&code)) {
                return Self::Unavailable { source };
            }
            return Self::Query { source };
        }
        if is_transient_driver_error(&source) {
            Self::Unavailable { source }
        } else {
            Self::Query { source }
        }
    }
}

/// Returns whether a SQLSTATE means "try again later": connection exceptions (class 08),
/// insufficient resources (class 53), server shutdown (57P01 to 57P03), a statement timeout or
/// cancellation (57014), a serialization failure (40001) or a deadlock (40P01).
fn is_transient_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            "57014" | "57P01" | "57P02" | "57P03" | "40001" | "40P01"
        )
}

fn is_transient_driver_error(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_timeout_is_unavailable() {
        assert!(DbError::from(sqlx::Error::PoolTimedOut).is_unavailable());
    }

    #[test]
    fn row_not_found_is_a_plain_query_error() {
        let error = DbError::from(sqlx::Error::RowNotFound);

        assert!(matches!(error, DbError::Query { .. }));
    }

    #[test]
    fn transient_sqlstates_are_recognized() {
        for code in ["08006", "53300", "57014", "57P01", "40001", "40P01"] {
            assert!(is_transient_sqlstate(code), "{code} should be transient");
        }
        for code in ["23505", "42P01", "42501", "22001"] {
            assert!(
                !is_transient_sqlstate(code),
                "{code} should not be transient"
            );
        }
    }
}
