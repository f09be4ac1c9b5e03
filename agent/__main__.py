import os
import sys

from agent.cli.main import main

code = main()
from agent.core.tool import tools_left_running  # noqa: E402

if tools_left_running():  # a tool past its time-out still runs: leave now, with the exit code, not wait on it
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
