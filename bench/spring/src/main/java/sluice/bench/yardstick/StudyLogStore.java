package sluice.bench.yardstick;

import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.springframework.jdbc.core.BatchPreparedStatementSetter;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Repository;
import org.springframework.transaction.annotation.Transactional;

/**
 * One transaction per batch: the study_log rows, the study_stats upserts and the dead
 * letters, each one {@code JdbcTemplate.batchUpdate} (multi-row INSERTs on the wire with
 * {@code rewriteBatchedStatements=true}). Times are written as UTC {@link LocalDateTime}s,
 * milliseconds kept.
 */
@Repository
public class StudyLogStore {

    static final String INSERT_STUDY_LOG = "INSERT INTO study_log "
            + "(session_id, event_type, event_time, kafka_partition, kafka_offset) VALUES (?, ?, ?, ?, ?) "
            + "ON DUPLICATE KEY UPDATE id = id";

    static final String UPSERT_STUDY_STATS = "INSERT INTO study_stats "
            + "(session_id, bucket_start, event_type, event_count, first_event_at, last_event_at) "
            + "VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE "
            + "event_count = event_count + VALUES(event_count), "
            + "first_event_at = LEAST(first_event_at, VALUES(first_event_at)), "
            + "last_event_at = GREATEST(last_event_at, VALUES(last_event_at))";

    static final String INSERT_DEAD_LETTER = "INSERT INTO dead_letter "
            + "(pipeline, stage, reason, topic, kafka_partition, kafka_offset, record_key, record_value) "
            + "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE id = id";

    private final JdbcTemplate jdbc;

    public StudyLogStore(JdbcTemplate jdbc) {
        this.jdbc = jdbc;
    }

    @Transactional
    public void write(List<ConsumerRecord<String, StudyLogEvent>> rows,
            Map<StudyLogListener.StatsKey, StudyLogListener.Stats> stats,
            List<StudyLogListener.DeadLetter> deadLetters) {
        if (!rows.isEmpty()) {
            jdbc.batchUpdate(INSERT_STUDY_LOG, new BatchPreparedStatementSetter() {
                @Override
                public void setValues(PreparedStatement ps, int i) throws SQLException {
                    ConsumerRecord<String, StudyLogEvent> r = rows.get(i);
                    StudyLogEvent e = r.value();
                    ps.setString(1, e.sessionId());
                    ps.setString(2, e.eventType());
                    ps.setObject(3, utc(e.eventTimeMs()));
                    ps.setInt(4, r.partition());
                    ps.setLong(5, r.offset());
                }

                @Override
                public int getBatchSize() {
                    return rows.size();
                }
            });
        }
        if (!stats.isEmpty()) {
            var entries = new ArrayList<>(stats.entrySet());
            jdbc.batchUpdate(UPSERT_STUDY_STATS, new BatchPreparedStatementSetter() {
                @Override
                public void setValues(PreparedStatement ps, int i) throws SQLException {
                    var key = entries.get(i).getKey();
                    var s = entries.get(i).getValue();
                    ps.setString(1, key.sessionId());
                    ps.setObject(2, utc(key.bucketStartMs()));
                    ps.setString(3, key.eventType());
                    ps.setLong(4, s.count);
                    ps.setObject(5, utc(s.firstMs));
                    ps.setObject(6, utc(s.lastMs));
                }

                @Override
                public int getBatchSize() {
                    return entries.size();
                }
            });
        }
        if (!deadLetters.isEmpty()) {
            jdbc.batchUpdate(INSERT_DEAD_LETTER, new BatchPreparedStatementSetter() {
                @Override
                public void setValues(PreparedStatement ps, int i) throws SQLException {
                    var d = deadLetters.get(i);
                    ps.setString(1, d.pipeline());
                    ps.setString(2, d.stage());
                    ps.setString(3, d.reason());
                    ps.setString(4, d.topic());
                    ps.setInt(5, d.partition());
                    ps.setLong(6, d.offset());
                    if (d.key() == null) {
                        ps.setNull(7, Types.VARBINARY);
                    } else {
                        ps.setBytes(7, d.key());
                    }
                    if (d.value() == null) {
                        ps.setNull(8, Types.LONGVARBINARY);
                    } else {
                        ps.setBytes(8, d.value());
                    }
                }

                @Override
                public int getBatchSize() {
                    return deadLetters.size();
                }
            });
        }
    }

    /** Epoch milliseconds as a UTC wall-clock time, milliseconds kept. */
    static LocalDateTime utc(long ms) {
        return LocalDateTime.ofEpochSecond(Math.floorDiv(ms, 1000L), (int) Math.floorMod(ms, 1000L) * 1_000_000,
                ZoneOffset.UTC);
    }
}
