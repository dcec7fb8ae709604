package sluice.bench.yardstick;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The validate rules, mirrored from transforms/validate. */
class EventValidatorTest {

    private final EventValidator v = new EventValidator(List.of("FOCUS", "DISTRACTED", "AWAY", "DROWSY"), "+09:00", 64);

    /** 2026-01-28T01:15:30.120Z */
    private static final long T = 1_769_562_930_120L;

    private StudyLogEvent ok(String json) {
        return v.parse(json.getBytes(StandardCharsets.UTF_8));
    }

    private String reason(String json) {
        return assertThrows(InvalidEventException.class, () -> ok(json)).getMessage();
    }

    private static String event(String timestamp) {
        return "{\"sessionId\":\"session-42\",\"eventType\":\"FOCUS\",\"timestamp\":" + timestamp + "}";
    }

    @Test
    void acceptsEveryTimestampShape() {
        assertEquals(new StudyLogEvent("session-42", "FOCUS", T), ok(event("\"2026-01-28T10:15:30.120+09:00\"")));
        assertEquals(T, ok(event("\"2026-01-28T10:15:30.120\"")).eventTimeMs());
        assertEquals(T, ok(event("\"2026-01-28 10:15:30.120\"")).eventTimeMs());
        assertEquals(T, ok(event("\"2026-01-28T01:15:30.120Z\"")).eventTimeMs());
        assertEquals(T, ok(event("\"2026-01-28t01:15:30.120z\"")).eventTimeMs());
        assertEquals(T, ok(event("\"2026-01-28T10:15:30.120+0900\"")).eventTimeMs());
        assertEquals(T, ok(event("\"2026-01-28T10:15:30.1209999+09:00\"")).eventTimeMs());
        assertEquals(T - 120, ok(event("\"2026-01-28T10:15:30+09:00\"")).eventTimeMs());
        assertEquals(T, ok(event(Long.toString(T))).eventTimeMs());
        assertEquals(T, ok(event("\"" + T + "\"")).eventTimeMs());
        assertEquals(T, ok(event(T + ".9")).eventTimeMs());
        assertEquals(-1, ok(event("\"1969-12-31T23:59:59.9999Z\"")).eventTimeMs());
        assertEquals(T, ok("{\"extra\":[1,{\"a\":null}],\"timestamp\":" + T
                + ",\"eventType\":\"FOCUS\",\"sessionId\":\"session-42\"}").eventTimeMs());
    }

    @Test
    void rejectsWithAReason() {
        assertEquals("empty value", assertThrows(InvalidEventException.class, () -> v.parse(new byte[0])).getMessage());
        assertEquals("value is null", assertThrows(InvalidEventException.class, () -> v.parse(null)).getMessage());
        assertEquals("value is a JSON array, not an object", reason("[1,2]"));
        assertEquals("value is a JSON string, not an object", reason("\"x\""));
        assertEquals("missing field sessionId", reason("{\"eventType\":\"FOCUS\",\"timestamp\":1}"));
        assertEquals("missing field eventType", reason("{\"sessionId\":\"s\",\"timestamp\":1}"));
        assertEquals("missing field timestamp", reason("{\"sessionId\":\"s\",\"eventType\":\"FOCUS\"}"));
        assertEquals("sessionId is not a string (found number)",
                reason("{\"sessionId\":42,\"eventType\":\"FOCUS\",\"timestamp\":1}"));
        assertEquals("eventType is not a string (found number)",
                reason("{\"sessionId\":\"s\",\"eventType\":2,\"timestamp\":1}"));
        assertEquals("sessionId is empty", reason("{\"sessionId\":\"\",\"eventType\":\"FOCUS\",\"timestamp\":1}"));
        assertEquals("sessionId is 65 characters long, more than 64",
                reason("{\"sessionId\":\"" + "x".repeat(65) + "\",\"eventType\":\"FOCUS\",\"timestamp\":1}"));
        assertEquals("eventType \"SLEEPING\" is not one of FOCUS, DISTRACTED, AWAY, DROWSY",
                reason("{\"sessionId\":\"s\",\"eventType\":\"SLEEPING\",\"timestamp\":1}"));
        assertEquals("timestamp is not a string or a number (found boolean)", reason(event("true")));
        assertEquals("timestamp \"yesterday\" is neither ISO-8601 nor epoch milliseconds", reason(event("\"yesterday\"")));
        assertEquals("timestamp \"\" is neither ISO-8601 nor epoch milliseconds", reason(event("\"\"")));
        reason(event("\"2026-13-45T25:61:00+09:00\""));
        reason(event("\"2023-02-29T10:15:30+09:00\""));
        reason(event("\"2026-01-28T24:00:00Z\""));
        reason(event("\"2026-01-28T10:15Z\""));
        reason(event("\"-\""));
        assertEquals("timestamp 99999999999999999999 is outside 1000-01-01T00:00:00Z..9999-12-31T23:59:59.999Z",
                reason(event("99999999999999999999")));
        reason(event("253402300800000"));
        assertEquals("duplicate field sessionId",
                reason("{\"sessionId\":\"a\",\"sessionId\":\"b\",\"eventType\":\"FOCUS\",\"timestamp\":1}"));
        String cut = reason("{\"sessionId\":\"sess");
        assertEquals(true, cut.startsWith("invalid JSON at line 1 column"), cut);
        String trailing = reason(event("1") + " x");
        assertEquals(true, trailing.startsWith("invalid JSON"), trailing);
        assertEquals(true, reason(event("1") + " {}").endsWith("trailing characters"));
    }

    @Test
    void utcKeepsMilliseconds() {
        assertEquals("2026-01-28T01:15:30.120", StudyLogStore.utc(T).toString());
        assertEquals("1969-12-31T23:59:59.999", StudyLogStore.utc(-1).toString());
    }
}
