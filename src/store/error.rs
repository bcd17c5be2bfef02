//! The one storage error. Its messages say what failed in words a user can act
//! on and never carry SQL text or driver messages (those stay in `source`, for
//! the log).

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{what} already exists")]
    Conflict { what: String },
    #[error("invalid {what}: {message}")]
    Invalid { what: String, message: String },
    #[error("database unavailable while {doing}; check database.url and that the server runs")]
    Unavailable {
        doing: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("database error while {doing}")]
    Backend {
        doing: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("database schema: {0}")]
    Schema(String),
}

impl StoreError {
    /// Classify a driver error. `doing` is a short phrase ("saving an endpoint")
    /// that makes the message useful without the SQL.
    pub fn from_sqlx(doing: &'static str, source: sqlx::Error) -> StoreError {
        match &source {
            sqlx::Error::RowNotFound => StoreError::NotFound {
                what: doing.to_string(),
            },
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
                what: format!("a record written while {doing}"),
            },
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::Invalid {
                what: format!("reference while {doing}"),
                message: "it points to a record that does not exist".into(),
            },
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable { doing, source },
            _ => StoreError::Backend { doing, source },
        }
    }
}

/// `.ctx("doing what")` on any sqlx result: the shortest way to classify.
pub trait SqlxResultExt<T> {
    fn ctx(self, doing: &'static str) -> Result<T, StoreError>;
}

impl<T> SqlxResultExt<T> for Result<T, sqlx::Error> {
    fn ctx(self, doing: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::from_sqlx(doing, e))
    }
}
