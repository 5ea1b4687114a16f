"""Builds the Cython fast path (ext/) into the gateway package.

A machine without a C compiler gets one line saying so, not a compiler traceback.
"""

from __future__ import annotations

import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, find_namespace_packages, setup
from setuptools.command.build_ext import build_ext


def _no_compiler(what: str, exc: Exception) -> None:
    sys.exit(f"asterix-gateway: cannot build {what} ({exc.__class__.__name__}: {exc}): install a "
             "C compiler and the Python headers (e.g. apt-get install gcc python3-dev)")


class BuildExt(build_ext):
    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # CCompilerError, PlatformError, DistutilsExecError, ...
            _no_compiler("the Cython extension", exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            _no_compiler(ext.name, exc)


extensions = [
    Extension(
        "gateway._decoder",
        ["ext/decoder.pyx"],
        include_dirs=[numpy.get_include()],
        extra_compile_args=["-O3"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    ),
    Extension("gateway._jsonl", ["ext/jsonl.pyx"], extra_compile_args=["-O3"]),
    # the tracker's filter algebra per batch (gateway/associate/filter.py calls it); no
    # fused multiply-add but its explicit fma() calls (where OpenBLAS fuses), so that its
    # covariance intersection is numpy's to the bit
    Extension(
        "gateway._tracking",
        ["ext/tracking.pyx"],
        # the IMM's per-track code, shared with the gate's; the state's time and the level
        # rows' step, with _cycle's
        depends=["ext/imm.pxi", "ext/advance.pxi", "ext/level.pxi"],
        extra_compile_args=["-O3", "-ffp-contract=off"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    ),
    # the gate's candidate search, identity verdicts and the assignment's first step
    # (gateway/associate/gating.py and assignment.py call it); no fused multiply-add, so
    # its distances and costs are numpy's to the bit (and its IMM step, ext/imm.pxi, the
    # tracking kernel's)
    Extension(
        "gateway._gating",
        ["ext/gating.pyx"],
        # the IMM's code, for the fused continuing step; result arrays, as _cycle's
        depends=["ext/imm.pxi", "ext/arrays.pxi"],
        include_dirs=[numpy.get_include()],
        extra_compile_args=["-O3", "-ffp-contract=off"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    ),
    # the deleter's scan-period bookkeeping and missed scans (gateway/associate/lifecycle.py
    # calls it); no fused multiply-add, so that its intervals are numpy's to the bit
    Extension(
        "gateway._lifecycle",
        ["ext/lifecycle.pyx"],
        # arrays read by pointer, as ext/fused.pyx's
        depends=["ext/arrays.pxi", "ext/views.pxi"],
        include_dirs=[numpy.get_include()],
        extra_compile_args=["-O3", "-ffp-contract=off"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    ),
    # which radar sees each point (gateway/associate/coverage.py calls it): libm's hypot,
    # sin and cos, with the points near a boundary handed back to numpy (ext/coverage.pyx)
    Extension("gateway._coverage", ["ext/coverage.pyx"],
              extra_compile_args=["-O3", "-ffp-contract=off"]),
    # the tracker's input side: messages to columns, the frame's projection, plot noise
    # (gateway/associate/measurements.py and frame.py call it); no fused multiply-add, so
    # that its numbers are numpy's and PROJ's to the bit
    Extension(
        "gateway._columns",
        ["ext/columns.pyx"],
        include_dirs=[numpy.get_include()],  # numpy's C API: plot_measurements' arrays
        # numpy's interp, shared with ext/fused.pyx; the one array check
        depends=["ext/interp.pxi", "ext/arrays.pxi"],
        extra_compile_args=["-O3", "-ffp-contract=off"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    ),
    # radar registration's per-cycle selection of plots and their tracks' velocities
    # (gateway/associate/registration.py calls it)
    Extension("gateway._registration", ["ext/registration.pyx"],
              depends=["ext/arrays.pxi", "ext/views.pxi"],  # the one array check, accessors
              include_dirs=[numpy.get_include()],  # numpy's C API: keep_cycle's arrays
              extra_compile_args=["-O3", "-ffp-contract=off"],
              define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]),
    # the tracker's output side: Fused message structs from the track table's columns
    # (gateway/associate/tracker.py calls it); no fused multiply-add, so that the figures
    # it computes are numpy's to the bit
    Extension("gateway._fused", ["ext/fused.pyx"], include_dirs=[numpy.get_include()],
              # numpy's interp, shared with ext/columns.pyx; the one array check and its
              # accessors
              depends=["ext/interp.pxi", "ext/arrays.pxi", "ext/views.pxi"],
              extra_compile_args=["-O3", "-ffp-contract=off"],
              define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]),
    # the tracker's per-cycle bookkeeping of the tracks a cycle updated (times, M-of-N
    # hits, identity, pairings: gateway/associate/tracker.py calls it); no fused
    # multiply-add, so that its sums are numpy's to the bit
    Extension("gateway._cycle", ["ext/cycle.pyx"],
              # the state's time and the level rows' step, shared with _tracking
              depends=["ext/advance.pxi", "ext/level.pxi", "ext/arrays.pxi"],
              include_dirs=[numpy.get_include()],  # its results by numpy's C API
              extra_compile_args=["-O3", "-ffp-contract=off"],
              define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]),
    # the handoff's point-in-polygon test: which control unit each point is in
    # (gateway/handoff/airspace.py calls it); no fused multiply-add, so that its orientation
    # filter rounds as GEOS's does
    Extension("gateway._airspace", ["ext/airspace.pyx"],
              include_dirs=[numpy.get_include()],  # numpy's ufunc loops, called directly
              extra_compile_args=["-O3", "-ffp-contract=off"],
              define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]),
    # the normaliser's output side: Plot and Track message structs from the normalised
    # columns (gateway/normalize/normalizer.py calls it), and plot placement's arithmetic
    # (gateway/normalize/geometry.py); no fused multiply-add, so that its numbers are
    # numpy's to the bit
    Extension("gateway._normalize", ["ext/normalize.pyx"],
              extra_compile_args=["-O3", "-ffp-contract=off"]),
]

# captures/ is the repository's top-level folder of sample data and also the installed
# package gateway.captures, so that the demo finds it with importlib.resources from any
# install (wheel, sdist, plain or editable).
# find_namespace_packages: the web map's static folders hold no Python, but setuptools
# wants every folder of package data listed as a package (else a warning per folder)
setup(packages=[*find_namespace_packages(include=["gateway", "gateway.*"],
                                         exclude=["*.__pycache__"]), "gateway.captures"],
      package_dir={"gateway.captures": "captures"},
      package_data={"gateway.captures": ["border-10min.pcap.gz", "border.toml",
                                         "border-radars.toml", "border-airspace.geojson",
                                         "decoder-sample.pcap"],
                    # the web map's page (gateway/web/static: index.html, app.js, ...)
                    "gateway.web": ["static/*", "static/**/*"]},
      ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}),
      cmdclass={"build_ext": BuildExt})
