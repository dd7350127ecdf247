"""The ``tsssl`` command line: ``tsssl train | report | data | bench``.

Each subcommand lives in ``tsssl/commands/<name>.py`` and defines ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Heavy imports (torch) stay inside ``run``
so that ``tsssl --help`` answers at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module

from tsssl import __version__

COMMANDS: dict[str, str] = {
    "train": "tsssl.commands.train",
    "report": "tsssl.commands.report",
    "data": "tsssl.commands.data",
    "bench": "tsssl.commands.bench",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tsssl",
        description="Self-supervised and contrastive learning on financial time series.",
    )
    parser.add_argument("--version", action="version", version=f"tsssl {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback of an error (tsssl --debug train ...)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = import_module(module_name)
        p = sub.add_parser(
            name, help=module.HELP, description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run, _parser=p)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Spinning OpenMP waits collapse throughput on shared cores (585 vs 9,144 windows/s for the
    # default SiamCL on a loaded 2-core box); only effective before torch is first imported.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (ValueError, OSError) as err:
        # Bad input (ticker, date, file, argument, a folder we may not write): one line, not a traceback.
        if args.debug:
            raise
        args._parser.exit(2, f"tsssl {args.command}: error: {_one_line(err)}\n")
    except KeyboardInterrupt as err:  # a run that could save its state says where (TrainingInterrupted)
        if args.debug:
            raise
        print(f"tsssl {args.command}: {err or 'interrupted'}", file=sys.stderr)
        return 130


def _one_line(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        return f"{err.strerror}: {err.filename}" if err.filename else err.strerror
    return str(err).replace("\n", " ")


if __name__ == "__main__":
    sys.exit(main())
