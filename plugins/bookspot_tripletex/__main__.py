"""`python -m bookspot_tripletex`: the project's command line."""

from bookspot_tripletex.cli import main

raise SystemExit(main())
