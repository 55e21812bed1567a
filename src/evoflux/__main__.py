"""`python -m evoflux`: the same as the `evoflux` command."""

from evoflux.cli import main

if __name__ == "__main__":
    main()
