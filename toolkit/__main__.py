"""`python -m toolkit` runs the command line."""

from .cli import main

main()
