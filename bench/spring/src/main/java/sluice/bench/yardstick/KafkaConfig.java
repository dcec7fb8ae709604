package sluice.bench.yardstick;

import org.springframework.boot.autoconfigure.kafka.DefaultKafkaConsumerFactoryCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.kafka.core.DefaultKafkaConsumerFactory;
import org.springframework.kafka.support.serializer.ErrorHandlingDeserializer;

/**
 * The one change to Spring Boot's Kafka consumer factory: values go through an
 * {@link ErrorHandlingDeserializer} around {@link StudyLogEventDeserializer}, so that a
 * poison pill reaches the listener as a record with a null value (and the reason and raw
 * bytes in a header) instead of failing the poll.
 */
@Configuration(proxyBeanMethods = false)
public class KafkaConfig {

    @Bean
    EventValidator eventValidator(YardstickProperties props) {
        return new EventValidator(props.eventTypes(), props.localOffset(), props.maxSessionIdLength());
    }

    @Bean
    DefaultKafkaConsumerFactoryCustomizer valueDeserializer(EventValidator validator) {
        return factory -> {
            @SuppressWarnings("unchecked")
            var typed = (DefaultKafkaConsumerFactory<Object, StudyLogEvent>) factory;
            typed.setValueDeserializerSupplier(
                    () -> new ErrorHandlingDeserializer<>(new StudyLogEventDeserializer(validator)));
        };
    }
}
