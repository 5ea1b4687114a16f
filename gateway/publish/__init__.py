"""Where published batches go: MQTT topics and their rules, the bounded outbox, the sinks."""
