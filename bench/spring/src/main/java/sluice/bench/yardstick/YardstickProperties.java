package sluice.bench.yardstick;

import java.util.List;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * The yardstick's own settings ({@code yardstick.*}); Kafka and JDBC settings are Spring
 * Boot's own {@code spring.kafka.*} and {@code spring.datasource.*}.
 *
 * @param topic             topic to consume
 * @param pipeline          value of {@code dead_letter.pipeline} for rows this process writes
 * @param eventTypes        accepted {@code eventType} values, compared exactly
 * @param localOffset       UTC offset of ISO timestamps that carry none
 * @param maxSessionIdLength longest accepted {@code sessionId}, in characters
 * @param logEveryBatches   one progress line per this many batches (all listener threads together)
 */
@ConfigurationProperties("yardstick")
public record YardstickProperties(
        @DefaultValue("study-log-events") String topic,
        @DefaultValue("yardstick") String pipeline,
        @DefaultValue({"FOCUS", "DISTRACTED", "AWAY", "DROWSY"}) List<String> eventTypes,
        @DefaultValue("+09:00") String localOffset,
        @DefaultValue("64") int maxSessionIdLength,
        @DefaultValue("200") int logEveryBatches) {
}
