"""`python -m media_worker [--burst]`: see media_worker.worker."""

from media_worker.worker import main

raise SystemExit(main())
