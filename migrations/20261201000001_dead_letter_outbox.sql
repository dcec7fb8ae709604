-- The dead-letter table is also the outbox of the dead-letter topic: a row
-- written while `[dead_letter] topic` is set names that topic in `to_publish`
-- until its copy is on the topic; whatever a crash left unpublished is
-- published when the partition's worker starts again.
ALTER TABLE dead_letter
    ADD COLUMN to_publish VARCHAR(255) NULL,
    ADD KEY ix_dead_letter_outbox (pipeline, topic, kafka_partition, to_publish);
