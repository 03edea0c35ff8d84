from neuroevo.cli import main

raise SystemExit(main())
