"""``python -m gtb.cli``: the ``gtb`` command."""

from gtb.cli import main

main()
