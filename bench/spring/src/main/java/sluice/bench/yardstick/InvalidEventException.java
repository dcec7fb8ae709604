package sluice.bench.yardstick;

import org.apache.kafka.common.errors.SerializationException;

/** A value that is not a valid study-log event; the message is the dead-letter reason. */
public class InvalidEventException extends SerializationException {

    private static final long serialVersionUID = 1L;

    public InvalidEventException(String reason) {
        super(reason);
    }

    /** No stack trace: this is a verdict on data, and the exception travels in a header. */
    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }
}
