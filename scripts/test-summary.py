#!/usr/bin/env python3
"""After `make test`: one summary of the meson runs in the given build
directories (meson-logs/testlog.json): how many TensorFlow.js checks ran in
each build, which tests were skipped and why, and a closing count line."""
import glob
import json
import os
import re
import sys


def read_log(build):
    """The newest meson test log: testlog.json, or testlog-SETUP.json for
    a test setup such as asan."""
    logs = glob.glob(f"{build}/meson-logs/testlog*.json")
    if not logs:
        return None
    with open(max(logs, key=os.path.getmtime)) as f:
        return [json.loads(line) for line in f if line.strip()]


def main(builds):
    passed = failed = skipped = 0
    for build in builds:
        tests = read_log(build)
        if tests is None:
            print(f"{build}: no test log")
            continue
        checks, per_test, skips = 0, [], []
        for t in tests:
            t["name"] = t["name"].split(" / ")[-1]
            out = t.get("stdout") or ""
            m = re.search(r"^TensorFlow\.js checks: (\d+) ran$", out, re.M)
            if m:
                checks += int(m.group(1))
                per_test.append(f"{t['name']} {m.group(1)}")
            result = t.get("result")
            if result == "OK":
                passed += 1
            elif result == "SKIP":
                skipped += 1
                why = re.search(r"^SKIPPED[^:]*: (.*)$", out, re.M)
                skips.append(f"{t['name']} ({why.group(1) if why else 'exit 77'})")
            else:
                failed += 1
            part = re.search(r"^skipped: (\d+ of \d+) tests", out, re.M)
            if part and result != "SKIP":
                why = "; ".join(re.findall(r"^SKIPPED (.*)$", out, re.M))
                skips.append(f"{t['name']}: {part.group(1)} tests ({why})")
        print(f"{build}: TensorFlow.js checks: {checks} ran"
              + (f" ({', '.join(per_test)})" if per_test else ""))
        print(f"{build}: skipped: {'; '.join(skips) if skips else 'none'}")
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
