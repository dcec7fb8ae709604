//! The one place that decides whether a database error is transient.

use sqlx::mysql::MySqlDatabaseError;

/// MySQL/MariaDB error codes worth retrying as they are.
const TRANSIENT_CODES: &[u16] = &[
    1205, // lock wait timeout
    1213, // deadlock
    1040, // too many connections
    1053, // server shutdown in progress
    1927, // connection killed (MariaDB)
    2002, // cannot connect through socket
    2003, // cannot connect
    2006, // server has gone away
    2013, // lost connection during query
    1290, // read-only (failover in progress)
    1792, // read-only transaction
];

/// The server's numeric error code (not the SQLSTATE), if this is a MySQL
/// error.
pub fn error_number(error: &sqlx::Error) -> Option<u16> {
    match error {
        sqlx::Error::Database(db) => db.try_downcast_ref::<MySqlDatabaseError>().map(MySqlDatabaseError::number),
        _ => None,
    }
}

/// Deadlocks, lock wait timeouts and lost or refused connections are
/// transient. Anything else (a schema that does not fit the rows, say) needs
/// an operator; the caller still keeps the batch and retries slowly, so that
/// nothing is lost while it waits.
pub fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(_) => error_number(error).is_some_and(|n| TRANSIENT_CODES.contains(&n)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_transient;

    #[test]
    fn io_and_pool_errors_are_transient() {
        assert!(is_transient(&sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset))));
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_transient(&sqlx::Error::ColumnNotFound("x".into())));
    }
}
