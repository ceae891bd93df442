"""``python -m lbsim``: the same as the ``lbsim`` command."""

import sys

if sys.argv[1:] == ["--version"]:  # answered before typer is even imported
    from lbsim._version import __version__

    sys.stdout.write(f"lbsim {__version__}\n")
else:
    from lbsim.cli import main

    main()
