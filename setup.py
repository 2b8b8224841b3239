"""Build the compiled counting kernel (Cython against pysam's htslib declarations).

Everything else about the package is in pyproject.toml. pysam is needed at build time for its
.pxd files and htslib headers; the kernel records which pysam it was built against and refuses
to load under another one (object layouts are baked in).
"""

import pysam
from Cython.Build import cythonize
from setuptools import Extension, setup

kernel = Extension(
    "resistcall._kernel",
    ["src/resistcall/_kernel.pyx"],
    include_dirs=[*pysam.get_include(), "src/resistcall"],
    define_macros=[*pysam.get_defines(), ("RC_PYSAM_VERSION", f'"{pysam.__version__}"')],
    depends=["src/resistcall/_overlap.h"],
)

setup(ext_modules=cythonize([kernel], language_level=3))
