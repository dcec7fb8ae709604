package sluice.bench.yardstick;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.log.LogAccessor;
import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.kafka.support.serializer.DeserializationException;
import org.springframework.kafka.support.serializer.SerializationUtils;
import org.springframework.stereotype.Component;

/**
 * The batch listener: one call per poll (up to max.poll.records records of one consumer,
 * possibly several partitions). Valid events become study_log rows, statistics are
 * computed in memory, poison pills become dead letters, and all three are written in one
 * transaction ({@link StudyLogStore#write}). The container commits the offsets after this
 * method returns (ack mode BATCH).
 */
@Component
public class StudyLogListener {

    private static final Logger log = LoggerFactory.getLogger(StudyLogListener.class);
    private static final LogAccessor LOG_ACCESSOR = new LogAccessor(StudyLogListener.class);
    private static final long HOUR_MS = 3_600_000L;

    private final StudyLogStore store;
    private final String pipeline;
    private final int logEvery;

    private final AtomicLong batches = new AtomicLong();
    private final AtomicLong records = new AtomicLong();
    private final AtomicLong stored = new AtomicLong();
    private final AtomicLong dead = new AtomicLong();
    /** When the first batch arrived (0 before), for the rate in the progress line. */
    private final AtomicLong firstBatchNanos = new AtomicLong();

    public StudyLogListener(StudyLogStore store, YardstickProperties props) {
        this.store = store;
        this.pipeline = props.pipeline();
        this.logEvery = Math.max(1, props.logEveryBatches());
    }

    /** Key of a study_stats row. */
    record StatsKey(String sessionId, long bucketStartMs, String eventType) {
    }

    /** Accumulated counts of one study_stats row, for one batch. */
    static final class Stats {
        long count;
        long firstMs = Long.MAX_VALUE;
        long lastMs = Long.MIN_VALUE;

        void add(long ms) {
            count++;
            firstMs = Math.min(firstMs, ms);
            lastMs = Math.max(lastMs, ms);
        }
    }

    /** A rejected record, as the dead_letter table keeps it. */
    record DeadLetter(String pipeline, String stage, String reason, String topic, int partition, long offset,
            byte[] key, byte[] value) {
    }

    @KafkaListener(topics = "${yardstick.topic}", batch = "true")
    public void onBatch(List<ConsumerRecord<String, StudyLogEvent>> batch) {
        firstBatchNanos.compareAndSet(0, System.nanoTime());
        List<ConsumerRecord<String, StudyLogEvent>> valid = new ArrayList<>(batch.size());
        List<DeadLetter> deadLetters = new ArrayList<>();
        Map<StatsKey, Stats> stats = new LinkedHashMap<>();
        for (ConsumerRecord<String, StudyLogEvent> record : batch) {
            StudyLogEvent event = record.value();
            if (event == null) {
                deadLetters.add(deadLetter(record));
                continue;
            }
            valid.add(record);
            long bucket = Math.floorDiv(event.eventTimeMs(), HOUR_MS) * HOUR_MS;
            stats.computeIfAbsent(new StatsKey(event.sessionId(), bucket, event.eventType()), k -> new Stats())
                    .add(event.eventTimeMs());
        }

        store.write(valid, stats, deadLetters);

        records.addAndGet(batch.size());
        stored.addAndGet(valid.size());
        dead.addAndGet(deadLetters.size());
        long n = batches.incrementAndGet();
        if (n % logEvery == 0) {
            double seconds = Math.max(1e-3, (System.nanoTime() - firstBatchNanos.get()) / 1e9);
            long total = records.get();
            log.info("batches={} records={} study_log={} dead_letter={} ({} records/s since the first batch)", n,
                    total, stored.get(), dead.get(), Math.round(total / seconds));
        }
    }

    private DeadLetter deadLetter(ConsumerRecord<String, StudyLogEvent> record) {
        DeserializationException e = SerializationUtils.getExceptionFromHeader(record,
                SerializationUtils.VALUE_DESERIALIZER_EXCEPTION_HEADER, LOG_ACCESSOR);
        String reason;
        byte[] raw;
        if (e == null) {
            reason = "value is null";
            raw = null;
        } else {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            reason = cause instanceof InvalidEventException ? cause.getMessage() : cause.toString();
            raw = e.getData();
        }
        byte[] key = record.key() == null ? null : record.key().getBytes(StandardCharsets.UTF_8);
        return new DeadLetter(pipeline, "validate", reason, record.topic(), record.partition(), record.offset(), key,
                raw);
    }
}
