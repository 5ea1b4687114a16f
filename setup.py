"""Builds the Cython fast path (ext/) into the gateway package.

A machine without a C compiler gets one line saying so, not a compiler traceback.
"""

from __future__ import annotations

import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class BuildExt(build_ext):
    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # CCompilerError, PlatformError, DistutilsExecError, ...
            sys.exit(f"asterix-gateway: cannot build the Cython extension ({exc.__class__.__name__}): "
                     "install a C compiler and the Python headers (e.g. apt-get install gcc "
                     "python3-dev)")

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            sys.exit(f"asterix-gateway: cannot compile {ext.name} ({exc}): install a C compiler "
                     "and the Python headers (e.g. apt-get install gcc python3-dev)")


extensions = [
    Extension(
        "gateway._decoder",
        ["ext/decoder.pyx"],
        include_dirs=[numpy.get_include()],
        extra_compile_args=["-O3"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
]

setup(ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}),
      cmdclass={"build_ext": BuildExt})
