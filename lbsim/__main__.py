"""``python -m lbsim``: the same as the ``lbsim`` command."""

from lbsim.cli import main

main()
