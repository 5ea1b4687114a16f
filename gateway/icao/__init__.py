"""ICAO ATS message formats (Doc 4444 Appendix 3) shared by AIDC and flight plan messages."""
