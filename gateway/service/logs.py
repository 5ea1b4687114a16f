"""Logging for the long-running commands: one line per event on stderr, as text for people
or as JSON objects for a log pipeline (``--log-format json``).  Secrets never reach a log:
the configuration's password is not in its repr and nothing logs the MQTT credentials."""

from __future__ import annotations

import argparse
import logging
import sys

from pythonjsonlogger.json import JsonFormatter

TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(fmt: str = "text", level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False))
    else:
        handler.setFormatter(logging.Formatter(TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # paho's per-packet debug lines would drown everything else
    logging.getLogger("gateway.publish.mqtt").setLevel(
        max(root.level, logging.INFO) if level.lower() != "debug" else logging.DEBUG)


def add_arguments(parser: argparse.ArgumentParser, default_level: str) -> None:
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="stderr log lines as text or JSON objects")
    parser.add_argument("--log-level", default=default_level,
                        choices=("debug", "info", "warning", "error"))
