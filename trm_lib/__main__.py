"""`python -m trm_lib ...`: the course's command line (see `trm_lib.cli`)."""
from trm_lib.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
