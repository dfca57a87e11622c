#!/usr/bin/env python3
"""Keep the README's tour the code of samples/tour.c, word for word.

    scripts/readme_tour.py          rewrite the README's tour blocks from tour.c
    scripts/readme_tour.py --check  exit 1 when they differ (test readme_tour)

tour.c marks its parts with "/* tour: NAME */" ... "/* tour: end */"; the
README holds each part as a ```c block between "<!-- tour.c: NAME -->" and
"<!-- tour.c: end -->". Code inside main is shown without its indentation.
The suite runs tour.c under ASan, so the tour the README shows is one that
runs and leaks nothing when copied as it is.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOUR = os.path.join(ROOT, 'samples', 'tour.c')
README = os.path.join(ROOT, 'README.md')


def parts():
    out, name, buf = {}, None, []
    for line in open(TOUR, encoding='utf-8').read().split('\n'):
        s = line.strip()
        m = re.match(r'/\* tour: (\w+) \*/$', s)
        if m and m.group(1) == 'end':
            out[name] = buf
            name = None
        elif m:
            name, buf = m.group(1), []
        elif name:
            buf.append(line)
    for k, lines in out.items():
        indent = min((len(l) - len(l.lstrip()) for l in lines if l.strip()), default=0)
        out[k] = '\n'.join(l[indent:] for l in lines).strip('\n')
    return out


def render(readme, p):
    def block(m):
        name = m.group(1)
        if name not in p:
            raise SystemExit(f'README names tour part "{name}", which tour.c does not mark')
        return f'<!-- tour.c: {name} -->\n```c\n{p[name]}\n```\n<!-- tour.c: end -->'
    return re.sub(r'<!-- tour\.c: (\w+) -->\n.*?<!-- tour\.c: end -->', block, readme, flags=re.S)


def main():
    readme = open(README, encoding='utf-8').read()
    new = render(readme, parts())
    if len(sys.argv) > 1 and sys.argv[1] == '--check':
        if new != readme:
            print('readme_tour: the README\'s tour differs from samples/tour.c: run scripts/readme_tour.py')
            return 1
        print('readme_tour: the README\'s tour is samples/tour.c\'s code')
        return 0
    open(README, 'w', encoding='utf-8').write(new)
    return 0


if __name__ == '__main__':
    sys.exit(main())
