package sluice.bench.yardstick;

/**
 * A valid event, as the value deserializer hands it to the listener.
 *
 * @param sessionId   the learner's session
 * @param eventType   one of the configured event types
 * @param eventTimeMs the event time, epoch milliseconds (UTC)
 */
public record StudyLogEvent(String sessionId, String eventType, long eventTimeMs) {
}
