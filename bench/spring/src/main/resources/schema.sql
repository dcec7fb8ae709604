-- A copy of /migrations/20261125000001_seed_tables.sql (the tables Sluice writes),
-- less sluice_offsets, which the yardstick does not use. Keep the two in step.
-- Run at every start (spring.sql.init.mode=always); CREATE TABLE IF NOT EXISTS.

-- The seed pipeline's tables. Names and columns of study_log, study_stats and
-- dead_letter are a contract with the platform's dashboards: add, never rename.
-- All times are UTC.

CREATE TABLE IF NOT EXISTS study_log (
    id              BIGINT       NOT NULL AUTO_INCREMENT,
    session_id      VARCHAR(64)  NOT NULL,
    event_type      VARCHAR(32)  NOT NULL,
    event_time      DATETIME(3)  NOT NULL,
    kafka_partition INT          NOT NULL,
    kafka_offset    BIGINT       NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_study_log_position (kafka_partition, kafka_offset),
    KEY ix_study_log_session_time (session_id, event_time)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS study_stats (
    session_id     VARCHAR(64) NOT NULL,
    bucket_start   DATETIME    NOT NULL,
    event_type     VARCHAR(32) NOT NULL,
    event_count    BIGINT      NOT NULL,
    first_event_at DATETIME(3) NOT NULL,
    last_event_at  DATETIME(3) NOT NULL,
    PRIMARY KEY (session_id, bucket_start, event_type)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS dead_letter (
    id              BIGINT        NOT NULL AUTO_INCREMENT,
    pipeline        VARCHAR(64)   NOT NULL,
    stage           VARCHAR(64)   NOT NULL,
    reason          TEXT          NOT NULL,
    topic           VARCHAR(255)  NOT NULL,
    kafka_partition INT           NOT NULL,
    kafka_offset    BIGINT        NOT NULL,
    record_key      VARBINARY(4096) NULL,
    record_value    LONGBLOB      NULL,
    created_at      DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_dead_letter_position (pipeline, topic, kafka_partition, kafka_offset),
    KEY ix_dead_letter_created (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

