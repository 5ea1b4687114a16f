"""Border coordination (ICAO AIDC): message text, the dialogue per flight, airspace."""
