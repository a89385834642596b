"""Pin the extras the Celery provider asks for (`celery[redis]`, `kombu[redis]`) on their own lines.

pip's hash-checking mode treats `pkg[extra]` as a requirement of its own that must be pinned with `==`;
uv writes only the bare name. Run by `make lock` after each compile.
"""

import re
import sys

EXTRAS = {"celery": ["redis"], "kombu": ["redis"]}

for path in sys.argv[1:]:
    text = open(path, encoding="utf-8").read()
    for name, extras in EXTRAS.items():
        match = re.search(rf"^{name}==.*?(?=^\S)", text, flags=re.M | re.S)
        if match is None or f"{name}[" in text:
            continue
        block = match.group(0)
        added = "".join(block.replace(f"{name}==", f"{name}[{e}]==", 1) for e in extras)
        text = text.replace(block, block + added)
    open(path, "w", encoding="utf-8").write(text)
