#!/usr/bin/env python3
"""The runnable entry point: `python server.py [flags]` is `vectorizer-server [flags]`.

Settings -> app -> serve gRPC + HTTP -> drain on SIGTERM; the lifecycle
lives in `vectorizer/server.py`, the flags in `vectorizer/settings.py`
(`python server.py --help` lists them with their VECTORIZER_* variables).
"""

from vectorizer.server import main

if __name__ == "__main__":
    main()
