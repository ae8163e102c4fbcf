#!/usr/bin/env python3
"""The expression `nixbox config` hands nix-instantiate on stdin (config/config_eval.c), for the
plain nix-instantiate of figure 3 (tests/bench/run):

    nixexpr.py WRAPPER CONFIG_FILE PLUGINS_DIR

import WRAPPER { configFile; pluginsDir; hostEnv = builtins.fromJSON "<this environment>"; }
"""
import json
import os
import sys


def lit(s):
    """s as a Nix string literal (as nix_escaped in config/config_eval.c)."""
    out = []
    for i, c in enumerate(s):
        if c in '"\\' or (c == "$" and s[i + 1:i + 2] == "{"):
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def main():
    wrapper, cfg, plugins = sys.argv[1:4]
    env = json.dumps(dict(os.environ), separators=(",", ":"))
    print("import %s { configFile = %s; pluginsDir = %s; hostEnv = builtins.fromJSON %s; }"
          % (lit(wrapper), lit(cfg), lit(plugins), lit(env)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
