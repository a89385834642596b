"""`python -m bookspot_devkit`: the development kit's command line."""

if __name__ == "__main__":
    from bookspot_devkit.cli import main

    raise SystemExit(main())
