"""`python -m core.hosted RUN_DIR`: the detached follower's entry point (see core.hosted.follower)."""

from core.hosted.follower import main

if __name__ == "__main__":
    raise SystemExit(main())
