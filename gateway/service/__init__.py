"""The asyncio shell around the sans-IO pipeline: inputs, clock, sinks, metrics, shutdown."""
