"""`python -m evoflux`: the same as the `evoflux` command."""

from evoflux.cli.app import main

if __name__ == "__main__":
    main()
