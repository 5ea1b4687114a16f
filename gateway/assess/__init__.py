"""Feed assessment (``asterix-gateway assess``): is a radar's feed good enough to join the
network?  Timing, registration, detection, accuracy and content of each radar in a capture,
measured against the fused picture of the other radars, and a verdict against thresholds
(docs/assess.md).  Sans-IO: ``core.Assessor`` takes datagrams and gives a report; the
command reads the captures and writes the files."""
