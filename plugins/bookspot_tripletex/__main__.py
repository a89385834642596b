"""`python -m bookspot_tripletex`: the project's command line."""

if __name__ == "__main__":
    from bookspot_tripletex.cli import main

    raise SystemExit(main())
