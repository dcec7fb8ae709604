package sluice.bench.yardstick;

import java.io.IOException;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.chrono.IsoChronology;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.format.DateTimeParseException;
import java.time.format.ResolverStyle;
import java.time.temporal.ChronoField;
import java.time.temporal.TemporalAccessor;
import java.util.List;
import java.util.Locale;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;

/**
 * The rules of Sluice's seed {@code validate} stage ({@code transforms/validate}), in Java:
 * a JSON object with {@code sessionId} (non-empty string, at most {@code maxSessionIdLength}
 * characters), {@code eventType} (one of the configured types) and {@code timestamp}
 * (ISO-8601 with or without an offset, local times read at {@code localOffset}; or epoch
 * milliseconds as a JSON number or a string of digits). Unknown fields are ignored.
 * Thread-safe.
 */
public final class EventValidator {

    /** 1000-01-01T00:00:00.000Z, the start of the DATETIME range. */
    public static final long MIN_EVENT_TIME_MS = -30_610_224_000_000L;
    /** 9999-12-31T23:59:59.999Z, the end of the DATETIME range. */
    public static final long MAX_EVENT_TIME_MS = 253_402_300_799_999L;

    /** {@code YYYY-MM-DDTHH:MM:SS[.f{1,9}][Z|±HH:MM|±HHMM]}, 't' or 'z' in either case. */
    private static final DateTimeFormatter ISO = new DateTimeFormatterBuilder()
            .parseCaseInsensitive()
            .append(DateTimeFormatter.ISO_LOCAL_DATE)
            .appendLiteral('T')
            .appendValue(ChronoField.HOUR_OF_DAY, 2)
            .appendLiteral(':')
            .appendValue(ChronoField.MINUTE_OF_HOUR, 2)
            .appendLiteral(':')
            .appendValue(ChronoField.SECOND_OF_MINUTE, 2)
            .optionalStart().appendFraction(ChronoField.NANO_OF_SECOND, 1, 9, true).optionalEnd()
            .optionalStart().appendOffset("+HH:MM", "Z").optionalEnd()
            .optionalStart().appendOffset("+HHMM", "Z").optionalEnd()
            .toFormatter(Locale.ROOT)
            .withResolverStyle(ResolverStyle.STRICT)
            .withChronology(IsoChronology.INSTANCE);

    private static final JsonFactory JSON = JsonFactory.builder().build();

    private final List<String> eventTypes;
    private final String eventTypeList;
    private final ZoneOffset localOffset;
    private final int maxSessionIdLength;

    public EventValidator(List<String> eventTypes, String localOffset, int maxSessionIdLength) {
        if (eventTypes.isEmpty() || eventTypes.stream().anyMatch(String::isEmpty)) {
            throw new IllegalArgumentException("yardstick.event-types must list at least one non-empty event type");
        }
        if (maxSessionIdLength < 1) {
            throw new IllegalArgumentException("yardstick.max-session-id-length must be at least 1");
        }
        this.eventTypes = List.copyOf(eventTypes);
        this.eventTypeList = String.join(", ", eventTypes);
        this.localOffset = ZoneOffset.of("z".equals(localOffset) ? "Z" : localOffset);
        this.maxSessionIdLength = maxSessionIdLength;
    }

    /** The event in {@code value}, or an {@link InvalidEventException} with the reason. */
    public StudyLogEvent parse(byte[] value) {
        if (value == null) {
            throw new InvalidEventException("value is null");
        }
        if (value.length == 0) {
            throw new InvalidEventException("empty value");
        }
        Fields f;
        try (JsonParser p = JSON.createParser(value)) {
            f = readFields(p);
        } catch (InvalidEventException e) {
            throw e;
        } catch (JsonProcessingException e) {
            var at = e.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + " column " + at.getColumnNr();
            throw new InvalidEventException("invalid JSON" + where + ": " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new InvalidEventException("invalid JSON: " + e.getMessage());
        }
        return check(f);
    }

    /** The three fields as they were found: a token, and its text or number. */
    private static final class Fields {
        JsonToken sessionId;
        String sessionIdText;
        JsonToken eventType;
        String eventTypeText;
        JsonToken timestamp;
        String timestampText;
        long timestampLong;
        double timestampDouble;
        boolean timestampBig;
    }

    private static Fields readFields(JsonParser p) throws IOException {
        JsonToken top = p.nextToken();
        if (top != JsonToken.START_OBJECT) {
            p.skipChildren();
            requireEnd(p);
            throw new InvalidEventException("value is a JSON " + kind(top) + ", not an object");
        }
        Fields f = new Fields();
        JsonToken t;
        while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken v = p.nextToken();
            switch (name) {
                case "sessionId" -> {
                    duplicate(f.sessionId, name);
                    f.sessionId = v;
                    f.sessionIdText = v == JsonToken.VALUE_STRING ? p.getText() : null;
                }
                case "eventType" -> {
                    duplicate(f.eventType, name);
                    f.eventType = v;
                    f.eventTypeText = v == JsonToken.VALUE_STRING ? p.getText() : null;
                }
                case "timestamp" -> {
                    duplicate(f.timestamp, name);
                    f.timestamp = v;
                    if (v == JsonToken.VALUE_STRING) {
                        f.timestampText = p.getText();
                    } else if (v == JsonToken.VALUE_NUMBER_INT) {
                        JsonParser.NumberType nt = p.getNumberType();
                        if (nt == JsonParser.NumberType.BIG_INTEGER) {
                            f.timestampBig = true;
                            f.timestampText = p.getText();
                        } else {
                            f.timestampLong = p.getLongValue();
                        }
                    } else if (v == JsonToken.VALUE_NUMBER_FLOAT) {
                        f.timestampDouble = p.getDoubleValue();
                        f.timestampText = p.getText();
                    }
                }
                default -> { }
            }
            p.skipChildren();
        }
        if (t != JsonToken.END_OBJECT) {
            throw new InvalidEventException("invalid JSON: unexpected " + t);
        }
        requireEnd(p);
        return f;
    }

    private static void duplicate(JsonToken seen, String name) {
        if (seen != null) {
            throw new InvalidEventException("duplicate field " + name);
        }
    }

    private static void requireEnd(JsonParser p) throws IOException {
        if (p.nextToken() != null) {
            var at = p.currentTokenLocation();
            throw new InvalidEventException("invalid JSON at line " + at.getLineNr() + " column "
                    + at.getColumnNr() + ": trailing characters");
        }
    }

    private static String kind(JsonToken t) {
        if (t == null) {
            return "nothing";
        }
        return switch (t) {
            case START_OBJECT -> "object";
            case START_ARRAY -> "array";
            case VALUE_STRING -> "string";
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "number";
            case VALUE_TRUE, VALUE_FALSE -> "boolean";
            case VALUE_NULL -> "null";
            default -> t.toString();
        };
    }

    private StudyLogEvent check(Fields f) {
        if (f.sessionId == null) {
            throw new InvalidEventException("missing field sessionId");
        }
        if (f.sessionId != JsonToken.VALUE_STRING) {
            throw new InvalidEventException("sessionId is not a string (found " + kind(f.sessionId) + ")");
        }
        String sessionId = f.sessionIdText;
        if (sessionId.isEmpty()) {
            throw new InvalidEventException("sessionId is empty");
        }
        if (sessionId.length() > maxSessionIdLength) {
            int chars = sessionId.codePointCount(0, sessionId.length());
            if (chars > maxSessionIdLength) {
                throw new InvalidEventException("sessionId is " + chars + " characters long, more than "
                        + maxSessionIdLength);
            }
        }

        if (f.eventType == null) {
            throw new InvalidEventException("missing field eventType");
        }
        if (f.eventType != JsonToken.VALUE_STRING) {
            throw new InvalidEventException("eventType is not a string (found " + kind(f.eventType) + ")");
        }
        String eventType = null;
        for (String known : eventTypes) {
            if (known.equals(f.eventTypeText)) {
                eventType = known;
                break;
            }
        }
        if (eventType == null) {
            throw new InvalidEventException("eventType " + quoted(f.eventTypeText) + " is not one of " + eventTypeList);
        }

        if (f.timestamp == null) {
            throw new InvalidEventException("missing field timestamp");
        }
        return new StudyLogEvent(sessionId, eventType, eventTime(f));
    }

    private long eventTime(Fields f) {
        long ms;
        String shown;
        switch (f.timestamp) {
            case VALUE_STRING -> {
                shown = quoted(f.timestampText);
                ms = parseTimestamp(f.timestampText, localOffset);
                if (ms == Long.MIN_VALUE) {
                    throw new InvalidEventException("timestamp " + shown + " is neither ISO-8601 nor epoch milliseconds");
                }
            }
            case VALUE_NUMBER_INT -> {
                // Beyond a long: certainly outside the DATETIME range.
                ms = f.timestampBig ? Long.MAX_VALUE : f.timestampLong;
                shown = f.timestampBig ? f.timestampText : Long.toString(ms);
            }
            case VALUE_NUMBER_FLOAT -> {
                // Truncated toward the past; the cast saturates.
                ms = (long) Math.floor(f.timestampDouble);
                shown = f.timestampText;
            }
            default -> throw new InvalidEventException(
                    "timestamp is not a string or a number (found " + kind(f.timestamp) + ")");
        }
        if (ms < MIN_EVENT_TIME_MS || ms > MAX_EVENT_TIME_MS) {
            throw new InvalidEventException("timestamp " + shown
                    + " is outside 1000-01-01T00:00:00Z..9999-12-31T23:59:59.999Z");
        }
        return ms;
    }

    /**
     * A timestamp string in epoch milliseconds (UTC), or {@link Long#MIN_VALUE} when it is
     * neither ISO-8601 nor a string of digits. Fractions are truncated to the millisecond.
     */
    static long parseTimestamp(String s, ZoneOffset local) {
        if (isEpochDigits(s)) {
            try {
                return Long.parseLong(s);
            } catch (NumberFormatException e) {
                return Long.MIN_VALUE;
            }
        }
        String text = s;
        if (text.length() > 10 && text.charAt(10) == ' ') {
            text = text.substring(0, 10) + 'T' + text.substring(11);
        }
        TemporalAccessor t;
        try {
            t = ISO.parseBest(text, OffsetDateTime::from, LocalDateTime::from);
        } catch (DateTimeParseException e) {
            return Long.MIN_VALUE;
        }
        long seconds;
        int nanos;
        if (t instanceof OffsetDateTime odt) {
            seconds = odt.toEpochSecond();
            nanos = odt.getNano();
        } else {
            LocalDateTime ldt = (LocalDateTime) t;
            seconds = ldt.toEpochSecond(local);
            nanos = ldt.getNano();
        }
        return seconds * 1000 + nanos / 1_000_000;
    }

    /** Digits only, with an optional leading minus (as the Rust stage reads epoch strings). */
    private static boolean isEpochDigits(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!(c >= '0' && c <= '9') && !(i == 0 && c == '-')) {
                return false;
            }
        }
        return true;
    }

    /** {@code s} in double quotes, cut to 64 characters. */
    static String quoted(String s) {
        final int max = 64;
        String shown = s.codePointCount(0, s.length()) > max ? s.substring(0, s.offsetByCodePoints(0, max)) : s;
        StringBuilder b = new StringBuilder(shown.length() + 8).append('"');
        for (int i = 0; i < shown.length(); i++) {
            char c = shown.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u{%x}", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
        return shown.length() < s.length() ? b.append("...").toString() : b.toString();
    }
}
