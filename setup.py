"""Build the compiled counting kernel (Cython against the system htslib, found by pkg-config).

Everything else about the package is in pyproject.toml. The kernel links the htslib that
samtools/bcftools use (Debian ``libhts-dev``, conda ``htslib``), not pysam's bundled one: that is
built without libdeflate and decodes BAMs at about half the speed (src/resistcall/_kernel.pyx).
"""

import shlex
import subprocess

from Cython.Build import cythonize
from setuptools import Extension, setup

HTSLIB_MISSING = (
    "resistcall's counting kernel needs the htslib headers and library, found with pkg-config "
    "(`pkg-config --cflags --libs htslib` failed: {why}). Install them: Debian/Ubuntu "
    "`sudo apt-get install libhts-dev pkg-config` (or `make setup` as root), conda "
    "`conda install -c conda-forge -c bioconda htslib pkg-config`."
)


def htslib_flags() -> dict[str, list[str]]:
    """Compile and link flags of the system htslib, split into setuptools' Extension fields."""
    try:
        out = subprocess.run(
            ["pkg-config", "--cflags", "--libs", "htslib"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except FileNotFoundError:
        raise SystemExit(HTSLIB_MISSING.format(why="no pkg-config")) from None
    except subprocess.CalledProcessError as e:
        first = (e.stderr.strip().splitlines() or ["no htslib.pc"])[0]
        raise SystemExit(HTSLIB_MISSING.format(why=first)) from None
    flags: dict[str, list[str]] = {"include_dirs": [], "library_dirs": [], "libraries": []}
    other: list[str] = []
    for f in shlex.split(out):
        if f.startswith("-I"):
            flags["include_dirs"].append(f[2:])
        elif f.startswith("-L"):
            flags["library_dirs"].append(f[2:])
        elif f.startswith("-l"):
            flags["libraries"].append(f[2:])
        else:
            other.append(f)
    # a non-system htslib (conda prefix): found at run time without LD_LIBRARY_PATH
    flags["runtime_library_dirs"] = list(flags["library_dirs"])
    flags["extra_compile_args"] = other
    return flags


hts = htslib_flags()
kernel = Extension(
    "resistcall._kernel",
    ["src/resistcall/_kernel.pyx"],
    include_dirs=[*hts.pop("include_dirs"), "src/resistcall"],
    depends=["src/resistcall/_overlap.h"],
    **hts,
)

setup(ext_modules=cythonize([kernel], language_level=3))
