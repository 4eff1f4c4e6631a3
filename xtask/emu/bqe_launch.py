"""Starts bqemulator offline (written by `cargo xtask services`, from xtask/emu/bqe_launch.py).

bqemulator insists on DuckDB's `spatial` extension (GEOGRAPHY) and tries `avro`; DuckDB would
download both at run time, and this machine has no internet. So: no spatial (no GEOGRAPHY, no
ST_* functions), no format extensions (no Avro: BQEMU_ENABLE_FORMAT_EXTENSIONS=false is set by
xtask as well), and DuckDB's extension auto-install and auto-load off, so that no query ever
reaches for the network.
"""

import sys

import bqemulator.storage.engine as engine

_pragmas = engine.DuckDBEngine._apply_session_pragmas


def _offline_pragmas(self):
    self._connection.execute("SET autoinstall_known_extensions = false")
    self._connection.execute("SET autoload_known_extensions = false")
    _pragmas(self)


engine.DuckDBEngine._apply_session_pragmas = _offline_pragmas
engine.DuckDBEngine._load_spatial = lambda self: None
engine.DuckDBEngine._load_format_extensions = lambda self: None

from bqemulator.cli import main  # noqa: E402

sys.exit(main())
