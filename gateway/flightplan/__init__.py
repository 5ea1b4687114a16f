"""Filed flight plans for radar-only sites: ICAO FPL/CHG/CNL/DLA messages (``ats``), the
plans on file (``book``) and their code-callsign correlation with fused tracks
(``correlate``)."""
