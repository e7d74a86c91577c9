import sys

import pathspec

print(f"app: running with pathspec {pathspec.__version__}")
print(f"app: sys.dont_write_bytecode = {sys.dont_write_bytecode}")
