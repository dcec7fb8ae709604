package sluice.bench.yardstick;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.EnableConfigurationProperties;

/** The yardstick: the study platform team's Spring Boot batch consumer. Not part of Sluice. */
@SpringBootApplication
@EnableConfigurationProperties(YardstickProperties.class)
public class YardstickApplication {

    public static void main(String[] args) {
        SpringApplication.run(YardstickApplication.class, args);
    }
}
