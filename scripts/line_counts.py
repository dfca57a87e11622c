#!/usr/bin/env python3
"""The samples' line counts against the seed's Python, checked.

    scripts/line_counts.py           print the table (markdown)
    scripts/line_counts.py --check   exit 1 when a sample's header is wrong

A sample marks the C that does what a part of the seed does:

    /* seed: huber */
    ...C...
    /* seed: end */

(several regions of one name add up), and its header claims the counts:

     * Lines: huber C 9, Python 7 (1.3x)

The Python of each part is samples/seed/<name>.py (samples/seed/MANIFEST
says where in the seed it comes from). A line counts when it is not blank
and not only a comment, in both languages. A ratio above 2.0 needs a reason
on the same line after "--". A sample with no seed part says
"Lines: not a seed part" and why. --check fails on a claim that differs
from the count, a marked part without a claim or the other way round, a
missing Python file, and a ratio above 2.0 without a reason.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, 'samples')
SEED = os.path.join(SAMPLES, 'seed')

CLAIM = re.compile(r'^\s*\*?\s*Lines: (\w+) C (\d+), Python (\d+) \((\d+\.\d)x\)(.*)$')
NOT_SEED = re.compile(r'Lines: not a seed part')
BEGIN = re.compile(r'^\s*/\* seed: (\w+) \*/\s*$')
END = re.compile(r'^\s*/\* seed: end \*/\s*$')


def c_code_lines(lines):
    """Lines that are neither blank nor only a comment."""
    n, in_comment = 0, False
    for line in lines:
        s = line.strip()
        code = False
        while s:
            if in_comment:
                end = s.find('*/')
                if end < 0:
                    s = ''
                else:
                    in_comment, s = False, s[end + 2:].strip()
            elif s.startswith('/*'):
                in_comment, s = True, s[2:]
            elif s.startswith('//'):
                s = ''
            else:
                code = True
                break
        n += code
    return n


def py_code_lines(path):
    with open(path, encoding='utf-8') as f:
        return sum(1 for l in f if l.strip() and not l.strip().startswith('#'))


def regions(lines, path):
    """{name: C lines} of the marked regions."""
    out, name, start = {}, None, 0
    for i, line in enumerate(lines):
        m = BEGIN.match(line)
        if END.match(line):
            if not name:
                raise SystemExit(f'{path}:{i + 1}: "seed: end" without a start')
            out[name] = out.get(name, 0) + c_code_lines(lines[start:i])
            name = None
        elif m:
            if name:
                raise SystemExit(f'{path}:{i + 1}: "seed: {m.group(1)}" inside "seed: {name}"')
            name, start = m.group(1), i + 1
    if name:
        raise SystemExit(f'{path}: "seed: {name}" is not ended')
    return out


def main():
    check = len(sys.argv) > 1 and sys.argv[1] == '--check'
    problems, rows = [], []
    for fn in sorted(os.listdir(SAMPLES)):
        if not fn.endswith(('.c', '.cpp')):
            continue
        path = os.path.join(SAMPLES, fn)
        with open(path, encoding='utf-8') as f:
            lines = f.read().split('\n')
        total = c_code_lines(lines)
        marked = regions(lines, fn)
        claims = {}
        for line in lines:
            m = CLAIM.match(line)
            if m:
                claims[m.group(1)] = (int(m.group(2)), int(m.group(3)), m.group(4), m.group(5).strip())
        if not claims and not marked:
            if not any(NOT_SEED.search(l) for l in lines):
                problems.append(f'{fn}: no "Lines:" claim and no "Lines: not a seed part" note')
            rows.append((fn, '-', total, '-', '-', 'not a seed part'))
            continue
        for name in sorted(set(claims) | set(marked)):
            if name not in marked:
                problems.append(f'{fn}: claims "{name}" but marks no "seed: {name}" region')
                continue
            if name not in claims:
                problems.append(f'{fn}: marks "seed: {name}" but its header has no "Lines: {name} ..." claim')
                continue
            py_path = os.path.join(SEED, name + '.py')
            if not os.path.exists(py_path):
                problems.append(f'{fn}: samples/seed/{name}.py is missing')
                continue
            c, py = marked[name], py_code_lines(py_path)
            ratio = c / py
            want = f'Lines: {name} C {c}, Python {py} ({ratio:.1f}x)'
            cc, cp, cr, note = claims[name]
            if (cc, cp, cr) != (c, py, f'{ratio:.1f}'):
                problems.append(f'{fn}: the header says "Lines: {name} C {cc}, Python {cp} ({cr}x)"; '
                                f'the count is "{want}"')
            if ratio > 2.0 and not note.startswith('--'):
                problems.append(f'{fn}: {name} is {ratio:.1f}x the Python, over 2x without a reason '
                                f'("-- why" after the claim)')
            rows.append((fn, name, c, py, f'{ratio:.1f}x', note.lstrip('- ').strip()))
        rows.append((fn, '(whole file)', total, '', '', ''))
    if check:
        for p in problems:
            print('line_counts: ' + p)
        if problems:
            return 1
        print('line_counts: %d sample parts, every claim matches its count' %
              sum(1 for r in rows if r[1] not in ('-', '(whole file)')))
        return 0
    print('| sample | seed part | C lines | Python lines | ratio | note |')
    print('|---|---|---|---|---|---|')
    for r in rows:
        print('| ' + ' | '.join(str(x) for x in r) + ' |')
    for p in problems:
        print('problem: ' + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
