"""Plots and source tracks into the shared format, on WGS-84 and UTC (sans-IO)."""
