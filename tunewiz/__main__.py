from tunewiz.cli.main import main

raise SystemExit(main())
