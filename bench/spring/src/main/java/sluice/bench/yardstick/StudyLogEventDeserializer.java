package sluice.bench.yardstick;

import org.apache.kafka.common.serialization.Deserializer;

/**
 * The value deserializer, the delegate of Spring Kafka's {@code ErrorHandlingDeserializer}:
 * a value that is not a valid event throws, and the error-handling deserializer hands the
 * listener a record with a null value and the exception (with the raw bytes) in a header.
 */
public class StudyLogEventDeserializer implements Deserializer<StudyLogEvent> {

    private final EventValidator validator;

    public StudyLogEventDeserializer(EventValidator validator) {
        this.validator = validator;
    }

    @Override
    public StudyLogEvent deserialize(String topic, byte[] data) {
        return validator.parse(data);
    }
}
