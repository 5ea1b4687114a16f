"""The units the standards and the shared format use, in SI: defined here and nowhere else."""

from __future__ import annotations

NM = 1852.0  # metres per nautical mile
FT = 0.3048  # metres per foot
KT = NM / 3600.0  # metres per second per knot
