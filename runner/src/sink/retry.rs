//! The one place that decides what a database error means for the batch
//! that met it: wait and retry, split out the rows the server refuses, or
//! wait for an operator.

use sqlx::mysql::MySqlDatabaseError;

/// What a database error says about the batch that met it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The database is unreachable, busy, going down, read-only or out of
    /// space: nothing is wrong with the batch. Retry it as it is.
    Transient,
    /// The server refused values of some row (too long, out of range, a bad
    /// date, NULL for a NOT NULL column, a duplicate key, a failed
    /// constraint): split the batch, dead-letter the records whose rows are
    /// refused, write the rest.
    BadRow,
    /// Anything else (a table or column missing, a privilege missing, a
    /// statement the server cannot run): an operator must act. Retry slowly;
    /// nothing is dead-lettered for it.
    Operator,
}

/// Codes for a database that is unreachable, busy or cannot write right now.
const TRANSIENT_CODES: &[u16] = &[
    1021, // disk full, waiting for space
    1030, // error from the storage engine (often out of space)
    1036, // table is read-only
    1040, // too many connections
    1053, // server shutdown in progress
    1114, // table is full
    1180, // error during COMMIT
    1181, // error during ROLLBACK
    1203, // user has too many connections
    1205, // lock wait timeout
    1213, // deadlock
    1290, // running with --read-only (failover in progress)
    1317, // query interrupted
    1637, // too many active concurrent transactions
    1792, // read-only transaction
    1836, // read-only mode
    1927, // connection killed (MariaDB)
    1969, // statement timeout (MariaDB max_statement_time)
    2002, // cannot connect through socket
    2003, // cannot connect
    2006, // server has gone away
    2013, // lost connection during query
    3024, // statement timeout (MySQL max_execution_time)
    4031, // disconnected for inactivity (MariaDB)
];

/// Codes for values the server will not store in a row.
const BAD_ROW_CODES: &[u16] = &[
    1048, // column cannot be NULL
    1062, // duplicate entry for a key
    1264, // out of range value for a column
    1265, // data truncated for a column
    1292, // incorrect date, time or number value
    1300, // invalid character string
    1364, // field has no default value
    1366, // incorrect string or number value for a column
    1367, // illegal value during parsing
    1406, // data too long for a column
    1411, // incorrect value for a function (STR_TO_DATE, …)
    1416, // cannot make a geometry from the data
    1451, // a foreign key refers to this row
    1452, // foreign key: no parent row
    1525, // incorrect value
    1557, // duplicate entry for a foreign key
    1586, // duplicate entry for a named key
    1690, // value out of range in an expression (an accumulating sum overflows)
    1918, // illegal value during conversion (MariaDB)
    3140, // invalid JSON text (MySQL)
    3819, // check constraint violated (MySQL)
    4025, // CONSTRAINT failed (MariaDB)
    4038, // syntax error in JSON text (MariaDB)
];

/// The server's numeric error code (not the SQLSTATE), if this is a MySQL
/// error.
pub fn error_number(error: &sqlx::Error) -> Option<u16> {
    match error {
        sqlx::Error::Database(db) => db.try_downcast_ref::<MySqlDatabaseError>().map(MySqlDatabaseError::number),
        _ => None,
    }
}

/// Classifies a database error; see [`ErrorClass`]. Lost or refused
/// connections, pool timeouts and TLS failures are transient.
pub fn classify(error: &sqlx::Error) -> ErrorClass {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => ErrorClass::Transient,
        sqlx::Error::Database(_) => match error_number(error) {
            Some(n) if TRANSIENT_CODES.contains(&n) => ErrorClass::Transient,
            Some(n) if BAD_ROW_CODES.contains(&n) => ErrorClass::BadRow,
            _ => ErrorClass::Operator,
        },
        _ => ErrorClass::Operator,
    }
}

/// [`classify`] says [`ErrorClass::Transient`].
pub fn is_transient(error: &sqlx::Error) -> bool {
    classify(error) == ErrorClass::Transient
}

/// Some error of a chain of causes is a database error that [`classify`]
/// calls transient: the connection failed, the database did not refuse.
pub fn any_transient<'a>(mut causes: impl Iterator<Item = &'a (dyn std::error::Error + 'static)>) -> bool {
    causes.any(|cause| cause.downcast_ref::<sqlx::Error>().is_some_and(is_transient))
}

#[cfg(test)]
mod tests {
    use super::{BAD_ROW_CODES, ErrorClass, TRANSIENT_CODES, classify};

    #[test]
    fn io_and_pool_errors_are_transient() {
        assert_eq!(
            classify(&sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset))),
            ErrorClass::Transient
        );
        assert_eq!(classify(&sqlx::Error::PoolTimedOut), ErrorClass::Transient);
        assert_eq!(classify(&sqlx::Error::RowNotFound), ErrorClass::Operator);
        assert_eq!(classify(&sqlx::Error::ColumnNotFound("x".into())), ErrorClass::Operator);
    }

    #[test]
    fn no_code_is_in_two_classes() {
        assert!(TRANSIENT_CODES.iter().all(|c| !BAD_ROW_CODES.contains(c)));
    }
}
